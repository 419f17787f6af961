# C (M x N, f16, row-major) = A (M x K, f16, row-major) x B (K x N, f16, row-major), accumulated in
# f32 and rounded to f16 by the FixPipe on the way out; double-buffered
# at every level, split over the blocks: block b computes the row panels
# [b*M/(256*block_dim), (b+1)*M/(256*block_dim)) of 256 rows each.
#
# Shapes are assembly-time constants, 1024 x 1024 x 1024 by default; override them with
# `fractal asm -D M=512 -D N=256 -D K=512`. Requires M % (256*block_dim) == 0, N % 256 == 0,
# K % 512 == 0 and K <= 1024 (the A panel, 256 x K, stays in L1 for a whole row of C tiles).
# args (64-bit words): A, B, C addresses.
#
# Software-pipelined: within a panel, the stream of (tile, chunk) pairs is processed with a
# one-chunk skew, so the DMA for chunk i+1 is dispatched before the cube work on chunk i.
# Per core, per C tile (256 x 128, one of two L0C buffers):
#   MTE2  A chunk (256 x 256; first tile of a panel only) and B chunk (256 x 128) GM -> L1, ND->NZ;
#         B chunks alternate between two L1 buffers.
#   MTE1  per 64-deep sub-step: A (256 x 64) -> L0A as ZZ, B (64 x 128) -> L0B as ZN (transposed);
#         alternating between two L0A/L0B buffer pairs.
#   M     mmad 256 x 64 x 128 (512 cube cycles) into the tile's L0C buffer.
#   FIX   the finished tile L0C -> GM as f16 rows, while the cube fills the other L0C buffer.
# Flags (event ids): mte1->mte2 #0,#1 B buffer free, #2 A panel free; mte2->mte1 #0,#1 chunk
# loaded; m->mte1 #0,#1 L0A/L0B pair free; mte1->m #0,#1 pair loaded; fix->m #0,#1 L0C buffer
# free; m->fix #0,#1 tile done. The "free" flags are set once at the start and consumed at the end.
# No .target: the kernel runs on any chip whose buffers hold its tiles (edge and cloud do).

.equ M, 1024
.equ N, 1024
.equ K, 1024
.equ TM, 256                  # C tile rows (= A panel rows)
.equ TN, 128                  # C tile columns
.equ TK, 256                  # K per L1 chunk
.equ TS, 64                   # K per mmad (sub-step)
.equ KC, K/TK                 # chunks per tile
.equ NT, N/TN                 # tiles per panel
.equ FRACTAL, 512
.equ L1_B0, 0x80000           # L1: A panel at 0 (up to 512 KiB), B buffers after it
.equ L1_B1, 0x90000
.equ L0A_SUB, TM*TS*2         # 32 KiB per L0A buffer
.equ L0B_SUB, TS*TN*2         # 16 KiB per L0B buffer
.equ L0C_TILE, TM*TN*4        # 128 KiB per L0C buffer

# Registers. Load side: x18 GM A chunk, x19 GM B chunk, x20 tile being loaded, x24 its chunk.
# Compute side: x17 L1 A chunk, x21 GM C tile, x22 chunk within the tile, x23 L0C buffer (0/1),
# x16 "next mmad initialises", x25 L1 B chunk, x29 L0C tile. Also x2 A, x3 B, x4 C, x11 panel,
# x12 end panel, x13 chunk pairs left; x26..x28 temporaries.

# One 64-deep sub-step: A (TM x TS) and B (TS x TN) into L0 pair \sb, then mmad into L0C at x29.
# \ks is the sub-step within the chunk (0..3).
.macro substep sb, ks
  wait_flag m, mte1, \sb
  li   x26, \sb*L0A_SUB
  addi x27, x17, \ks*4*16*FRACTAL
  load2d l0a[x26], l1[x27], repeat=16, dst_gap=3
  addi x26, x26, FRACTAL
  addi x27, x27, 16*FRACTAL
  load2d l0a[x26], l1[x27], repeat=16, dst_gap=3
  addi x26, x26, FRACTAL
  addi x27, x27, 16*FRACTAL
  load2d l0a[x26], l1[x27], repeat=16, dst_gap=3
  addi x26, x26, FRACTAL
  addi x27, x27, 16*FRACTAL
  load2d l0a[x26], l1[x27], repeat=16, dst_gap=3
  li   x26, \sb*L0B_SUB
  addi x27, x25, \ks*4*FRACTAL
  load2d l0b[x26], l1[x27], repeat=8, src_stride=16, transpose=1
  addi x26, x26, 8*FRACTAL
  addi x27, x27, FRACTAL
  load2d l0b[x26], l1[x27], repeat=8, src_stride=16, transpose=1
  addi x26, x26, 8*FRACTAL
  addi x27, x27, FRACTAL
  load2d l0b[x26], l1[x27], repeat=8, src_stride=16, transpose=1
  addi x26, x26, 8*FRACTAL
  addi x27, x27, FRACTAL
  load2d l0b[x26], l1[x27], repeat=8, src_stride=16, transpose=1
  set_flag mte1, m, \sb
  wait_flag mte1, m, \sb
  li   x27, \sb*L0A_SUB
  li   x28, \sb*L0B_SUB
  beq  x16, x0, accumulate\@
  mmad.f16 l0c[x29], l0a[x27], l0b[x28], m=TM, k=TS, n=TN, init=1
  li   x16, 0
  jmp  done\@
accumulate\@:
  mmad.f16 l0c[x29], l0a[x27], l0b[x28], m=TM, k=TS, n=TN
done\@:
  set_flag m, mte1, \sb
