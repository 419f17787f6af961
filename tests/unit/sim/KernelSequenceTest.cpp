// Kernel sequences (isa/KernelSequence.h): two kernels joined into one launch give the bits they
// give launched one after the other, in every mode, and so do their segments run functionally.
#include "SimTestUtil.h"

#include "fractal/isa/KernelSequence.h"

#include <algorithm>

namespace fractal::sim::testing {
namespace {

constexpr int kItems = 4;          // 128 halves each, spread over the blocks
constexpr size_t kHalves = kItems * 128;

// A data section's 128 copies of `value` (one item's worth), 16 to a line.
std::string halves(const std::string &value) {
  std::string row = "  .f16 " + value;
  for (int i = 1; i < 16; ++i) row += ", " + value;
  std::string rows;
  for (int r = 0; r < 8; ++r) rows += row + "\n";
  return rows;
}

// The loop over items x4 < x9 (stride x5) from x2 to x3: an item into UB at 0, `compute` (from
// UB 0 and the constants at x10 into x13), out; then the label `done`.
std::string itemLoop(const std::string &compute) {
  return "  bge x4, x9, done\n  muli x7, x4, 256\n  add x8, x2, x7\n  gm2ub ub[x0], gm[x8], len=8\n  barrier all\n" +
         compute + "  barrier all\n  add x8, x3, x7\n  ub2gm gm[x8], ub[x13], len=8\n  barrier all\n" +
         "  add x4, x4, x5\n  jmp loop\ndone:";
}

// The registers itemLoop reads, from argument words 0 (input) and 1 (output) and the block.
const std::string kItemRegisters = R"(  mfsr x1, args
  ld x2, gm[x1], offset=0
  ld x3, gm[x1], offset=8
  mfsr x4, block_idx
  mfsr x5, block_dim
  li x9, 4
)";

// out = in + 1 (the ones from its data section). It leaves x20 = 1 and the vector mask at 64
// lanes behind, and ends early on blocks without items: what the next part must not see.
const std::string kAddOne = R"(
.node "add_one"
)" + kItemRegisters + R"(  li x20, 1
  bge x4, x9, early
  jmp start
early:
  end
start:
  mfsr x6, data_base
  li x10, 256
  li x13, 512
  gm2ub ub[x10], gm[x6], len=8
loop:
)" + itemLoop("  vadd.f16 ub[x13], ub[x0], ub[x10], repeat=1\n") + R"(
  li x11, -1
  setmask x0, x11
  end
.data
ones:
)" + halves("1.0");

// out = 2 in + 0.25 (from its data section, after 64 bytes of something else). Its item counter
// starts from x20 without setting it, and it uses the mask as a launch leaves it (all lanes).
const std::string kDoublePlusQuarter = R"(
.node "double_plus_quarter"
  mfsr x1, args
  ld x2, gm[x1], offset=0
  ld x3, gm[x1], offset=8
  mfsr x4, block_idx
  add x4, x4, x20
  mfsr x5, block_dim
  li x9, 4
  mfsr x6, data_base
  addi x6, x6, quarters
  li x10, 256
  li x13, 512
  gm2ub ub[x10], gm[x6], len=8
loop:
)" + itemLoop("  vadd.f16 ub[x13], ub[x0], ub[x0], repeat=1\n  barrier v\n"
              "  vadd.f16 ub[x13], ub[x13], ub[x10], repeat=1\n") + R"(
  end
.data
  .zero 64
quarters:
)" + halves("0.25");

struct Buffers {
  uint64_t in, middle, out;
};

Buffers buffers(Device &d, const std::vector<uint16_t> &in) {
  return {d.buffer(in), d.buffer(std::vector<uint16_t>(kHalves, 0)), d.buffer(std::vector<uint16_t>(kHalves, 0))};
}

SimOptions options(SimMode mode, int64_t blockDim, bool races = false) {
  SimOptions o;
  o.mode = mode;
  o.blockDim = blockDim;
  o.checkRaces = races;
  return o;
}

