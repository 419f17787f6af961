# C (64x64 f32, row-major) = A (64x64 f16, row-major) x B (64x64 f16, row-major), one AI core.
# Kernel arguments: the `args` special register points at three GM words: A, B and C addresses.
# Data path: GM --MTE2 (ND->NZ)--> L1 --MTE1 load2d--> L0A/L0B --M mmad--> L0C --FIX--> GM.
.target edge
.equ M, 64
.equ K, 64
.equ N, 64
.equ FRACTAL, 512            # bytes in one 16x16 fp16 fractal

.text
  mfsr x1, args
  ld   x2, gm[x1]            # A
  ld   x3, gm[x1], offset=8  # B
  ld   x4, gm[x1], offset=16 # C
  li   x5, 0                 # L1: A (NZ)
  li   x6, M*K*2             # L1: B (NZ), right after A
  gm2l1_nz.f16 l1[x5], gm[x2], rows=M, cols=K, src_stride=K, dst_rows=M
  gm2l1_nz.f16 l1[x6], gm[x3], rows=K, cols=N, src_stride=N, dst_rows=K
  set_flag mte2, mte1, 0
  wait_flag mte2, mte1, 0

  # A: NZ -> ZZ. Row-fractal i gathers fractals (i, 0..K/16-1), which sit M/16 apart in NZ.
  li   x7, 0                 # L0A write address
  mv   x9, x5                # L1 read address of fractal (i, 0)
  li   x10, M/16
load_a:
  load2d l0a[x7], l1[x9], repeat=K/16, src_stride=M/16
  addi x7, x7, K/16*FRACTAL
  addi x9, x9, FRACTAL
  dbnz x10, load_a

  # B: NZ -> ZN. Row-fractal ki gathers fractals (ki, 0..N/16-1), K/16 apart, each transposed.
  li   x7, 0
  mv   x9, x6
  li   x10, K/16
load_b:
  load2d l0b[x7], l1[x9], repeat=N/16, src_stride=K/16, transpose=1
  addi x7, x7, N/16*FRACTAL
  addi x9, x9, FRACTAL
  dbnz x10, load_b

  set_flag mte1, m, 0
  wait_flag mte1, m, 0
  mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=M, k=K, n=N, init=1
  set_flag m, fix, 0
  wait_flag m, fix, 0
  fixp.f32.f32 gm[x4], l0c[x0], m=M, n=N, src_rows=M, dst_stride=N
  end
