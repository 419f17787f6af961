// The cube tile: one fractal step of `mmad` per cycle, C[M0 x N0] += A[M0 x K] x B[K x N0] with
// K = K0 (fp16) or K0_S8 (int8), in the accumulation order of docs/isa.md:
//
//   stage 1  products: fp16 x fp16 -> exact fp32 (int8 x int8 -> int32)
//   stage 2  tree level 1: (p0+p1), (p2+p3), ...       int8: two levels (32 -> 8 sums)
//   stage 3  tree level 2                              int8: level 3 (8 -> 4)
//   stage 4  tree level 3                              int8: level 4 (4 -> 2)
//   stage 5  tree level 4: the block sum               int8: level 5 (2 -> 1)
//   stage 6  accumulate: C = C + sum (fp32, round to nearest even; int32 wraps)
//
// Every fp32 addition rounds to nearest even. The accumulator is read and written in stage 6: the
// caller drives c_in with the current C of fractal `acc_tag` in the cycle acc_valid is high (from
// its L0C), and stores c_out to fractal `out_tag` when out_valid is high. Because the
// read-modify-write happens in one stage, consecutive k-blocks of the same output fractal never
// stall: an mmad of S fractal steps takes S + 5 cycles from its first step to its last result,
// the throughput the timing model charges (busy = S).
module cube_tile
  import fractal_fp_pkg::*;
  import fractal_chip_pkg::*;
#(
  parameter int M0 = CUBE_F16_M,
  parameter int N0 = CUBE_F16_N,
  parameter int K0 = CUBE_F16_K,
  parameter int K0_S8 = CUBE_S8_K,
  parameter int TAG_BITS = 16
) (
  input  logic                     clk,
  input  logic                     rst_n,
  // Issue: one fractal step.
  input  logic                     in_valid,
  input  logic                     in_int8,     // 1: int8 operands, int32 accumulate
  input  logic [TAG_BITS-1:0]      in_tag,      // the output fractal this step accumulates into
  input  logic [M0*K0*16-1:0]      a,           // row-major M0 x K0 fp16, or M0 x K0_S8 int8
  input  logic [N0*K0*16-1:0]      b,           // ZN: N0 rows of K0 fp16 (or K0_S8 int8)
  // Accumulate stage.
  output logic                     acc_valid,
  output logic [TAG_BITS-1:0]      acc_tag,
  input  logic [M0*N0*32-1:0]      c_in,
  // Result.
  output logic                     out_valid,
  output logic [TAG_BITS-1:0]      out_tag,
  output logic [M0*N0*32-1:0]      c_out
);
  localparam int KMAX = K0_S8 > K0 ? K0_S8 : K0;
  localparam int OUTS = M0 * N0;

  // Stage registers: valid, int8 mode and tag travel with the data.
  logic [5:0]          valid_q;
  logic [4:0]          int8_q;  // the mode matters up to the accumulate stage
  logic [TAG_BITS-1:0] tag_q [6];
  // Each stage's next value is computed combinationally (loops with blocking assignments) and
  // registered as a whole; Verilator 5.006 cannot schedule non-blocking writes to array elements
  // inside loops.
  logic [31:0] prod_d [OUTS][KMAX], prod_q [OUTS][KMAX]; // stage 1
  logic [31:0] lvl1_d [OUTS][8],    lvl1_q [OUTS][8];    // stage 2
  logic [31:0] lvl2_d [OUTS][4],    lvl2_q [OUTS][4];    // stage 3
  logic [31:0] lvl3_d [OUTS][2],    lvl3_q [OUTS][2];    // stage 4
  logic [31:0] sum_d  [OUTS],       sum_q  [OUTS];       // stage 5
  logic [31:0] acc_d  [OUTS],       acc_q  [OUTS];       // stage 6

  always_ff @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      valid_q <= '0;
      int8_q <= '0;
      for (int s = 0; s < 6; s++)
        tag_q[s] <= '0;
    end else begin
      valid_q <= {valid_q[4:0], in_valid};
      int8_q <= {int8_q[3:0], in_int8};
      tag_q[0] <= in_tag;
      for (int s = 1; s < 6; s++)
        tag_q[s] <= tag_q[s-1];
    end
  end

  // Stage 1: products.
  always_comb begin
    for (int o = 0; o < OUTS; o++) begin
      for (int t = 0; t < KMAX; t++) begin
        if (in_int8)
          prod_d[o][t] = 32'($signed(a[((o / N0) * K0_S8 + t) * 8 +: 8]) *
                             $signed(b[((o % N0) * K0_S8 + t) * 8 +: 8]));
        else if (t < K0)
          prod_d[o][t] = fp16_mul_exact(a[((o / N0) * K0 + t) * 16 +: 16],
                                        b[((o % N0) * K0 + t) * 16 +: 16]);
        else
          prod_d[o][t] = '0;
      end
    end
  end

  // Stages 2-5: the pairwise tree. fp16 mode has 16 products (4 levels); int8 mode has 32 and
  // does its first two levels in stage 2 (integer additions are cheap).
  always_comb begin
    for (int o = 0; o < OUTS; o++) begin
      for (int u = 0; u < 8; u++)
        lvl1_d[o][u] = int8_q[0] ? (prod_q[o][4*u] + prod_q[o][4*u+1]) +
                                       (prod_q[o][4*u+2] + prod_q[o][4*u+3])
                                 : fp32_add(prod_q[o][2*u], prod_q[o][2*u+1]);
      for (int u = 0; u < 4; u++)
        lvl2_d[o][u] = int8_q[1] ? lvl1_q[o][2*u] + lvl1_q[o][2*u+1]
                                 : fp32_add(lvl1_q[o][2*u], lvl1_q[o][2*u+1]);
      for (int u = 0; u < 2; u++)
        lvl3_d[o][u] = int8_q[2] ? lvl2_q[o][2*u] + lvl2_q[o][2*u+1]
                                 : fp32_add(lvl2_q[o][2*u], lvl2_q[o][2*u+1]);
      sum_d[o] = int8_q[3] ? lvl3_q[o][0] + lvl3_q[o][1] : fp32_add(lvl3_q[o][0], lvl3_q[o][1]);
      // Stage 6: accumulate into the C the caller supplies for this fractal.
      acc_d[o] = int8_q[4] ? c_in[o*32 +: 32] + sum_q[o] : fp32_add(c_in[o*32 +: 32], sum_q[o]);
    end
  end

  always_ff @(posedge clk) begin
    prod_q <= prod_d;
    lvl1_q <= lvl1_d;
    lvl2_q <= lvl2_d;
    lvl3_q <= lvl3_d;
    sum_q <= sum_d;
    acc_q <= acc_d;
  end

  assign acc_valid = valid_q[4];
  assign acc_tag = tag_q[4];

  assign out_valid = valid_q[5];
  assign out_tag = tag_q[5];
  always_comb begin
    for (int o = 0; o < OUTS; o++)
      c_out[o*32 +: 32] = acc_q[o];
  end

endmodule