class KernelSequenceTest : public ::testing::Test {
protected:
  void SetUp() override {
    addOne = assembleText(kAddOne);
    doublePlusQuarter = assembleText(kDoublePlusQuarter);
    Expected<isa::KernelBinary> s =
        isa::sequenceKernels({{&addOne, 0}, {&doublePlusQuarter, 16}}, "two.s", &ranges);
    ASSERT_TRUE(s.ok()) << s.error().message;
    joined = *s;
    input = randomHalves(kHalves, 7);
    // The two kernels launched one after the other on both cores: the reference.
    Device d;
    Buffers b = buffers(d, input);
    ASSERT_TRUE(d.run(addOne, {b.in, b.middle}, options(SimMode::Functional, 2)).ok());
    ASSERT_TRUE(d.run(doublePlusQuarter, {b.middle, b.out}, options(SimMode::Functional, 2)).ok());
    middle = d.read<uint16_t>(b.middle, kHalves);
    expected = d.read<uint16_t>(b.out, kHalves);
  }

  isa::KernelBinary addOne, doublePlusQuarter, joined;
  std::vector<isa::SequenceRange> ranges;
  std::vector<uint16_t> input, middle, expected;
};

TEST_F(KernelSequenceTest, TheTwoKernelsComputeWhatTheySay) {
  for (size_t i = 0; i < kHalves; ++i) {
    const float x = isa::halfToFloatReference(input[i]);
    ASSERT_NEAR(isa::halfToFloatReference(middle[i]), x + 1.0f, 2e-3f) << i;
    ASSERT_NEAR(isa::halfToFloatReference(expected[i]), 2.0f * (x + 1.0f) + 0.25f, 1e-2f) << i;
  }
}

TEST_F(KernelSequenceTest, OneLaunchOnOneCoreGivesTheSameBitsInEveryMode) {
  for (SimOptions o : {options(SimMode::Functional, 1), options(SimMode::Timing, 1),
                       options(SimMode::Functional, 1, /*races=*/true), options(SimMode::Timing, 1, true)}) {
    Device d;
    Buffers b = buffers(d, input);
    Expected<RunResult> r = d.run(joined, {b.in, b.middle, b.middle, b.out}, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(d.read<uint16_t>(b.middle, kHalves), middle);
    EXPECT_EQ(d.read<uint16_t>(b.out, kHalves), expected);
    if (o.mode == SimMode::Timing) {
      EXPECT_GT(r->cycles, 0u);
    }
  }
}

TEST_F(KernelSequenceTest, SegmentsRunFunctionallyAtTheirOwnBlockDim) {
  ASSERT_EQ(ranges.size(), 2u);
  // Between the parts: a barrier, li + setmask (all lanes), setfmap and 31 register clears.
  EXPECT_EQ(ranges[0].entry, 0u);
  EXPECT_EQ(ranges[1].entry, ranges[0].end + 35u);
  EXPECT_EQ(ranges[1].end + 1u, joined.code.size());
  Device d;
  Buffers b = buffers(d, input);
  LaunchInfo launch;
  launch.args = d.buffer(std::vector<uint64_t>{b.in, b.middle, b.middle, b.out});
  Expected<uint64_t> data = d.sim.loadKernelData(joined, "joined");
  ASSERT_TRUE(data.ok());
  launch.dataBase = *data;
  for (const isa::SequenceRange &range : ranges) {
    launch.entryPc = range.entry;
    launch.endPc = range.end;
    Expected<RunResult> r = d.sim.run(joined, launch, options(SimMode::Functional, 2));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  EXPECT_EQ(d.read<uint16_t>(b.middle, kHalves), middle);
  EXPECT_EQ(d.read<uint16_t>(b.out, kHalves), expected);

  // A segment in timing mode would skip what the one-core launch does between parts: refused.
  Expected<RunResult> timed = d.sim.run(joined, launch, options(SimMode::Timing, 2));
  ASSERT_FALSE(timed.ok());
  EXPECT_NE(timed.error().message.find("runs only in functional mode"), std::string::npos) << timed.error().message;
  launch.endPc = joined.code.size() + 1;
  Expected<RunResult> outside = d.sim.run(joined, launch, options(SimMode::Functional, 2));
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("is not inside its"), std::string::npos) << outside.error().message;
}

TEST_F(KernelSequenceTest, PartsWithTheSameDataShareOneCopy) {
  // add_one, double_plus_quarter, add_one: the third part's data (128 ones) is the first's bytes,
  // so it reads the first's copy: the data section holds two parts' data, not three, and the
  // launch still computes 2 (x + 1) + 0.25 + 1 in every mode.
  std::vector<isa::SequenceRange> three;
  Expected<isa::KernelBinary> s = isa::sequenceKernels(
      {{&addOne, 0}, {&doublePlusQuarter, 16}, {&addOne, 32}}, "three.s", &three);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->data.size(), 512u + doublePlusQuarter.data.size()); // ones at 0, quarters at 512
  for (const isa::Symbol &sym : s->symbols)
    if (sym.name == "p2.ones") EXPECT_EQ(sym.value, 0u);
  Device ref; // the third part alone, on the first two's result
  const uint64_t from = ref.buffer(expected), to = ref.buffer(std::vector<uint16_t>(kHalves, 0));
  ASSERT_TRUE(ref.run(addOne, {from, to}, options(SimMode::Functional, 1)).ok());
  const std::vector<uint16_t> want = ref.read<uint16_t>(to, kHalves);
  for (SimOptions o : {options(SimMode::Functional, 1), options(SimMode::Timing, 1)}) {
    Device d;
    Buffers c = buffers(d, input);
    const uint64_t last = d.buffer(std::vector<uint16_t>(kHalves, 0));
    ASSERT_TRUE(d.run(*s, {c.in, c.middle, c.middle, c.out, c.out, last}, o).ok());
    EXPECT_EQ(d.read<uint16_t>(c.out, kHalves), expected);
    EXPECT_EQ(d.read<uint16_t>(last, kHalves), want);
  }
}

