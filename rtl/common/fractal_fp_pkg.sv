// Floating-point building blocks of the NPU tiles, bit-exact with docs/isa.md "Numerics" and with
// the C++ model (isa/lib/Numerics.cpp, simulator/lib/CubeExec.cpp):
//   - fp16 <-> fp32 conversion (fp32 -> fp16 rounds to nearest even; subnormals kept),
//   - the exact fp32 product of two fp16 values,
//   - fp32 addition with round-to-nearest-even.
// NaN results are quiet NaNs; their payload is not specified (cross-checks compare NaN-ness).
package fractal_fp_pkg;

  localparam logic [31:0] FP32_QNAN = 32'h7fc00000;

  // Both take the magnitude bits [30:0] of an fp32 value.
  function automatic logic is_nan32(input logic [30:0] x);
    return x[30:23] == 8'hff && x[22:0] != 0;
  endfunction

  function automatic logic is_inf32(input logic [30:0] x);
    return x[30:23] == 8'hff && x[22:0] == 0;
  endfunction

  // Leading zeros of a 27-bit value (27 when zero).
  function automatic logic [4:0] lzc27(input logic [26:0] x);
    logic [4:0] n;
    n = 5'd27;
    for (int i = 0; i < 27; i++)
      if (x[i]) n = 5'(26 - i);
    return n;
  endfunction

  // Exact widening: every fp16 value is an fp32 value. NaNs stay NaN (quiet, payload kept).
  function automatic logic [31:0] fp16_to_fp32(input logic [15:0] h);
    logic        s;
    logic [4:0]  e;
    logic [9:0]  m;
    logic [9:0]  mm;
    logic [7:0]  exp;
    s = h[15];
    e = h[14:10];
    m = h[9:0];
    if (e == 5'h1f)
      return {s, 8'hff, (m != 0), m[8:0], 13'b0} | (m != 0 ? 32'h00400000 : 32'h0);
    if (e == 0) begin
      if (m == 0)
        return {s, 31'b0};
      // Subnormal: value = m * 2^-24; normalise the leading one into the hidden bit.
      mm = m;
      exp = 8'd113; // 127 - 14
      for (int i = 0; i < 10; i++)
        if (!mm[9]) begin
          mm = mm << 1;
          exp = exp - 8'd1;
        end
      return {s, exp - 8'd1, mm[8:0], 14'b0};
    end
    return {s, 8'(e) + 8'd112, m, 13'b0};
  endfunction

  // Round to nearest even; overflow gives infinity; NaNs stay NaN with the top payload bits.
  function automatic logic [15:0] fp32_to_fp16(input logic [31:0] f);
    logic        s;
    logic [30:0] a;
    logic [7:0]  e;
    logic [23:0] sig;
    logic [24:0] shifted;
    logic [15:0] half;
    logic [31:0] rem;
    logic [31:0] halfway;
    logic [4:0]  sh;
    logic [12:0] low;
    s = f[31];
    a = f[30:0];
    e = f[30:23];
    if (a > 31'h7f800000)
      return {s, 5'h1f, 1'b1, f[21:13]};
    if (a >= 31'h477ff000)
      return {s, 15'h7c00};
    if (a < 31'h38800000) begin
      // Below 2^-14: a fp16 subnormal (or zero), shift = 126 - e in 14..24, or more = zero.
      if (e < 8'd102)
        return {s, 15'b0};
      sh = 5'(8'd126 - e);
      sig = {1'b1, f[22:0]};
      shifted = {1'b0, sig >> sh};
      rem = 32'(sig) & ((32'd1 << sh) - 32'd1);
      halfway = 32'd1 << (sh - 5'd1);
      if (rem > halfway || (rem == halfway && shifted[0]))
        shifted = shifted + 25'd1;
      return {s, shifted[14:0]};
    end
    half = 16'(((a - 31'h38000000) >> 13));
    low = a[12:0];
    if (low > 13'h1000 || (low == 13'h1000 && half[0]))
      half = half + 16'd1;
    return {s, half[14:0]};
  endfunction

  // The exact fp32 product of two fp16 values (docs/isa.md: an fp16 x fp16 product always fits).
  function automatic logic [31:0] fp16_mul_exact(input logic [15:0] x, input logic [15:0] y);
    logic        s;
    logic [4:0]  ex, ey;
    logic [10:0] sx, sy;
    int          kx, ky;   // unbiased exponents of the normalised significands
    logic [21:0] p;
    s = x[15] ^ y[15];
    ex = x[14:10];
    ey = y[14:10];
    if ((ex == 5'h1f && x[9:0] != 0) || (ey == 5'h1f && y[9:0] != 0))
      return FP32_QNAN;
    if (ex == 5'h1f || ey == 5'h1f) begin
      if ((ex != 5'h1f && x[14:0] == 0) || (ey != 5'h1f && y[14:0] == 0))
        return FP32_QNAN; // infinity x zero
      return {s, 8'hff, 23'b0};
    end
    if (x[14:0] == 0 || y[14:0] == 0)
      return {s, 31'b0};
    sx = ex == 0 ? {1'b0, x[9:0]} : {1'b1, x[9:0]};
    sy = ey == 0 ? {1'b0, y[9:0]} : {1'b1, y[9:0]};
    kx = ex == 0 ? -14 : int'(ex) - 15;
    ky = ey == 0 ? -14 : int'(ey) - 15;
    for (int i = 0; i < 10; i++)
      if (!sx[10]) begin
        sx = sx << 1;
        kx = kx - 1;
      end
    for (int i = 0; i < 10; i++)
      if (!sy[10]) begin
        sy = sy << 1;
        ky = ky - 1;
      end
    p = 22'(sx) * 22'(sy); // in [2^20, 2^22)
    // Biased exponents stay within 79..158: always a normal fp32 value.
    if (p[21])
      return {s, 8'(kx + ky + 128), p[20:0], 2'b0};
    return {s, 8'(kx + ky + 127), p[19:0], 3'b0};
  endfunction

  // fp32 a + b, round to nearest even, subnormals kept.
  function automatic logic [31:0] fp32_add(input logic [31:0] a, input logic [31:0] b);
    logic        sa, sb, sr;
    logic [7:0]  ea, eb;
    logic [31:0] x, y;        // the operands ordered by magnitude
    logic [26:0] ma, mb;      // hidden bit at 26, three extra bits (guard, round, sticky)
    logic [7:0]  shift;
    logic        sticky;
    logic [27:0] sum;
    logic [26:0] sig;
    int          exp;
    logic [4:0]  lz;
    int          norm;
    logic        round_up;
    logic [24:0] rounded;
    if (is_nan32(a[30:0]) || is_nan32(b[30:0]))
      return FP32_QNAN;
    if (is_inf32(a[30:0])) begin
      if (is_inf32(b[30:0]) && a[31] != b[31])
        return FP32_QNAN;
      return a;
    end
    if (is_inf32(b[30:0]))
      return b;
    // Order by magnitude so that |x| >= |y|.
    if (b[30:0] > a[30:0]) begin
      x = b;
      y = a;
    end else begin
      x = a;
      y = b;
    end
    sa = x[31];
    sb = y[31];
    ea = x[30:23] == 0 ? 8'd1 : x[30:23];
    eb = y[30:23] == 0 ? 8'd1 : y[30:23];
    ma = {x[30:23] != 0, x[22:0], 3'b000};
    mb = {y[30:23] != 0, y[22:0], 3'b000};
    shift = ea - eb;
    if (shift > 8'd26) begin
      sticky = mb != 0;
      mb = 27'(sticky);
    end else begin
      sticky = (mb & ((27'd1 << shift) - 27'd1)) != 0;
      mb = (mb >> shift) | 27'(sticky);
    end
    exp = int'(ea);
    sr = sa;
    if (sa == sb) begin
      sum = {1'b0, ma} + {1'b0, mb};
      if (sum[27]) begin
        sig = sum[27:1] | 27'(sum[0]);
        exp = exp + 1;
      end else
        sig = sum[26:0];
    end else begin
      sig = ma - mb;
      if (sig == 0)
        return 32'h0; // x - x = +0 when rounding to nearest
      lz = lzc27(sig);
      norm = int'(lz) < exp - 1 ? int'(lz) : exp - 1;
      sig = sig << norm;
      exp = exp - norm;
    end
    round_up = sig[2] && (sig[1] || sig[0] || sig[3]);
    rounded = {1'b0, sig[26:3]} + 25'(round_up);
    if (rounded[24]) begin
      rounded = rounded >> 1;
      exp = exp + 1;
    end
    if (exp >= 255)
      return {sr, 8'hff, 23'b0};
    if (!rounded[23])
      return {sr, 8'h00, rounded[22:0]}; // subnormal (or zero)
    return {sr, 8'(exp), rounded[22:0]};
  endfunction

  // IEEE comparisons (any comparison with a NaN is false; -0 equals +0).
  function automatic logic fp32_lt(input logic [31:0] a, input logic [31:0] b);
    if (is_nan32(a[30:0]) || is_nan32(b[30:0]))
      return 1'b0;
    if (a[30:0] == 0 && b[30:0] == 0)
      return 1'b0;
    if (a[31] != b[31])
      return a[31];
    return a[31] ? a[30:0] > b[30:0] : a[30:0] < b[30:0];
  endfunction

  function automatic logic fp32_eq(input logic [31:0] a, input logic [31:0] b);
    if (is_nan32(a[30:0]) || is_nan32(b[30:0]))
      return 1'b0;
    return a == b || (a[30:0] == 0 && b[30:0] == 0);
  endfunction

  // max/min as docs/isa.md defines them: NaN if either is NaN; max(-0, +0) = +0, min = -0.
  function automatic logic [31:0] fp32_max(input logic [31:0] a, input logic [31:0] b);
    if (is_nan32(a[30:0]) || is_nan32(b[30:0]))
      return FP32_QNAN;
    if (fp32_eq(a, b))
      return a[31] ? b : a;
    return fp32_lt(a, b) ? b : a;
  endfunction

  function automatic logic [31:0] fp32_min(input logic [31:0] a, input logic [31:0] b);
    if (is_nan32(a[30:0]) || is_nan32(b[30:0]))
      return FP32_QNAN;
    if (fp32_eq(a, b))
      return a[31] ? a : b;
    return fp32_lt(a, b) ? a : b;
  endfunction

endpackage
