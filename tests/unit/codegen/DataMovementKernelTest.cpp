// The data-movement kernels on the simulator with the race detector on: numpy broadcasting by DMA
// (expand) against index arithmetic, and segment copies/fills of unaligned lengths (Slice, Pad,
// Split, Trilu) byte for byte.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "CodegenTestUtil.h"

#include <cmath>
#include <tuple>

using namespace fractal;
using namespace fractal::codegen;
using namespace fractal::sim::testing;
using namespace fractal::codegen::testing;


namespace {

// Broadcasting by DMA against index arithmetic, with the race detector on.
// `ubBytes`: the chip's UB instead of the edge chip's.
void runExpand(std::vector<int64_t> in, std::vector<int64_t> out, int64_t ubBytes = 0) {
  ExpandKernel k;
  k.name = k.node = "expand";
  k.shape = out;
  k.strides.assign(out.size(), 0);
  int64_t stride = 1, inCount = 1, outCount = 1;
  for (size_t i = 0; i < in.size(); ++i) { // in right-aligned to out
    const size_t d = in.size() - 1 - i, o = out.size() - 1 - i;
    k.strides[o] = in[d] == 1 ? 0 : stride;
    stride *= in[d];
  }
  for (int64_t d : in) inCount *= d;
  for (int64_t d : out) outCount *= d;
  ChipConfig config = edge();
  if (ubBytes) config.buffer(BufferKind::UB).sizeBytes = ubBytes;
  Expected<GeneratedKernel> gen = generateExpand(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  const size_t slack = size_t(kTailSlackBytes / 4);
  std::vector<float> src(size_t(inCount) + slack);
  for (size_t i = 0; i < src.size(); ++i) src[i] = float(i) * 1.5f - 7.0f;
  Device dev(config);
  uint64_t ps = dev.buffer(src), po = dev.buffer(std::vector<float>(size_t(outCount) + slack, -99.0f));
  ASSERT_TRUE(runGenerated(dev, *gen, "expand", {ps, po}, true));
  std::vector<float> got = dev.read<float>(po, size_t(outCount));
  for (int64_t i = 0; i < outCount; ++i) {
    int64_t rest = i, from = 0;
    for (size_t d = out.size(); d-- > 0;) {
      from += (rest % out[d]) * k.strides[d];
      rest /= out[d];
    }
    ASSERT_EQ(got[size_t(i)], src[size_t(from)]) << "element " << i;
  }
}

TEST(ExpandKernel, ShortRepeatedRunsGoInChunks) {
  ExpandKernel k;
  k.name = k.node = "expand";
  k.shape = {40, 120};
  k.strides = {1, 0};
  Expected<GeneratedKernel> gen = generateExpand(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  EXPECT_NE(gen->assembly.find("40 run(s) of 120 copies of one element, 4 chunk(s) of 10 run(s)"), std::string::npos)
      << gen->assembly.substr(0, 300);
  EXPECT_EQ(gen->blockDim, 2);
}

TEST(ExpandKernel, BroadcastPatterns) {
  runExpand({3, 1}, {3, 5});          // each element repeated along the last axis
  runExpand({1, 5}, {3, 5});          // a row repeated
  runExpand({2, 1, 4}, {2, 3, 4});    // rows of 4 repeated in the middle
  runExpand({5}, {2, 3, 5});          // rank extension
  runExpand({3, 1, 1}, {3, 70, 2});   // long repeat runs (two repeats of 64 lanes)
  runExpand({1}, {9000});             // one element, more than one DMA piece
  runExpand({4096, 1}, {4096, 2});    // 4096 short runs: a loop, not unrolled code
  runExpand({1, 64}, {100, 64});      // whole-block runs: items over both cores
  // Short whole-block runs of one element, chunks of runs per item (each run's element by its own
  // DMA) on both cores: PP-OCRv4 rec's [40, 1] layer-norm statistics against [40, 120], a short
  // last chunk, runs whose source elements are not adjacent, a run of one repeat.
  runExpand({40, 1}, {40, 120});
  runExpand({37, 1}, {37, 8});
  runExpand({3, 1, 5, 1}, {3, 4, 5, 16});
  runExpand({300, 1}, {300, 64});
  runExpand({120}, {40, 120});        // a row repeated: chunks of runs, a DMA each
  runExpand({2, 1, 24}, {2, 7, 24});
  runExpand({20000}, {2, 20000});     // long runs in pieces, the last one short, over both cores
}

// On a 64 KiB UB (a config being swept; the edge chip's is 256 KiB), which cannot hold two pieces
// of 8192 elements: shorter pieces (it had no kernel at all, and every broadcast Add, Sub, Mul, Div
// ran on the host), in every form above. On an 8 KiB UB, whose two sets could not hold the
// buffers of 64 short runs a chunk beside a piece, chunks of 16 runs and pieces of 640 elements
// (it had no kernel: 153 of the backend tests' broadcasts ran on the host or had none).
TEST(ExpandKernel, ASmallUbTakesShorterPieces) {
  for (int64_t ub : {64 << 10, 8 << 10})
    for (auto [in, out] : std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>{
             {{1}, {9000}}, {{20000}, {2, 20000}}, {{40, 1}, {40, 120}}, {{120}, {40, 120}}, {{3, 1}, {3, 5}},
             {{300, 1}, {300, 64}}, {{300, 1}, {300, 8}}})
      runExpand(in, out, ub);
  ExpandKernel k;
  k.name = k.node = "expand";
  k.shape = {300, 8};
  k.strides = {1, 0};
  ChipConfig config = edge();
  config.buffer(BufferKind::UB).sizeBytes = 8 << 10;
  Expected<GeneratedKernel> gen = generateExpand(config, k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  EXPECT_NE(gen->assembly.find("300 run(s) of 8 copies of one element, 19 chunk(s) of 16 run(s)"), std::string::npos)
      << gen->assembly.substr(0, 300);
}

} // namespace

namespace {

// Runs a one-source segment copy of `srcBytes` three times (functional mode: the cores are host
// threads, in any order each time), race detector on, and checks every segment byte for byte.
void expectCopiedOnEveryRun(const SegmentCopyKernel &k, const GeneratedKernel &gen, size_t srcBytes) {
  std::vector<uint8_t> src(srcBytes + kTailSlackBytes);
  for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 13 + 5);
  for (int run = 0; run < 3; ++run) {
    Device dev(edge());
    uint64_t ps = dev.buffer(src), po = dev.buffer(std::vector<uint8_t>(size_t(k.totalBytes + kTailSlackBytes), 0xee));
    ASSERT_TRUE(runGenerated(dev, gen, k.name, {ps, po}, true));
    std::vector<uint8_t> got = dev.read<uint8_t>(po, size_t(k.totalBytes));
    for (const auto &sg : k.segments)
      for (int64_t b = 0; b < sg.bytes; ++b)
        ASSERT_EQ(got[size_t(sg.dst + b)], src[size_t(sg.src + b)]) << "byte " << sg.dst + b << ", run " << run;
  }
}

// Segment copies and fills of unaligned lengths tiling the output, with the race detector on: on
// the edge chip in 32 KiB pieces, with a UB of 32 or 8 KiB (a sweep's) in pieces of half of it
// (the kernel needed 64 KiB of UB: Slice, Split, Pad, Concat and Trilu had no kernel there).
TEST(SegmentCopyKernel, CopiesAndFillsTileTheOutput) {
  SegmentCopyKernel k;
  k.name = k.node = "segments";
  k.fillWord = 0x3f800000; // 1.0f
  // dst ranges: [0,12) copy from 40, [12,20) fill, [20,64) copy from 4 (merges with the next),
  // [64,100) copy from 48, [100,140) fill, and a 40 KiB copy.
  k.segments = {{40, 0, 12}, {-1, 12, 8}, {4, 20, 44}, {48, 64, 36}, {-1, 100, 40}, {0, 140, 40960}};
  k.totalBytes = 140 + 40960;
  for (const auto &[ubBytes, pieces] : {std::pair{int64_t(0), 6}, {int64_t(32 << 10), 7}, {int64_t(8 << 10), 14}}) {
    ChipConfig config = edge();
    if (ubBytes) config.buffer(BufferKind::UB).sizeBytes = ubBytes;
    Expected<GeneratedKernel> gen = generateSegmentCopy(config, k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    EXPECT_NE(gen->assembly.find(", " + std::to_string(pieces) + " DMA piece(s)"), std::string::npos)
        << gen->assembly.substr(0, 200);
    std::vector<uint8_t> src(41000 + kTailSlackBytes);
    for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 37 + 11);
    Device dev(config);
    uint64_t ps = dev.buffer(src), po = dev.buffer(std::vector<uint8_t>(size_t(k.totalBytes + kTailSlackBytes), 0xee));
    ASSERT_TRUE(runGenerated(dev, *gen, "segments", {ps, po}, true));
    std::vector<uint8_t> got = dev.read<uint8_t>(po, size_t(k.totalBytes));
    const uint8_t one[4] = {0x00, 0x00, 0x80, 0x3f};
    for (const auto &sg : k.segments)
      for (int64_t b = 0; b < sg.bytes; ++b)
        ASSERT_EQ(got[size_t(sg.dst + b)], sg.src < 0 ? one[(sg.dst + b) % 4] : src[size_t(sg.src + b)])
            << "byte " << sg.dst + b << ", UB " << ubBytes;
  }
}

// Runs from scattered sources (a permutation's): eight 4-byte runs, then a 64-byte one, over and
// over. The pieces rotate through several UB buffers and split over both cores, the second
// core's run starting only where no store of the first core's reaches: a store writes whole
// 32-byte blocks, so a 4-byte run's spills over the seven after it and into the 64-byte one; the
// run after a 64-byte one is the first clean start. Byte for byte, race detector on.
TEST(SegmentCopyKernel, SmallRunsSplitOverCoresWhereNoStoreSpillsAcross) {
  SegmentCopyKernel k;
  k.name = k.node = "scatter";
  const int64_t n = 603;
  int64_t at = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t bytes = i % 9 == 8 ? 64 : 4;
    k.segments.push_back({(i * 37 % n) * 64, at, bytes});
    at += bytes;
  }
  k.totalBytes = at;
  Expected<GeneratedKernel> gen = generateSegmentCopy(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  EXPECT_EQ(gen->blockDim, 2);
  EXPECT_NE(gen->assembly.find("4 UB buffers"), std::string::npos) << gen->assembly.substr(0, 200);
  const size_t split = gen->assembly.find("part1:");
  ASSERT_NE(split, std::string::npos);
  // Core 1 starts at a run right after a 64-byte one: its first destination is a multiple of 96.
  const size_t li = gen->assembly.find("li x9, ", split);
  EXPECT_EQ(std::stoll(gen->assembly.substr(li + 7)) % 96, 0) << gen->assembly.substr(split, 80);
  expectCopiedOnEveryRun(k, *gen, size_t(n * 64));
}

// PP-OCRv4 rec's attention transpose, [40][24][15] f32 -> [24][40][15]: 960 pieces of 60 bytes,
// each store spilling 4 bytes into the next piece. The last piece of core 0's half is stored as
// its whole block plus a block ending at its end, so core 1 can start right after it; each
// output row's 40 pieces come in with one strided load (source stride 1440 bytes = 45 blocks).
// Byte for byte, race detector on, several runs (the cores are host threads, any order).
TEST(SegmentCopyKernel, UnalignedPiecesOfAStridedSourceSplitOverCores) {
  SegmentCopyKernel k;
  k.name = k.node = "attention";
  const int64_t rows = 40, groups = 24, piece = 15 * 4;
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t r = 0; r < rows; ++r) k.segments.push_back({(r * groups + g) * piece, (g * rows + r) * piece, piece});
  k.totalBytes = rows * groups * piece;
  Expected<GeneratedKernel> gen = generateSegmentCopy(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  EXPECT_EQ(gen->blockDim, 2);
  EXPECT_NE(gen->assembly.find("len=2, nburst=40, src_gap=43"), std::string::npos) << gen->assembly.substr(0, 600);
  // Core 0's last piece (479) ends at byte 480 * 60: its last block is stored from 28800 - 32.
  const size_t split = gen->assembly.find("part1:");
  ASSERT_NE(split, std::string::npos);
  EXPECT_NE(gen->assembly.rfind("li x9, " + std::to_string(480 * piece - 32) + "\n", split), std::string::npos);
  expectCopiedOnEveryRun(k, *gen, size_t(k.totalBytes));
}

// Pieces of 2 blocks whose sources are 65535 blocks apart past their ends come in with one
// strided load (the gap's 16-bit field holds that); one block further, one load each.
TEST(SegmentCopyKernel, SourcesTooFarApartForOneStridedLoad) {
  for (const int64_t gap : {65535, 65536}) {
    SegmentCopyKernel k;
    k.name = k.node = "far";
    const int64_t stride = (gap + 2) * 32;
    for (int64_t i = 0; i < 4; ++i) k.segments.push_back({i * stride, i * 64, 64});
    k.totalBytes = 4 * 64;
    Expected<GeneratedKernel> gen = generateSegmentCopy(edge(), k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    EXPECT_EQ(gen->assembly.find("nburst=4, src_gap=65535") != std::string::npos, gap == 65535) << gen->assembly;
    EXPECT_EQ(gen->assembly.find("nburst") != std::string::npos, gap == 65535) << gen->assembly;
    expectCopiedOnEveryRun(k, *gen, size_t(3 * stride + 64));
  }
}

TEST(SegmentCopyKernel, SegmentsThatLeaveAGapAreRejected) {
  SegmentCopyKernel k;
  k.name = "gap";
  k.segments = {{0, 0, 8}, {16, 16, 8}};
  k.totalBytes = 24;
  Expected<GeneratedKernel> gen = generateSegmentCopy(edge(), k);
  ASSERT_FALSE(gen.ok());
  EXPECT_NE(gen.error().message.find("gap or overlap at byte 8"), std::string::npos) << gen.error().message;
}

} // namespace

namespace {

// Concatenation of two sources along an inner axis: rows of 12 and 20 bytes interleaved.
TEST(SegmentCopyKernel, TwoSourcesInterleaved) {
  SegmentCopyKernel k;
  k.name = k.node = "concat";
  k.numSources = 2;
  for (int64_t r = 0; r < 5; ++r) {
    k.segments.push_back({r * 12, r * 32, 12, 0});
    k.segments.push_back({r * 20, r * 32 + 12, 20, 1});
  }
  k.totalBytes = 5 * 32;
  Expected<GeneratedKernel> gen = generateSegmentCopy(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  std::vector<uint8_t> a(60 + kTailSlackBytes), b(100 + kTailSlackBytes);
  for (size_t i = 0; i < a.size(); ++i) a[i] = uint8_t(i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(200 - i);
  Device dev(edge());
  uint64_t pa = dev.buffer(a), pb = dev.buffer(b), po = dev.buffer(std::vector<uint8_t>(160 + kTailSlackBytes, 0xee));
  ASSERT_TRUE(runGenerated(dev, *gen, "concat", {pa, pb, po}, true));
  std::vector<uint8_t> got = dev.read<uint8_t>(po, 160);
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t i = 0; i < 32; ++i)
      ASSERT_EQ(got[size_t(r * 32 + i)], i < 12 ? a[size_t(r * 12 + i)] : b[size_t(r * 20 + i - 12)]) << r << "," << i;
}

} // namespace

namespace {

// Gather rows by run-time int64 indices (negative ones count from the end); an index out of range
// stops the kernel with a fault instead of reading some other memory.
TEST(GatherKernel, RowsByRunTimeIndicesAndOutOfRangeFaults) {
  GatherKernel k;
  k.name = k.node = "gather";
  k.outer = 2;
  k.axisDim = 4;
  k.inner = 3; // 12-byte rows: unaligned in GM
  k.count = 3;
  Expected<GeneratedKernel> gen = generateGather(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  std::vector<float> data(24 + 8);
  for (size_t i = 0; i < data.size(); ++i) data[i] = float(i);
  const std::vector<int64_t> indices = {3, -4, 1};
  Device dev(edge());
  uint64_t pd = dev.buffer(data), pi = dev.buffer(indices), po = dev.buffer(std::vector<float>(18 + 8, -1.0f));
  ASSERT_TRUE(runGenerated(dev, *gen, "gather", {pd, pi, po}, true));
  std::vector<float> got = dev.read<float>(po, 18);
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t e = 0; e < 3; ++e) {
        const int64_t row = (indices[size_t(j)] + 4) % 4;
        ASSERT_EQ(got[size_t((o * 3 + j) * 3 + e)], data[size_t((o * 4 + row) * 3 + e)]) << o << "," << j << "," << e;
      }
  uint64_t bad = dev.buffer(std::vector<int64_t>{0, 4, 1});
  EXPECT_FALSE(runGenerated(dev, *gen, "gather", {pd, bad, po}, false));
}

// int64 ops on the scalar unit: a comparison into booleans (written into their 8-byte words, the
// bytes around them kept: a sentinel right after the 7 results), Where reading a broadcast
// boolean condition, floor mod; a result of more than 2^20 elements is refused with the reason.
TEST(ScalarElementwiseKernel, BooleansInAndOutAndBroadcast) {
  Device dev(edge());
  const std::vector<int64_t> a = {5, -3, 7, 0, INT64_MIN, INT64_MAX, 2}, b = {4};
  ScalarElementwiseKernel lt{"lt", "lt", "lt", {7}, {{1}, {0}}, {{8}, {8}}, {1, false}}; // a [7] < b [1]
  Expected<GeneratedKernel> gen = generateScalarElementwise(lt);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  uint64_t pa = dev.buffer(a), pb = dev.buffer(b), out = dev.buffer(std::vector<uint8_t>(16, 0xAB));
  ASSERT_TRUE(runGenerated(dev, *gen, "lt", {pa, pb, out}, true));
  EXPECT_EQ(dev.read<uint8_t>(out, 9), (std::vector<uint8_t>{0, 1, 0, 1, 1, 0, 1, 0xAB, 0xAB}));

  // where(cond [2, 1], x [2, 3], y [3]) and x mod y (floor: the divisor's sign). (The condition's
  // word is read whole: the memory plan gives boolean tensors of these kernels a tail slack.)
  const std::vector<uint8_t> cond = {1, 0, 0, 0, 0, 0, 0, 0};
  const std::vector<int64_t> x = {10, -10, 11, 12, -13, 14}, y = {3, 4, -5};
  ScalarElementwiseKernel where{"where", "where", "where", {2, 3}, {{1, 0}, {3, 1}, {0, 1}}, {{1, false}, {8}, {8}}, {8}};
  gen = generateScalarElementwise(where);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  uint64_t pc = dev.buffer(cond), px = dev.buffer(x), py = dev.buffer(y), pw = dev.buffer(std::vector<int64_t>(6, -1));
  ASSERT_TRUE(runGenerated(dev, *gen, "where", {pc, px, py, pw}, false));
  EXPECT_EQ(dev.read<int64_t>(pw, 6), (std::vector<int64_t>{10, -10, 11, 3, 4, -5}));
  ScalarElementwiseKernel mod{"mod", "mod", "mod", {2, 3}, {{3, 1}, {0, 1}}, {{8}, {8}}, {8}};
  gen = generateScalarElementwise(mod);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  ASSERT_TRUE(runGenerated(dev, *gen, "mod", {px, py, pw}, false));
  EXPECT_EQ(dev.read<int64_t>(pw, 6), (std::vector<int64_t>{1, 2, -4, 0, 3, -1}));

  ScalarElementwiseKernel huge{"huge", "huge", "add", {1 << 20, 2}, {{2, 1}, {0, 0}}, {{8}, {8}}, {8}};
  gen = generateScalarElementwise(huge);
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.error().message, "huge: integer element-wise ops run element by element on the scalar unit, up to 2^20 "
                                 "elements; this one has 2097152");
}

// Integers of every width: each read in its width and signedness, the result stored in its own
// (wrapping, the bytes around a narrow one kept: sentinels after the results), unsigned division,
// min and comparisons over the whole uint64 range (2^63 and more), shifts, casts.
TEST(ScalarElementwiseKernel, IntegersOfEveryWidthAndSignedness) {
  Device dev(edge());
  auto run = [&](ScalarElementwiseKernel k, std::vector<uint64_t> args) {
    k.name = k.node = k.kind;
    Expected<GeneratedKernel> gen = generateScalarElementwise(k);
    EXPECT_TRUE(gen.ok()) << gen.error().message;
    args.push_back(dev.buffer(std::vector<uint8_t>(128, 0xAB)));
    EXPECT_TRUE(gen.ok() && runGenerated(dev, *gen, k.kind, args, false)) << k.kind;
    return args.back();
  };
  const IntegerElement u8{1, false}, i8{1, true}, i16{2, true}, u16{2, false}, u32{4, false}, u64{8, false};
  const uint64_t a8 = dev.buffer(std::vector<uint8_t>{200, 3, 255, 0, 0, 0, 0, 0});
  const uint64_t b8 = dev.buffer(std::vector<uint8_t>{100, 250, 1, 0, 0, 0, 0, 0});
  uint64_t out = run({"", "", "add", {3}, {{1}, {1}}, {u8, u8}, u8}, {a8, b8});
  EXPECT_EQ(dev.read<uint8_t>(out, 4), (std::vector<uint8_t>{44, 253, 0, 0xAB}));
  out = run({"", "", "sub", {3}, {{1}, {1}}, {u8, u8}, u8}, {a8, b8});
  EXPECT_EQ(dev.read<uint8_t>(out, 4), (std::vector<uint8_t>{100, 9, 254, 0xAB}));
  out = run({"", "", "max", {3}, {{1}, {1}}, {i8, i8}, i8}, {a8, b8}); // as int8: -56, 3, -1 vs 100, -6, 1
  EXPECT_EQ(dev.read<uint8_t>(out, 4), (std::vector<uint8_t>{100, 3, 1, 0xAB}));
  out = run({"", "", "max", {3}, {{1}, {1}}, {u8, u8}, u8, true}, {a8, b8});
  EXPECT_EQ(dev.read<uint8_t>(out, 4), (std::vector<uint8_t>{200, 250, 255, 0xAB}));
  out = run({"", "", "shl", {3}, {{1}, {0}}, {u8, u8}, u8, true}, {a8, dev.buffer(std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 0, 0})});
  EXPECT_EQ(dev.read<uint8_t>(out, 4), (std::vector<uint8_t>{144, 6, 254, 0xAB}));

  const uint64_t a16 = dev.buffer(std::vector<int16_t>{-30000, 7, 300, 0});
  out = run({"", "", "mul", {3}, {{1}, {0}}, {i16, i16}, i16}, {a16, dev.buffer(std::vector<int16_t>{2, 0, 0, 0})});
  EXPECT_EQ(dev.read<int16_t>(out, 4), (std::vector<int16_t>{5536, 14, 600, int16_t(0xABAB)}));
  out = run({"", "", "cast", {3}, {{1}}, {i16}, u32}, {a16});
  EXPECT_EQ(dev.read<uint32_t>(out, 4), (std::vector<uint32_t>{4294937296u, 7, 300, 0xABABABABu}));
  out = run({"", "", "cast", {3}, {{1}}, {i16}, u16}, {a16});
  EXPECT_EQ(dev.read<uint16_t>(out, 4), (std::vector<uint16_t>{35536, 7, 300, 0xABAB}));
  out = run({"", "", "nonzero", {4}, {{1}}, {i16}, {1, false}}, {a16});
  EXPECT_EQ(dev.read<uint8_t>(out, 5), (std::vector<uint8_t>{1, 1, 1, 0, 0xAB}));

  const uint64_t big = (uint64_t(1) << 63) + 10;
  const uint64_t a64 = dev.buffer(std::vector<uint64_t>{big, 7, ~uint64_t(0)}), b64 = dev.buffer(std::vector<uint64_t>{3, big, 2});
  out = run({"", "", "div", {3}, {{1}, {1}}, {u64, u64}, u64, true}, {a64, b64});
  EXPECT_EQ(dev.read<uint64_t>(out, 3), (std::vector<uint64_t>{big / 3, 0, ~uint64_t(0) / 2}));
  out = run({"", "", "mod", {3}, {{1}, {1}}, {u64, u64}, u64, true}, {a64, b64});
  EXPECT_EQ(dev.read<uint64_t>(out, 3), (std::vector<uint64_t>{big % 3, 7, 1}));
  out = run({"", "", "min", {3}, {{1}, {1}}, {u64, u64}, u64, true}, {a64, b64});
  EXPECT_EQ(dev.read<uint64_t>(out, 3), (std::vector<uint64_t>{3, 7, 2}));
  out = run({"", "", "gt", {3}, {{1}, {1}}, {u64, u64}, {1, false}, true}, {a64, b64});
  EXPECT_EQ(dev.read<uint8_t>(out, 4), (std::vector<uint8_t>{1, 0, 1, 0xAB}));
  const uint64_t a32 = dev.buffer(std::vector<uint32_t>{4000000000u, 5, 0, 0});
  out = run({"", "", "shr", {2}, {{1}, {0}}, {u32, u32}, u32, true}, {a32, dev.buffer(std::vector<uint32_t>{4, 0})});
  EXPECT_EQ(dev.read<uint32_t>(out, 3), (std::vector<uint32_t>{250000000u, 0, 0xABABABABu}));

  // Integer powers by squaring (wrapping), a negative exponent truncating the fraction (C's pow
  // cast back): 3^4, (-2)^5, 7^0, 2^-1, 1^-5, (-1)^-3, (-1)^-2, 3^40 (wraps in int64), 0^0.
  const uint64_t base = dev.buffer(std::vector<int64_t>{3, -2, 7, 2, 1, -1, -1, 3, 0});
  const uint64_t exponent = dev.buffer(std::vector<int64_t>{4, 5, 0, -1, -5, -3, -2, 40, 0});
  const IntegerElement i64{8, true};
  out = run({"", "", "pow", {9}, {{1}, {1}}, {i64, i64}, i64}, {base, exponent});
  int64_t wrapped = 1;
  for (int i = 0; i < 40; ++i) wrapped = int64_t(uint64_t(wrapped) * 3u);
  EXPECT_EQ(dev.read<int64_t>(out, 9), (std::vector<int64_t>{81, -32, 1, 0, 1, -1, 1, wrapped, 1}));
  // uint8 (200^2 wraps to 64) by a uint8 exponent: no negative exponents.
  out = run({"", "", "pow", {3}, {{1}, {1}}, {u8, u8}, u8, true}, {a8, dev.buffer(std::vector<uint8_t>{2, 2, 1, 0, 0, 0, 0, 0})});
  EXPECT_EQ(dev.read<uint8_t>(out, 4), (std::vector<uint8_t>{64, 9, 255, 0xAB}));
}

// NonZero and Compress on the scalar unit, race-checked, against the definitions: the count in
// the extent word, the selection dense in the actual shape (a later axis the data-dependent one),
// the rest of the bound untouched; floats by value (-0 is zero, NaN and a subnormal are not);
// narrow elements written into their words with the bytes around them kept; a condition shorter
// than the axis drops the slices past it.
TEST(CompactionKernel, NonZeroAndCompressAgainstTheirDefinitions) {
  Device dev(edge());
  const uint32_t negativeZero = 0x80000000u, nan = 0x7fc00000u, subnormal = 1u;
  std::vector<uint32_t> bits = {0, 5, negativeZero, nan, 0, subnormal}; // float32 [2, 3]
  CompactionKernel nz{"nz", "nz", true, {2, 3}, 32};
  Expected<GeneratedKernel> gen = generateCompaction(nz);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  uint64_t in = dev.buffer(bits), out = dev.buffer(std::vector<int64_t>(12, -7)), extent = dev.buffer(std::vector<int64_t>{-1});
  ASSERT_TRUE(runGenerated(dev, *gen, "nz", {in, out, extent}, true));
  EXPECT_EQ(dev.read<int64_t>(extent, 1), (std::vector<int64_t>{3}));
  // rows of [2, 3]: (0, 1), (1, 0), (1, 2), in the bound [2, 6]'s layout, the rest untouched
  EXPECT_EQ(dev.read<int64_t>(out, 12), (std::vector<int64_t>{0, 1, 1, -7, -7, -7, 1, 0, 2, -7, -7, -7}));
  // ops read it over its bound: the rest zeroed (valid indices)
  nz.fillRemainder = true;
  gen = generateCompaction(nz);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  out = dev.buffer(std::vector<int64_t>(12, -7));
  ASSERT_TRUE(runGenerated(dev, *gen, "nz", {in, out, extent}, true));
  EXPECT_EQ(dev.read<int64_t>(out, 12), (std::vector<int64_t>{0, 1, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0}));
  // int8 [5]: all zero gives an extent of 0 and writes nothing
  nz = {"nz8", "nz8", true, {5}, 0, 1, 1, 1, 1, 1};
  gen = generateCompaction(nz);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  in = dev.buffer(std::vector<int8_t>(8, 0));
  out = dev.buffer(std::vector<int64_t>(5, -7));
  ASSERT_TRUE(runGenerated(dev, *gen, "nz8", {in, out, extent}, false));
  EXPECT_EQ(dev.read<int64_t>(extent, 1), (std::vector<int64_t>{0}));
  EXPECT_EQ(dev.read<int64_t>(out, 1), (std::vector<int64_t>{-7}));

  // Compress uint16 [2, 4, 3] along axis 1 by a condition of 3 (the fourth slice dropped).
  std::vector<uint16_t> data(24);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint16_t(1000 + i);
  CompactionKernel c{"c", "c", false, {}, 0, 2, 4, 3, 3, 2};
  gen = generateCompaction(c);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  in = dev.buffer(data);
  const uint64_t condition = dev.buffer(std::vector<uint8_t>{1, 0, 1, 1, 0, 0, 0, 0});
  out = dev.buffer(std::vector<uint16_t>(20, 0xABAB));
  ASSERT_TRUE(runGenerated(dev, *gen, "c", {in, condition, out, extent}, true));
  EXPECT_EQ(dev.read<int64_t>(extent, 1), (std::vector<int64_t>{2}));
  // each block's two slices at the bound's stride (3 slices), the third slot untouched
  const uint16_t kept = 0xABAB;
  EXPECT_EQ(dev.read<uint16_t>(out, 19), (std::vector<uint16_t>{1000, 1001, 1002, 1006, 1007, 1008, kept, kept, kept,
                                                                 1012, 1013, 1014, 1018, 1019, 1020, kept, kept, kept, kept}));
  c.fillRemainder = true; // the third slots zeroed, element by element (the bytes after kept)
  gen = generateCompaction(c);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  out = dev.buffer(std::vector<uint16_t>(20, 0xABAB));
  ASSERT_TRUE(runGenerated(dev, *gen, "c", {in, condition, out, extent}, true));
  EXPECT_EQ(dev.read<uint16_t>(out, 19), (std::vector<uint16_t>{1000, 1001, 1002, 1006, 1007, 1008, 0, 0, 0, 1012, 1013,
                                                                 1014, 1018, 1019, 1020, 0, 0, 0, kept}));
  c.fillRemainder = false;
  c.bound = 5; // more than the axis holds
  gen = generateCompaction(c);
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.error().message, "c: a Compress of no elements has no kernel");
  nz = {"huge", "huge", true, {1 << 12, 1 << 13}, 0, 1, 1, 1, 1, 8};
  gen = generateCompaction(nz);
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.error().message,
            "huge: NonZero runs element by element on the scalar unit, up to 2^24 elements; this one has 33554432");
}

// Unique on the scalar unit, race-checked, against numpy's definition: float32 values sorted
// (-0 equals +0, negative values before positive ones), int8 values in first-occurrence order,
// and int16 slices along the middle axis of [2, 4, 2] compared element by element in row-major
// order; the unique count in the extent word, every result in its bound's layout.
TEST(UniqueKernel, ValuesAndSlicesAgainstTheirDefinition) {
  Device dev(edge());
  auto run = [&](const UniqueKernel &k, uint64_t input, int64_t slices, int resultBytes) {
    Expected<GeneratedKernel> gen = generateUnique(k);
    EXPECT_TRUE(gen.ok()) << gen.error().message;
    std::vector<uint64_t> args = {input, dev.buffer(std::vector<uint8_t>(size_t(resultBytes) + 8, 0xAB))};
    for (int i = 0; i < 3; ++i) args.push_back(dev.buffer(std::vector<int64_t>(size_t(slices), -7)));
    args.push_back(dev.buffer(std::vector<int64_t>{-1}));
    for (int i = 0; i < 2; ++i) args.push_back(dev.buffer(std::vector<int64_t>(size_t(slices), -7)));
    EXPECT_TRUE(gen.ok() && runGenerated(dev, *gen, k.name, args, true));
    return args;
  };
  const std::vector<float> values = {2.0f, -0.0f, -3.5f, 0.0f, 2.0f, 1e-3f, -3.5f};
  std::vector<uint64_t> a = run({"f", "f", 1, 7, 1, true, true, true, 4}, dev.buffer(values), 7, 28);
  EXPECT_EQ(dev.read<int64_t>(a[5], 1), (std::vector<int64_t>{4}));
  EXPECT_EQ(dev.read<float>(a[1], 4), (std::vector<float>{-3.5f, -0.0f, 1e-3f, 2.0f})); // -0: the first of the zeros
  EXPECT_EQ(dev.read<int64_t>(a[2], 4), (std::vector<int64_t>{2, 1, 5, 0}));
  EXPECT_EQ(dev.read<int64_t>(a[3], 7), (std::vector<int64_t>{3, 1, 0, 1, 3, 2, 0}));
  EXPECT_EQ(dev.read<int64_t>(a[4], 4), (std::vector<int64_t>{2, 2, 1, 2}));

  const std::vector<int8_t> bytes = {5, -1, 5, 7, -1, 0, 0, 0};
  a = run({"i8", "i8", 1, 5, 1, false, false, true, 1}, dev.buffer(bytes), 5, 5);
  EXPECT_EQ(dev.read<int64_t>(a[5], 1), (std::vector<int64_t>{3}));
  EXPECT_EQ(dev.read<int8_t>(a[1], 4), (std::vector<int8_t>{5, -1, 7, int8_t(0xAB)})); // the byte after kept
  EXPECT_EQ(dev.read<int64_t>(a[2], 3), (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(dev.read<int64_t>(a[3], 5), (std::vector<int64_t>{0, 1, 0, 2, 1}));
  EXPECT_EQ(dev.read<int64_t>(a[4], 3), (std::vector<int64_t>{2, 2, 1}));

  // [2, 4, 2] along axis 1: slices (o = 0, 1) x (i = 0, 1): s0 = {1,1, 9,9}, s1 = {0,5, 9,9},
  // s2 = s0, s3 = {1,1, 2,2}; sorted: s1 < s3 < s0.
  const std::vector<int16_t> x = {1, 1, 0, 5, 1, 1, 1, 1, /* o = 1 */ 9, 9, 9, 9, 9, 9, 2, 2};
  a = run({"i16", "i16", 2, 4, 2, true, false, true, 2}, dev.buffer(x), 4, 32);
  EXPECT_EQ(dev.read<int64_t>(a[5], 1), (std::vector<int64_t>{3}));
  // in the bound [2, 4, 2]'s layout: each o's fourth slot untouched
  const int16_t kept = int16_t(0xABAB);
  EXPECT_EQ(dev.read<int16_t>(a[1], 16),
            (std::vector<int16_t>{0, 5, 1, 1, 1, 1, kept, kept, /* o = 1 */ 9, 9, 2, 2, 9, 9, kept, kept}));
  EXPECT_EQ(dev.read<int64_t>(a[2], 4), (std::vector<int64_t>{1, 3, 0, -7}));
  EXPECT_EQ(dev.read<int64_t>(a[3], 4), (std::vector<int64_t>{2, 0, 2, 1}));
  EXPECT_EQ(dev.read<int64_t>(a[4], 4), (std::vector<int64_t>{1, 1, 2, -7}));
  // ops read them over their bounds: the fourth slots zeroed
  UniqueKernel filled{"i16f", "i16f", 2, 4, 2, true, false, true, 2, true};
  a = run(filled, dev.buffer(x), 4, 32);
  EXPECT_EQ(dev.read<int16_t>(a[1], 17), (std::vector<int16_t>{0, 5, 1, 1, 1, 1, 0, 0, 9, 9, 2, 2, 9, 9, 0, 0, kept}));
  EXPECT_EQ(dev.read<int64_t>(a[2], 4), (std::vector<int64_t>{1, 3, 0, 0}));
  EXPECT_EQ(dev.read<int64_t>(a[4], 4), (std::vector<int64_t>{1, 1, 2, 0}));

  Expected<GeneratedKernel> big = generateUnique({"big", "big", 1, 4096, 16, true, true, true, 4});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message, "big: Unique compares every pair of slices on the scalar unit, up to 2^26 element "
                                 "comparisons (and 4096 slices); this one has 4096 slices of 16 element(s)");
}

// NonMaxSuppression's selection on the scalar unit, race-checked, against the definition: per
// class by descending score, the lower index first among equal scores, a NaN score never taken,
// a box suppressed only by one already selected in its class (box 2 is suppressed by box 1, so
// box 3, which only box 2 would suppress, stays), at most two per class; then a score threshold;
// then the limit and the threshold read at run time.
TEST(NmsSelectKernel, GreedySelectionAgainstTheDefinition) {
  Device dev(edge());
  const float nan = std::nanf("");
  // class 0: scores 0.5, 0.9, 0.7, 0.7; class 1: NaN, 0.2, -0.0, 0.2
  const std::vector<float> scores = {0.5f, 0.9f, 0.7f, 0.7f, nan, 0.2f, -0.0f, 0.2f};
  std::vector<uint8_t> suppress(16 + 8, 0);
  auto pair = [&](int i, int j) { suppress[size_t(i * 4 + j)] = suppress[size_t(j * 4 + i)] = 1; };
  pair(1, 2);
  pair(2, 3);
  pair(0, 1);
  auto run = [&](NmsSelectKernel k, int64_t rows) {
    Expected<GeneratedKernel> gen = generateNmsSelect(k);
    EXPECT_TRUE(gen.ok()) << gen.error().message;
    std::vector<uint64_t> args = {dev.buffer(scores), dev.buffer(suppress), dev.buffer(std::vector<int64_t>(size_t(rows * 3), -7)),
                                  dev.buffer(std::vector<int64_t>{-1}), dev.buffer(std::vector<int64_t>(4, -7)),
                                  dev.buffer(std::vector<int64_t>(4, -7))};
    EXPECT_TRUE(gen.ok() && runGenerated(dev, *gen, "nms", args, true));
    return std::make_pair(dev.read<int64_t>(args[3], 1)[0], dev.read<int64_t>(args[2], size_t(rows * 3)));
  };
  NmsSelectKernel k{"nms", "nms", 1, 2, 4, 2};
  auto [count, rows] = run(k, 4);
  EXPECT_EQ(count, 4);
  // class 0: 1 (0.9), then 2 (0.7, suppressed by 1), 3 (0.7): two; class 1: 1 and 3 (0.2, the lower index first)
  EXPECT_EQ(rows, (std::vector<int64_t>{0, 0, 1, 0, 0, 3, 0, 1, 1, 0, 1, 3}));
  k.maxPerClass = 4;
  k.hasScoreThreshold = true;
  k.scoreThreshold = 0.0f; // -0 is not above it; NaN never is
  std::tie(count, rows) = run(k, 8);
  EXPECT_EQ(count, 4);
  // class 0: 1, 3 (0 is suppressed by 1); class 1: 1, 3
  EXPECT_EQ(std::vector<int64_t>(rows.begin(), rows.begin() + 12), (std::vector<int64_t>{0, 0, 1, 0, 0, 3, 0, 1, 1, 0, 1, 3}));
  EXPECT_EQ(rows[12], -7);
  k.scoreThreshold = 0.6f;
  std::tie(count, rows) = run(k, 8);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(std::vector<int64_t>(rows.begin(), rows.begin() + 6), (std::vector<int64_t>{0, 0, 1, 0, 0, 3}));
  EXPECT_EQ(rows[6], -7);
  k.fillRemainder = true; // ops read the rows over the bound (8): the six past the count zeroed
  k.bound = 8;
  std::tie(count, rows) = run(k, 8);
  EXPECT_EQ(count, 2);
  std::vector<int64_t> want(24, 0);
  want[2] = 1, want[5] = 3;
  EXPECT_EQ(rows, want);
  k.fillRemainder = false;

  // A run-time limit (1: one per class; -3: none) and a run-time score threshold (0.6; NaN: none).
  auto runtime = [&](int64_t limit, float threshold) {
    NmsSelectKernel r{"nms_rt", "nms_rt", 1, 2, 4, 4};
    r.runtimeLimit = r.runtimeScoreThreshold = true;
    Expected<GeneratedKernel> gen = generateNmsSelect(r);
    EXPECT_TRUE(gen.ok()) << gen.error().message;
    std::vector<uint64_t> args = {dev.buffer(scores), dev.buffer(suppress), dev.buffer(std::vector<int64_t>{limit}),
                                  dev.buffer(std::vector<float>{threshold, 0}), dev.buffer(std::vector<int64_t>(24, -7)),
                                  dev.buffer(std::vector<int64_t>{-1}), dev.buffer(std::vector<int64_t>(4, -7)),
                                  dev.buffer(std::vector<int64_t>(4, -7))};
    EXPECT_TRUE(gen.ok() && runGenerated(dev, *gen, "nms_rt", args, true));
    return std::make_pair(dev.read<int64_t>(args[5], 1)[0], dev.read<int64_t>(args[4], 6));
  };
  std::tie(count, rows) = runtime(1, -1.0f);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(rows, (std::vector<int64_t>{0, 0, 1, 0, 1, 1}));
  std::tie(count, rows) = runtime(4, 0.6f);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(rows, (std::vector<int64_t>{0, 0, 1, 0, 0, 3}));
  EXPECT_EQ(runtime(-3, 0.0f).first, 0);
  EXPECT_EQ(runtime(4, nan).first, 0);

  Expected<GeneratedKernel> big = generateNmsSelect({"big", "big", 8, 80, 2000, 100});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message, "big: NonMaxSuppression's selection scans every box for every pick on the scalar unit, "
                                 "up to 2^26 box visits (and 4096 boxes); this one has 8 x 80 x 2000 x 2000");
}

// Batched float32 2-D transposes on the vector unit, race-checked, against the definition: rows
// that are not whole blocks, more columns than one tile holds (248), rows over several UB tiles
// (whole blocks); -0, infinities and NaN come through. Rows over several tiles that are not whole
// blocks are refused with the reason.
TEST(VectorTransposeKernel, TilesOfRowsAndColumns) {
  struct Case { int64_t batch, rows, cols; };
  // Rows of 13 (result rows spill: one core), several column tiles, several row tiles, both short
  // at the end, and PP-OCRv4 rec's attention keys (8 x [40, 15], a matrix per item over both cores).
  for (const Case &c : {Case{2, 13, 21}, Case{1, 40, 300}, Case{1, 2048, 16}, Case{3, 8, 8}, Case{1, 1000, 260},
                        Case{8, 40, 15}}) {
    SCOPED_TRACE(std::to_string(c.batch) + "x" + std::to_string(c.rows) + "x" + std::to_string(c.cols));
    VectorTransposeKernel k{"t", "t", c.batch, c.rows, c.cols};
    Expected<GeneratedKernel> gen = generateVectorTranspose(edge(), k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    EXPECT_EQ(gen->blockDim, c.rows % 8 ? 1 : 2);
    const size_t n = size_t(c.batch * c.rows * c.cols);
    std::vector<float> x(n + 8); // (+ the plan's tail slack: a row's last block reads past it)
    for (size_t i = 0; i < n; ++i) x[i] = float(int64_t(i % 977) - 400) * 0.25f;
    x[0] = -0.0f, x[1] = INFINITY, x[2] = NAN;
    Device dev(edge());
    uint64_t in = dev.buffer(x), out = dev.buffer(std::vector<float>(n + 8, 99.0f));
    ASSERT_TRUE(runGenerated(dev, *gen, "t", {in, out}, true));
    std::vector<float> got = dev.read<float>(out, n);
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t j = 0; j < c.cols; ++j)
        for (int64_t i = 0; i < c.rows; ++i) {
          const float want = x[size_t((b * c.rows + i) * c.cols + j)], have = got[size_t((b * c.cols + j) * c.rows + i)];
          if (std::isnan(want)) ASSERT_TRUE(std::isnan(have));
          else ASSERT_TRUE(want == have && std::signbit(want) == std::signbit(have)) << b << "," << j << "," << i << ": " << have;
        }
  }
  Expected<GeneratedKernel> refused = generateVectorTranspose(edge(), VectorTransposeKernel{"big", "big", 1, 3001, 7});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "big: a transpose of 3001 x 7 whose rows need several UB tiles and are not whole "
                                     "32-byte blocks has no vector kernel");
}

} // namespace

