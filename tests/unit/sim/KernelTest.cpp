// Hand-written kernels (tests/sim/kernels/*.s) against plain C++ references, bit for bit, in both
// simulator modes.
#include "SimTestUtil.h"

#include <cmath>

using namespace fractal;
using namespace fractal::sim;
using namespace fractal::sim::testing;

namespace {

class Kernels : public ::testing::TestWithParam<SimMode> {};

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
  options.mode = GetParam();
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

INSTANTIATE_TEST_SUITE_P(BothModes, Kernels,
                         ::testing::Values(SimMode::Functional, SimMode::Timing),
                         [](const auto &info) { return std::string(simModeName(info.param)); });
