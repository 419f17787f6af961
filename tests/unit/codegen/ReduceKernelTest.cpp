// The generated reduction / softmax / layer-norm / arg kernel against a double-precision reference, for every kind,
// across lane reductions (a row per slice, with and without a partial last repeat, several
// repeats) and row reductions (aligned and unaligned rows, rows wider than one repeat); buffers
// have just the tail slack the memory plan gives, so a store or load past it would fault.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "CodegenTestUtil.h"

#include <cmath>
#include <set>

namespace {

using namespace fractal;
using namespace fractal::codegen;
using namespace fractal::sim::testing;
using namespace fractal::codegen::testing;
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

void runCase(Kind kind, int64_t outer, int64_t r, int64_t inner, bool checkRaces = false, int64_t ubBytes = 0) {
  const std::string name = "reduce" + std::to_string(int(kind)) + "_" + std::to_string(outer) + "x" +
                           std::to_string(r) + "x" + std::to_string(inner);
  ReduceKernel k;
  k.name = k.node = name;
  k.kind = kind;
  k.outer = outer;
  k.r = r;
  k.inner = inner;
  ChipConfig config = edge();
  if (ubBytes) config.buffer(BufferKind::UB).sizeBytes = ubBytes;
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
  ASSERT_TRUE(runGenerated(dev, *gen, name, {in, out}, checkRaces));
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

// Slices split over the cores, each core a contiguous run, only when no store spills into another
// slice (stores write whole 32-byte blocks): softmax rows of 16 values, per-column sums of 16
// columns; not softmax rows of 5 values. Per-row results (the npu dialect's row reduction) leave in
// chunks of 8 rows and more, whole blocks, so they split too: over one chunk only when there is one.
TEST(ReduceKernel, SlicesSplitOverTheCoresOnlyWhenStoresStayInside) {
  auto cores = [](Kind kind, int64_t outer, int64_t r, int64_t inner) {
    ReduceKernel k;
    k.name = k.node = "split";
    k.kind = kind;
    k.outer = outer;
    k.r = r;
    k.inner = inner;
    Expected<GeneratedKernel> gen = generateReduce(edge(), k);
    return gen ? gen->blockDim : -1;
  };
  EXPECT_EQ(cores(Kind::Softmax, 37, 16, 1), 2);
  EXPECT_EQ(cores(Kind::Sum, 37, 3, 16), 2);
  EXPECT_EQ(cores(Kind::Softmax, 37, 5, 1), 1);
  EXPECT_EQ(cores(Kind::Sum, 37, 16, 1), 2);
  EXPECT_EQ(cores(Kind::Sum, 8, 16, 1), 1);
  EXPECT_EQ(cores(Kind::Softmax, 1, 16, 1), 1);
  runCase(Kind::Softmax, 37, 16, 1, true); // 18 and 19 slices
  runCase(Kind::Sum, 37, 3, 16, true);
}

// The kernel for rows of r values (inner == 1), or an empty one after a failure.
GeneratedKernel generated(Kind kind, int64_t outer, int64_t r, int64_t ubBytes = 0) {
  ReduceKernel k;
  k.name = k.node = "rows";
  k.kind = kind;
  k.outer = outer;
  k.r = r;
  ChipConfig config = edge();
  if (ubBytes) config.buffer(BufferKind::UB).sizeBytes = ubBytes;
  Expected<GeneratedKernel> gen = generateReduce(config, k);
  EXPECT_TRUE(gen.ok()) << gen.error().message;
  return gen ? *gen : GeneratedKernel{};
}

// Row reductions (inner == 1) of the simple kinds go through the npu dialect: chunks of rows,
// double-buffered, on both cores, with flags from the sync pass. Exact against the reference, no
// race between pipes or cores, for aligned rows (one strided DMA a chunk) and unaligned ones (a DMA
// a row), a short last chunk, many chunks per core, and the longest row it takes; a row of one
// more repeat goes to the long-row kernel (below).
TEST(ReduceKernel, RowReductionsThroughTheNpuDialect) {
  const GeneratedKernel rec = generated(Kind::Mean, 40, 120); // PP-OCRv4 rec's layer-norm means
  EXPECT_NE(rec.assembly.find("40 rows of 120 values, 3 chunk(s) of 16 rows on 2 block(s) (via the npu dialect)"),
            std::string::npos) << rec.assembly.substr(0, 300);
  EXPECT_EQ(rec.blockDim, 2);
  EXPECT_NE(generated(Kind::Sum, 3, 31 * 64).assembly.find("via the npu dialect"), std::string::npos);
  EXPECT_NE(generated(Kind::Sum, 3, 31 * 64 + 1).assembly.find("8 rows per item on 1 block(s), each row in 1 piece(s)"),
            std::string::npos);
  for (Kind kind : {Kind::Sum, Kind::Mean, Kind::Max, Kind::Min, Kind::L1, Kind::L2, Kind::SumSquare, Kind::LogSum}) {
    runCase(kind, 40, 120, 1, true); // aligned rows, two repeats each
    runCase(kind, 37, 15, 1, true);  // unaligned rows, a short last chunk
  }
  runCase(Kind::Mean, 1000, 7, 1, true);     // many chunks per core
  runCase(Kind::Max, 5, 31 * 64, 1, true);   // the longest row: 31 repeats, a 5-level tree
  runCase(Kind::Sum, 2, 31 * 64 - 3, 1, true);
}

// Softmax and LogSoftmax of long rows go through the npu dialect, a row per item on both cores:
// a row that is not whole blocks leaves as its whole blocks plus one block ending at its end, so
// no store reaches the next row (whose core may have stored it already). Exact against the
// reference, no race, for PP-OCRv4 rec's output (40 rows of 6625), whole-block rows, and a row
// just long enough; shorter rows stay with the one-core kernel.
TEST(ReduceKernel, LongSoftmaxRowsThroughTheNpuDialect) {
  const GeneratedKernel rec = generated(Kind::Softmax, 40, 6625);
  EXPECT_NE(rec.assembly.find("softmax of 40 rows of 6625 values, a row per item on 2 block(s), each stored as its whole "
                              "blocks and a last block ending at its end (via the npu dialect)"),
            std::string::npos) << rec.assembly.substr(0, 300);
  EXPECT_EQ(rec.blockDim, 2);
  // No store is longer than a row's whole blocks (828 of 6625 values' 828.1), so none reaches the next row.
  std::vector<int64_t> storeBlocks;
  for (size_t at = rec.assembly.find("ub2gm"); at != std::string::npos; at = rec.assembly.find("ub2gm", at + 1))
    storeBlocks.push_back(std::stoll(rec.assembly.substr(rec.assembly.find("len=", at) + 4)));
  EXPECT_EQ(std::set<int64_t>(storeBlocks.begin(), storeBlocks.end()), (std::set<int64_t>{828, 1}));
  EXPECT_EQ(generated(Kind::Softmax, 4, 255).assembly.find("via the npu dialect"), std::string::npos);
  for (Kind kind : {Kind::Softmax, Kind::LogSoftmax}) {
    runCase(kind, 40, 6625, 1, true);
    runCase(kind, 3, 512, 1, true);
    runCase(kind, 5, 257, 1, true);
  }
}

// Rows longer than UB holds (a vocabulary's logits, a long signal's statistics) are read in pieces:
// sums, means, extremes, norms and log-sum-exps 8 rows per item (a block of results), Softmax and LogSoftmax a
// row per item in three passes. They had no kernel at all (UB overflow) past ~20k (~16k) values
// on the edge chip. Against the reference with the race detector on: a short last piece and a
// short last group of rows, rows just past the short-row kernel's (one piece), rows of whole
// pieces, rows whose end is not a whole block (LogSoftmax's and Softmax's last block stored on its
// own), on both cores.
TEST(ReduceKernel, LongRowsInPiecesThroughTheNpuDialect) {
  const GeneratedKernel sum = generated(Kind::Sum, 11, 40000);
  EXPECT_NE(sum.assembly.find("11 rows of 40000 values, 8 rows per item on 2 block(s), each row in 3 piece(s) of up to "
                              "16320 values (via the npu dialect)"),
            std::string::npos) << sum.assembly.substr(0, 300);
  const GeneratedKernel softmax = generated(Kind::Softmax, 3, 100000);
  EXPECT_NE(softmax.assembly.find("softmax of 3 rows of 100000 values, a row per item on 2 block(s), each read three "
                                  "times in 7 piece(s) of up to 16320 values (via the npu dialect)"),
            std::string::npos) << softmax.assembly.substr(0, 300);
  for (Kind kind : {Kind::Sum, Kind::Mean, Kind::Max, Kind::Min, Kind::L1, Kind::L2, Kind::SumSquare, Kind::LogSum,
                    Kind::LogSumExp}) {
    runCase(kind, 9, 20001, 1, true);
    runCase(kind, 3, 31 * 64 + 1, 1, true);
  }
  for (Kind kind : {Kind::Softmax, Kind::LogSoftmax}) {
    runCase(kind, 3, 40001, 1, true);
    runCase(kind, 2, 2 * 16320, 1, true);
  }
}

// On an 8 KiB UB (a sweep's), where two buffer sets cannot hold 8 rows of 120 values (a layer
// norm's means), the rows go in pieces like long ones, of 384 values (the pieces' room beside
// the kernels' one-repeat buffers is 5 KiB there, not 8); so do PP-OCRv4 rec's softmax rows of
// 6625 classes. Against the reference, race-checked. (They had no kernel: "UB overflow".)
TEST(ReduceKernel, RowsTooWideForASmallUbGoInPieces) {
  const GeneratedKernel means = generated(Kind::Mean, 13, 120, 8 << 10);
  EXPECT_NE(means.assembly.find("13 rows of 120 values, 8 rows per item on 2 block(s), each row in 1 piece(s) of up to "
                                "384 values"),
            std::string::npos) << means.assembly.substr(0, 300);
  EXPECT_EQ(generated(Kind::Mean, 13, 120).assembly.find("piece(s)"), std::string::npos); // edge: chunks of rows
  for (Kind kind : {Kind::Sum, Kind::Mean, Kind::Max, Kind::L2}) runCase(kind, 13, 120, 1, true, 8 << 10);
  runCase(Kind::Sum, 9, 1000, 1, true, 8 << 10);
  runCase(Kind::Softmax, 2, 6625, 1, true, 8 << 10);
}

// Softmax and LogSoftmax of short rows of whole blocks go through the npu dialect in chunks of
// rows over both cores, each row's max and sum applied to the whole chunk from blocks of copies:
// PP-OCRv4 rec's attention rows (320 of 40), rows of one block, of 31 blocks (four repeats), a
// short last chunk and many chunks per core; rows that are not whole blocks, or of 256 values and
// more, take the other kernels.
TEST(ReduceKernel, ShortSoftmaxRowsThroughTheNpuDialect) {
  const GeneratedKernel rec = generated(Kind::Softmax, 320, 40);
  EXPECT_NE(rec.assembly.find("softmax of 320 rows of 40 values, 4 chunk(s) of 80 rows on 2 block(s) (via the npu dialect)"),
            std::string::npos) << rec.assembly.substr(0, 300);
  EXPECT_EQ(generated(Kind::Softmax, 320, 44).assembly.find("via the npu dialect"), std::string::npos);
  EXPECT_EQ(generated(Kind::LogSoftmax, 64, 256).assembly.find("chunk(s)"), std::string::npos);
  for (Kind kind : {Kind::Softmax, Kind::LogSoftmax}) {
    runCase(kind, 320, 40, 1, true);
    runCase(kind, 13, 8, 1, true);
    runCase(kind, 9, 248, 1, true);
    runCase(kind, 1000, 16, 1, true);
  }
}

TEST(ReduceKernel, NoDataRacesBetweenPipes) {
  runCase(Kind::Softmax, 4, 70, 1, true);
  runCase(Kind::LogSumExp, 3, 5, 9, true);
}

// Across rows, a slice UB cannot hold (21 rows of 2000 or 4096 columns: 2 and 4 column blocks of
// 1000 and 1024) is taken in blocks of its columns, the items (slice, block) split over the cores
// mid-slice (12 and 6 items on 2 cores), race detector on; each kind against the reference. Rows
// of 3001 columns (not whole 32-byte blocks): 3 blocks of 1472 on one core, the last ending at
// the row's end (columns 1529..2943 computed twice). (A softmax or arg max over 21 classes of a
// 128x128 map had no kernel at all.)
TEST(ReduceKernel, SlicesTooLargeForUbGoInColumnBlocks) {
  for (Kind kind : kAllKinds) {
    runCase(kind, 3, 21, 4096, true);
    runCase(kind, 3, 21, 2000, true); // blocks of 1000: the last repeat of each row partly unused
    runCase(kind, 3, 21, 3001, true); // overlapping last blocks
  }
  ReduceKernel k;
  k.name = "blocks";
  k.kind = Kind::Softmax;
  k.outer = 3;
  k.r = 21;
  k.inner = 2000;
  Expected<GeneratedKernel> gen = generateReduce(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  EXPECT_NE(gen->assembly.find("in column blocks of 1000"), std::string::npos) << gen->assembly.substr(0, 200);
  EXPECT_EQ(gen->blockDim, 2);
  k.inner = 3001;
  gen = generateReduce(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  EXPECT_NE(gen->assembly.find("in column blocks of 1472"), std::string::npos) << gen->assembly.substr(0, 200);
  EXPECT_EQ(gen->blockDim, 1);
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

namespace {

// LayerNorm rows with scale, [bias] and both statistics outputs, against a double reference.
// `viaNpu`: whether the kernel must come through the npu dialect.
void runLayerNorm(int64_t outer, int64_t r, bool checkRaces, bool withBias = true, bool viaNpu = false) {
  ReduceKernel k;
  k.name = k.node = "layer_norm_" + std::to_string(outer) + "x" + std::to_string(r);
  k.kind = Kind::LayerNorm;
  k.outer = outer;
  k.r = r;
  k.epsilon = 1e-2f;
  k.hasScale = k.meanOut = k.invStdOut = true;
  k.hasBias = withBias;
  const ChipConfig config = edge();
  Expected<GeneratedKernel> gen = generateReduce(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  EXPECT_EQ(gen->assembly.find("via the npu dialect") != std::string::npos, viaNpu) << gen->assembly.substr(0, 200);
  const size_t slack = size_t(kTailSlackBytes / 4);
  std::vector<float> x(size_t(outer * r) + slack), scale(size_t(r) + slack), bias(size_t(r) + slack);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::cos(double(i) * 0.37) * 2.0 + double(i % 7));
  for (size_t i = 0; i < scale.size(); ++i) scale[i] = 0.5f + float(i % 5) * 0.25f, bias[i] = float(i % 3) - 1.0f;
  Device dev(config);
  uint64_t px = dev.buffer(x), ps = dev.buffer(scale), pb = dev.buffer(bias);
  uint64_t py = dev.buffer(std::vector<float>(size_t(outer * r) + slack, -7.0f));
  uint64_t pm = dev.buffer(std::vector<float>(size_t(outer) + slack, -7.0f));
  uint64_t pi = dev.buffer(std::vector<float>(size_t(outer) + slack, -7.0f));
  std::vector<uint64_t> args{px, ps, pb, py, pm, pi};
  if (!withBias) args.erase(args.begin() + 2);
  ASSERT_TRUE(runGenerated(dev, *gen, k.name, args, checkRaces));
  std::vector<float> y = dev.read<float>(py, size_t(outer * r)), mean = dev.read<float>(pm, size_t(outer)),
                     inv = dev.read<float>(pi, size_t(outer));
  int bad = 0;
  auto near = [&](double got, double want, const std::string &what) {
    if (!(std::fabs(got - want) <= 1e-5 * std::fabs(want) + 1e-5) && bad++ < 5)
      ADD_FAILURE() << k.name << ": " << what << ": got " << got << ", expected " << want;
  };
  for (int64_t o = 0; o < outer; ++o) {
    double m = 0, v = 0;
    for (int64_t j = 0; j < r; ++j) m += x[size_t(o * r + j)];
    m /= double(r);
    for (int64_t j = 0; j < r; ++j) v += (x[size_t(o * r + j)] - m) * (x[size_t(o * r + j)] - m);
    const double is = 1.0 / std::sqrt(v / double(r) + 1e-2);
    near(mean[size_t(o)], m, "mean of row " + std::to_string(o));
    near(inv[size_t(o)], is, "inv std of row " + std::to_string(o));
    for (int64_t j = 0; j < r; ++j)
      near(y[size_t(o * r + j)], (x[size_t(o * r + j)] - m) * is * scale[size_t(j)] + (withBias ? bias[size_t(j)] : 0.0),
           "y[" + std::to_string(o) + "][" + std::to_string(j) + "]");
  }
  EXPECT_EQ(bad, 0);
}

TEST(ReduceKernel, LayerNorm) {
  runLayerNorm(6, 5, false);
  runLayerNorm(3, 60, true); // rows that are not whole blocks: one row at a time
}

// Rows of whole blocks go through the npu dialect in chunks of rows over both cores; the
// statistics are applied to a whole chunk at once from blocks of 8 copies per row. PP-OCRv4 rec's
// rows (40 x 120, three chunks), rows of one and of 31 repeats, many chunks per core, no bias.
TEST(ReduceKernel, LayerNormRowsThroughTheNpuDialect) {
  runLayerNorm(40, 120, true, true, true);
  runLayerNorm(3, 64, true, true, true);
  runLayerNorm(2, 200, true, true, true);
  runLayerNorm(1000, 8, true, true, true);
  runLayerNorm(5, 14 * 64, true, false, true);
  runLayerNorm(2, 31 * 64, false, true, false); // 8 rows would not fit UB twice: one row at a time
  runLayerNorm(2, 32 * 64, false, true, false); // a row too long for the pairwise tree's strides
}

} // namespace

namespace {

// ArgMax / ArgMin (first and last index, int64) and Hardmax, with ties, against a reference.
void runArg(Kind kind, int64_t outer, int64_t r, int64_t inner, bool last) {
  ReduceKernel k;
  k.name = k.node = "arg" + std::to_string(int(kind)) + "_" + std::to_string(r) + "x" + std::to_string(inner);
  k.kind = kind;
  k.outer = outer;
  k.r = r;
  k.inner = inner;
  k.selectLast = last;
  Expected<GeneratedKernel> gen = generateReduce(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  const size_t slack = size_t(kTailSlackBytes / 4), n = size_t(outer * r * inner), outs = size_t(outer * inner);
  std::vector<float> x(n + slack), iota(size_t((r + 63) / 64 * 64));
  for (size_t i = 0; i < n; ++i) x[i] = float((i * 7919) % 13); // small integers: many ties
  for (size_t i = 0; i < iota.size(); ++i) iota[i] = float(i);
  const bool hard = kind == Kind::Hardmax;
  Device dev(edge());
  uint64_t px = dev.buffer(x), pi = dev.buffer(iota);
  uint64_t po = dev.buffer(std::vector<float>((hard ? n : 2 * outs) + slack, -7.0f));
  uint64_t ps = dev.buffer(std::vector<int32_t>(outs + slack, -1));
  std::vector<uint64_t> args = {px, pi, po};
  if (!hard) args.push_back(ps);
  ASSERT_TRUE(runGenerated(dev, *gen, k.name, args, true));
  std::vector<int64_t> got = dev.read<int64_t>(po, hard ? 0 : outs);
  std::vector<float> gotHard = dev.read<float>(po, hard ? n : 0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      for (int64_t j = 1; j < r; ++j) {
        const float v = x[size_t((o * r + j) * inner + i)], b = x[size_t((o * r + best) * inner + i)];
        const bool better = kind == Kind::ArgMin ? (last ? v <= b : v < b) : (last && !hard ? v >= b : v > b);
        if (better) best = j;
      }
      if (hard) {
        for (int64_t j = 0; j < r; ++j)
          ASSERT_EQ(gotHard[size_t((o * r + j) * inner + i)], j == best ? 1.0f : 0.0f) << k.name << " " << o << "," << j << "," << i;
      } else {
        ASSERT_EQ(got[size_t(o * inner + i)], best) << k.name << " slice " << o << " column " << i;
      }
    }
}

TEST(ReduceKernel, ArgMaxArgMinHardmax) {
  for (Kind kind : {Kind::ArgMax, Kind::ArgMin, Kind::Hardmax})
    for (bool last : {false, true}) {
      runArg(kind, 4, 5, 1, last);    // across lanes, short rows
      runArg(kind, 2, 130, 1, last);  // across lanes, several repeats
      runArg(kind, 3, 4, 5, last);    // across rows, unaligned
      runArg(kind, 2, 3, 70, last);   // across rows, two repeats
      runArg(kind, 2, 21, 4096, last); // across rows in column blocks (a slice UB cannot hold)
      runArg(kind, 2, 21, 3001, last); // the same, the last block overlapping the one before
    }
}

} // namespace
