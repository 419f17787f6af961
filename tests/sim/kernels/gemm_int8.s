# C (64x64 s32, row-major) = A (64x64 s8, row-major) x B (64x64 s8), with B given transposed
# (Bt: 64x64 s8 row-major, N x K), as packed weights usually are.
# args: A, Bt, C addresses. Exact int32 arithmetic (docs/isa.md).
.target edge
.equ M, 64
.equ K, 64
.equ N, 64

.text
  mfsr x1, args
  ld   x2, gm[x1]            # A
  ld   x3, gm[x1], offset=8  # Bt
  ld   x4, gm[x1], offset=16 # C
  li   x5, 0                 # L1: A (NZ, 32-byte column blocks of M rows)
  li   x6, M*K               # L1: Bt (NZ)
  gm2l1_nz.s8 l1[x5], gm[x2], rows=M, cols=K, src_stride=K, dst_rows=M
  gm2l1_nz.s8 l1[x6], gm[x3], rows=N, cols=K, src_stride=K, dst_rows=N
  set_flag mte2, mte1, 0
  wait_flag mte2, mte1, 0
  # A: NZ -> ZZ, one load2d per row of fractals (K/32 fractals, M/16 apart in NZ).
  li   x7, 0
  mv   x9, x5
  li   x10, M/16
load_a:
  load2d l0a[x7], l1[x9], repeat=K/32, src_stride=M/16
  addi x7, x7, K/32*512
  addi x9, x9, 512
  dbnz x10, load_a
  # Bt in NZ is exactly B in ZN: one contiguous copy.
  li   x7, 0
  load2d l0b[x7], l1[x6], repeat=K/32*N/16
  set_flag mte1, m, 0
  wait_flag mte1, m, 0
  mmad.s8 l0c[x0], l0a[x0], l0b[x0], m=M, k=K, n=N, init=1
  set_flag m, fix, 0
  wait_flag m, fix, 0
  fixp.s32.s32 gm[x4], l0c[x0], m=M, n=N, src_rows=M, dst_stride=N
  end