.endm

# Load the next chunk of the stream into L1 B buffer \bb (and, in a panel's first tile, the A
# chunk of the same depth), then advance the load position.
# L2 prefetch: a panel's first tile needs its whole A panel, which would come from DRAM while the
# other core competes for it. So on tiles 1..KC of a panel, at the tile's first chunk, MTE2 also
# reads one TK-column slice (128 KiB) of the *next* panel's A into a scratch UB area nobody reads:
# the lines stay in the L2 and the next panel's A loads hit.
.macro load_chunk bb
  wait_flag mte1, mte2, \bb
  bne  x20, x0, no_a\@
  muli x26, x24, TM*TK*2
  gm2l1_nz.f16 l1[x26], gm[x18], rows=TM, cols=TK, src_stride=K, dst_rows=TM
  addi x18, x18, TK*2
  jmp  loaded_a\@
no_a\@:
  bne  x24, x0, loaded_a\@       # only at a tile's first chunk
  li   x26, KC
  blt  x26, x20, loaded_a\@      # only on tiles 1..KC
  addi x27, x11, 1
  bge  x27, x12, loaded_a\@      # only if this block has a next panel
  muli x27, x27, TM*K*2
  add  x27, x27, x2
  addi x28, x20, -1
  muli x28, x28, TM*TK*2
  add  x27, x27, x28
  gm2ub ub[x0], gm[x27], len=TM*TK*2/32
loaded_a\@:
  li   x26, L1_B\bb
  gm2l1_nz.f16 l1[x26], gm[x19], rows=TK, cols=TN, src_stride=N, dst_rows=TK
  set_flag mte2, mte1, \bb
  addi x24, x24, 1
  li   x26, TK*N*2
  add  x19, x19, x26           # next chunk: TK rows of B down
  li   x26, KC
  bne  x24, x26, same_tile\@
  li   x24, 0                  # next tile: back to the top of B, TN columns right
  addi x20, x20, 1
  muli x19, x20, TN*2
  add  x19, x19, x3
same_tile\@:
.endm

# Compute the oldest loaded chunk (in L1 B buffer \bb): four sub-steps; the tile's first chunk
# waits for its L0C buffer, its last one sends the tile to GM through FixPipe.
.macro compute_chunk bb
  wait_flag mte2, mte1, \bb
  li   x25, L1_B\bb
  muli x17, x22, TM*TK*2
  muli x29, x23, L0C_TILE
  bne  x22, x0, started\@
  li   x16, 1
  bne  x23, x0, wait_odd\@
  wait_flag fix, m, 0
  jmp  started\@
wait_odd\@:
  wait_flag fix, m, 1
started\@:
  substep 0, 0
  substep 1, 1
  substep 0, 2
  substep 1, 3
  set_flag mte1, mte2, \bb
  addi x22, x22, 1
  li   x26, KC
  bne  x22, x26, open\@
  li   x22, 0
  bne  x23, x0, drain_odd\@
  set_flag m, fix, 0
  wait_flag m, fix, 0
  fixp.f32.f16 gm[x21], l0c[x29], m=TM, n=TN, src_rows=TM, dst_stride=N
  set_flag fix, m, 0
  jmp  drained\@
drain_odd\@:
  set_flag m, fix, 1
  wait_flag m, fix, 1
  fixp.f32.f16 gm[x21], l0c[x29], m=TM, n=TN, src_rows=TM, dst_stride=N
  set_flag fix, m, 1
drained\@:
  addi x21, x21, TN*2          # next C tile to the right
  xori x23, x23, 1             # and the other L0C buffer
open\@:
.endm

.text
  mfsr x1, args
  ld   x2, gm[x1]              # A
  ld   x3, gm[x1], offset=8    # B
  ld   x4, gm[x1], offset=16   # C
  mfsr x8, block_idx
  mfsr x9, block_dim
  li   x10, M/TM
  div  x10, x10, x9            # panels per block
  mul  x11, x8, x10            # first panel
  add  x12, x11, x10           # end panel
  set_flag mte1, mte2, 0       # everything starts free
  set_flag mte1, mte2, 1
  set_flag mte1, mte2, 2
  set_flag m, mte1, 0
  set_flag m, mte1, 1
  set_flag fix, m, 0
  set_flag fix, m, 1
panel_loop:
  bge  x11, x12, finish
  muli x21, x11, TM*N*2        # GM C row of this panel
  add  x21, x21, x4
  muli x18, x11, TM*K*2        # GM A panel
  add  x18, x18, x2
  mv   x19, x3                 # load side starts at tile 0, chunk 0
  li   x20, 0
  li   x24, 0
  li   x22, 0                  # compute side likewise, in L0C buffer 0
  li   x23, 0
  wait_flag mte1, mte2, 2      # MTE2 may overwrite the A panel once MTE1 is done with it
  load_chunk 0
  li   x13, NT*KC/2
pair_loop:
  load_chunk 1
  compute_chunk 0
  li   x26, 1
  beq  x13, x26, last_pair     # the stream's last chunk has been loaded already
  load_chunk 0
last_pair:
  compute_chunk 1
  dbnz x13, pair_loop
  set_flag mte1, mte2, 2       # after MTE1's last load from this A panel
  addi x11, x11, 1
  jmp  panel_loop
finish:
  wait_flag mte1, mte2, 0      # consume the "free" flags: the next block starts clean
  wait_flag mte1, mte2, 1
  wait_flag mte1, mte2, 2
  wait_flag m, mte1, 0
  wait_flag m, mte1, 1
  wait_flag fix, m, 0
  wait_flag fix, m, 1
  end