// Max and average pooling through the npu dialect (two buffer sets of window rows and output
// row, rows outside the map skipped and padded): every output against a direct computation on
// the same fp16 inputs, with the race detector on. Max pooling is exact; the average sums in
// fp16 in tap order then scales, as the kernel does. The last two rows are too long for UB even
// per channel block, so they split into chunks of columns: two blocks, pads on both sides and a
// last chunk shorter than the rest; a 1-D average 200 wide (pads of 10 left and right only).
TEST(PoolKernel, PaddedWindowsOverTwoBufferSets) {
  struct Case {
    bool max;
    int64_t h, w, cp, kh, kw, s, pad, padRows;
    std::string chunks; // how the kernel says it splits the row, if it does
  };
  for (const Case &c : {Case{true, 9, 11, 32, 3, 3, 2, 1, 1, ""}, Case{false, 7, 6, 16, 3, 3, 1, 1, 1, ""},
                        Case{true, 6, 6, 48, 2, 2, 2, 0, 0, ""},
                        Case{true, 3, 9000, 32, 2, 5, 2, 2, 1, "of 16 channels in 6 chunks of 816 pixels"},
                        Case{false, 1, 12000, 16, 1, 200, 1, 10, 0, "in 7 chunks of 1944 pixels"}}) {
    SCOPED_TRACE(std::to_string(c.w) + " pixels");
    PoolKernel k;
    k.name = k.node = "pool";
    k.n = 2;
    k.h = c.h;
    k.w = c.w;
    k.cp = c.cp;
    k.kh = c.kh;
    k.kw = c.kw;
    k.sh = k.sw = c.s;
    k.pl = k.pr = c.pad;
    k.pt = k.pb = c.padRows;
    k.ho = (c.h + 2 * c.padRows - c.kh) / c.s + 1;
    k.wo = (c.w + 2 * c.pad - c.kw) / c.s + 1;
    k.max = c.max;
    Expected<GeneratedKernel> gen = generatePool(edge(), k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    if (!c.chunks.empty()) EXPECT_NE(gen->assembly.find("one output row " + c.chunks + " per item"), std::string::npos) << gen->assembly.substr(0, 400);
    else EXPECT_EQ(gen->assembly.find("chunks of"), std::string::npos);
    const int64_t inCount = k.n * k.h * k.w * k.cp, outCount = k.n * k.ho * k.wo * k.cp;
    std::vector<uint16_t> in(static_cast<size_t>(inCount));
    for (size_t i = 0; i < in.size(); ++i) in[i] = isa::floatToHalf(float(int(i * 37 % 101) - 50) * 0.125f);
    Device dev(edge());
    uint64_t pi = dev.buffer(in), po = dev.buffer(std::vector<uint16_t>(static_cast<size_t>(outCount) + 64, 0x7e00));
    ASSERT_TRUE(runGenerated(dev, *gen, "pool", {pi, po}, true));
    std::vector<uint16_t> out = dev.read<uint16_t>(po, static_cast<size_t>(outCount));
    const uint16_t scale = isa::floatToHalf(1.0f / float(k.kh * k.kw));
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t y = 0; y < k.ho; ++y)
        for (int64_t x = 0; x < k.wo; ++x)
          for (int64_t ch = 0; ch < k.cp; ++ch) {
            float acc = 0;
            for (int64_t dy = 0; dy < k.kh; ++dy)
              for (int64_t dx = 0; dx < k.kw; ++dx) {
                const int64_t iy = y * k.sh - k.pt + dy, ix = x * k.sw - k.pl + dx;
                const bool inside = iy >= 0 && iy < k.h && ix >= 0 && ix < k.w;
                const float v = inside ? isa::halfToFloat(in[size_t(((n * k.h + iy) * k.w + ix) * k.cp + ch)])
                                       : (k.max ? -INFINITY : 0.0f);
                acc = dy == 0 && dx == 0 ? v
                      : k.max            ? std::max(acc, v)
                                         : isa::halfToFloat(isa::floatToHalf(acc + v));
              }
            const uint16_t want = k.max ? isa::floatToHalf(acc)
                                        : isa::floatToHalf(acc * isa::halfToFloat(scale));
            ASSERT_EQ(out[size_t(((n * k.ho + y) * k.wo + x) * k.cp + ch)], want)
                << (k.max ? "max" : "average") << " n " << n << " y " << y << " x " << x << " c " << ch;
          }
  }
}

