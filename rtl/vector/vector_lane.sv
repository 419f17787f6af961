// The vector lane tile: one 256-byte repeat per cycle for a subset of the vector unit (fp16 add,
// sub, mul, max, min, relu, compare, select; fp16 <-> fp32 conversion), bit-exact with
// docs/isa.md: an fp16 result is computed from the exact fp32 values of its inputs and rounded
// once to fp16. The caller gathers a repeat's elements (strides are address generation, outside
// the lane) and scatters the results back where `out_enable` is set.
//
// Each op has the latency the chip config gives its timing class (VEC_*_LATENCY in
// fractal_chip_pkg): a repeat issued at cycle t comes out at cycle t + latency - 1, so an
// instruction of R repeats takes R + latency - 1 cycles, as the timing model charges.
module vector_lane
  import fractal_fp_pkg::*;
  import fractal_chip_pkg::*;
#(
  parameter int LANES = VECTOR_BYTES_PER_REPEAT / 2 // fp16 elements per repeat
) (
  input  logic                 clk,
  input  logic                 rst_n,
  input  logic                 in_valid,
  input  logic [3:0]           op,       // OP_* below
  input  logic [2:0]           cmp,      // compare mode, as the ISA encodes it (eq ne lt le gt ge)
  input  logic [LANES*16-1:0]  src0,     // fp16 elements (fp32 for OP_F32_TO_F16: LANES/2 of them)
  input  logic [LANES*16-1:0]  src1,
  input  logic [LANES-1:0]     sel,      // vsel's bitmask
  input  logic [LANES-1:0]     mask,     // the vector mask
  output logic                 out_valid,
  output logic [LANES*16-1:0]  dst,      // fp16 results (fp32 for OP_F16_TO_F32), or unused
  output logic [LANES-1:0]     out_enable,
  output logic [LANES-1:0]     out_bits  // vcmp's bitmask (disabled elements read 0)
);
  localparam logic [3:0] OP_ADD = 4'd0, OP_SUB = 4'd1, OP_MUL = 4'd2, OP_MAX = 4'd3,
                         OP_MIN = 4'd4, OP_RELU = 4'd5, OP_CMP = 4'd6, OP_SEL = 4'd7,
                         OP_F16_TO_F32 = 4'd8, OP_F32_TO_F16 = 4'd9;
  localparam int WIDTH = 1 + 2 * LANES + LANES * 16; // valid, enable, bits, data

  // One delay line per latency class; the result enters the line of its op's class.
  localparam int DEPTH_SIMPLE = VEC_SIMPLE_LATENCY;
  localparam int DEPTH_MUL = VEC_MUL_LATENCY;
  localparam int DEPTH_CONV = VEC_CONVERT_LATENCY;

  logic [LANES*16-1:0] result;
  logic [LANES-1:0]    enable, bits;

  always_comb begin
    result = '0;
    enable = '0;
    bits = '0;
    for (int e = 0; e < LANES; e++) begin
      logic [31:0] a, b, r;
      logic        c;
      a = fp16_to_fp32(src0[e*16 +: 16]);
      b = fp16_to_fp32(src1[e*16 +: 16]);
      r = '0;
      c = 1'b0;
      case (op)
        OP_ADD:  r = fp32_add(a, b);
        OP_SUB:  r = fp32_add(a, {~b[31], b[30:0]});
        OP_MUL:  r = fp16_mul_exact(src0[e*16 +: 16], src1[e*16 +: 16]);
        OP_MAX:  r = fp32_max(a, b);
        OP_MIN:  r = fp32_min(a, b);
        OP_RELU: r = fp32_max(a, 32'h0);
        OP_CMP: begin
          case (cmp)
            3'd0: c = fp32_eq(a, b);
            3'd1: c = !fp32_eq(a, b);
            3'd2: c = fp32_lt(a, b);
            3'd3: c = fp32_lt(a, b) || fp32_eq(a, b);
            3'd4: c = fp32_lt(b, a);
            default: c = fp32_lt(b, a) || fp32_eq(a, b);
          endcase
        end
        default: r = '0;
      endcase
      if (op == OP_SEL)
        result[e*16 +: 16] = sel[e] ? src0[e*16 +: 16] : src1[e*16 +: 16];
      else if (op <= OP_RELU)
        result[e*16 +: 16] = fp32_to_fp16(r);
      enable[e] = mask[e] && op != OP_CMP && op <= OP_SEL;
      bits[e] = mask[e] && c;
    end
    // Conversions move LANES/2 elements (the repeat holds 256 / 4 of them).
    if (op == OP_F16_TO_F32)
      for (int e = 0; e < LANES / 2; e++) begin
        result[e*32 +: 32] = fp16_to_fp32(src0[e*16 +: 16]);
        enable[e] = mask[e];
      end
    if (op == OP_F32_TO_F16)
      for (int e = 0; e < LANES / 2; e++) begin
        result[e*16 +: 16] = fp32_to_fp16(src0[e*32 +: 32]);
        enable[e] = mask[e];
      end
  end

  logic [WIDTH-1:0] simple_q [DEPTH_SIMPLE];
  logic [WIDTH-1:0] mul_q [DEPTH_MUL];
  logic [WIDTH-1:0] conv_q [DEPTH_CONV];
  logic [WIDTH-1:0] entry;
  logic             is_mul, is_conv;
  assign entry = {in_valid, enable, bits, result};
  assign is_mul = op == OP_MUL;
  assign is_conv = op == OP_F16_TO_F32 || op == OP_F32_TO_F16;

  always_ff @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      simple_q <= '{default: '0};
      mul_q <= '{default: '0};
      conv_q <= '{default: '0};
    end else begin
      simple_q[0] <= (in_valid && !is_mul && !is_conv) ? entry : '0;
      mul_q[0] <= (in_valid && is_mul) ? entry : '0;
      conv_q[0] <= (in_valid && is_conv) ? entry : '0;
      for (int s = 1; s < DEPTH_SIMPLE; s++)
        simple_q[s] <= simple_q[s-1];
      for (int s = 1; s < DEPTH_MUL; s++)
        mul_q[s] <= mul_q[s-1];
      for (int s = 1; s < DEPTH_CONV; s++)
        conv_q[s] <= conv_q[s-1];
    end
  end

  // At most one line delivers in a cycle while instructions run one at a time (the caller's
  // contract); the classes are merged with OR.
  logic [WIDTH-1:0] out_entry;
  assign out_entry = simple_q[DEPTH_SIMPLE-1] | mul_q[DEPTH_MUL-1] | conv_q[DEPTH_CONV-1];
  assign out_valid = out_entry[WIDTH-1];
  assign out_enable = out_entry[WIDTH-2 -: LANES];
  assign out_bits = out_entry[WIDTH-2-LANES -: LANES];
  assign dst = out_entry[LANES*16-1:0];

endmodule
