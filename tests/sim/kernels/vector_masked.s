# A vector kernel with a mask and strides: y = relu(x * 2 + 1) over 3 repeats of 128 f16; z = the
# even-numbered blocks of x (block stride 2, one repeat); m = the maximum of lanes 0..15 of each
# repeat of x (a masked reduction).
# args: [0] = x (384 f16), [1] = y (384 f16), [2] = z (128 f16), [3] = m (16 f16, 3 used)
.target edge
.text
  mfsr x1, args
  ld  x2, gm[x1]
  ld  x3, gm[x1], offset=8
  ld  x4, gm[x1], offset=16
  ld  x5, gm[x1], offset=24
  li  x6, 0                       # UB: x
  li  x7, 768                     # UB: y
  li  x8, 1536                    # UB: z
  li  x9, 2304                    # UB: m
  gm2ub ub[x6], gm[x2], len=24    # 24 blocks of 32 bytes = 384 f16
  set_flag mte2, v, 0
  wait_flag mte2, v, 0
  li  x11, -1
  setmask x11, x11                # all 128 lanes
  lif16 x12, 2.0
  lif16 x13, 1.0
  vmuls.f16 ub[x7], ub[x6], x12, repeat=3
  vadds.f16 ub[x7], ub[x7], x13, repeat=3
  vrelu.f16 ub[x7], ub[x7], repeat=3
  vmov.f16 ub[x8], ub[x6], src_blk=2
  li  x14, 0x0000ffff
  setmask x0, x14                 # lanes 0..15 only
  vcmax.f16 ub[x9], ub[x6], repeat=3
  set_flag v, mte3, 0
  wait_flag v, mte3, 0
  ub2gm gm[x3], ub[x7], len=24
  ub2gm gm[x4], ub[x8], len=8
  ub2gm gm[x5], ub[x9], len=1
  end
