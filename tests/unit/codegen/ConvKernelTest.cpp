// The generated convolution kernel against a reference convolution in double precision on the
// same fp16 inputs, across the tiling cases: several bands and tiles per band, K steps (input
// slices that do not fit L0A at once), several N tiles, padding, strides, dilations, batches.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "CodegenTestUtil.h"

namespace {

using namespace fractal;
using namespace fractal::codegen;
using namespace fractal::sim::testing;
using namespace fractal::codegen::testing;

struct Case {
  const char *name;
  int64_t n, h, w, cin, cout, kh, kw, s, d, pad;
  bool depthwise = false; // one filter per channel (cin == cout)
  bool residual = false;  // a skip connection added before the ReLU
  int64_t residualChannels = 0; // the residual's channels when fewer than cout (the rest read as 0)
  bool outF32 = false;          // NHWC f32 output (FixPipe converts) instead of NHWC16 f16
  // On each tile in UB: 1 hardswish, x * min(max(x + 3, 0), 6) / 6; 2 the same times -1 (a
  // negative scale, which FixPipe cannot take); 3 HardSigmoid, min(max(x / 5 + 1/2, 0), 1).
  int epilogue = 0;
};

// The hardswish body (times `scale`) and HardSigmoid's as the graph's element-wise fusion writes
// them on NHWC16 (f16, scalars as f16).
ElementwiseKernel hardswish(float scale) {
  ElementwiseKernel e;
  e.name = e.node = "hardswish";
  e.numInputs = 2;
  e.inBytes = e.outBytes = 2;
  e.halfScalars = true;
  e.scalars = {3.0f, 0.0f, 6.0f, scale};
  e.body = {"vadds.f16 {out}, {in0}, {s0}, repeat={rep}", "vmaxs.f16 {out}, {out}, {s1}, repeat={rep}",
            "vmins.f16 {out}, {out}, {s2}, repeat={rep}", "vmul.f16 {out}, {out}, {in1}, repeat={rep}",
            "vmuls.f16 {out}, {out}, {s3}, repeat={rep}"};
  return e;
}
ElementwiseKernel hardSigmoid() {
  ElementwiseKernel e;
  e.name = e.node = "hard_sigmoid";
  e.inBytes = e.outBytes = 2;
  e.halfScalars = true;
  e.scalars = {0.2f, 0.5f, 0.0f, 1.0f};
  e.body = {"vmuls.f16 {out}, {in0}, {s0}, repeat={rep}", "vadds.f16 {out}, {out}, {s1}, repeat={rep}",
            "vmaxs.f16 {out}, {out}, {s2}, repeat={rep}", "vmins.f16 {out}, {out}, {s3}, repeat={rep}"};
  return e;
}

// `headerHas` / `headerLacks`: text the kernel's header (its tiling) must / must not contain.
void runCase(const Case &c, bool checkRaces, const char *headerHas = nullptr, const ChipConfig &config = edge(),
             const char *headerLacks = nullptr) {
  ConvKernel k;
  k.name = c.name;
  k.node = c.name;
  k.n = c.n;
  k.h = c.h;
  k.w = c.w;
  k.cip = (c.cin + 15) / 16 * 16;
  k.cop = (c.cout + 15) / 16 * 16;
  k.kh = c.kh;
  k.kw = c.kw;
  k.sh = k.sw = c.s;
  k.dh = k.dw = c.d;
  k.pt = k.pl = k.pb = k.pr = c.pad;
  k.depthwise = c.depthwise;
  k.residual = k.relu = c.residual;
  const int64_t rcount = c.residualChannels ? c.residualChannels : c.cout, rc = (rcount + 15) / 16 * 16;
  if (c.residualChannels) k.residualChannels = rc;
  k.outF32 = c.outF32;
  // An f32 output holds the real channels only when there are fewer than 16 (cop otherwise).
  const int64_t outStride = c.outF32 && c.cout < 16 ? c.cout : k.cop;
  if (c.outF32) k.outChannels = outStride;
  if (c.epilogue) k.epilogue = c.epilogue == 3 ? hardSigmoid() : hardswish(c.epilogue == 2 ? -1.0f / 6 : 1.0f / 6);
  k.ho = (c.h + 2 * c.pad - c.d * (c.kh - 1) - 1) / c.s + 1;
  k.wo = (c.w + 2 * c.pad - c.d * (c.kw - 1) - 1) / c.s + 1;
  Expected<ConvTiling> tiling = planConv(config, k);
  ASSERT_TRUE(tiling.ok()) << tiling.error().message;
  Expected<GeneratedKernel> gen = generateConv(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  if (headerHas) {
    EXPECT_NE(gen->assembly.substr(0, gen->assembly.find('\n')).find(headerHas), std::string::npos)
        << c.name << ": " << gen->assembly.substr(0, 600);
  }
  if (headerLacks) {
    EXPECT_EQ(gen->assembly.substr(0, gen->assembly.find('\n')).find(headerLacks), std::string::npos)
        << c.name << ": " << gen->assembly.substr(0, 600);
  }
  if (std::string(c.name) == "epilogue_tiles_fit_ub") {
    EXPECT_NE(gen->assembly.find("1008 pixels"), std::string::npos) << gen->assembly.substr(0, 400);
    EXPECT_NE(gen->assembly.find("in bands of 1008 rows"), std::string::npos) << gen->assembly.substr(0, 400);
  }

  // Input NHWC16 (padding channels zero), weights, bias.
  std::vector<uint16_t> input(size_t(k.n * k.h * k.w * k.cip), 0);
  std::vector<uint16_t> values = randomHalves(size_t(k.n * k.h * k.w * c.cin), 7);
  for (int64_t p = 0; p < k.n * k.h * k.w; ++p)
    for (int64_t ch = 0; ch < c.cin; ++ch) input[size_t(p * k.cip + ch)] = values[size_t(p * c.cin + ch)];
  std::vector<uint16_t> wHalf = randomHalves(size_t(c.cout * c.cin * c.kh * c.kw), 8, 0.2f);
  std::vector<float> weights(wHalf.size());
  for (size_t i = 0; i < wHalf.size(); ++i) weights[i] = isa::halfToFloatReference(wHalf[i]);
  if (c.depthwise) // block-diagonal: output channel o reads input channel o only
    for (int64_t o = 0; o < c.cout; ++o)
      for (int64_t ci = 0; ci < c.cin; ++ci)
        if (ci != o)
          for (int64_t t = 0; t < c.kh * c.kw; ++t) weights[size_t((o * c.cin + ci) * c.kh * c.kw + t)] = 0.0f;
  std::vector<float> bias(size_t(k.cop), 0.0f);
  for (int64_t o = 0; o < c.cout; ++o) bias[size_t(o)] = 0.01f * float(o);
  std::vector<uint16_t> packed = packConvWeights(k, *tiling, weights, c.cout, c.cin);
  EXPECT_EQ(int64_t(packed.size()), pkg::packedConvWeightCount(convWeightLayout(k, *tiling, c.cout, c.cin)));

  Device dev(config);
  uint64_t in = dev.buffer(input), wt = dev.buffer(packed), bs = dev.buffer(bias);
  const size_t outCount = size_t(k.n * k.ho * k.wo * outStride);
  uint64_t out = c.outF32 ? dev.buffer(std::vector<float>(outCount, std::nanf("")))
                          : dev.buffer(std::vector<uint16_t>(outCount, 0x7e00));
  // The residual: NHWC16 of the output's pixels with rc channels, padding channels zero.
  std::vector<uint16_t> residual(size_t(k.n * k.ho * k.wo * rc), 0);
  if (c.residual) {
    std::vector<uint16_t> r = randomHalves(residual.size(), 9);
    for (size_t i = 0; i < residual.size(); ++i)
      if (int64_t(i % size_t(rc)) < rcount) residual[i] = r[i];
  }
  std::vector<uint64_t> args = {in, wt, bs, out};
  if (c.residual) args.insert(args.begin() + 3, dev.buffer(residual));
  ASSERT_TRUE(runGenerated(dev, *gen, c.name, args, checkRaces));
  std::vector<uint16_t> got = c.outF32 ? std::vector<uint16_t>() : dev.read<uint16_t>(out, outCount);
  std::vector<float> gotF32 = c.outF32 ? dev.read<float>(out, outCount) : std::vector<float>();

  int bad = 0;
  for (int64_t b = 0; b < k.n; ++b)
    for (int64_t oh = 0; oh < k.ho; ++oh)
      for (int64_t ow = 0; ow < k.wo; ++ow)
        for (int64_t o = 0; o < outStride; ++o) {
          double sum = o < c.cout ? bias[size_t(o)] : 0.0, magnitude = std::fabs(sum);
          for (int64_t ci = 0; ci < c.cin && o < c.cout; ++ci)
            for (int64_t y = 0; y < c.kh && (!c.depthwise || ci == o); ++y) // depthwise: the other weights are 0
              for (int64_t x = 0; x < c.kw; ++x) {
                const int64_t ih = oh * c.s - c.pad + y * c.d, iw = ow * c.s - c.pad + x * c.d;
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                const double term = isa::halfToFloatReference(input[size_t(((b * c.h + ih) * c.w + iw) * k.cip + ci)]) *
                                    weights[size_t(((o * c.cin + ci) * c.kh + y) * c.kw + x)];
                sum += term;
                magnitude += std::fabs(term);
              }
          const size_t at = size_t(((b * k.ho + oh) * k.wo + ow) * outStride + o);
          if (c.residual) {
            const double r = o < rc ? isa::halfToFloatReference(residual[size_t(((b * k.ho + oh) * k.wo + ow) * rc + o)]) : 0.0;
            sum += r;
            magnitude += std::fabs(r);
            sum = std::max(sum, 0.0);
          }
          const double value = c.outF32 ? double(gotF32[at]) : isa::halfToFloatReference(got[at]);
          // fp32 accumulation of exact products, one rounding to fp16 at the end (none for f32);
          // the epilogue's f16 steps round a few times more (its slope is at most 1.5).
          double tolerance = 1e-3 * magnitude + std::fabs(sum) * 1e-3 + 1e-4;
          if (c.epilogue == 1 || c.epilogue == 2) {
            sum = sum * std::min(std::max(sum + 3.0, 0.0), 6.0) / (c.epilogue == 1 ? 6.0 : -6.0);
            tolerance = 1.5 * tolerance + 4e-3 * std::fabs(sum) + 1e-3;
          } else if (c.epilogue == 3) {
            sum = std::min(std::max(sum * 0.2 + 0.5, 0.0), 1.0);
            tolerance = 0.2 * tolerance + 2e-3;
          }
          if (!(std::fabs(value - sum) <= tolerance) && bad++ < 5)
            ADD_FAILURE() << c.name << ": image " << b << " pixel (" << oh << "," << ow << ") channel " << o
                          << ": got " << value << ", expected " << sum;
        }
  EXPECT_EQ(bad, 0) << c.name;
}

TEST(ConvKernel, TilingCases) {
  const Case cases[] = {
      {"single_tile_3x3", 1, 8, 8, 16, 16, 3, 3, 1, 1, 1},
      {"cin_padding_stride2", 1, 17, 13, 3, 24, 3, 3, 2, 1, 1},
      {"several_m_tiles_1x1", 1, 12, 24, 192, 192, 1, 1, 1, 1, 0},
      {"several_n_tiles", 1, 6, 10, 32, 160, 3, 3, 1, 1, 1},
      {"k_steps_5x5", 1, 9, 7, 256, 32, 5, 5, 1, 1, 2},
      {"bands_wide_map", 1, 40, 96, 16, 32, 3, 3, 1, 1, 1},
      {"dilation_batch", 2, 11, 11, 32, 16, 3, 3, 1, 2, 2},
      {"depthwise_3x3_s2", 1, 20, 18, 40, 40, 3, 3, 2, 1, 1, true},
      {"depthwise_5x5_wide", 2, 12, 30, 96, 96, 5, 5, 1, 1, 2, true},
      {"residual_n_tiles_k_steps", 1, 9, 7, 256, 144, 3, 3, 1, 1, 1, false, true},
      {"residual_bands_batch", 2, 40, 96, 16, 32, 3, 3, 1, 1, 1, false, true},
      {"residual_depthwise", 1, 12, 30, 48, 48, 5, 5, 1, 1, 2, true, true},
      {"residual_fewer_channels", 1, 9, 7, 64, 144, 3, 3, 1, 1, 1, false, true, 36},  // N tiles past it skip
      {"residual_fewer_depthwise", 1, 12, 30, 48, 48, 3, 3, 1, 1, 1, true, true, 20},
      {"f32_out_n_tiles", 1, 6, 10, 32, 160, 3, 3, 1, 1, 1, false, false, 0, true},
      {"f32_out_residual_bands", 2, 40, 96, 16, 32, 3, 3, 1, 1, 1, false, true, 0, true},
      {"f32_out_6_channels", 1, 16, 16, 96, 6, 1, 1, 1, 1, 0, false, false, 0, true}, // only those written
      {"epilogue_m_and_n_tiles", 1, 12, 24, 64, 160, 1, 1, 1, 1, 0, false, false, 0, false, true},
      {"epilogue_k_steps_5x5", 1, 9, 7, 256, 32, 5, 5, 1, 1, 2, false, false, 0, false, true},
      {"epilogue_depthwise_s2", 1, 20, 18, 40, 40, 3, 3, 2, 1, 1, true, false, 0, false, true},
      // 1024-pixel tiles of 32 channels: four do not fit UB beside the constants, so the tiles
      // shrink to 1008 pixels and pass through UB whole (not in bands of rows, which serialize).
      {"epilogue_tiles_fit_ub", 1, 64, 64, 16, 32, 1, 1, 1, 1, 0, false, false, 0, false, true},
  };
  for (const Case &c : cases) runCase(c, false);
}

// The number the kernel header gives right before `label` (its tiling: " item(s) (bands)",
// " row(s) per band"), or -1 when the header has no such label.
int64_t headerNumber(const std::string &assembly, const std::string &label) {
  const size_t at = assembly.find(label);
  if (at == std::string::npos) return -1;
  return std::stoll(assembly.substr(assembly.rfind(' ', at - 1) + 1));
}

// Bands are as tall as L1 and L0C allow, then shortened where that takes rows off the busiest
// core: PP-OCRv4's 320x320 1x1 convolution (16 -> 32 channels) had 7 bands of 51 rows, 4 on one
// core; now the two cores get the same number of bands.
TEST(ConvKernel, BandsShareOutEvenly) {
  ConvKernel k;
  k.name = k.node = "balanced_bands";
  k.h = k.w = k.ho = k.wo = 320, k.cip = 16, k.cop = 32;
  Expected<GeneratedKernel> gen = generateConv(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  const int64_t items = headerNumber(gen->assembly, " item(s) (bands)");
  ASSERT_GE(items, 0) << gen->assembly.substr(0, 400);
  EXPECT_EQ(items % 2, 0) << gen->assembly.substr(0, 400);
  EXPECT_GT(items, 2);
}

// Several M tiles, N tiles and K steps in one band: every hand-over between pipes is checked by
// the simulator's race detector (the bias in L1 is read by mmad, so its reload must wait for M).
// One output row of one image (a single band): the N tiles are shared out over both cores in
// chunks, with and without a residual, on the cube and (depthwise) per 16 channels.
TEST(ConvKernel, NChunksKeepBothCoresBusyOnSmallMaps) {
  for (const Case &c : {Case{"chunks_3x3", 1, 1, 8, 32, 96, 3, 3, 1, 1, 1},
                        Case{"chunks_residual", 1, 1, 8, 32, 96, 3, 3, 1, 1, 1, false, true},
                        Case{"chunks_depthwise", 1, 1, 8, 48, 48, 5, 5, 1, 1, 2, true}}) {
    ConvKernel k;
    k.name = k.node = c.name;
    k.h = c.h, k.w = c.w, k.cip = (c.cin + 15) / 16 * 16, k.cop = (c.cout + 15) / 16 * 16;
    k.kh = c.kh, k.kw = c.kw, k.pt = k.pl = k.pb = k.pr = c.pad, k.depthwise = c.depthwise;
    k.ho = 1, k.wo = 8;
    k.residual = c.residual;
    Expected<GeneratedKernel> gen = generateConv(edge(), k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    EXPECT_EQ(gen->blockDim, 2) << gen->assembly.substr(0, 300);
    EXPECT_NE(gen->assembly.find("N chunks"), std::string::npos) << c.name;
    runCase(c, true);
  }
}

// A depthwise convolution whose bands do not share out evenly (3 bands of 4 rows on 2 cores, or
// bands of 4 and 2 rows) splits its N tiles into chunks too, so that both cores get the same
// work; the result is unchanged and race-free. (PP-OCRv4 rec's 5x5 depthwise convolutions.) An
// item loads only its chunk's input slices, which leaves room in L1 for the weights of all 480
// channels; a last chunk of fewer N tiles (29 tiles: 15 and 14) loads fewer.
TEST(ConvKernel, DepthwiseBandsThatDoNotShareOutEvenlyAreSplitIntoNChunks) {
  for (const Case &c : {Case{"dw_three_bands", 1, 12, 80, 240, 240, 5, 5, 1, 1, 2, true},
                        Case{"dw_short_last_band", 1, 6, 80, 480, 480, 5, 5, 1, 1, 2, true},
                        Case{"dw_short_last_chunk", 1, 6, 80, 464, 464, 5, 5, 1, 1, 2, true}}) {
    ConvKernel k;
    k.name = k.node = c.name;
    k.h = k.ho = c.h, k.w = k.wo = c.w, k.cip = k.cop = c.cin;
    k.kh = c.kh, k.kw = c.kw, k.pt = k.pl = k.pb = k.pr = c.pad, k.depthwise = true;
    Expected<GeneratedKernel> gen = generateConv(edge(), k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    EXPECT_EQ(gen->blockDim, 2);
    EXPECT_NE(gen->assembly.find("(bands x 2 N chunks) on 2 block(s); weights resident in L1"), std::string::npos)
        << c.name << ": " << gen->assembly.substr(0, 400);
    runCase(c, true);
  }
}

// A dense convolution whose bands do not share out evenly (3 rows: bands of 2 and 1) is split
// into N chunks too when its rows are long in cube work (PP-OCRv4 rec's 1x1 convolutions on 3x80x480
// maps: 24.3k -> 21.8k cycles each), and not when the bands already share out (4 rows).
TEST(ConvKernel, DenseBandsThatDoNotShareOutEvenlyAreSplitIntoNChunks) {
  for (const Case &c : {Case{"dense_three_rows", 1, 3, 80, 480, 480, 1, 1, 1, 1, 0},
                        Case{"dense_four_rows", 1, 4, 80, 480, 480, 1, 1, 1, 1, 0}}) {
    ConvKernel k;
    k.name = k.node = c.name;
    k.h = k.ho = c.h, k.w = k.wo = c.w, k.cip = c.cin, k.cop = c.cout;
    Expected<GeneratedKernel> gen = generateConv(edge(), k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    EXPECT_EQ(gen->blockDim, 2);
    EXPECT_EQ(gen->assembly.find("N chunks") != std::string::npos, c.h == 3) << c.name << ": " << gen->assembly.substr(0, 400);
    runCase(c, true);
  }
}

// Bands of one M tile (80-pixel rows) through several K steps: L0A alternates by step, so the
// next step's img2col goes into the buffer the cube is not reading; values and race-freedom as
// before (PP-OCRv4 rec's 1x1 convolution on 6x80x480, and a 3x3 one with padding).
TEST(ConvKernel, OneTileBandsAlternateL0AByKStep) {
  runCase({"one_tile_bands_1x1", 1, 6, 80, 480, 480, 1, 1, 1, 1, 0}, true, "a band's accumulators stay in L0C");
  runCase({"one_tile_bands_3x3", 1, 4, 40, 256, 64, 3, 3, 1, 1, 1}, true, "a band's accumulators stay in L0C");
}

// The epilogue's first multiplication goes into FixPipe's scale: hardswish times 1/6 as
// sqrt(1/6) * x * clip(sqrt(1/6) * (x + 3), 0, sqrt(1/6) * 6) (one vector instruction fewer),
// HardSigmoid's x / 5 as FixPipe's; a negative scale stays on the vector unit. Values against the
// reference, with and without K steps (the tile through UB in one band or several).
TEST(ConvKernel, EpilogueMultiplicationInFixPipe) {
  runCase({"fold_hardswish", 1, 12, 24, 64, 48, 3, 3, 1, 1, 1, false, false, 0, false, 1}, true,
          "epilogue: 4 vector instruction(s) per tile in UB (FixPipe scales by 0.408248)");
  runCase({"fold_hardswish_k_steps", 1, 9, 7, 256, 32, 5, 5, 1, 1, 2, false, false, 0, false, 1}, true,
          "(FixPipe scales by 0.408248)");
  runCase({"fold_hard_sigmoid", 1, 12, 24, 64, 48, 1, 1, 1, 1, 0, false, false, 0, false, 3}, true,
          "epilogue: 3 vector instruction(s) per tile in UB (FixPipe scales by 0.2");
  runCase({"negative_scale_stays", 1, 12, 24, 64, 48, 3, 3, 1, 1, 1, false, false, 0, false, 2}, true,
          "epilogue: 5 vector instruction(s)", edge(), "FixPipe scales");
}

TEST(ConvKernel, NoDataRacesBetweenPipes) {
  runCase({"race_check", 1, 12, 24, 192, 160, 1, 1, 1, 1, 0}, true);
  runCase({"race_check_residual", 1, 12, 24, 192, 160, 1, 1, 1, 1, 0, false, true}, true);
  runCase({"race_check_residual_depthwise", 1, 8, 20, 48, 48, 3, 3, 1, 1, 1, true, true}, true);
  runCase({"race_check_f32_out", 1, 8, 8, 96, 96, 1, 1, 1, 1, 0, false, true, 0, true}, true);
  runCase({"race_check_epilogue", 1, 12, 24, 192, 160, 1, 1, 1, 1, 0, false, false, 0, false, true}, true);
  runCase({"race_check_epilogue_k_steps", 1, 9, 7, 256, 32, 5, 5, 1, 1, 2, false, false, 0, false, true}, true);
  runCase({"race_check_epilogue_wide_tiles", 1, 64, 64, 16, 32, 1, 1, 1, 1, 0, false, false, 0, false, true}, true);
}

// One K step, FixPipe straight to GM: M tiles leave L0C in groups (one flag per group hands the
// L0C buffer back, so FixPipe waits for its GM writes once per group), each tile's FixPipe after
// the group's last mmad; L0A alternates tile by tile inside a group. A short last group with a
// short last tile, a residual, several N tiles, an f32 output; every hand-over between pipes
// checked by the race detector, the values against the reference.
TEST(ConvKernel, TilesLeaveL0CInGroups) {
  runCase({"groups_short_last_group", 1, 40, 60, 64, 32, 1, 1, 1, 1, 0}, true, "tiles leave L0C in groups of");
  runCase({"groups_residual_3x3", 1, 20, 40, 16, 48, 3, 3, 1, 1, 1, false, true}, true, "tiles leave L0C in groups of");
  runCase({"groups_n_tiles", 1, 12, 24, 192, 160, 1, 1, 1, 1, 0}, true, "tiles leave L0C in groups of");
  runCase({"groups_f32_out", 2, 10, 30, 16, 40, 3, 3, 1, 1, 1, false, false, 0, true}, true, "tiles leave L0C in groups of");
  // Through UB (an epilogue) for small tiles only: each tile of a group has UB tiles of its own,
  // and the groups are software-pipelined (a group's loads and mmads before the previous group's
  // FixPipe, vector work and stores); the second case has an odd number of groups per band, the
  // last one short (156-pixel bands: 5 tiles of up to 32 pixels, 3 groups).
  runCase({"groups_epilogue_depthwise_5x5", 1, 12, 30, 96, 96, 5, 5, 1, 1, 2, true, false, 0, false, true}, true,
          "tiles leave L0C in groups of 2");
  runCase({"groups_epilogue_odd_count", 1, 12, 26, 48, 48, 5, 5, 1, 1, 2, true, false, 0, false, true}, true,
          "tiles leave L0C in groups of 2");
  runCase({"no_groups_epilogue_big_tiles", 1, 12, 24, 64, 160, 1, 1, 1, 1, 0, false, false, 0, false, true}, true,
          "tiles leave L0C one by one");
}

// Hiding latency keeps more flags (and registers) live at once: a kernel that runs out of event
// ids with all of it (here a depthwise convolution with an epilogue, grouped because this chip's
// GM writes take 1000 cycles to land, whose N tiles would also alternate two L0B buffers) is
// generated with the groups alone. One whose live values outnumber the registers with the groups
// (PP-OCRv4 rec's 5x5 depthwise on 3x80 maps, in two N chunks) keeps them, its kernel arguments
// recomputed at each use (NpuToAsm.cpp; it was generated tile by tile before).
TEST(ConvKernel, KernelsThatRunOutOfFlagsHideLessLatency) {
  ChipConfig slowWrites = edge();
  slowWrites.dma.gmWritePathLatencyCycles = 1000;
  runCase({"out_of_flags", 1, 64, 64, 48, 48, 3, 3, 1, 1, 1, true, false, 0, false, true}, true,
          "tiles leave L0C in groups of 2", slowWrites);
  runCase({"out_of_registers", 1, 3, 80, 480, 480, 5, 5, 1, 1, 2, true, false, 0, false, true}, true,
          "tiles leave L0C in groups of 2");
}

// A depthwise convolution run first inside a 1x1 convolution's kernel (ConvKernel::
// depthwiseFirst) against the two kernels run one after the other: the same bits, since the
// depthwise's tiles leave L0C through the same FixPipe rounding, into L1 instead of GM. The
// simulator's race detector checks every hand-over (FixPipe -> L1 -> img2col included).
struct PairCase {
  const char *name;
  int64_t n, h, w, c, cout, dk, ds, dpad; // depthwise dk x dk, stride ds, pads dpad, on c channels
  bool dwRelu = false, residual = false;
};

void runDepthwiseFirst(const PairCase &c, const ChipConfig &config = edge()) {
  auto pad16 = [](int64_t v) { return (v + 15) / 16 * 16; };
  ConvKernel dw;
  dw.name = dw.node = std::string(c.name) + "_dw";
  dw.n = c.n, dw.h = c.h, dw.w = c.w, dw.cip = dw.cop = pad16(c.c);
  dw.kh = dw.kw = c.dk, dw.sh = dw.sw = c.ds, dw.pt = dw.pl = dw.pb = dw.pr = c.dpad;
  dw.ho = (c.h + 2 * c.dpad - c.dk) / c.ds + 1, dw.wo = (c.w + 2 * c.dpad - c.dk) / c.ds + 1;
  dw.depthwise = true, dw.relu = c.dwRelu;
  ConvKernel pw;
  pw.name = pw.node = std::string(c.name) + "_pw";
  pw.n = c.n, pw.h = dw.ho, pw.w = dw.wo, pw.cip = dw.cop, pw.cop = pad16(c.cout);
  pw.ho = dw.ho, pw.wo = dw.wo;
  pw.residual = pw.relu = c.residual;
  if (c.residual) pw.residualChannels = dw.cop; // BlazeFace: the block's input, zero-padded to cout
  ConvKernel fused = pw;
  fused.name = c.name;
  fused.depthwiseFirst = std::make_shared<const ConvKernel>(dw);
  Expected<ConvTiling> dwTiling = planConv(config, dw), pwTiling = planConv(config, pw);
  ASSERT_TRUE(dwTiling.ok() && pwTiling.ok());
  Expected<GeneratedKernel> dwGen = generateConv(config, dw), pwGen = generateConv(config, pw), fusedGen = generateConv(config, fused);
  ASSERT_TRUE(dwGen.ok()) << dwGen.error().message;
  ASSERT_TRUE(pwGen.ok()) << pwGen.error().message;
  ASSERT_TRUE(fusedGen.ok()) << fusedGen.error().message;
  EXPECT_NE(fusedGen->assembly.find("depthwise conv"), std::string::npos) << fusedGen->assembly.substr(0, 400);

  std::vector<uint16_t> input(size_t(c.n * c.h * c.w * dw.cip), 0), values = randomHalves(input.size(), 11);
  for (size_t i = 0; i < input.size(); ++i)
    if (int64_t(i % size_t(dw.cip)) < c.c) input[i] = values[i];
  std::vector<float> dwWeights(size_t(c.c * c.c * c.dk * c.dk), 0.0f), pwWeights(size_t(c.cout * c.c));
  std::vector<uint16_t> dwHalves = randomHalves(size_t(c.c * c.dk * c.dk), 12, 0.2f), pwHalves = randomHalves(pwWeights.size(), 13, 0.2f);
  for (int64_t o = 0; o < c.c; ++o) // block-diagonal
    for (int64_t t = 0; t < c.dk * c.dk; ++t)
      dwWeights[size_t((o * c.c + o) * c.dk * c.dk + t)] = isa::halfToFloatReference(dwHalves[size_t(o * c.dk * c.dk + t)]);
  for (size_t i = 0; i < pwWeights.size(); ++i) pwWeights[i] = isa::halfToFloatReference(pwHalves[i]);
  std::vector<float> dwBias(size_t(dw.cop), 0.0f), pwBias(size_t(pw.cop), 0.0f);
  for (int64_t o = 0; o < c.c; ++o) dwBias[size_t(o)] = 0.05f * float(o % 7) - 0.1f;
  for (int64_t o = 0; o < c.cout; ++o) pwBias[size_t(o)] = 0.01f * float(o);
  std::vector<uint16_t> residual(size_t(c.n * pw.ho * pw.wo * dw.cop), 0);
  if (c.residual) residual = randomHalves(residual.size(), 14);
  for (size_t i = 0; i < residual.size(); ++i)
    if (int64_t(i % size_t(dw.cop)) >= c.c) residual[i] = 0;

  Device dev(config);
  const uint64_t in = dev.buffer(input), dwWt = dev.buffer(packConvWeights(dw, *dwTiling, dwWeights, c.c, c.c));
  const uint64_t dwBs = dev.buffer(dwBias), pwWt = dev.buffer(packConvWeights(pw, *pwTiling, pwWeights, c.cout, c.c));
  const uint64_t pwBs = dev.buffer(pwBias), res = dev.buffer(residual);
  const size_t midCount = size_t(c.n * dw.ho * dw.wo * dw.cop), outCount = size_t(c.n * pw.ho * pw.wo * pw.cop);
  const uint64_t mid = dev.buffer(std::vector<uint16_t>(midCount, 0x7e00));
  const uint64_t twoKernels = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00));
  const uint64_t oneKernel = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00));
  const uint64_t functional = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00));
  ASSERT_TRUE(runGenerated(dev, *dwGen, dw.name, {in, dwWt, dwBs, mid}, false));
  std::vector<uint64_t> pwArgs = {mid, pwWt, pwBs, twoKernels};
  if (c.residual) pwArgs.insert(pwArgs.begin() + 3, res);
  ASSERT_TRUE(runGenerated(dev, *pwGen, pw.name, pwArgs, false));
  std::vector<uint64_t> fusedArgs = {in, dwWt, dwBs, pwWt, pwBs, oneKernel};
  if (c.residual) fusedArgs.insert(fusedArgs.begin() + 5, res);
  ASSERT_TRUE(runGenerated(dev, *fusedGen, c.name, fusedArgs, true)); // timing, races checked
  fusedArgs.back() = functional; // functional mode: pipes run ahead as far as their flags let them
  ASSERT_TRUE(runGenerated(dev, *fusedGen, c.name, fusedArgs, false));
  EXPECT_EQ(dev.read<uint16_t>(functional, outCount), dev.read<uint16_t>(oneKernel, outCount)) << c.name;
  const std::vector<uint16_t> want = dev.read<uint16_t>(twoKernels, outCount), got = dev.read<uint16_t>(oneKernel, outCount);
  int bad = 0;
  for (size_t i = 0; i < outCount; ++i)
    if (got[i] != want[i] && bad++ < 5)
      ADD_FAILURE() << c.name << ": element " << i << " (pixel " << i / size_t(pw.cop) << ", channel " << i % size_t(pw.cop)
                    << "): got " << isa::halfToFloatReference(got[i]) << ", two kernels give " << isa::halfToFloatReference(want[i]);
  EXPECT_EQ(bad, 0) << c.name;
  EXPECT_NE(want[0], 0x7e00) << c.name; // the output was written at all
}

TEST(ConvKernel, DepthwiseFirstGivesTheTwoKernelsBits) {
  const PairCase cases[] = {
      {"pair_blazeface_64x64", 1, 64, 64, 32, 32, 5, 1, 2, false, true},    // several bands per core
      {"pair_blazeface_32x32x48", 1, 32, 32, 48, 48, 3, 1, 1, false, true},
      {"pair_stride2_more_channels", 1, 32, 32, 32, 48, 5, 2, 1, false, true}, // residual fewer channels
      {"pair_relu_odd_slices_batch", 2, 9, 11, 48, 96, 3, 1, 1, true, false},
      {"pair_small_map_n_chunks", 1, 2, 8, 96, 96, 5, 1, 2, false, true},   // fewer bands than cores
      {"pair_n_tiles", 1, 8, 10, 128, 160, 3, 1, 1, false, false},          // the 1x1 has several N tiles
  };
  for (const PairCase &c : cases) runDepthwiseFirst(c);
}

// L0A and L0B of 16 KiB and L0C of 64 KiB (a sweep over buffer sizes, down from the edge chip's 64,
// 64 and 256): a 5x5 depthwise convolution's K step (400 deep) takes 12.5 KiB for 16 pixels, so
// its M tiles are in L0A one at a time (img2col waits for the cube); a 1x1 convolution with K steps
// on rows of 160 pixels keeps a band's accumulators in L0C in tiles of 48 channels, not 128 (two
// bands of a row in 128 channels are 160 KiB); a 1x1 convolution with a residual of fewer
// channels (BlazeFace's 72 -> 80 on 16x16) has more live values than registers with tiles this
// small and recomputes its arguments (NpuToAsm.cpp). Each against the reference, race-checked.
// (None had a kernel before: "L0 overflow", "L1/L0C overflow", "more live scalar values than
// registers".)
TEST(ConvKernel, SmallL0BuffersTakeOneTileAtATimeAndNarrowerTiles) {
  ChipConfig config = edge();
  config.buffer(BufferKind::L0A).sizeBytes = 16 << 10;
  config.buffer(BufferKind::L0B).sizeBytes = 16 << 10;
  config.buffer(BufferKind::L0C).sizeBytes = 64 << 10;
  const Case depthwise = {"depthwise_5x5_small_l0a", 1, 12, 30, 48, 48, 5, 5, 1, 1, 2, true};
  const Case rows = {"k_steps_small_l0c", 1, 4, 160, 128, 256, 1, 1, 1, 1, 0};
  runCase(depthwise, true, "16 pixels (one at a time in L0A)", config);
  runCase(rows, true, "tiles: 48 channels", config);
  runCase(depthwise, false, nullptr, edge(), "one at a time"); // both tiles where they fit
  runCase({"residual_small_l0", 1, 16, 16, 72, 80, 1, 1, 1, 1, 0, false, true, 72}, true, nullptr, config);
  // L0A 16 KiB and L0B 32 KiB: K steps of 4 of a 1x1's 5 slices (for 64-pixel tiles) are two
  // stages of weights in L0B, which with 80-channel tiles and their identity did not fit (BlazeFace
  // front's 80 -> 80 with a residual had no kernel): 64-channel tiles.
  ChipConfig twoStages = edge();
  twoStages.buffer(BufferKind::L0A).sizeBytes = 16 << 10;
  twoStages.buffer(BufferKind::L0B).sizeBytes = 32 << 10;
  runCase({"residual_two_stages", 1, 16, 16, 80, 80, 1, 1, 1, 1, 0, false, true}, true,
          "tiles: 64 channels, 4 slice(s) per K step", twoStages);
}

// L1 of 64 KiB (a sweep down from the edge chip's 1 MiB), where a band of one output row does not
// fit with the first plan: PP-OCRv4 det's 1x1 192 -> 192 on 40-pixel rows stages its weights in
// shallower K steps (12 slices x 128 channels, twice, were 96 KiB); its 3x3 16 -> 16 on 320-pixel
// rows holds one item's band at a time (two are 60 KiB), with and without a residual. Each
// against the reference, race-checked. At 32 KiB even one band of the 3x3 does not fit: the
// error names the node and both buffers. (Before: "L1/L0C overflow" for all three.)
TEST(ConvKernel, SmallL1StagesShallowerKStepsThenOneBandAtATime) {
  ChipConfig config = edge();
  config.buffer(BufferKind::L1).sizeBytes = 64 << 10;
  const Case deep = {"k_steps_small_l1", 1, 4, 40, 192, 192, 1, 1, 1, 1, 0};
  const Case wide = {"one_band_small_l1", 1, 4, 320, 16, 16, 3, 3, 1, 1, 1};
  runCase(deep, true, "tiles: 128 channels, 6 slice(s) per K step", config, "one item's band");
  runCase(wide, true, "one item's band at a time in L1", config);
  runCase({"one_band_residual_small_l1", 1, 3, 320, 16, 16, 3, 3, 1, 1, 1, false, true}, true,
          "one item's band at a time in L1", config);
  runCase(deep, false, "tiles: 128 channels, 12 slice(s) per K step", edge(), "one item's band"); // where it fits
  // K steps keep a band's accumulators in L0C: at L1 128 KiB, L0A and L0C 32 KiB (K steps of 8
  // slices for 64-pixel tiles) the staged plan's N tiles narrow until a row of them fits L0C too
  // (its 128-channel tiles needed 48 KiB of it).
  ChipConfig smallL0c = edge();
  smallL0c.buffer(BufferKind::L1).sizeBytes = 128 << 10;
  smallL0c.buffer(BufferKind::L0A).sizeBytes = 32 << 10;
  smallL0c.buffer(BufferKind::L0B).sizeBytes = 32 << 10;
  smallL0c.buffer(BufferKind::L0C).sizeBytes = 32 << 10;
  smallL0c.buffer(BufferKind::UB).sizeBytes = 16 << 10;
  smallL0c.chip.cores = 1;
  runCase({"k_steps_small_l0c", 1, 40, 40, 192, 192, 1, 1, 1, 1, 0, false, false, 0, false, 1}, true,
          "tiles: 64 channels, 8 slice(s) per K step", smallL0c, "one item's band");

  config.buffer(BufferKind::L1).sizeBytes = 32 << 10;
  ConvKernel k;
  k.name = k.node = "too_wide";
  k.n = 1, k.h = k.ho = 4, k.w = k.wo = 320, k.cip = k.cop = 16, k.kh = k.kw = 3;
  k.pt = k.pl = k.pb = k.pr = 1;
  Expected<GeneratedKernel> gen = generateConv(config, k);
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.error().code, ExitCode::BadInput);
  EXPECT_EQ(gen.error().message.rfind("too_wide: L1/L0C overflow: one output row (320 pixels, input width 320) needs L1 ", 0),
            0u) << gen.error().message;
  EXPECT_NE(gen.error().message.find("the config has L1 32768"), std::string::npos) << gen.error().message;
}

// Two detection heads on the same input as one convolution with two NHWC f32 outputs
// (ConvKernel::secondFrom): the same bits as the two convolutions, each output only its real
// channels; race-checked, both modes.
TEST(ConvKernel, TwoHeadsAsOneConvolution) {
  const ChipConfig config = edge();
  struct Heads { int64_t h, w, cin, ca, cb, kk; };
  for (const Heads &c : {Heads{8, 8, 96, 96, 6, 1}, Heads{16, 16, 96, 32, 2, 1}, Heads{6, 10, 32, 5, 16, 3}}) {
    const std::string name = "heads_" + std::to_string(c.ca) + "_" + std::to_string(c.cb);
    auto pad16 = [](int64_t v) { return (v + 15) / 16 * 16; };
    auto head = [&](const std::string &n, int64_t cop, int64_t channels) {
      ConvKernel k;
      k.name = k.node = n;
      k.h = k.ho = c.h, k.w = k.wo = c.w, k.cip = c.cin, k.cop = cop, k.kh = k.kw = c.kk;
      k.pt = k.pl = k.pb = k.pr = c.kk / 2;
      k.outF32 = true, k.outChannels = channels;
      return k;
    };
    ConvKernel a = head(name + "_a", pad16(c.ca), c.ca), b = head(name + "_b", pad16(c.cb), c.cb);
    ConvKernel both = head(name, pad16(c.ca) + pad16(c.cb), c.ca);
    both.secondFrom = pad16(c.ca), both.secondChannels = c.cb;
    const int64_t taps = c.kk * c.kk;
    std::vector<uint16_t> wa = randomHalves(size_t(c.ca * c.cin * taps), 21, 0.2f), wb = randomHalves(size_t(c.cb * c.cin * taps), 22, 0.2f);
    std::vector<float> fa(wa.size()), fb(wb.size()), fboth(size_t(both.cop * c.cin * taps), 0.0f);
    for (size_t i = 0; i < wa.size(); ++i) fboth[i] = fa[i] = isa::halfToFloatReference(wa[i]);
    for (size_t i = 0; i < wb.size(); ++i)
      fboth[size_t(both.secondFrom * c.cin * taps) + i] = fb[i] = isa::halfToFloatReference(wb[i]);
    std::vector<float> ba(size_t(a.cop), 0.0f), bb(size_t(b.cop), 0.0f), bboth(size_t(both.cop), 0.0f);
    for (int64_t o = 0; o < c.ca; ++o) bboth[size_t(o)] = ba[size_t(o)] = 0.1f * float(o % 5);
    for (int64_t o = 0; o < c.cb; ++o) bboth[size_t(both.secondFrom + o)] = bb[size_t(o)] = -0.2f * float(o % 3);
    Expected<ConvTiling> ta = planConv(config, a), tb = planConv(config, b), tboth = planConv(config, both);
    ASSERT_TRUE(ta.ok() && tb.ok() && tboth.ok());
    Expected<GeneratedKernel> ga = generateConv(config, a), gb = generateConv(config, b), gboth = generateConv(config, both);
    ASSERT_TRUE(ga.ok() && gb.ok()) << name;
    ASSERT_TRUE(gboth.ok()) << gboth.error().message;
    EXPECT_NE(gboth->assembly.find("to a second one of " + std::to_string(c.cb)), std::string::npos) << gboth->assembly.substr(0, 400);
    Device dev(config);
    const uint64_t in = dev.buffer(randomHalves(size_t(c.h * c.w * c.cin), 23));
    const size_t pixels = size_t(c.h * c.w);
    auto out = [&](int64_t channels) { return dev.buffer(std::vector<float>(pixels * size_t(channels), std::nanf(""))); };
    const uint64_t oa = out(c.ca), ob = out(c.cb), oa2 = out(c.ca), ob2 = out(c.cb), oa3 = out(c.ca), ob3 = out(c.cb);
    ASSERT_TRUE(runGenerated(dev, *ga, a.name, {in, dev.buffer(packConvWeights(a, *ta, fa, c.ca, c.cin)), dev.buffer(ba), oa}, false));
    ASSERT_TRUE(runGenerated(dev, *gb, b.name, {in, dev.buffer(packConvWeights(b, *tb, fb, c.cb, c.cin)), dev.buffer(bb), ob}, false));
    const uint64_t wboth = dev.buffer(packConvWeights(both, *tboth, fboth, both.cop, c.cin)), biasBoth = dev.buffer(bboth);
    ASSERT_TRUE(runGenerated(dev, *gboth, name, {in, wboth, biasBoth, oa2, ob2}, true));
    ASSERT_TRUE(runGenerated(dev, *gboth, name, {in, wboth, biasBoth, oa3, ob3}, false));
    auto bits = [&](uint64_t at, int64_t channels) {
      std::vector<float> v = dev.read<float>(at, pixels * size_t(channels));
      std::vector<uint32_t> u(v.size());
      std::memcpy(u.data(), v.data(), v.size() * 4);
      return u;
    };
    EXPECT_EQ(bits(oa2, c.ca), bits(oa, c.ca)) << name;
    EXPECT_EQ(bits(ob2, c.cb), bits(ob, c.cb)) << name;
    EXPECT_EQ(bits(oa3, c.ca), bits(oa, c.ca)) << name << " (functional)";
    EXPECT_EQ(bits(ob3, c.cb), bits(ob, c.cb)) << name << " (functional)";
    EXPECT_FALSE(std::isnan(dev.read<float>(ob, 1)[0])) << name;
  }
}

// An unpadded input's band is one ND -> NZ copy of at most 65505 pixels: bands are cut short
// enough (PP-OCRv4 det's first convolution at 960x960, 3 channels, 3x3 stride 2, did not compile:
// its bands of 60 output rows load 121 input rows of 960 pixels).
TEST(ConvKernel, UnpaddedInputBandsFitOneCopy) {
  ConvKernel k;
  k.name = k.node = "stem_960";
  k.h = k.w = 960, k.cip = 16, k.cop = 16, k.inputChannels = 3;
  k.kh = k.kw = 3, k.sh = k.sw = 2, k.pt = k.pl = 0, k.pb = k.pr = 1;
  k.ho = k.wo = 480;
  Expected<GeneratedKernel> gen = generateConv(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  const int64_t rows = headerNumber(gen->assembly, " row(s) per band");
  ASSERT_GE(rows, 1) << gen->assembly.substr(0, 400);
  EXPECT_LE(((rows - 1) * 2 + 3) * 960, 65505) << gen->assembly.substr(0, 400);
}

// A convolution reading an unpadded NHWC f16 input (ConvKernel::inputChannels: each band's load
// pads the channels to 16 in L1) against the same convolution on the NHWC16 input: the same bits;
// race-checked, both modes. BlazeFace's first convolution (3 channels, 5x5 stride 2, pads 1/2),
// and a batch of 7-channel maps in several bands.
TEST(ConvKernel, UnpaddedNhwcInputGivesThePaddedInputsBits) {
  const ChipConfig config = edge();
  struct In { int64_t n, h, w, c, cout, kk, s, lo, hi; };
  for (const In &c : {In{1, 128, 128, 3, 24, 5, 2, 1, 2}, In{2, 40, 24, 7, 32, 3, 1, 1, 1}}) {
    const std::string name = "unpadded_" + std::to_string(c.c) + "_channels";
    ConvKernel padded;
    padded.name = padded.node = name + "_padded";
    padded.n = c.n, padded.h = c.h, padded.w = c.w, padded.cip = 16, padded.cop = (c.cout + 15) / 16 * 16;
    padded.kh = padded.kw = c.kk, padded.sh = padded.sw = c.s;
    padded.pt = padded.pl = c.lo, padded.pb = padded.pr = c.hi;
    padded.ho = (c.h + c.lo + c.hi - c.kk) / c.s + 1, padded.wo = (c.w + c.lo + c.hi - c.kk) / c.s + 1;
    padded.relu = true;
    ConvKernel unpadded = padded;
    unpadded.name = name;
    unpadded.inputChannels = c.c;
    Expected<ConvTiling> tiling = planConv(config, padded);
    ASSERT_TRUE(tiling.ok());
    Expected<GeneratedKernel> gp = generateConv(config, padded), gu = generateConv(config, unpadded);
    ASSERT_TRUE(gp.ok()) << gp.error().message;
    ASSERT_TRUE(gu.ok()) << gu.error().message;
    EXPECT_NE(gu->npu().find("gm2l1_nz.f16"), std::string::npos) << name;
    const size_t pixels = size_t(c.n * c.h * c.w);
    const std::vector<uint16_t> values = randomHalves(pixels * size_t(c.c), 31);
    std::vector<uint16_t> wide(pixels * 16, 0);
    for (size_t p = 0; p < pixels; ++p)
      for (int64_t ch = 0; ch < c.c; ++ch) wide[p * 16 + size_t(ch)] = values[p * size_t(c.c) + size_t(ch)];
    std::vector<uint16_t> wh = randomHalves(size_t(c.cout * c.c * c.kk * c.kk), 32, 0.2f);
    std::vector<float> weights(wh.size());
    for (size_t i = 0; i < wh.size(); ++i) weights[i] = isa::halfToFloatReference(wh[i]);
    std::vector<float> bias(size_t(padded.cop), 0.0f);
    for (int64_t o = 0; o < c.cout; ++o) bias[size_t(o)] = 0.05f * float(o % 4) - 0.1f;
    Device dev(config);
    const uint64_t wt = dev.buffer(packConvWeights(padded, *tiling, weights, c.cout, c.c)), bs = dev.buffer(bias);
    const size_t outCount = size_t(c.n * padded.ho * padded.wo * padded.cop);
    const uint64_t want = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00));
    const uint64_t got = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00)), gotF = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00));
    ASSERT_TRUE(runGenerated(dev, *gp, padded.name, {dev.buffer(wide), wt, bs, want}, false));
    const uint64_t narrow = dev.buffer(values);
    ASSERT_TRUE(runGenerated(dev, *gu, name, {narrow, wt, bs, got}, true));
    ASSERT_TRUE(runGenerated(dev, *gu, name, {narrow, wt, bs, gotF}, false));
    const std::vector<uint16_t> expected = dev.read<uint16_t>(want, outCount);
    EXPECT_EQ(dev.read<uint16_t>(got, outCount), expected) << name;
    EXPECT_EQ(dev.read<uint16_t>(gotF, outCount), expected) << name << " (functional)";
    EXPECT_NE(expected[0], 0x7e00) << name;
    if (c.c > 4) continue;
    // The small-channel (C04) form of the same convolution: 4 channels a pixel in L1, K = taps x
    // 4 padded to 16 (BlazeFace's 5x5 stem: K 112 instead of 400, so 144-pixel tiles instead of
    // 32). The cube sums the same products in other groups of 16, so the results are equal to
    // rounding, not bits; race-checked, both modes.
    ConvKernel small = unpadded;
    small.name = name + "_c04";
    small.c04 = true;
    Expected<ConvTiling> smallTiling = planConv(config, small);
    ASSERT_TRUE(smallTiling.ok());
    Expected<GeneratedKernel> gs = generateConv(config, small);
    ASSERT_TRUE(gs.ok()) << gs.error().message;
    EXPECT_NE(gs->npu().find("load3d_c04.f16"), std::string::npos) << name;
    EXPECT_NE(gs->npu().find("c04 = 1"), std::string::npos) << name;
    const std::string k = std::to_string((c.kk * c.kk * 4 + 15) / 16 * 16), kPadded = std::to_string(c.kk * c.kk * 16);
    EXPECT_NE(gs->assembly.find("on an NHWC image, C04 in L1 (K " + k + ", not " + kPadded + ")"), std::string::npos)
        << gs->assembly.substr(0, 400);
    EXPECT_GT(headerNumber(gs->assembly, " pixels,"), headerNumber(gp->assembly, " pixels,")) << gs->assembly.substr(0, 400);
    const uint64_t smallWt = dev.buffer(packConvWeights(small, *smallTiling, weights, c.cout, c.c));
    const uint64_t gotC04 = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00)), gotC04F = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00));
    ASSERT_TRUE(runGenerated(dev, *gs, small.name, {narrow, smallWt, bs, gotC04}, true));
    ASSERT_TRUE(runGenerated(dev, *gs, small.name, {narrow, smallWt, bs, gotC04F}, false));
    const std::vector<uint16_t> c04 = dev.read<uint16_t>(gotC04, outCount);
    EXPECT_EQ(dev.read<uint16_t>(gotC04F, outCount), c04) << name << " (C04, functional)";
    size_t differ = 0;
    for (size_t i = 0; i < outCount; ++i) {
      const float want = isa::halfToFloatReference(expected[i]), got = isa::halfToFloatReference(c04[i]);
      ASSERT_LE(std::fabs(got - want), 1e-3f + 2e-3f * std::fabs(want)) << name << " C04 output " << i;
      differ += c04[i] != expected[i];
    }
    EXPECT_LT(differ, outCount / 4) << name; // rounding, in a minority of outputs
  }
}

// A convolution that also writes its output's 2x2 max pooling (ConvKernel::maxPool2x2: tiles
// through UB, pooled by the vector unit): the output the same bits as without, the pooled output
// exactly the max of its four pixels; race-checked, both modes. BlazeFace's depthwise + pointwise
// blocks before a MaxPool, and a plain 3x3 convolution in several bands.
TEST(ConvKernel, MaxPooledSecondOutput) {
  const ChipConfig config = edge();
  struct Pooled { int64_t h, w, c, cout; bool pair; };
  for (const Pooled &c : {Pooled{64, 64, 32, 32, true}, Pooled{32, 32, 48, 48, true}, Pooled{16, 16, 96, 96, true},
                          Pooled{40, 32, 16, 32, false}}) {
    const std::string name = std::string("pooled_") + std::to_string(c.h) + "x" + std::to_string(c.w);
    ConvKernel dw;
    dw.name = dw.node = name + "_dw";
    dw.h = dw.ho = c.h, dw.w = dw.wo = c.w, dw.cip = dw.cop = c.c, dw.kh = dw.kw = 3, dw.pt = dw.pl = dw.pb = dw.pr = 1;
    dw.depthwise = true;
    ConvKernel k;
    k.name = k.node = name;
    k.h = k.ho = c.h, k.w = k.wo = c.w, k.cip = c.c, k.cop = c.cout, k.relu = true;
    if (c.pair) {
      k.depthwiseFirst = std::make_shared<const ConvKernel>(dw);
    } else {
      k.kh = k.kw = 3, k.pt = k.pl = k.pb = k.pr = 1;
    }
    ConvKernel pooled = k;
    pooled.maxPool2x2 = true;
    Expected<GeneratedKernel> plain = generateConv(config, k), gen = generateConv(config, pooled);
    ASSERT_TRUE(plain.ok()) << plain.error().message;
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    EXPECT_NE(gen->assembly.find("2x2 max pooling"), std::string::npos) << gen->assembly.substr(0, 600);
    ConvKernel pw = k;
    pw.depthwiseFirst = nullptr;
    Expected<ConvTiling> dwTiling = planConv(config, dw), tiling = planConv(config, pw);
    ASSERT_TRUE(dwTiling.ok() && tiling.ok());
    const int64_t taps = pw.kh * pw.kw;
    std::vector<float> dwWeights(size_t(c.c * c.c * 9), 0.0f), weights(size_t(c.cout * c.c * taps));
    std::vector<uint16_t> dh = randomHalves(size_t(c.c * 9), 41, 0.3f), wh = randomHalves(weights.size(), 42, 0.2f);
    for (int64_t o = 0; o < c.c; ++o)
      for (int64_t t = 0; t < 9; ++t) dwWeights[size_t((o * c.c + o) * 9 + t)] = isa::halfToFloatReference(dh[size_t(o * 9 + t)]);
    for (size_t i = 0; i < weights.size(); ++i) weights[i] = isa::halfToFloatReference(wh[i]);
    std::vector<float> bias(size_t(c.cout));
    for (int64_t o = 0; o < c.cout; ++o) bias[size_t(o)] = 0.05f * float(o % 6) - 0.1f;
    Device dev(config);
    const uint64_t in = dev.buffer(randomHalves(size_t(c.h * c.w * c.c), 43));
    std::vector<uint64_t> args = {in};
    if (c.pair) {
      args.push_back(dev.buffer(packConvWeights(dw, *dwTiling, dwWeights, c.c, c.c)));
      args.push_back(dev.buffer(std::vector<float>(size_t(c.c), 0.125f)));
    }
    args.push_back(dev.buffer(packConvWeights(pw, *tiling, weights, c.cout, c.c)));
    args.push_back(dev.buffer(bias));
    const size_t outCount = size_t(c.h * c.w * c.cout), pooledCount = outCount / 4;
    const uint64_t want = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00));
    std::vector<uint64_t> plainArgs = args;
    plainArgs.push_back(want);
    ASSERT_TRUE(runGenerated(dev, *plain, name + "_plain", plainArgs, false));
    const std::vector<uint16_t> expected = dev.read<uint16_t>(want, outCount);
    for (bool timing : {true, false}) {
      const uint64_t out = dev.buffer(std::vector<uint16_t>(outCount, 0x7e00));
      const uint64_t pool = dev.buffer(std::vector<uint16_t>(pooledCount, 0x7e00));
      std::vector<uint64_t> pooledArgs = args;
      pooledArgs.push_back(out);
      pooledArgs.push_back(pool);
      ASSERT_TRUE(runGenerated(dev, *gen, name, pooledArgs, timing));
      EXPECT_EQ(dev.read<uint16_t>(out, outCount), expected) << name << (timing ? "" : " (functional)");
      const std::vector<uint16_t> got = dev.read<uint16_t>(pool, pooledCount);
      int bad = 0;
      for (int64_t y = 0; y < c.h / 2; ++y)
        for (int64_t x = 0; x < c.w / 2; ++x)
          for (int64_t o = 0; o < c.cout; ++o) {
            float best = -INFINITY;
            for (int64_t dy = 0; dy < 2; ++dy)
              for (int64_t dx = 0; dx < 2; ++dx)
                best = std::max(best, isa::halfToFloatReference(expected[size_t(((2 * y + dy) * c.w + 2 * x + dx) * c.cout + o)]));
            const float value = isa::halfToFloatReference(got[size_t((y * (c.w / 2) + x) * c.cout + o)]);
            if (value != best && bad++ < 5)
              ADD_FAILURE() << name << ": pooled (" << y << "," << x << ") channel " << o << ": got " << value << ", want " << best;
          }
      EXPECT_EQ(bad, 0) << name;
    }
  }
}

// When the pair does not fit the buffers together, generation says which buffer (the package
// builder then keeps the two kernels).
TEST(ConvKernel, DepthwiseFirstThatDoesNotFitSaysWhy) {
  ConvKernel dw, pw;
  dw.name = dw.node = "dw";
  dw.h = dw.w = dw.ho = dw.wo = 8, dw.cip = dw.cop = 256, dw.kh = dw.kw = 3, dw.pt = dw.pl = dw.pb = dw.pr = 1;
  dw.depthwise = true;
  pw.name = pw.node = "pw";
  pw.h = pw.w = pw.ho = pw.wo = 8, pw.cip = 256, pw.cop = 128;
  ASSERT_TRUE(generateConv(edge(), pw).ok());
  pw.depthwiseFirst = std::make_shared<const ConvKernel>(dw);
  Expected<GeneratedKernel> gen = generateConv(edge(), pw);
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.error().message, "pw: L0B overflow: the weights of an N tile and a 16-channel tile of the depthwise "
                                 "convolution before it need 70144 bytes, L0B has 65536");
  pw.depthwiseFirst = std::make_shared<const ConvKernel>(pw); // not a depthwise convolution
  gen = generateConv(edge(), pw);
  ASSERT_FALSE(gen.ok());
  EXPECT_NE(gen.error().message.find("runs first only before"), std::string::npos) << gen.error().message;

  // BlazeFace back's 128x128 blocks with their 2x2 max pooling fused: tiles of whole pairs of
  // 128-pixel rows do not fit L0A beside the residual's and the depthwise's (the message named
  // L0C, which had room).
  ConvKernel dw128 = dw, block = pw;
  dw128.h = dw128.w = dw128.ho = dw128.wo = 128, dw128.cip = dw128.cop = 32;
  block.h = block.w = block.ho = block.wo = 128, block.cip = block.cop = 32;
  block.residual = block.relu = block.maxPool2x2 = true;
  block.depthwiseFirst = std::make_shared<const ConvKernel>(dw128);
  gen = generateConv(edge(), block);
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.error().message, "pw: L0A overflow: two 256-pixel tiles (whole pairs of output rows, for the pooled "
                                 "output) need 74752 bytes, L0A has 65536");
}

} // namespace

// The double-buffered element-wise kernel: chunks alternate between two UB buffer sets across
// both cores, the last chunk short; results against the reference and no races between pipes.
TEST(ElementwiseKernel, DoubleBufferedChunksWithShortTail) {
  const ChipConfig config = edge();
  ElementwiseKernel k;
  k.name = k.node = "add_scaled";
  k.numInputs = 2;
  k.elements = 100000; // several chunks per core, a short last one
  k.scalars = {0.5f};
  k.body = {"vadd.f32 {out}, {in0}, {in1}, repeat={rep}", "vmuls.f32 {out}, {out}, {s0}, repeat={rep}"};
  Expected<GeneratedKernel> gen = generateElementwise(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  const size_t padded = (size_t(k.elements) + 63) / 64 * 64;
  std::vector<float> a(padded), b(padded);
  for (size_t i = 0; i < padded; ++i) {
    a[i] = float(i % 1000) * 0.25f;
    b[i] = float(i % 7) - 3.0f;
  }
  Device dev(config);
  uint64_t pa = dev.buffer(a), pb = dev.buffer(b), pc = dev.buffer(std::vector<float>(padded, -1.0f));
  ASSERT_TRUE(runGenerated(dev, *gen, "add_scaled", {pa, pb, pc}, true));
  EXPECT_EQ(gen->blockDim, 2);
  std::vector<float> c = dev.read<float>(pc, padded);
  for (size_t i = 0; i < size_t(k.elements); ++i)
    ASSERT_EQ(c[i], (a[i] + b[i]) * 0.5f) << "element " << i;
}

// The element-wise kernel on fp16 with a broadcast constant made by the prologue ({c0}, a UB
// buffer of its own) and fp16 scalars: 3 chunks on 2 cores, so one core's second buffer set
// is skipped on its last turn; results against the reference and no races between pipes.
TEST(ElementwiseKernel, HalfPrecisionConstantsOddChunkCount) {
  const ChipConfig config = edge();
  ElementwiseKernel k;
  k.name = k.node = "clip_max";
  k.numInputs = 1;
  k.inBytes = k.outBytes = 2;
  k.halfScalars = true;
  k.scalars = {1.5f, -2.0f};
  k.prologue = {"vdup.f16 {c0}, {s0}, repeat=1"};
  k.body = {"vmax.f16 {out}, {in0}, {c0}, repeat={rep}, src1_rep=0", "vmuls.f16 {out}, {out}, {s1}, repeat={rep}"};
  k.elements = 1 << 24;
  Expected<GeneratedKernel> gen = generateElementwise(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  // The chunk size this UB gives, times 2.5: three chunks, the last one half full.
  const int64_t chunk = std::stoll(gen->assembly.substr(gen->assembly.find("chunk(s) of ") + 12));
  k.elements = chunk * 128 * 5 / 2;
  gen = generateElementwise(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  ASSERT_NE(gen->assembly.find("3 chunk(s)"), std::string::npos) << gen->assembly.substr(0, 200);
  EXPECT_NE(gen->npu().find("npu.vector \"vdup.f16\""), std::string::npos);
  EXPECT_EQ(gen->blockDim, 2);
  std::vector<uint16_t> a(size_t(k.elements));
  for (size_t i = 0; i < a.size(); ++i) a[i] = isa::floatToHalf(float(int(i % 17) - 8) * 0.25f);
  Device dev(config);
  uint64_t pa = dev.buffer(a), pc = dev.buffer(std::vector<uint16_t>(a.size(), 0x7e00));
  ASSERT_TRUE(runGenerated(dev, *gen, "clip_max", {pa, pc}, true));
  std::vector<uint16_t> c = dev.read<uint16_t>(pc, a.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(c[i], isa::floatToHalf(std::max(isa::halfToFloat(a[i]), 1.5f) * -2.0f)) << "element " << i;
}

namespace {

// The matmul kernel with several work items per core (items pipelined: no drain between them),
// the last M tile short, with and without the A panel in L1: results against a double-precision
// reference on the same fp16 inputs, and no races between pipes.
// `sharedB`: one B for every product of the batch (strideB 0). `bOnce`: whether B must be moved
// into L0B once for the whole kernel (-1: not checked). `f32Operands`: A and B stored as float32,
// converted by the kernel's loads (the floats sit just off the halves, so only round-to-nearest
// gives the reference's operands). `run`: how many one-step items must share a "loaded" flag (-1:
// not checked); `l1Bytes`, `l0aBytes`: the chip's L1, L0A instead of the edge chip's.
void runMatMul(int64_t batch, int64_t m, int64_t kk, int64_t n, bool transB, bool bias, bool prefetched = false,
               bool transA = false, bool alternating = false, bool sharedB = false, int bOnce = -1,
               bool f32Operands = false, int run = -1, int64_t l1Bytes = 0, int64_t l0aBytes = 0) {
  MatMulKernel k;
  k.name = k.node = "matmul_" + std::to_string(m) + "x" + std::to_string(kk) + "x" + std::to_string(n);
  k.m = m;
  k.k = kk;
  k.n = n;
  k.transA = transA;
  k.transB = transB;
  k.batch = batch;
  k.strideA = m * kk;
  k.strideB = sharedB ? 0 : kk * n;
  k.strideC = m * n;
  k.hasBias = bias;
  k.aF32 = k.bF32 = f32Operands;
  ChipConfig config = edge();
  if (l1Bytes) config.buffers[static_cast<int>(BufferKind::L1)].sizeBytes = l1Bytes;
  if (l0aBytes) config.buffers[static_cast<int>(BufferKind::L0A)].sizeBytes = l0aBytes;
  Expected<GeneratedKernel> gen = generateMatMul(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  EXPECT_EQ(gen->assembly.find("next one prefetched") != std::string::npos, prefetched) << gen->assembly.substr(0, 300);
  EXPECT_EQ(gen->assembly.find("loop1:") != std::string::npos, alternating) << gen->assembly.substr(0, 300);
  if (bOnce >= 0) {
    EXPECT_EQ(gen->assembly.find("# B, once") != std::string::npos, bOnce == 1) << k.name;
  }
  if (run >= 0) {
    const size_t at = gen->assembly.find(" in runs of ");
    EXPECT_EQ(at == std::string::npos ? 1 : std::stoi(gen->assembly.substr(at + 12)), run) << gen->assembly.substr(0, 300);
  }
  // Every core has work: items >= cores, or N too narrow to share out.
  EXPECT_EQ(gen->blockDim, std::min<int64_t>(edge().chip.cores, batch * ((m + 255) / 256) * ((n + 15) / 16)))
      << gen->assembly.substr(0, 300);
  std::vector<uint16_t> a = randomHalves(size_t(batch * m * kk), 3), b = randomHalves(size_t((sharedB ? 1 : batch) * kk * n), 4);
  std::vector<float> biasValues(size_t((n + 15) / 16 * 16), 0.0f);
  for (int64_t j = 0; j < n; ++j) biasValues[size_t(j)] = 0.25f * float(j % 9) - 1.0f;
  auto nearHalves = [](const std::vector<uint16_t> &h) { // 1.0001 x each half: rounds back to it
    std::vector<float> f(h.size());
    for (size_t i = 0; i < h.size(); ++i) f[i] = isa::halfToFloat(h[i]) * 1.0001f;
    return f;
  };
  Device dev(config);
  uint64_t pa = f32Operands ? dev.buffer(nearHalves(a)) : dev.buffer(a);
  uint64_t pb = f32Operands ? dev.buffer(nearHalves(b)) : dev.buffer(b), pbias = dev.buffer(biasValues);
  uint64_t pc = dev.buffer(std::vector<float>(size_t(batch * m * n), -5.0f));
  std::vector<uint64_t> args = {pa, pb};
  if (bias) args.push_back(pbias);
  args.push_back(pc);
  ASSERT_TRUE(runGenerated(dev, *gen, k.name, args, true));
  std::vector<float> c = dev.read<float>(pc, size_t(batch * m * n));
  int bad = 0;
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = bias ? biasValues[size_t(j)] : 0.0, magnitude = std::fabs(sum);
        for (int64_t t = 0; t < kk; ++t) {
          const double av = isa::halfToFloatReference(a[size_t(p * m * kk + (transA ? t * m + i : i * kk + t))]);
          const double bv = isa::halfToFloatReference(b[size_t((sharedB ? 0 : p) * kk * n + (transB ? j * kk + t : t * n + j))]);
          sum += av * bv;
          magnitude += std::fabs(av * bv);
        }
        const double got = c[size_t(p * m * n + i * n + j)];
        if (!(std::fabs(got - sum) <= 1e-5 * magnitude + 1e-6) && bad++ < 5)
          ADD_FAILURE() << k.name << ": product " << p << " (" << i << "," << j << "): got " << got << ", expected " << sum;
      }
  EXPECT_EQ(bad, 0) << k.name;
  if (prefetched) { // the same kernel in the --sync=barrier-all debug mode: the same bits
    uint64_t pc2 = dev.buffer(std::vector<float>(size_t(batch * m * n), -5.0f));
    args.back() = pc2;
    ASSERT_TRUE(runGenerated(dev, *gen, k.name, args, false, true));
    EXPECT_EQ(dev.read<float>(pc2, size_t(batch * m * n)), c) << k.name << " with barrier-all";
  }
}

TEST(MatMulKernel, PipelinedItemsMatchTheReferenceWithoutRaces) {
  runMatMul(1, 600, 200, 300, false, false); // 3 M tiles (short last) on 2 cores, A panel in L1
  runMatMul(1, 1100, 64, 48, false, false, false, false, true); // 5 short one-step items, alternating
  runMatMul(2, 100, 96, 40, true, true, false, false, true);    // batched, B transposed, bias
}

// One-step items (a layout change: few channels, many pixels) alternate their buffers, panels and
// flags item by item, through both loop copies and the short last tile; A transposed as the
// layout change to NHWC reads it (a channel-major map), its fractals loaded in one load2d.
TEST(MatMulKernel, AlternatingOneStepItemsMatchTheReferenceWithoutRaces) {
  runMatMul(1, 5000, 3, 3, false, false, false, true, true, false, 1);  // 5 items of 1024 pixels, short last
  runMatMul(2, 2100, 16, 16, false, true, false, true, true, false, 0); // batched, bias: a B per product
  runMatMul(1, 600, 200, 256, false, false);                           // two N tiles per item: not alternating
}

// On an L0A smaller than the edge chip's (a config being swept), the tall one-step tiles of a
// layout change (1024 pixels, which fill a 64 KiB L0A's halves) shrink to what a half holds; they
// were an "L0/L1 overflow" error instead, and with them every NCHW -> NHWC16 conversion.
TEST(MatMulKernel, TallTilesShrinkToASmallerL0A) {
  runMatMul(1, 5000, 3, 3, false, false, false, true, true, false, 1, false, -1, 0, 32 << 10);
  runMatMul(2, 2100, 16, 16, false, true, false, true, true, false, 0, false, -1, 0, 16 << 10);
}

// On a 64 KiB L1, the wide N tiles of a product with few rows (a layout change to NCHW: a row per
// channel, 1024 pixels a tile) narrow until two 16-deep steps' B tiles fit beside A; they were an
// "L0/L1 overflow" error, and with them pooling and convolutions of 1-D and 3-D maps.
TEST(MatMulKernel, WideTilesNarrowToASmallerL1) {
  runMatMul(1, 16, 16, 3000, false, false, false, false, false, false, -1, false, -1, 64 << 10);
  runMatMul(2, 40, 32, 2000, false, true, false, false, false, false, -1, false, -1, 64 << 10);
}

// On a 16 KiB L1, the tall one-step tiles of a layout change to NHWC16 (1024 pixels: 32 KiB of A
// for each of two 16-deep steps) shorten until two steps fit; they were an "L0/L1 overflow" error,
// and with them every pooling of an NCHW input (the backend tests' 13 max and average pools).
TEST(MatMulKernel, TallTilesShortenToASmallerL1) {
  // (Not alternating L0A by item there: one panel is all L1 holds beside the slots.)
  runMatMul(1, 5000, 3, 3, false, false, false, true, false, false, 1, false, -1, 16 << 10);
  runMatMul(2, 2100, 16, 16, false, true, false, true, false, false, 0, false, -1, 16 << 10);
  runMatMul(1, 16, 16, 3000, false, false, false, false, false, false, -1, false, -1, 16 << 10);
}

// One step per item and the same B for all of them (a layout change's identity, a transposed
// convolution's weights): B is moved into both L0B halves once, before the first item, and no
// item loads it again. Across the products of a batch that share B too; B transposed.
TEST(MatMulKernel, OneBForEveryItemIsLoadedOnce) {
  runMatMul(3, 700, 32, 48, false, true, false, false, true, true, 1);
  runMatMul(1, 2100, 16, 40, true, false, false, false, true, false, 1);
  runMatMul(1, 600, 200, 256, false, false, false, false, false, false, 0); // two steps per item: per item
}

// One-step items of one M tile each, B the same for all (a transposed convolution's rows): a run
// of items' A panels under one "loaded" flag, two runs of panels in L1. A block whose items do not
// fill its last run (7 items on 2 blocks: 4 and 3; 5: 3 and 2) ends it early, and the flags must
// still balance; A transposed and float32 operands load the panels the same way; an L1 without
// room for three more panels keeps one item per flag.
TEST(MatMulKernel, OneStepItemsComeInRuns) {
  runMatMul(7, 100, 32, 32, false, true, false, false, true, true, 1, false, 2);
  runMatMul(6, 200, 16, 16, false, false, false, true, true, true, 1, false, 2);   // A^T
  runMatMul(5, 40, 15, 40, true, false, false, false, true, true, 1, true, 2);     // f32, B^T
  runMatMul(7, 250, 64, 32, false, true, false, false, true, true, 1, false, 2, 200 << 10); // 32 KiB panels
  runMatMul(7, 250, 64, 32, false, true, false, false, true, true, 1, false, 1, 120 << 10);
  runMatMul(2, 100, 32, 32, false, true, false, false, true, true, 1, false, 1);   // one item a block
  runMatMul(3, 700, 32, 48, false, true, false, false, true, true, 1, false, 1);   // 3 M tiles a product
}

// Fewer M tiles than cores: the N tiles are shared out in chunks (the last one narrower), each
// chunk's B, C and bias columns found from its first column at run time.
TEST(MatMulKernel, NChunksShareOutASingleMTileOverTheCores) {
  runMatMul(1, 100, 96, 300, false, true);  // 3 N tiles in chunks of 2 and 1, bias
  runMatMul(1, 40, 64, 200, true, false, false, false, true); // B transposed; one-step chunks alternate
  runMatMul(1, 1, 512, 1000, true, true);   // a classifier's Gemm: one row, wide N
}

// The next item's A panel is refilled slice by slice during the current item's last N tile (and
// its last slices during the next item's first steps): the slices must land where MTE1 reads them,
// never over a slice still in use, and a short last tile must still get its whole panel.
TEST(MatMulKernel, PrefetchedPanelsMatchTheReferenceWithoutRaces) {
  runMatMul(1, 1024, 500, 100, false, false, true); // 8 K slices, one N tile, short last slice
  runMatMul(1, 1100, 512, 200, false, false, true); // short tail item (loads its whole panel)
  runMatMul(3, 256, 512, 64, false, true, true);    // across products of a batch, with bias
}

// Small float32 operands (attention's Q, K and V) read as they are, no Cast kernel first: every
// address of A and B counts 4 bytes an element, in each way the kernel loads them.
TEST(MatMulKernel, Float32OperandsAreConvertedByTheLoads) {
  runMatMul(2, 100, 96, 40, true, true, false, false, true, false, -1, true);    // batched, B^T, bias
  runMatMul(1, 1024, 500, 100, false, false, true, false, false, false, -1, true); // prefetched panels
  runMatMul(1, 40, 64, 200, true, false, false, false, true, false, -1, true);   // N chunks
  runMatMul(1, 5000, 3, 3, false, false, false, true, true, false, 1, true);     // A^T, B once
  runMatMul(1, 600, 200, 300, false, false, false, false, false, false, -1, true); // panel, short tile
}

} // namespace

namespace {

// A matmul with output row phases, as a transposed convolution (kernel == stride == f) writes its
// output: input row y's product has f groups of columns, group a going to output row f*y + a,
// input pixel x to output pixels f*x..; every element of C written exactly once (C starts as
// NaN), against a double-precision reference, with ReLU and a bias, and no races between pipes.
// One output channel in f32 (each group's f columns padded to 16 in the product), 16 channels in
// f16, and f = 3 with 16 channels, whose last group straddles two N tiles.
TEST(MatMulKernel, RowPhasesWriteTheirRowsInPlace) {
  struct Case { int64_t f, cw; bool half; };
  for (auto [f, cw, half] : {Case{2, 1, false}, Case{2, 16, true}, Case{3, 16, true}}) {
    const int64_t rows = 9, w = 40, kk = 32, written = f * cw, phaseWidth = (written + 15) / 16 * 16;
    const int64_t n = f * phaseWidth, rowElements = w * f * cw, count = rows * f * rowElements; // C: rows*f output rows
    MatMulKernel k;
    k.name = k.node = "phases_f" + std::to_string(f) + "_c" + std::to_string(cw);
    k.m = w;
    k.k = kk;
    k.n = n;
    k.batch = rows;
    k.strideA = w * kk;
    k.strideC = f * rowElements;
    k.ldc = written;
    k.phases = f;
    k.phaseCols = written;
    k.phaseOffset = rowElements;
    k.hasBias = true;
    k.relu = true;
    k.outHalf = half;
    const ChipConfig config = edge();
    Expected<GeneratedKernel> gen = generateMatMul(config, k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    std::vector<uint16_t> a = randomHalves(size_t(rows * w * kk), 11), b = randomHalves(size_t(kk * n), 12);
    std::vector<float> bias(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) bias[size_t(j)] = 0.125f * float(j % 5) - 0.25f;
    Device dev(config);
    const uint16_t nanHalf = 0x7e00;
    uint64_t pc = half ? dev.buffer(std::vector<uint16_t>(size_t(count), nanHalf))
                       : dev.buffer(std::vector<float>(size_t(count), std::nanf("")));
    ASSERT_TRUE(runGenerated(dev, *gen, k.name, {dev.buffer(a), dev.buffer(b), dev.buffer(bias), pc}, true));
    std::vector<float> c(static_cast<size_t>(count));
    if (half) {
      std::vector<uint16_t> h = dev.read<uint16_t>(pc, size_t(count));
      for (size_t i = 0; i < c.size(); ++i) c[i] = isa::halfToFloat(h[i]);
    } else {
      c = dev.read<float>(pc, size_t(count));
    }
    int bad = 0;
    for (int64_t y = 0; y < rows; ++y)
      for (int64_t phase = 0; phase < f; ++phase)
        for (int64_t x = 0; x < w; ++x)
          for (int64_t j = 0; j < written; ++j) {
            const int64_t column = phase * phaseWidth + j;
            double sum = bias[size_t(column)], magnitude = std::fabs(sum);
            for (int64_t t = 0; t < kk; ++t) {
              const double term = isa::halfToFloatReference(a[size_t((y * w + x) * kk + t)]) *
                                  isa::halfToFloatReference(b[size_t(t * n + column)]);
              sum += term;
              magnitude += std::fabs(term);
            }
            sum = std::max(sum, 0.0);
            const double got = c[size_t((y * f + phase) * rowElements + x * written + j)];
            const double tolerance = half ? 1e-3 * magnitude + 1e-3 : 1e-5 * magnitude + 1e-6;
            if (!(std::fabs(got - sum) <= tolerance) && bad++ < 5)
              ADD_FAILURE() << k.name << ": row " << y * f + phase << " element " << x * written + j << ": got " << got
                            << ", expected " << sum;
          }
    EXPECT_EQ(bad, 0) << k.name;
  }
}

} // namespace
