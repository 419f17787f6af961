// Lint harness for the generated ISA package: a minimal opcode-to-pipe decoder, so that
// `verilator --lint-only -Wall` has a top module that uses every part of fractal_isa_pkg.
module isa_pkg_lint
  import fractal_isa_pkg::*;
(
  /* verilator lint_off UNUSEDSIGNAL */ // only the fields decoded below are read
  input  logic [INSTR_BITS-1:0] instr,
  /* verilator lint_on UNUSEDSIGNAL */
  output pipe_e                 pipe,
  output logic                  is_mmad,
  output logic [MMAD_M_BITS-1:0] mmad_m
);
  opcode_e op;
  assign op      = opcode_e'(instr[OPCODE_BITS-1:0]);
  assign pipe    = opcode_pipe(op);
  assign is_mmad = op == OP_MMAD;
  assign mmad_m  = instr[MMAD_M_LSB +: MMAD_M_BITS];
endmodule