// A float32 scatter with a reduction keeps the data in UB while the vector unit combines the
// updates into it: data larger than UB (less a repeat of slack) is refused with the sizes, as is a
// reduction ONNX does not have; integer data has no such limit (the scalar unit combines in GM).
TEST(ScatterKernel, FloatReductionsNeedTheDataInUb) {
  ScatterKernel k;
  k.name = k.node = "scatter";
  k.dataShape = {70000};
  k.indicesShape = {3};
  k.floats = true;
  k.reduction = "add";
  Expected<GeneratedKernel> big = generateScatter(edge(), k);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message, "scatter: ScatterElements with reduction 'add' into 280000 bytes of float32 has no "
                                 "kernel yet (the data must fit UB, 261888 bytes)");
  k.floats = false;
  EXPECT_TRUE(generateScatter(edge(), k).ok());
  k.reduction = "sum";
  Expected<GeneratedKernel> sum = generateScatter(edge(), k);
  ASSERT_FALSE(sum.ok());
  EXPECT_EQ(sum.error().message, "scatter: ScatterElements with reduction 'sum' has no kernel");
  k.reduction = "max";
  k.floats = true;
  k.dataShape = {65000};
  EXPECT_TRUE(generateScatter(edge(), k).ok());
}

// Nearest upsampling through the npu dialect (rows through two UB buffers): every output pixel
// against its source pixel, with the race detector on; also into a slot of a wider tensor (the
// channels around it untouched). On a UB of 128 bytes, 2 pixels of 32 channels, rows of 5 go in
// chunks of 2 pixels, the last short (PP-OCRv4 det's 80-pixel rows of 96 channels at an 8 KiB UB
// had no kernel).
TEST(ResizeNearestKernel, RowsThroughTwoBuffers) {
  struct Case { int64_t fy, fx, outCp, outOffset, ubBytes; };
  for (auto [fy, fx, outCp, outOffset, ubBytes] :
       {Case{2, 2, 0, 0, 0}, Case{3, 1, 0, 0, 0}, Case{1, 2, 0, 0, 0}, Case{2, 2, 128, 64, 0}, Case{1, 3, 64, 0, 0},
        Case{2, 2, 0, 0, 128}, Case{2, 3, 64, 32, 128}}) {
    ChipConfig config = edge();
    if (ubBytes) config.buffer(BufferKind::UB).sizeBytes = ubBytes;
    ResizeNearestKernel k;
    k.name = k.node = "resize";
    k.n = 2;
    k.h = 3;
    k.w = 5;
    k.cp = 32;
    k.fy = fy;
    k.fx = fx;
    k.outCp = outCp;
    k.outOffset = outOffset;
    Expected<GeneratedKernel> gen = generateResizeNearest(config, k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    EXPECT_EQ(gen->assembly.find("in chunks of 2 pixels") != std::string::npos, ubBytes != 0) << gen->assembly.substr(0, 200);
    const int64_t cw = outCp ? outCp : k.cp; // the output's channels per pixel
    const int64_t inCount = k.n * k.h * k.w * k.cp, ho = k.h * fy, wo = k.w * fx, outCount = k.n * ho * wo * cw;
    std::vector<uint16_t> in(static_cast<size_t>(inCount));
    for (size_t i = 0; i < in.size(); ++i) in[i] = uint16_t(i * 5 + 1);
    Device dev(config);
    uint64_t pi = dev.buffer(in), po = dev.buffer(std::vector<uint16_t>(static_cast<size_t>(outCount), 0xffff));
    ASSERT_TRUE(runGenerated(dev, *gen, "resize", {pi, po}, true));
    std::vector<uint16_t> out = dev.read<uint16_t>(po, static_cast<size_t>(outCount));
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t y = 0; y < ho; ++y)
        for (int64_t x = 0; x < wo; ++x)
          for (int64_t c = 0; c < cw; ++c) {
            const bool mine = c >= outOffset && c < outOffset + k.cp;
            ASSERT_EQ(out[size_t(((n * ho + y) * wo + x) * cw + c)],
                      mine ? in[size_t(((n * k.h + y / fy) * k.w + x / fx) * k.cp + c - outOffset)] : uint16_t(0xffff))
                << "fy " << fy << " fx " << fx << " slot " << outOffset << " of " << cw << " y " << y << " x " << x << " c " << c;
          }
  }
}

// x (* s) + nearest-upsampled y (rows through two UB buffer sets): every output element against
// the same fp16 steps computed here (x * s rounded, then + y), with the race detector on; rows
// that end mid-repeat (padded in UB), one-sided factors, a width not a multiple of 8 pixels with
// the per-channel scale, one scale vector per image and one for both.
TEST(UpsampleAddKernel, RowsThroughTwoBuffers) {
  struct Case { int64_t fy, fx, w, cp; bool scaled, perImage; };
  for (auto [fy, fx, w, cp, scaled, perImage] :
       {Case{2, 2, 5, 32, false, false}, Case{1, 3, 7, 16, false, false}, Case{3, 1, 4, 48, false, false},
        Case{2, 2, 40, 96, false, false}, Case{2, 2, 5, 32, true, true}, Case{1, 3, 7, 48, true, false},
        Case{2, 2, 40, 96, true, true}}) {
    UpsampleAddKernel k{"upsample_add", "upsample_add", 2, 3, w, cp, fy, fx, scaled, perImage};
    Expected<GeneratedKernel> gen = generateUpsampleAdd(edge(), k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    const int64_t ho = k.h * fy, wo = w * fx, count = k.n * ho * wo * cp;
    std::vector<uint16_t> x(static_cast<size_t>(count)), y(static_cast<size_t>(k.n * k.h * w * cp));
    std::vector<uint16_t> s(static_cast<size_t>((perImage ? k.n : 1) * cp));
    for (size_t i = 0; i < x.size(); ++i) x[i] = isa::floatToHalf(float(int(i % 61) - 30) * 0.125f);
    for (size_t i = 0; i < y.size(); ++i) y[i] = isa::floatToHalf(float(int(i % 37) - 18) * 0.0625f);
    for (size_t i = 0; i < s.size(); ++i) s[i] = isa::floatToHalf(0.3f + 0.01f * float(i));
    Device dev(edge());
    std::vector<uint64_t> args = {dev.buffer(x)};
    if (scaled) args.push_back(dev.buffer(s));
    args.push_back(dev.buffer(y));
    args.push_back(dev.buffer(std::vector<uint16_t>(static_cast<size_t>(count), 0xffff)));
    ASSERT_TRUE(runGenerated(dev, *gen, "upsample_add", args, true));
    std::vector<uint16_t> out = dev.read<uint16_t>(args.back(), static_cast<size_t>(count));
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t r = 0; r < ho; ++r)
        for (int64_t c = 0; c < wo; ++c)
          for (int64_t ch = 0; ch < cp; ++ch) {
            const size_t at = size_t(((n * ho + r) * wo + c) * cp + ch);
            float xv = isa::halfToFloat(x[at]);
            if (scaled) xv = isa::halfToFloat(isa::floatToHalf(xv * isa::halfToFloat(s[size_t((perImage ? n * cp : 0) + ch)])));
            const float want = xv + isa::halfToFloat(y[size_t(((n * k.h + r / fy) * w + c / fx) * cp + ch)]);
            ASSERT_EQ(out[at], isa::floatToHalf(want)) << "fy " << fy << " fx " << fx << " w " << w << " scaled " << scaled
                                                       << " row " << r << " column " << c << " channel " << ch;
          }
  }
  // A row too wide for UB says so (and names the kernel).
  UpsampleAddKernel wide{"too_wide", "too_wide", 1, 2, 4000, 96, 2, 2};
  Expected<GeneratedKernel> gen = generateUpsampleAdd(edge(), wide);
  ASSERT_FALSE(gen.ok());
  EXPECT_NE(gen.error().message.find("too_wide: UB overflow"), std::string::npos) << gen.error().message;
}

