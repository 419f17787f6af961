# Every directive and operand form of the assembler, for round-trip tests.
.target cloud
.equ TILE, 16
.equ BYTES, TILE*TILE*2

.text
start:
  .node "conv1/Conv"
  mfsr  x1, data_base
  addi  x1, x1, table         # a data label is its offset in the data section
  li    x2, -9223372036854775808
  li    x3, 0xffffffffffffffff
  lif32 x4, -0.5
  ldw   x5, gm[x1], offset=-4
  st    x5, gm[x1], offset=BYTES
  .node ""
  beq   x1, x2, start
  bne   x1, x2, .+2
  jmp   done
  vcmp.lt.f16 ub[x1], ub[x2], ub[x3], repeat=255, src1_rep=255
  vconv.f32.f16 ub[x1], ub[x2], repeat=0
  barrier all
done:
  end

.data
table:
  .byte 1, 2, 0xff, -1
  .half 0xffff, -32768
  .align 8
words:
  .word 0xdeadbeef
  .dword -1
  .f16 1.0, -2.5, 65504
  .f32 3.25
  .zero 3
end_of_data:
