// The generated convolution kernel against a reference convolution in double precision on the
// same fp16 inputs, across the tiling cases: several bands and tiles per band, K steps (input
// slices that do not fit L0A at once), several N tiles, padding, strides, dilations, batches.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "../sim/SimTestUtil.h"

namespace {

using namespace fractal;
using namespace fractal::codegen;
using namespace fractal::sim::testing;

struct Case {
  const char *name;
  int64_t n, h, w, cin, cout, kh, kw, s, d, pad;
  bool depthwise = false; // one filter per channel (cin == cout)
};

void runCase(const Case &c, bool checkRaces) {
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
  k.ho = (c.h + 2 * c.pad - c.d * (c.kh - 1) - 1) / c.s + 1;
  k.wo = (c.w + 2 * c.pad - c.d * (c.kw - 1) - 1) / c.s + 1;
  const ChipConfig config = edge();
  Expected<ConvTiling> tiling = planConv(config, k);
  ASSERT_TRUE(tiling.ok()) << tiling.error().message;
  Expected<GeneratedKernel> gen = generateConv(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;

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
  uint64_t out = dev.buffer(std::vector<uint16_t>(size_t(k.n * k.ho * k.wo * k.cop), 0x7e00));
  Expected<isa::KernelBinary> bin = isa::assemble(gen->assembly, c.name);
  ASSERT_TRUE(bin.ok()) << bin.error().message;
  sim::SimOptions options;
  options.mode = sim::SimMode::Functional;
  options.blockDim = gen->blockDim;
  options.checkRaces = checkRaces;
  Expected<sim::RunResult> r = dev.run(*bin, {in, wt, bs, out}, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<uint16_t> got = dev.read<uint16_t>(out, size_t(k.n * k.ho * k.wo * k.cop));

  int bad = 0;
  for (int64_t b = 0; b < k.n; ++b)
    for (int64_t oh = 0; oh < k.ho; ++oh)
      for (int64_t ow = 0; ow < k.wo; ++ow)
        for (int64_t o = 0; o < k.cop; ++o) {
          double sum = o < c.cout ? bias[size_t(o)] : 0.0, magnitude = std::fabs(sum);
          for (int64_t ci = 0; ci < c.cin && o < c.cout; ++ci)
            for (int64_t y = 0; y < c.kh; ++y)
              for (int64_t x = 0; x < c.kw; ++x) {
                const int64_t ih = oh * c.s - c.pad + y * c.d, iw = ow * c.s - c.pad + x * c.d;
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                const double term = isa::halfToFloatReference(input[size_t(((b * c.h + ih) * c.w + iw) * k.cip + ci)]) *
                                    weights[size_t(((o * c.cin + ci) * c.kh + y) * c.kw + x)];
                sum += term;
                magnitude += std::fabs(term);
              }
          const double value = isa::halfToFloatReference(got[size_t(((b * k.ho + oh) * k.wo + ow) * k.cop + o)]);
          // fp32 accumulation of exact products, one rounding to fp16 at the end.
          if (!(std::fabs(value - sum) <= 1e-3 * magnitude + std::fabs(sum) * 1e-3 + 1e-4) && bad++ < 5)
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
  };
  for (const Case &c : cases) runCase(c, false);
}

// Several M tiles, N tiles and K steps in one band: every hand-over between pipes is checked by
// the simulator's race detector (the bias in L1 is read by mmad, so its reload must wait for M).
TEST(ConvKernel, NoDataRacesBetweenPipes) { runCase({"race_check", 1, 12, 24, 192, 160, 1, 1, 1, 1, 0}, true); }

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
  Expected<isa::KernelBinary> bin = isa::assemble(gen->assembly, "add_scaled");
  ASSERT_TRUE(bin.ok()) << bin.error().message;
  sim::SimOptions options;
  options.mode = sim::SimMode::Timing;
  options.blockDim = gen->blockDim;
  options.checkRaces = true;
  Expected<sim::RunResult> r = dev.run(*bin, {pa, pb, pc}, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(gen->blockDim, 2);
  std::vector<float> c = dev.read<float>(pc, padded);
  for (size_t i = 0; i < size_t(k.elements); ++i)
    ASSERT_EQ(c[i], (a[i] + b[i]) * 0.5f) << "element " << i;
}
