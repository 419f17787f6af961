# A 3x3 convolution, pad 1, stride 1, through img2col (load3d) and the cube:
#   out (64 pixels x 16 channels, f32, pixel-major) = conv(in (16 channels x 8 x 8), w (16 x 16 x 3 x 3))
# args: in (NC1HWC0: 1 x 1 x 8 x 8 x 16 f16), w (the 144 x 16 weight matrix, already packed as ZN
# fractals, 9 x 512 bytes), out addresses.
.target edge
.equ H, 8
.equ W, 8
.equ CO, 16
.equ TAPS, 9                 # kh * kw: K = 144 = 9 fractals of 16 channels

.text
  mfsr x1, args
  ld   x2, gm[x1]            # feature map
  ld   x3, gm[x1], offset=8  # packed weights
  ld   x4, gm[x1], offset=16 # output
  li   x5, 0                 # L1: feature map
  li   x6, 4096              # L1: weights
  gm2l1 l1[x5], gm[x2], len=H*W*32/32
  gm2l1 l1[x6], gm[x3], len=TAPS*512/32
  set_flag mte2, mte1, 0
  wait_flag mte2, mte1, 0
  li   x7, W | (H << 16) | (1 << 32) | (1 << 40) | (1 << 48) | (1 << 56)
  setfmap x7                 # 8 x 8, pads 1 on every side
  load3d.f16 l0a[x0], l1[x5], x0, mcount=H*W/16, kh=3, kw=3
  load2d l0b[x0], l1[x6], repeat=TAPS
  set_flag mte1, m, 0
  wait_flag mte1, m, 0
  mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=H*W, k=TAPS*16, n=CO, init=1
  set_flag m, fix, 0
  wait_flag m, fix, 0
  fixp.f32.f32 gm[x4], l0c[x0], m=H*W, n=CO, src_rows=H*W, dst_stride=CO
  end