TEST_F(KernelSequenceTest, SymbolsAndTheDebugMapFollowTheCode) {
  EXPECT_EQ(joined.noteOf(ranges[0].entry), "add_one");
  EXPECT_EQ(joined.noteOf(ranges[1].entry), "double_plus_quarter");
  EXPECT_EQ(joined.noteOf(ranges[1].end - 1), "double_plus_quarter");
  bool sawLoop = false, sawQuarters = false;
  for (const isa::Symbol &s : joined.symbols) {
    if (s.name == "p1.loop") {
      sawLoop = true;
      EXPECT_EQ(joined.code.at(s.value).opcode, isa::Opcode::Bge);
    }
    if (s.name == "p1.quarters") {
      sawQuarters = true;
      EXPECT_EQ(s.value, 512u + 64u); // the first part's 256 bytes of data, aligned to 512
    }
  }
  EXPECT_TRUE(sawLoop);
  EXPECT_TRUE(sawQuarters);
}

// Cross-core barriers (KernelSequence.h): in the first part block i waits (block_dim - i) x 300
// loop turns and stores (i + 1) x 10 in slot i; in the second, block i copies slot (i + 1) mod
// block_dim to result i. Joined without barriers the last block, which waits least, reads its
// neighbour's slot before block 0 has written it; with them every block reads what was written.
const std::string kWriteSlot = R"(
.node "write"
  mfsr x1, args
  ld x2, gm[x1], offset=0
  mfsr x4, block_idx
  mfsr x5, block_dim
  sub x6, x5, x4
  muli x7, x6, 300
delay:
  dbnz x7, delay
  addi x8, x4, 1
  muli x8, x8, 10
  muli x9, x4, 8
  add x9, x2, x9
  st x8, gm[x9]
  end
)";
const std::string kReadNeighbour = R"(
.node "read"
  mfsr x1, args
  ld x2, gm[x1], offset=0
  ld x3, gm[x1], offset=8
  mfsr x4, block_idx
  mfsr x5, block_dim
  addi x6, x4, 1
  rem x6, x6, x5
  muli x6, x6, 8
  add x6, x2, x6
  ld x7, gm[x6]
  muli x8, x4, 8
  add x8, x3, x8
  st x7, gm[x8]
  end
)";