// Per-channel operations through the npu dialect: a per-image scale, a shared shift and a
// vector-first subtraction over chunks of pixels (the last chunk of each image short), every
// output against the same fp16 steps computed here, with the race detector on; also into a slot
// of a wider tensor (the channels around it untouched). On a UB too small for two buffers of 8
// pixels a set (4 KiB, 96 channels) the steps run in place; too small for one (2 KiB), in groups
// of channel blocks (PP-OCRv4's squeeze-excitation scales at a 16 or 8 KiB UB had no kernel).
TEST(ChannelOpKernel, PerImageAndSharedVectors) {
  struct Case { int64_t cp, outCp, outOffset, ubBytes; const char *header; };
  for (auto [cp, outCp, outOffset, ubBytes, header] :
       {Case{48, 0, 0, 0, nullptr}, Case{48, 128, 64, 0, nullptr}, Case{48, 64, 0, 0, nullptr},
        Case{96, 0, 0, 4 << 10, "chunks of 8 (in place)"}, Case{96, 0, 0, 2 << 10, "(in place) in 3 groups of 32 channels"},
        Case{96, 160, 32, 2 << 10, "(in place) in 3 groups of 32 channels, into channels 32.. of 160"}}) {
    ChipConfig config = edge();
    if (ubBytes) config.buffer(BufferKind::UB).sizeBytes = ubBytes;
    ChannelOpKernel k;
    k.name = k.node = "channel_op";
    k.n = 2;
    k.cp = cp;
    k.steps = {{"vmul.f16", true, false}, {"vadd.f16", false, false}, {"vsub.f16", false, true}};
    k.outCp = outCp;
    k.outOffset = outOffset;
    k.pixels = 1 << 20; // learn the chunk size, then use 2.5 chunks per image
    Expected<GeneratedKernel> gen = generateChannelOp(config, k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    if (header) {
      EXPECT_NE(gen->assembly.find(header), std::string::npos) << gen->assembly.substr(0, 200);
    } else {
      EXPECT_EQ(gen->assembly.find("in place"), std::string::npos) << gen->assembly.substr(0, 200);
    }
    const int64_t chunk = std::stoll(gen->assembly.substr(gen->assembly.find("chunks of ") + 10));
    k.pixels = chunk * 5 / 2;
    gen = generateChannelOp(config, k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    auto half = [](float v) { return isa::floatToHalf(v); };
    std::vector<uint16_t> x(static_cast<size_t>(k.n * k.pixels * k.cp)), scale(size_t(k.n * k.cp)), shift(size_t(k.cp)),
        minuend(size_t(k.cp));
    for (size_t i = 0; i < x.size(); ++i) x[i] = half(float(int(i % 23) - 11) * 0.5f);
    for (size_t i = 0; i < scale.size(); ++i) scale[i] = half(0.25f * float(int(i % 7) + 1));
    for (size_t i = 0; i < shift.size(); ++i) shift[i] = half(float(int(i % 5)) - 2.0f);
    for (size_t i = 0; i < minuend.size(); ++i) minuend[i] = half(float(i % 3));
    const int64_t cw = outCp ? outCp : k.cp; // the output's channels per pixel
    const size_t outCount = size_t(k.n * k.pixels * cw);
    Device dev(config);
    uint64_t px = dev.buffer(x), ps = dev.buffer(scale), pt = dev.buffer(shift), pm = dev.buffer(minuend);
    uint64_t po = dev.buffer(std::vector<uint16_t>(outCount + 16 * size_t(cw), 0x7e00));
    ASSERT_TRUE(runGenerated(dev, *gen, "channel_op", {px, ps, pt, pm, po}, true));
    std::vector<uint16_t> out = dev.read<uint16_t>(po, outCount);
    auto f = [](uint16_t h) { return isa::halfToFloat(h); };
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t p = 0; p < k.pixels; ++p)
        for (int64_t c = 0; c < cw; ++c) {
          const size_t o = size_t((n * k.pixels + p) * cw + c);
          if (c < outOffset || c >= outOffset + k.cp) {
            ASSERT_EQ(out[o], 0x7e00) << "slot " << outOffset << " of " << cw << " pixel " << p << " c " << c;
            continue;
          }
          const int64_t ch = c - outOffset;
          const size_t i = size_t((n * k.pixels + p) * k.cp + ch);
          const uint16_t scaled = half(f(x[i]) * f(scale[size_t(n * k.cp + ch)]));
          const uint16_t shifted = half(f(scaled) + f(shift[size_t(ch)]));
          ASSERT_EQ(out[o], half(f(minuend[size_t(ch)]) - f(shifted)))
              << "slot " << outOffset << " of " << cw << " n " << n << " pixel " << p << " c " << ch;
        }
  }
}

// Global average pooling through the npu dialect: one image's channels split over both cores
// (channel groups), chunks of pixels alternating between two buffer sets, a short last chunk
// (2051 pixels: two chunks of 1024 and 3 pixels in the first set again, whose 64-lane repeats
// reach past them into the first chunk's values). Inputs are multiples of 1/4 small enough that every f32 sum is exact in any order, so the
// result is the exact mean rounded as the kernel does (times 1/pixels in f32, then to f16).
TEST(GlobalAvgPoolKernel, ChannelGroupsAndChunks) {
  struct Case {
    int64_t n, pixels, cp;
    const char *groups;
  };
  for (const Case &c : {Case{1, 1000, 96, "2 channel group(s)"}, Case{2, 37, 48, "1 channel group(s)"},
                        Case{1, 3, 32, "2 channel group(s)"}, Case{1, 2051, 32, "chunks of 1024"}}) {
    GlobalAvgPoolKernel k;
    k.name = k.node = "gap";
    k.n = c.n;
    k.pixels = c.pixels;
    k.cp = c.cp;
    Expected<GeneratedKernel> gen = generateGlobalAvgPool(edge(), k);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    EXPECT_NE(gen->assembly.find(c.groups), std::string::npos) << gen->assembly.substr(0, 200);
    std::vector<uint16_t> in(static_cast<size_t>(k.n * k.pixels * k.cp));
    for (size_t i = 0; i < in.size(); ++i) in[i] = isa::floatToHalf(float(int(i * 13 % 61) - 30) * 0.25f);
    Device dev(edge());
    uint64_t pi = dev.buffer(in), po = dev.buffer(std::vector<uint16_t>(static_cast<size_t>(k.n * k.cp) + 16, 0x7e00));
    ASSERT_TRUE(runGenerated(dev, *gen, "gap", {pi, po}, true));
    std::vector<uint16_t> out = dev.read<uint16_t>(po, static_cast<size_t>(k.n * k.cp));
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t ch = 0; ch < k.cp; ++ch) {
        float sum = 0;
        for (int64_t p = 0; p < k.pixels; ++p) sum += isa::halfToFloat(in[size_t((n * k.pixels + p) * k.cp + ch)]);
        ASSERT_EQ(out[size_t(n * k.cp + ch)], isa::floatToHalf(sum * (1.0f / float(k.pixels))))
            << "pixels " << k.pixels << " n " << n << " c " << ch;
      }
  }
}

