// Hand-written kernels (tests/sim/kernels/*.s) against plain C++ references, bit for bit, on every
// simulator engine.
#include "SimTestUtil.h"

#include <cmath>

using namespace fractal;
using namespace fractal::sim;
using namespace fractal::sim::testing;

namespace {

// The engines: SystemC in functional mode and in timing mode (both checking for data races, which
// correct kernels do not have), and the plain functional engine (cores on host threads).
struct Engine {
  SimMode mode;
  bool checkRaces;
  const char *name;
};

class Kernels : public ::testing::TestWithParam<Engine> {};

std::vector<float> referenceGemmF16(const std::vector<uint16_t> &a, const std::vector<uint16_t> &b,
                                    size_t m, size_t k, size_t n) {
  std::vector<float> c(m * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j)
      c[i * n + j] = referenceDotF16(a, k, i, b, n, j, k, 0.0f);
  return c;
}

} // namespace

TEST_P(Kernels, GemmFp16MatchesReferenceBitForBit) {
  const size_t M = 64, K = 64, N = 64;
  std::vector<uint16_t> a = randomHalves(M * K, 1), b = randomHalves(K * N, 2);
  Device dev;
  uint64_t pa = dev.buffer(a), pb = dev.buffer(b), pc = dev.buffer(std::vector<float>(M * N));
  SimOptions options;
  options.mode = GetParam().mode;
  options.checkRaces = GetParam().checkRaces;
  Expected<RunResult> r = dev.run(assembleFile("tests/sim/kernels/gemm_fp16.s"), {pa, pb, pc}, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<float> c = dev.read<float>(pc, M * N);
  std::vector<float> want = referenceGemmF16(a, b, M, K, N);
  double maxErr = 0;
  for (size_t i = 0; i < M * N; ++i) {
    ASSERT_EQ(isa::floatBits(c[i]), isa::floatBits(want[i])) << "element " << i;
    // Sanity: the defined order is a GEMM, close to the exact result.
    double exact = 0;
    for (size_t kk = 0; kk < K; ++kk)
      exact += double(isa::halfToFloatReference(a[(i / N) * K + kk])) *
               isa::halfToFloatReference(b[kk * N + i % N]);
    maxErr = std::max(maxErr, std::fabs(exact - c[i]));
  }
  EXPECT_LT(maxErr, 1e-4);
  EXPECT_EQ(r->cores[0].macs, M * N * K);
}

// gm2l1_nz planar=1 from_f32=1 (AIPP's conversion of an NCHW float32 image): each pixel's
// channels come from their planes, rounded to f16 (to nearest even), the rest of its 16 zero.
TEST_P(Kernels, PlanarFloat32ImageLoadsAsHalfPixels) {
  const size_t M = 32, P = 40, C = 3;
  std::vector<float> image(C * P);
  for (size_t i = 0; i < image.size(); ++i) image[i] = float(int(i * 37 % 101) - 50) * 0.0371f + 0x1p-14f;
  image[P + 5] = 1.0f + 0x1p-11f;                 // halfway: to even, 1
  image[2 * P + 7] = 1.0f + 0x1p-11f + 0x1p-20f; // above halfway: 1 + 2^-10
  std::vector<uint16_t> identity(256, 0);
  for (size_t i = 0; i < 16; ++i) identity[i * 17] = isa::floatToHalfReference(1.0f);
  Device dev;
  uint64_t pi = dev.buffer(image), pid = dev.buffer(identity), pc = dev.buffer(std::vector<float>(M * 16));
  SimOptions options;
  options.mode = GetParam().mode;
  options.checkRaces = GetParam().checkRaces;
  Expected<RunResult> r = dev.run(assembleFile("tests/sim/kernels/planar_f32_image.s"), {pi, pid, pc}, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<float> c = dev.read<float>(pc, M * 16);
  for (size_t p = 0; p < M; ++p)
    for (size_t ch = 0; ch < 16; ++ch) {
      const float want = ch < C ? isa::halfToFloatReference(isa::floatToHalfReference(image[ch * P + p])) : 0.0f;
      EXPECT_EQ(isa::floatBits(c[p * 16 + ch]), isa::floatBits(want)) << "pixel " << p << " channel " << ch;
    }
}

TEST_P(Kernels, GemmInt8IsExact) {
  const size_t M = 64, K = 64, N = 64;
  std::mt19937 rng(3);
  std::vector<int8_t> a(M * K), bt(N * K);
  for (auto &v : a)
    v = static_cast<int8_t>(rng());
  for (auto &v : bt)
    v = static_cast<int8_t>(rng());
  Device dev;
  uint64_t pa = dev.buffer(a), pb = dev.buffer(bt), pc = dev.buffer(std::vector<int32_t>(M * N));
  SimOptions options;
  options.mode = GetParam().mode;
  options.checkRaces = GetParam().checkRaces;
  Expected<RunResult> r = dev.run(assembleFile("tests/sim/kernels/gemm_int8.s"), {pa, pb, pc}, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<int32_t> c = dev.read<int32_t>(pc, M * N);
  for (size_t i = 0; i < M; ++i)
    for (size_t j = 0; j < N; ++j) {
      int32_t want = 0;
      for (size_t k = 0; k < K; ++k)
        want += int32_t(a[i * K + k]) * int32_t(bt[j * K + k]);
      ASSERT_EQ(c[i * N + j], want) << i << "," << j;
    }
}

TEST_P(Kernels, VectorMaskAndStrides) {
  std::vector<uint16_t> x = randomHalves(384, 4, 4.0f);
  Device dev;
  uint64_t px = dev.buffer(x), py = dev.buffer(std::vector<uint16_t>(384)),
           pz = dev.buffer(std::vector<uint16_t>(128)), pm = dev.buffer(std::vector<uint16_t>(16));
  SimOptions options;
  options.mode = GetParam().mode;
  options.checkRaces = GetParam().checkRaces;
  Expected<RunResult> r =
      dev.run(assembleFile("tests/sim/kernels/vector_masked.s"), {px, py, pz, pm}, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto h = [](float f) { return isa::floatToHalfReference(f); };
  auto f = [](uint16_t v) { return isa::halfToFloatReference(v); };
  std::vector<uint16_t> y = dev.read<uint16_t>(py, 384), z = dev.read<uint16_t>(pz, 128),
                        m = dev.read<uint16_t>(pm, 3);
  for (size_t e = 0; e < 384; ++e) {
    float v = f(h(f(h(f(x[e]) * 2.0f)) + 1.0f)); // vmuls then vadds, each rounded to fp16
    EXPECT_EQ(y[e], v > 0 ? h(v) : 0) << e;       // relu(-0) is +0
  }
  for (size_t e = 0; e < 128; ++e)
    EXPECT_EQ(z[e], x[(e / 16) * 32 + e % 16]) << e; // block stride 2: every other block
  for (size_t rep = 0; rep < 3; ++rep) {
    float best = -INFINITY;
    for (size_t e = 0; e < 16; ++e) // mask: lanes 0..15 only
      best = std::max(best, f(x[rep * 128 + e]));
    EXPECT_EQ(m[rep], h(best)) << rep;
  }
}

TEST_P(Kernels, ConvolutionThroughImg2col) {
  const int H = 8, W = 8, C = 16, CO = 16;
  std::vector<uint16_t> in = randomHalves(H * W * C, 5); // NC1HWC0 with C1 = 1: [h][w][c]
  std::vector<uint16_t> w = randomHalves(CO * C * 9, 6); // [co][c][y][x]
  // Packed weights: B (144 x 16), k = (y*3 + x)*16 + c, in ZN fractals (k-block kb, inner [co][c]).
  std::vector<uint16_t> packed(9 * 256);
  for (int kb = 0; kb < 9; ++kb)
    for (int co = 0; co < CO; ++co)
      for (int c = 0; c < C; ++c)
        packed[kb * 256 + co * 16 + c] = w[((co * C + c) * 3 + kb / 3) * 3 + kb % 3];
  Device dev;
  uint64_t pin = dev.buffer(in), pw = dev.buffer(packed),
           pout = dev.buffer(std::vector<float>(H * W * CO));
  SimOptions options;
  options.mode = GetParam().mode;
  options.checkRaces = GetParam().checkRaces;
  Expected<RunResult> r =
      dev.run(assembleFile("tests/sim/kernels/conv3x3_fp16.s"), {pin, pw, pout}, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<float> out = dev.read<float>(pout, H * W * CO);
  // Reference: an independent img2col (pad 1), then the documented mmad order per output.
  std::vector<uint16_t> cols(H * W * 144), bmat(144 * CO);
  for (int oh = 0; oh < H; ++oh)
    for (int ow = 0; ow < W; ++ow)
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x)
          for (int c = 0; c < C; ++c) {
            int ih = oh - 1 + y, iw = ow - 1 + x;
            bool inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
            cols[(oh * W + ow) * 144 + (y * 3 + x) * 16 + c] = inside ? in[(ih * W + iw) * C + c] : 0;
          }
  for (int k = 0; k < 144; ++k)
    for (int co = 0; co < CO; ++co)
      bmat[k * CO + co] = w[((co * C + k % 16) * 3 + (k / 16) / 3) * 3 + (k / 16) % 3];
  for (int p = 0; p < H * W; ++p)
    for (int co = 0; co < CO; ++co)
      ASSERT_EQ(isa::floatBits(out[p * CO + co]),
                isa::floatBits(referenceDotF16(cols, 144, p, bmat, CO, co, 144, 0.0f)))
          << "pixel " << p << " channel " << co;
}

TEST_P(Kernels, TiledDoubleBufferedGemmOnTwoCores) {
  const size_t M = 512, N = 256, K = 512;
  std::vector<uint16_t> a = randomHalves(M * K, 7), b = randomHalves(K * N, 8);
  Device dev;
  uint64_t pa = dev.buffer(a), pb = dev.buffer(b), pc = dev.buffer(std::vector<uint16_t>(M * N));
  Expected<std::string> text = readTextFile(sourcePath("tests/sim/kernels/gemm_tiled_fp16.s"));
  ASSERT_TRUE(text.ok());
  Expected<isa::KernelBinary> kernel =
      isa::assemble(*text, "gemm_tiled_fp16.s", {{"M", M}, {"N", N}, {"K", K}});
  ASSERT_TRUE(kernel.ok()) << kernel.error().message;
  SimOptions options;
  options.mode = GetParam().mode;
  options.checkRaces = GetParam().checkRaces;
  options.blockDim = 2;
  Expected<RunResult> r = dev.run(*kernel, {pa, pb, pc}, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<uint16_t> c = dev.read<uint16_t>(pc, M * N);
  for (size_t i = 0; i < M; ++i)
    for (size_t j = 0; j < N; ++j)
      ASSERT_EQ(c[i * N + j], isa::floatToHalfReference(referenceDotF16(a, K, i, b, N, j, K, 0.0f)))
          << i << "," << j;
  EXPECT_EQ(r->cores[0].blocks, 1u);
  EXPECT_EQ(r->cores[1].blocks, 1u);
  EXPECT_EQ(r->cores[0].macs + r->cores[1].macs, M * N * K);
  if (GetParam().mode == SimMode::Timing) {
    // Double buffering overlaps the pipes: their busy cycles add up to more than the run took.
    const CoreStats &c0 = r->cores[0];
    uint64_t busy = c0.pipes[2].busyCycles + c0.pipes[3].busyCycles + c0.pipes[4].busyCycles +
                    c0.pipes[6].busyCycles;
    EXPECT_GT(busy, c0.finishCycle * 5 / 4) << "cube, MTE1, MTE2 and FIX did not overlap";
  }
}

namespace {

// `kernel` as a runtime holds it: the code section as stored, decoded by the cores as they fetch.
isa::KernelBinary encodedOf(const isa::KernelBinary &kernel) {
  Expected<isa::KernelBinary> k = isa::parseKernel(isa::serializeKernel(kernel), "encoded.bin", isa::CodeForm::Encoded);
  EXPECT_TRUE(k.ok() && k->code.empty());
  return k ? *k : isa::KernelBinary();
}

// A loop of `rounds` over `body` instructions `addi x3, x3, step`, then x3 stored to the first
// argument: a body longer than the cores' FetchCache (2,048 lines) meets itself in it.
std::string additionLoop(int rounds, int body, int step) {
  std::string text = "  mfsr x1, args\n  ld x2, gm[x1], offset=0\n  li x4, " + std::to_string(rounds) + "\nloop:\n";
  for (int i = 0; i < body; ++i) text += "  addi x3, x3, " + std::to_string(step) + "\n";
  return text + "  dbnz x4, loop\n  st x3, gm[x2]\n  end\n";
}

} // namespace

// A kernel kept encoded runs as the same kernel decoded: the same bits, the same instructions
// counted, the same cycles core by core (decoding on fetch is the host's work, not the simulated
// core's; and the first timing run in a process wakes its cores as later ones do).
TEST_P(Kernels, CodeKeptEncodedRunsAsDecoded) {
  const size_t M = 512, N = 256, K = 512; // the kernel's tiles: 128 x 128 x 256
  std::vector<uint16_t> a = randomHalves(M * K, 11), b = randomHalves(K * N, 12);
  Expected<std::string> text = readTextFile(sourcePath("tests/sim/kernels/gemm_tiled_fp16.s"));
  ASSERT_TRUE(text.ok());
  Expected<isa::KernelBinary> gemm = isa::assemble(*text, "gemm_tiled_fp16.s", {{"M", M}, {"N", N}, {"K", K}});
  ASSERT_TRUE(gemm.ok()) << gemm.error().message;
  SimOptions options;
  options.mode = GetParam().mode;
  options.checkRaces = GetParam().checkRaces;
  options.blockDim = 2;
  auto run = [&](const isa::KernelBinary &kernel, std::vector<uint16_t> &c) {
    Device dev;
    uint64_t pa = dev.buffer(a), pb = dev.buffer(b), pc = dev.buffer(std::vector<uint16_t>(M * N));
    Expected<RunResult> r = dev.run(kernel, {pa, pb, pc}, options);
    EXPECT_TRUE(r.ok()) << r.error().message;
    c = dev.read<uint16_t>(pc, M * N);
    return r ? *r : RunResult();
  };
  std::vector<uint16_t> decodedOut, encodedOut;
  const RunResult decoded = run(*gemm, decodedOut), encoded = run(encodedOf(*gemm), encodedOut);
  EXPECT_EQ(encodedOut, decodedOut);
  EXPECT_EQ(encoded.instructions, decoded.instructions);
  EXPECT_EQ(encoded.cycles, decoded.cycles);
  ASSERT_EQ(encoded.cores.size(), decoded.cores.size());
  for (size_t c = 0; c < decoded.cores.size(); ++c)
    EXPECT_EQ(encoded.cores[c].finishCycle, decoded.cores[c].finishCycle) << "core " << c;

  // A loop body of 3,000 instructions (pc and pc + 2,048 share a line), three rounds: 9,000 adds.
  // Then another kernel in the same place (the same KernelBinary, its pcs those of the last one):
  // a core decodes it afresh rather than running what it fetched before.
  Device dev;
  const uint64_t out = dev.buffer(std::vector<uint64_t>(1, 0));
  isa::KernelBinary kernel = encodedOf(assembleText(additionLoop(3, 3000, 1)));
  SimOptions one;
  one.mode = GetParam().mode;
  one.checkRaces = GetParam().checkRaces;
  Expected<RunResult> r = dev.run(kernel, {out}, one);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(dev.read<uint64_t>(out, 1)[0], 9000u);
  kernel = encodedOf(assembleText(additionLoop(3, 3000, 2)));
  r = dev.run(kernel, {out}, one);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(dev.read<uint64_t>(out, 1)[0], 18000u);
}

INSTANTIATE_TEST_SUITE_P(AllEngines, Kernels,
                         ::testing::Values(Engine{SimMode::Functional, true, "systemc_functional"},
                                           Engine{SimMode::Functional, false, "functional"},
                                           Engine{SimMode::Timing, true, "timing"}),
                         [](const auto &info) { return std::string(info.param.name); });
