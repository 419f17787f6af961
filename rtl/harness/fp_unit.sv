// Exposes the fractal_fp_pkg functions as one combinational module, so the cross-check can test
// each of them directly against the C++ definitions.
module fp_unit
  import fractal_fp_pkg::*;
(
  input  logic [31:0] a,
  input  logic [31:0] b,
  input  logic [15:0] x,
  input  logic [15:0] y,
  output logic [31:0] sum,
  output logic [31:0] product,
  output logic [31:0] widened,
  output logic [15:0] narrowed
);
  assign sum      = fp32_add(a, b);
  assign product  = fp16_mul_exact(x, y);
  assign widened  = fp16_to_fp32(x);
  assign narrowed = fp32_to_fp16(a);
endmodule