// Channel concatenation through the npu dialect: two inputs (one contributing only its first
// blocks) and a zero piece, pixels in chunks through two buffer sets; every output block against
// its source, with the race detector on.
TEST(ChannelConcatKernel, PiecesAndZeros) {
  ChannelConcatKernel k;
  k.name = k.node = "concat";
  k.numInputs = 2;
  k.outBlocks = 5;
  k.pieces = {{0, 2, 2, 0}, {-1, 0, 1, 2}, {1, 3, 2, 3}};
  k.pixels = 1 << 20; // learn the chunk size, then use 2.5 chunks
  Expected<GeneratedKernel> gen = generateChannelConcat(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  const int64_t chunk = 65535 / 3; // bounded by one DMA of the widest source
  k.pixels = std::min<int64_t>(chunk, (edge().buffer(BufferKind::UB).sizeBytes - 256) / ((2 * 5 + 1) * 32)) * 5 / 2;
  gen = generateChannelConcat(edge(), k);
  ASSERT_TRUE(gen.ok()) << gen.error().message;
  ASSERT_NE(gen->assembly.find("3 chunk(s)"), std::string::npos) << gen->assembly.substr(0, 200);
  std::vector<uint16_t> a(static_cast<size_t>(k.pixels * 32)), b(static_cast<size_t>(k.pixels * 48));
  for (size_t i = 0; i < a.size(); ++i) a[i] = uint16_t(i % 9973 + 1);
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint16_t(i % 7919 + 20000);
  Device dev(edge());
  uint64_t pa = dev.buffer(a), pb = dev.buffer(b);
  uint64_t po = dev.buffer(std::vector<uint16_t>(static_cast<size_t>(k.pixels * 80), 0xffff));
  ASSERT_TRUE(runGenerated(dev, *gen, "concat", {pa, pb, po}, true));
  std::vector<uint16_t> out = dev.read<uint16_t>(po, static_cast<size_t>(k.pixels * 80));
  for (int64_t p = 0; p < k.pixels; ++p)
    for (int64_t c = 0; c < 80; ++c) {
      const uint16_t want = c < 32 ? a[size_t(p * 32 + c)] : c < 48 ? uint16_t(0) : b[size_t(p * 48 + c - 48)];
      ASSERT_EQ(out[size_t(p * 80 + c)], want) << "pixel " << p << " channel " << c;
    }
}
