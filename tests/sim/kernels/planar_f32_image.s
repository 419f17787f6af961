# A float32 NCHW image's band into L1 as the NHWC rows a convolution reads (gm2l1_nz planar=1
# from_f32=1: the planes gathered, each value rounded to f16, the channels padded with zeros),
# then out through the cube unchanged: C (32x16 f32, row-major) = A (32 pixels x 16 channels) x I.
# Kernel arguments: the image (3 planes of P float32, the band's 32 pixels first in each), the
# 16x16 f16 identity (row-major), C.
.target edge
.equ M, 32                   # pixels
.equ P, 40                   # elements from one plane to the next
.equ FRACTAL, 512

.text
  mfsr x1, args
  ld   x2, gm[x1]            # image
  ld   x3, gm[x1], offset=8  # identity
  ld   x4, gm[x1], offset=16 # C
  li   x5, 0                 # L1: A (NZ, one column block of M rows)
  li   x6, M*16*2            # L1: the identity (NZ), after A
  gm2l1_nz.f16 l1[x5], gm[x2], rows=M, cols=3, src_stride=P, dst_rows=M, planar=1, from_f32=1
  gm2l1_nz.f16 l1[x6], gm[x3], rows=16, cols=16, src_stride=16, dst_rows=16
  set_flag mte2, mte1, 0
  wait_flag mte2, mte1, 0
  # A: NZ -> ZZ, one fractal per 16 rows; the identity as B (NZ -> ZN: transposed).
  load2d l0a[x0], l1[x5], repeat=M/16, src_stride=1
  load2d l0b[x0], l1[x6], repeat=1, src_stride=1, transpose=1
  set_flag mte1, m, 0
  wait_flag mte1, m, 0
  mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=M, k=16, n=16, init=1
  set_flag m, fix, 0
  wait_flag m, fix, 0
  fixp.f32.f32 gm[x4], l0c[x0], m=M, n=16, src_rows=M, dst_stride=16
  end