TEST(KernelSequenceBarrier, BlocksOnSeveralCoresWaitForEachOther) {
  const isa::KernelBinary write = assembleText(kWriteSlot), read = assembleText(kReadNeighbour);
  const isa::SequenceBarrier barrier{3 * 8}; // after the three argument words
  Expected<isa::KernelBinary> joined = isa::sequenceKernels({{&write, 0}, {&read, 8}}, "cross.s", nullptr, &barrier);
  ASSERT_TRUE(joined.ok()) << joined.error().message;
  Expected<isa::KernelBinary> unsynced = isa::sequenceKernels({{&write, 0}, {&read, 8}}, "cross.s");
  ASSERT_TRUE(unsynced.ok());
  EXPECT_EQ(isa::barrierRounds(2), 1);
  EXPECT_EQ(isa::barrierRounds(5), 3);
  EXPECT_EQ(isa::barrierFlagBytes(5), 3u * 5 * isa::kBarrierFlagStride);
  Expected<ChipConfig> cloud = loadChipConfig("cloud");
  ASSERT_TRUE(cloud.ok());
  // Two blocks on the edge chip (one round), five on the cloud chip (three rounds, not a power of two).
  for (const auto &[config, blocks] : {std::pair<ChipConfig, int64_t>{edge(), 2}, {*cloud, 5}}) {
    for (bool synced : {true, false}) {
      Device d(config);
      const uint64_t slots = d.buffer(std::vector<uint64_t>(size_t(blocks), 0));
      const uint64_t results = d.buffer(std::vector<uint64_t>(size_t(blocks), 0));
      std::vector<uint64_t> args = {slots, slots, results};
      args.resize(args.size() + isa::barrierFlagBytes(blocks) / 8, 0); // the zeroed flags
      LaunchInfo launch;
      launch.args = d.buffer(args);
      Expected<RunResult> r = d.sim.run(synced ? *joined : *unsynced, launch, options(SimMode::Timing, blocks));
      ASSERT_TRUE(r.ok()) << r.error().message;
      const std::vector<uint64_t> got = d.read<uint64_t>(results, size_t(blocks));
      std::vector<uint64_t> want;
      for (int64_t i = 0; i < blocks; ++i) want.push_back(uint64_t((i + 1) % blocks + 1) * 10);
      if (synced) {
        EXPECT_EQ(got, want) << config.name;
        // Block 0 alone waits blocks x 300 turns of a two-cycle-at-least loop before its store.
        EXPECT_GT(r->cycles, uint64_t(blocks) * 300 * 2) << config.name;
        // The last block waits for block 0 spinning on a flag: counted as that, not as work.
        // Block 0 arrives last and finds each round's flag set: one load a round.
        EXPECT_GT(r->cores[size_t(blocks - 1)].flagSpinCycles, 300u * 2) << config.name;
        EXPECT_EQ(r->cores[0].flagSpinCycles,
                  uint64_t(isa::barrierRounds(blocks) * (config.core.scalarGmLatencyCycles + config.core.scalarCyclesPerInstruction)))
            << config.name;
      } else {
        EXPECT_EQ(got.back(), 0u) << config.name << ": the test would not see a missing barrier";
      }
    }
  }
}

// On a chip that synchronises its cores in hardware (chip.cross_core_sync_cycles), the barrier is
// one sync_all: every block reads what its neighbour wrote, with no flags in GM, and the blocks
// leave the sync together, its latency after the last one (block 0) arrives. Where it cannot
// work it says why: a chip without the hardware, more blocks than cores, a block that never
// arrives (a deadlock naming the sync_all); and the functional engine (below).
TEST(KernelSequenceBarrier, HardwareSyncAllJoinsTheBlocks) {
  const isa::KernelBinary write = assembleText(kWriteSlot), read = assembleText(kReadNeighbour);
  isa::SequenceBarrier barrier{3 * 8, 2};
  barrier.hardware = true;
  Expected<isa::KernelBinary> joined = isa::sequenceKernels({{&write, 0}, {&read, 8}}, "sync.s", nullptr, &barrier);
  ASSERT_TRUE(joined.ok()) << joined.error().message;
  EXPECT_EQ(std::count_if(joined->code.begin(), joined->code.end(),
                          [](const isa::Instruction &i) { return i.opcode == isa::Opcode::SyncAll; }),
            1);
  EXPECT_TRUE(std::none_of(joined->code.begin(), joined->code.end(),
                           [](const isa::Instruction &i) { return i.opcode == isa::Opcode::Dcci; }));
  ChipConfig synced = edge();
  synced.chip.crossCoreSyncCycles = 50;
  auto run = [&](const ChipConfig &config, SimMode mode, int64_t blocks, const isa::KernelBinary &kernel,
                 std::vector<uint64_t> *results) -> Expected<RunResult> {
    Device d(config);
    const uint64_t slots = d.buffer(std::vector<uint64_t>(size_t(blocks), 0));
    const uint64_t out = d.buffer(std::vector<uint64_t>(size_t(blocks), 0));
    LaunchInfo launch;
    launch.args = d.buffer(std::vector<uint64_t>{slots, slots, out});
    Expected<RunResult> r = d.sim.run(kernel, launch, options(mode, blocks));
    if (results) *results = d.read<uint64_t>(out, size_t(blocks));
    return r;
  };
  std::vector<uint64_t> got;
  Expected<RunResult> r = run(synced, SimMode::Timing, 2, *joined, &got);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(got, (std::vector<uint64_t>{20, 10}));
  // Block 1 waits for block 0 (2 x 300 turns of its delay loop, 1 x 300 of its own) and the sync.
  EXPECT_GT(r->cores[1].syncWaitCycles, 300u * 2);
  EXPECT_GE(r->cores[0].syncWaitCycles, 50u);
  EXPECT_LT(r->cores[0].syncWaitCycles, 60u) << "the last to arrive waits only for the sync's latency";
  EXPECT_EQ(r->cores[0].flagSpinCycles + r->cores[1].flagSpinCycles, 0u);

  Expected<RunResult> without = run(edge(), SimMode::Timing, 2, *joined, nullptr);
  ASSERT_FALSE(without.ok());
  EXPECT_NE(without.error().message.find("sync_all on a chip without hardware cross-core synchronisation "
                                         "(chip.cross_core_sync_cycles is 0 in config 'edge')"),
            std::string::npos) << without.error().message;
  Expected<RunResult> wide = run(synced, SimMode::Timing, 3, *joined, nullptr);
  ASSERT_FALSE(wide.ok());
  EXPECT_NE(wide.error().message.find("sync_all with block_dim 3 on 2 cores"), std::string::npos) << wide.error().message;
  // Block 1 ends before the sync_all block 0 waits at.
  const isa::KernelBinary lonely = assembleText(R"(
  mfsr x4, block_idx
  bne x4, x0, skip
  sync_all
skip:
  end
)");
  Expected<RunResult> stuck = run(synced, SimMode::Timing, 2, lonely, nullptr);
  ASSERT_FALSE(stuck.ok());
  EXPECT_NE(stuck.error().message.find("waits for every block to reach sync_all #1"), std::string::npos)
      << stuck.error().message;
}

// The functional engine runs blocks one after another: a sync_all there is refused. (A test of
// its own: a fault thrown after SystemC has switched stacks in the same process trips ASan's
// google/sanitizers#189, see the Makefile's ASAN_SKIP.)
TEST(KernelSequenceBarrier, SyncAllRunsOnlyInTimingMode) {
  ChipConfig synced = edge();
  synced.chip.crossCoreSyncCycles = 50;
  Device d(synced);
  Expected<RunResult> r = d.sim.run(assembleText("  sync_all\n  end\n"), LaunchInfo{}, options(SimMode::Functional, 2));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("sync_all: blocks that wait for each other run only in timing or rtl mode"),
            std::string::npos) << r.error().message;
}

