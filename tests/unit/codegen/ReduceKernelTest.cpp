// The generated reduction / softmax kernel against a double-precision reference, for every kind,
// across lane reductions (a row per slice, with and without a partial last repeat, several
// repeats) and row reductions (aligned and unaligned rows, rows wider than one repeat); buffers
// have just the tail slack the memory plan gives, so a store or load past it would fault.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "../sim/SimTestUtil.h"

#include <cmath>

namespace {

using namespace fractal;
using namespace fractal::codegen;
using namespace fractal::sim::testing;
using Kind = ReduceKernel::Kind;

std::vector<double> reference(Kind kind, const std::vector<float> &x, int64_t outer, int64_t r, int64_t inner) {
  const bool softmax = kind == Kind::Softmax || kind == Kind::LogSoftmax;
  std::vector<double> out(size_t(outer * (softmax ? r : 1) * inner));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return double(x[size_t((o * r + j) * inner + i)]); };
      double acc = 0, mx = -INFINITY, mn = INFINITY;
      for (int64_t j = 0; j < r; ++j) mx = std::max(mx, at(j)), mn = std::min(mn, at(j));
      double sumExp = 0;
      for (int64_t j = 0; j < r; ++j) sumExp += std::exp(at(j) - mx);
      for (int64_t j = 0; j < r; ++j) {
        const double v = at(j);
        acc += kind == Kind::L1 ? std::fabs(v) : (kind == Kind::L2 || kind == Kind::SumSquare) ? v * v : v;
      }
      if (softmax) {
        for (int64_t j = 0; j < r; ++j)
          out[size_t((o * r + j) * inner + i)] =
              kind == Kind::Softmax ? std::exp(at(j) - mx) / sumExp : at(j) - mx - std::log(sumExp);
        continue;
      }
      double v = acc;
      switch (kind) {
      case Kind::Mean: v = acc / double(r); break;
      case Kind::Max: v = mx; break;
      case Kind::Min: v = mn; break;
      case Kind::L2: v = std::sqrt(acc); break;
      case Kind::LogSum: v = std::log(acc); break;
      case Kind::LogSumExp: v = mx + std::log(sumExp); break;
      default: break;
      }
      out[size_t(o * inner + i)] = v;
    }
  return out;
}

void runCase(Kind kind, int64_t outer, int64_t r, int64_t inner, bool checkRaces = false) {
  const std::string name = "reduce" + std::to_string(int(kind)) + "_" + std::to_string(outer) + "x" +
                           std::to_string(r) + "x" + std::to_string(inner);
  ReduceKernel k;
  k.name = k.node = name;
  k.kind = kind;
  k.outer = outer;
  k.r = r;
  k.inner = inner;
  const ChipConfig config = edge();
  Expected<GeneratedKernel> gen = generateReduce(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  const int64_t n = outer * r * inner;
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    x[size_t(i)] = float(std::sin(double(i) * 1.7) * 3.0 + (kind == Kind::LogSum ? 3.5 : 0.0));
  const bool softmax = kind == Kind::Softmax || kind == Kind::LogSoftmax;
  const size_t outCount = size_t(outer * (softmax ? r : 1) * inner), slack = size_t(kTailSlackBytes / 4);
  std::vector<float> padded = x;
  padded.resize(x.size() + slack, 0.0f);
  Device dev(config);
  uint64_t in = dev.buffer(padded), out = dev.buffer(std::vector<float>(outCount + slack, -7.0f));
  Expected<isa::KernelBinary> bin = isa::assemble(gen->assembly, name);
  ASSERT_TRUE(bin.ok()) << bin.error().message << "\n" << gen->assembly;
  sim::SimOptions options;
  options.mode = checkRaces ? sim::SimMode::Timing : sim::SimMode::Functional;
  options.blockDim = gen->blockDim;
  options.checkRaces = checkRaces;
  Expected<sim::RunResult> run = dev.run(*bin, {in, out}, options);
  ASSERT_TRUE(run.ok()) << run.error().message;
  std::vector<float> got = dev.read<float>(out, outCount);
  std::vector<double> want = reference(kind, x, outer, r, inner);
  int bad = 0;
  for (size_t i = 0; i < outCount; ++i)
    if (!(std::fabs(got[i] - want[i]) <= 2e-5 * std::fabs(want[i]) + 2e-5) && bad++ < 5)
      ADD_FAILURE() << name << ": element " << i << ": got " << got[i] << ", expected " << want[i];
  EXPECT_EQ(bad, 0) << name;
}

const Kind kAllKinds[] = {Kind::Sum,    Kind::Mean,      Kind::Max,       Kind::Min,     Kind::L1,        Kind::L2,
                          Kind::SumSquare, Kind::LogSum, Kind::LogSumExp, Kind::Softmax, Kind::LogSoftmax};

TEST(ReduceKernel, AcrossLanes) {
  for (Kind kind : kAllKinds) {
    runCase(kind, 12, 5, 1);   // rows shorter than a block, unaligned in GM
    runCase(kind, 3, 64, 1);   // exactly one repeat
    runCase(kind, 2, 300, 1);  // several repeats and a partial one
  }
}

TEST(ReduceKernel, AcrossRows) {
  for (Kind kind : kAllKinds) {
    runCase(kind, 3, 4, 5);    // unaligned rows: one DMA per row
    runCase(kind, 2, 3, 16);   // aligned rows: one strided DMA
    runCase(kind, 2, 7, 130);  // rows of three repeats
  }
}

TEST(ReduceKernel, NoDataRacesBetweenPipes) {
  runCase(Kind::Softmax, 4, 70, 1, true);
  runCase(Kind::LogSumExp, 3, 5, 9, true);
}

TEST(ReduceKernel, SliceTooLargeForUbIsAnError) {
  ReduceKernel k;
  k.name = "huge";
  k.outer = 1;
  k.r = 4096;
  k.inner = 64;
  Expected<GeneratedKernel> gen = generateReduce(edge(), k);
  ASSERT_FALSE(gen.ok());
  EXPECT_NE(gen.error().message.find("huge: UB overflow"), std::string::npos) << gen.error().message;
}

} // namespace