// A part made for fewer blocks than the launch runs on those only, and reads its own block_dim:
// `read` made for one block copies slot (0 + 1) mod 1 = 0 on block 0; block 1 skips it. Between
// two such parts there is no cross-core barrier.
TEST(KernelSequenceBarrier, APartMadeForFewerBlocksRunsOnThoseOnly) {
  const isa::KernelBinary write = assembleText(kWriteSlot), read = assembleText(kReadNeighbour);
  const isa::SequenceBarrier barrier{3 * 8, 2};
  std::vector<isa::SequenceRange> ranges;
  Expected<isa::KernelBinary> joined =
      isa::sequenceKernels({{&write, 0, 2}, {&read, 8, 1}}, "narrow.s", &ranges, &barrier);
  ASSERT_TRUE(joined.ok()) << joined.error().message;
  ASSERT_EQ(ranges.size(), 2u);
  // Runs `kernel` on two blocks with the slots holding `initial`: the results and the slots after.
  auto run = [&](const isa::KernelBinary &kernel, std::vector<uint64_t> initial) {
    Device d;
    const uint64_t slots = d.buffer(initial), results = d.buffer(std::vector<uint64_t>(2, 77));
    std::vector<uint64_t> args = {slots, slots, results};
    args.resize(args.size() + isa::barrierFlagBytes(2) / 8, 0);
    LaunchInfo launch;
    launch.args = d.buffer(args);
    Expected<RunResult> r = d.sim.run(kernel, launch, options(SimMode::Timing, 2));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return std::pair{d.read<uint64_t>(results, 2), d.read<uint64_t>(slots, 2)};
  };
  EXPECT_EQ(run(*joined, {0, 0}).first, (std::vector<uint64_t>{10, 77}));
  // Made for one block first: block 1 skips it, then both meet at the barrier.
  Expected<isa::KernelBinary> first =
      isa::sequenceKernels({{&read, 8, 1}, {&write, 0, 2}}, "narrow-first.s", nullptr, &barrier);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(run(*first, {5, 6}), std::pair(std::vector<uint64_t>{5, 77}, std::vector<uint64_t>{10, 20}));
  // Two one-block parts in a row run on block 0 in order: one cross-core barrier (a spin's dcci)
  // before the first, none between them, and block 1 still arrives at the end.
  Expected<isa::KernelBinary> pair =
      isa::sequenceKernels({{&write, 0, 2}, {&read, 8, 1}, {&read, 8, 1}}, "narrow-pair.s", nullptr, &barrier);
  ASSERT_TRUE(pair.ok()) << pair.error().message;
  EXPECT_EQ(std::count_if(pair->code.begin(), pair->code.end(),
                          [](const isa::Instruction &i) { return i.opcode == isa::Opcode::Dcci; }),
            1);
  EXPECT_EQ(run(*pair, {0, 0}).first, (std::vector<uint64_t>{10, 77}));
}

// out = in + w, w (one item's worth) from argument word 2: a kernel with weights.
const std::string kPlusWeights = R"(
.node "plus_weights"
)" + kItemRegisters + R"(  ld x6, gm[x1], offset=16
  li x10, 256
  li x13, 512
  gm2ub ub[x10], gm[x6], len=8
loop:
)" + itemLoop("  vadd.f16 ub[x13], ub[x0], ub[x10], repeat=1\n") + R"(
  end
)";

// Early loads (KernelSequence.h): a part's copy of read-only data is issued before the
// cross-core barrier in front of it (a copy of a writable argument is not), the launch gives the
// bits of the two kernels launched one after the other, sooner, and so do the parts run alone.
TEST_F(KernelSequenceTest, ReadOnlyCopiesStartBeforeTheCrossCoreBarrier) {
  const isa::KernelBinary plusWeights = assembleText(kPlusWeights);
  const std::vector<uint16_t> weights = randomHalves(128, 9);
  Device ref;
  Buffers rb = buffers(ref, input);
  const uint64_t rw = ref.buffer(weights);
  ASSERT_TRUE(ref.run(addOne, {rb.in, rb.middle}, options(SimMode::Functional, 2)).ok());
  ASSERT_TRUE(ref.run(plusWeights, {rb.middle, rb.out, rw}, options(SimMode::Functional, 2)).ok());
  const std::vector<uint16_t> want = ref.read<uint16_t>(rb.out, kHalves);

  const isa::SequenceBarrier barrier{5 * 8, 2}; // after the five argument words
  uint64_t cycles[2] = {0, 0};
  for (bool readOnly : {true, false}) {
    std::vector<isa::SequenceRange> ranges;
    Expected<isa::KernelBinary> seq = isa::sequenceKernels(
        {{&addOne, 0, 2, {false, false}}, {&plusWeights, 16, 2, {false, false, readOnly}}}, "early.s", &ranges, &barrier);
    ASSERT_TRUE(seq.ok()) << seq.error().message;
    // Between the first part's end and the barrier's spin (its dcci): the weights' copy, or not.
    size_t spin = ranges[0].end;
    while (seq->code.at(spin).opcode != isa::Opcode::Dcci) ++spin;
    size_t early = 0;
    for (size_t pc = ranges[0].end; pc < spin; ++pc) early += seq->code[pc].opcode == isa::Opcode::Gm2Ub;
    EXPECT_EQ(early, readOnly ? 1u : 0u);
    EXPECT_EQ(ranges[1].entry < spin, readOnly) << "the part's range starts at its early loads";
    size_t inPlace = 0;
    for (size_t pc = spin; pc < ranges[1].end; ++pc) inPlace += seq->code[pc].opcode == isa::Opcode::Gm2Ub;
    EXPECT_EQ(inPlace, readOnly ? 1u : 2u) << "the item loop's copy stays; the weights' becomes a nop";

    for (bool races : {false, true}) {
      Device d;
      Buffers b = buffers(d, input);
      std::vector<uint64_t> args = {b.in, b.middle, b.middle, b.out, d.buffer(weights)};
      args.resize(args.size() + isa::barrierFlagBytes(2) / 8, 0);
      LaunchInfo launch;
      launch.args = d.buffer(args);
      Expected<uint64_t> data = d.sim.loadKernelData(*seq, "early");
      ASSERT_TRUE(data.ok());
      launch.dataBase = *data;
      Expected<RunResult> r = d.sim.run(*seq, launch, options(SimMode::Timing, 2, races));
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_EQ(d.read<uint16_t>(b.out, kHalves), want) << (readOnly ? "early" : "in place");
      cycles[readOnly ? 0 : 1] = r->cycles;
    }
    // Each part alone, functionally (x1 = 0: the early loads, then no barrier).
    Device f;
    Buffers b = buffers(f, input);
    LaunchInfo launch;
    launch.args = f.buffer(std::vector<uint64_t>{b.in, b.middle, b.middle, b.out, f.buffer(weights)});
    Expected<uint64_t> data = f.sim.loadKernelData(*seq, "early");
    ASSERT_TRUE(data.ok());
    launch.dataBase = *data;
    for (const isa::SequenceRange &range : ranges) {
      launch.entryPc = range.entry;
      launch.endPc = range.end;
      ASSERT_TRUE(f.sim.run(*seq, launch, options(SimMode::Functional, 2)).ok());
    }
    EXPECT_EQ(f.read<uint16_t>(b.out, kHalves), want);
  }
  EXPECT_LT(cycles[0], cycles[1]) << "the weights arrive while the blocks wait for each other";
}

TEST_F(KernelSequenceTest, PartsForAnotherTargetAreRefused) {
  isa::KernelBinary other = doublePlusQuarter;
  other.target = "cloud";
  Expected<isa::KernelBinary> s = isa::sequenceKernels({{&addOne, 0}, {&other, 16}}, "mixed.s");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("is for target 'cloud'"), std::string::npos) << s.error().message;
}

} // namespace
} // namespace fractal::sim::testing
