// Exact cycle counts for small kernels, derived from the chip config in each test's comment. A
// timing-model change breaks these on purpose: update the derivation along with the model.
#include "SimTestUtil.h"

using namespace fractal;
using namespace fractal::sim;
using namespace fractal::sim::testing;

namespace {

struct Timed {
  RunResult result;
  const CoreStats &core0() const { return result.cores[0]; }
};

Timed runTimed(Device &dev, const std::string &text, int64_t blocks = 1, bool trace = false) {
  SimOptions options;
  options.blockDim = blocks;
  options.trace = trace;
  Expected<RunResult> r = dev.run(assembleText(text), {}, options);
  EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message);
  return {r ? *r : RunResult()};
}

uint64_t ceilDiv(uint64_t a, double b) { return static_cast<uint64_t>(std::ceil(a / b)); }

} // namespace

TEST(Cycles, MmadIsFractalsPlusLatency) {
  // mmad dispatches at cycle 0 and occupies the cube for ceil(M/16)ceil(N/16)ceil(K/16) = 64
  // cycles; it completes mmad_latency later; `end` waits for that, then takes its own cycle.
  ChipConfig c = edge();
  Device dev(c);
  Timed t = runTimed(dev, "mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=64, k=64, n=64, init=1\nend\n");
  const uint64_t cpi = c.core.scalarCyclesPerInstruction;
  EXPECT_EQ(t.result.cycles, 64 + c.cube.mmadLatencyCycles + cpi);
  EXPECT_EQ(t.core0().pipes[2].busyCycles, 64u);
  EXPECT_EQ(t.core0().macs, 64u * 64 * 64);
}

TEST(Cycles, VectorIsBytesOverParallelBytesPlusLatency) {
  ChipConfig c = edge();
  Device dev(c);
  const uint64_t cpi = c.core.scalarCyclesPerInstruction;
  const VectorTiming add = c.vectorTiming(VectorTimingClass::Simple);
  Timed t = runTimed(dev, "vadd.f16 ub[x0], ub[x0], ub[x0], repeat=4\nend\n");
  EXPECT_EQ(t.result.cycles, ceilDiv(4 * 256, add.bytesPerCycle) + add.latencyCycles +
                                 c.vector.pipelineDelayCycles + cpi);
  const VectorTiming exp = c.vectorTiming(VectorTimingClass::Exp);
  Timed e = runTimed(dev, "vexp.f16 ub[x0], ub[x0], repeat=4\nend\n");
  EXPECT_EQ(e.result.cycles, ceilDiv(4 * 256, exp.bytesPerCycle) + exp.latencyCycles +
                                 c.vector.pipelineDelayCycles + cpi);
}

TEST(Cycles, DmaFromGmMissesL2ThenHits) {
  // li (1 cycle), then gm2ub of one 512-byte L2 line at cycle 1. Busy = issue + the larger of the
  // port time (512/87) and the DRAM occupancy (512 / (51.2 GB/s / 680 MHz)), since the line
  // misses; it completes path + L2 hit + DRAM latency later. `end` waits, plus its own cycle.
  ChipConfig c = edge();
  Device dev(c);
  uint64_t buf = dev.buffer(std::vector<uint8_t>(4096, 1));
  const uint64_t cpi = c.core.scalarCyclesPerInstruction;
  std::string load = "gm2ub ub[x0], gm[x1], len=16\n";
  Timed t = runTimed(dev, "li x1, " + std::to_string(buf) + "\n" + load + "end\n");
  const uint64_t port = ceilDiv(512, double(c.dma.gmReadBytesPerCycle));
  const uint64_t dram = ceilDiv(512, c.dramBytesPerCycle());
  const uint64_t missBusy = c.dma.issueCycles + std::max(port, dram);
  const uint64_t missLatency =
      c.dma.gmReadPathLatencyCycles + c.l2.hitLatencyCycles + c.dram.latencyCycles;
  EXPECT_EQ(t.result.cycles, cpi + missBusy + missLatency + cpi);
  EXPECT_EQ(t.core0().l2Misses, 1u);
  EXPECT_EQ(t.core0().pipes[4].busyCycles, missBusy);
  EXPECT_EQ(t.core0().pipes[4].memoryStallCycles, missBusy - (c.dma.issueCycles + 512 / 128));
  EXPECT_EQ(t.result.dramBytes, 512u);

  // The L2 starts cold for every run (unless warm: see below); within one run the second read of
  // the line hits.
  Timed twice = runTimed(dev, "li x1, " + std::to_string(buf) + "\n" + load + load + "end\n");
  EXPECT_EQ(twice.core0().l2Misses, 1u);
  EXPECT_EQ(twice.core0().l2Hits, 1u);
}

TEST(Cycles, WritesAllocateTheL2LinesTheyCoverWhole) {
  // ub2gm then (after MTE3 is done) gm2ub of the same 512-byte line: with l2.write_allocate the
  // whole-line write allocates it (one miss) and the read hits; a half-line write does not (the
  // cache does not fetch on writes), nor does any write with write_allocate: 0.
  auto run = [](const ChipConfig &c, int writeBlocks) {
    Device dev(c);
    uint64_t buf = dev.buffer(std::vector<uint8_t>(4096, 1));
    return runTimed(dev, "li x1, " + std::to_string(buf) + "\nub2gm gm[x1], ub[x0], len=" +
                             std::to_string(writeBlocks) +
                             "\nset_flag mte3, mte2, 0\nwait_flag mte3, mte2, 0\ngm2ub ub[x0], gm[x1], len=16\nend\n");
  };
  ChipConfig c = edge();
  ASSERT_EQ(c.l2.writeAllocate, 1);
  ASSERT_EQ(c.l2.writeBack, 1);
  Timed whole = run(c, 16);
  EXPECT_EQ(whole.core0().l2Misses, 1u);
  EXPECT_EQ(whole.core0().l2Hits, 1u);
  EXPECT_EQ(whole.result.dramBytes, 0u); // write-back: the line stays dirty in the L2, the read hits it
  Timed half = run(c, 8);
  EXPECT_EQ(half.core0().l2Misses, 2u);
  EXPECT_EQ(half.core0().l2Hits, 0u);
  EXPECT_EQ(half.result.dramBytes, 256u + 512u); // the half line goes through; the read fetches the line
  c.l2.writeBack = 0;
  Timed through = run(c, 16);
  EXPECT_EQ(through.core0().l2Hits, 1u);
  EXPECT_EQ(through.result.dramBytes, 512u); // write-through: the write goes to DRAM too
  c.l2.writeAllocate = 0;
  Timed off = run(c, 16);
  EXPECT_EQ(off.core0().l2Misses, 2u);
  EXPECT_EQ(off.core0().l2Hits, 0u);
}

TEST(Cycles, AnEvictedDirtyLineIsWrittenBackToDram) {
  // A two-line L2 (one set of two ways): a whole-line write leaves line A dirty; reading lines B
  // and C evicts A, the least recently used, and DRAM takes it then. A clean victim costs nothing.
  ChipConfig c = edge();
  c.l2.sizeBytes = 1024;
  Device dev(c);
  const uint64_t buf = dev.buffer(std::vector<uint8_t>(4096, 1));
  const std::string at = "li x1, " + std::to_string(buf) + "\nli x2, " + std::to_string(buf + 512) +
                         "\nli x3, " + std::to_string(buf + 1024) + "\n";
  const std::string readBC = "gm2ub ub[x0], gm[x2], len=16\ngm2ub ub[x0], gm[x3], len=16\n";
  Timed dirty = runTimed(dev, at + "ub2gm gm[x1], ub[x0], len=16\nset_flag mte3, mte2, 0\n"
                                   "wait_flag mte3, mte2, 0\n" + readBC + "end\n", 1, true);
  EXPECT_EQ(dirty.core0().l2Misses, 3u);
  EXPECT_EQ(dirty.result.dramBytes, 512u + 512u + 512u); // B, C, and A written back
  // The trace's slices carry each transfer's share: the write none, B's read its line, C's read
  // its line and the evicted A.
  std::vector<uint32_t> perTransfer;
  for (const TraceSlice &sl : dirty.result.trace)
    if (sl.l2Hits + sl.l2Misses > 0) perTransfer.push_back(sl.dramBytes);
  EXPECT_EQ(perTransfer, (std::vector<uint32_t>{0, 512, 1024}));
  Timed clean = runTimed(dev, at + "gm2ub ub[x0], gm[x1], len=16\n" + readBC + "end\n");
  EXPECT_EQ(clean.core0().l2Misses, 3u);
  EXPECT_EQ(clean.result.dramBytes, 3u * 512u); // A, B, C read; evicting the clean A is free
}

TEST(Cycles, AWarmRunFindsTheLinesItsDeviceLeft) {
  // Two devices of one config share the SystemC elaboration but not their L2 lines: a warm run
  // (SimOptions::warmL2, as a model's second kernel) hits what its own device's previous run
  // read, never what another device read at the same address; a cold run misses.
  Device a, b;
  const uint64_t pa = a.buffer(std::vector<uint8_t>(4096, 1)), pb = b.buffer(std::vector<uint8_t>(4096, 1));
  ASSERT_EQ(pa, pb);
  const isa::KernelBinary load = assembleText("li x1, " + std::to_string(pa) + "\ngm2ub ub[x0], gm[x1], len=16\nend\n");
  auto hits = [&](Device &d, bool warm) {
    SimOptions options;
    options.warmL2 = warm;
    Expected<RunResult> r = d.run(load, {}, options);
    EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message);
    return r ? r->cores[0].l2Hits : ~0ull;
  };
  EXPECT_EQ(hits(a, false), 0u);
  EXPECT_EQ(hits(b, true), 0u); // b's L2 has never held the line
  EXPECT_EQ(hits(a, true), 1u);
  EXPECT_EQ(hits(b, true), 1u);
  EXPECT_EQ(hits(a, false), 0u);
}

TEST(Cycles, ScalarLoadsHitTheScalarDataCacheAfterTheFirstOfALine) {
  // Three scalar loads: the first misses (scalar_gm_latency_cycles), the second is in the same
  // 64-byte line (a hit: no latency), the third in the next line (a miss). With no cache, all
  // three miss. Every instruction costs one cycle.
  auto run = [](const ChipConfig &c) {
    Device dev(c);
    uint64_t buf = dev.buffer(std::vector<uint8_t>(4096, 1));
    return runTimed(dev, "li x1, " + std::to_string(buf) +
                             "\nld x2, gm[x1]\nld x3, gm[x1], offset=8\nld x4, gm[x1], offset=64\nend\n");
  };
  ChipConfig c = edge();
  ASSERT_EQ(c.core.scalarDcacheLineBytes, 64);
  const uint64_t cpi = c.core.scalarCyclesPerInstruction, miss = c.core.scalarGmLatencyCycles;
  Timed cached = run(c);
  EXPECT_EQ(cached.result.cycles, 5 * cpi + 2 * miss);
  EXPECT_EQ(cached.core0().scalarGmCycles, 2 * miss);
  c.core.scalarDcacheLines = 0;
  Timed uncached = run(c);
  EXPECT_EQ(uncached.result.cycles, 5 * cpi + 3 * miss);
}

TEST(Cycles, RegisterOnlyInstructionsKeepTheirCyclesWhenTheirWaitsAreJoined) {
  // Two li, a loop of addi and dbnz run three times (the branch taken twice: branch_taken_penalty
  // each), then mfsr reads the cycle counter: 8 instructions and 2 penalties after the start. The
  // timing engine waits their cycles out in one go before st (a GM access, a scalar cache miss),
  // which stores what mfsr read; `end` takes its own cycle.
  ChipConfig c = edge();
  c.core.branchTakenPenaltyCycles = 3;
  Device dev(c);
  const uint64_t buf = dev.buffer(std::vector<uint8_t>(64, 0));
  Timed t = runTimed(dev, "li x1, 3\nli x5, " + std::to_string(buf) +
                              "\nloop:\naddi x2, x2, 1\ndbnz x1, loop\nmfsr x3, cycle\nst x3, gm[x5]\nend\n");
  const uint64_t cpi = c.core.scalarCyclesPerInstruction, penalty = 3, miss = c.core.scalarGmLatencyCycles;
  const uint64_t mfsrCycle = 8 * cpi + 2 * penalty;
  EXPECT_EQ(dev.read<uint64_t>(buf, 1)[0], mfsrCycle);
  EXPECT_EQ(t.result.cycles, mfsrCycle + cpi + (cpi + miss) + cpi);
  EXPECT_EQ(t.core0().pipes[0].busyCycles, t.result.cycles); // the scalar unit never waited on another
}

TEST(Cycles, FlagsWaitForCompletionPlusSyncLatency) {
  // mmad (1 fractal) busy 1 cycle from 0, completes at 1 + mmad_latency; set_flag on the cube
  // waits for that and makes the flag visible sync_latency later; FixPipe (waiting since cycle 2)
  // then moves 16x16 f32 from L0C to UB: issue + 1024 bytes / L0C read port; `end` +1.
  ChipConfig c = edge();
  Device dev(c);
  Timed t = runTimed(dev, "mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=16, k=16, n=16, init=1\n"
                          "set_flag m, fix, 0\nwait_flag m, fix, 0\n"
                          "fixp.f32.f32 ub[x0], l0c[x0], m=16, n=16, src_rows=16, dst_stride=16\n"
                          "end\n");
  const uint64_t flagVisible = 1 + c.cube.mmadLatencyCycles + c.core.syncLatencyCycles;
  const uint64_t fix = c.dma.issueCycles + ceilDiv(1024, double(c.buffer(BufferKind::L0C).readBytesPerCycle));
  EXPECT_EQ(t.result.cycles, flagVisible + fix + c.core.scalarCyclesPerInstruction);
  EXPECT_EQ(t.core0().pipes[6].flagWaitCycles, flagVisible - 2); // wait_flag dispatched at cycle 2
}

TEST(Cycles, FullQueueStallsTheScalarUnit) {
  // 20 vadds of 255 repeats (busy 255 each) into a queue of depth 16: the first starts at once,
  // 16 more queue up by cycle 16; the 18th waits until cycle 255 (238 cycles), the 19th and 20th
  // 254 cycles each. The last completes at 20*255 + latency; `end` +1.
  ChipConfig c = edge();
  ASSERT_EQ(c.core.pipeQueueDepth, 16);
  Device dev(c);
  std::string text;
  for (int i = 0; i < 20; ++i)
    text += "vadd.f16 ub[x0], ub[x0], ub[x0], repeat=255\n";
  Timed t = runTimed(dev, text + "end\n", 1, /*trace=*/true);
  const VectorTiming add = c.vectorTiming(VectorTimingClass::Simple);
  EXPECT_EQ(t.result.cycles,
            20 * 255 + add.latencyCycles + c.vector.pipelineDelayCycles + 1);
  EXPECT_EQ(t.core0().queueFullStallCycles, 238u + 254 + 254);
  // The trace shows each stall on the scalar lane (pipe 0), at the instruction held back: the
  // 18th from cycle 17 to 255, the 19th from 256 to 510, the 20th from 511 to 765.
  std::vector<std::array<uint64_t, 3>> stalls;
  for (const TraceSlice &sl : t.result.trace)
    if (sl.pipe == 0) stalls.push_back({uint64_t(sl.pc), sl.start, sl.duration});
  const std::vector<std::array<uint64_t, 3>> expected = {{17, 17, 238}, {18, 256, 254}, {19, 511, 254}};
  EXPECT_EQ(stalls, expected);
}

TEST(Cycles, CoresContendForDram) {
  // Each of two blocks reads its own 64 KiB (all misses). DRAM serves one request at a time:
  // the first core's transfer occupies it for ceil(65536 / bytes-per-cycle) cycles, the second
  // waits for that and then takes as long again.
  ChipConfig c = edge();
  Device dev(c);
  uint64_t buf = dev.buffer(std::vector<uint8_t>(2 * 65536, 1));
  Timed t = runTimed(dev,
                     "li x1, " + std::to_string(buf) + "\nmfsr x2, block_idx\nmuli x2, x2, 65536\n"
                     "add x1, x1, x2\ngm2ub ub[x0], gm[x1], len=2048\nend\n",
                     2);
  const uint64_t occupancy = ceilDiv(65536, c.dramBytesPerCycle());
  uint64_t a = t.result.cores[0].pipes[4].busyCycles, b = t.result.cores[1].pipes[4].busyCycles;
  EXPECT_EQ(std::min(a, b), c.dma.issueCycles + occupancy);
  EXPECT_EQ(std::max(a, b), c.dma.issueCycles + 2 * occupancy);
  EXPECT_EQ(t.result.dramBytes, 2u * 65536);
}

TEST(Cycles, FunctionalModeHasNoTimeButTheSameCounts) {
  Device dev;
  SimOptions options;
  options.mode = SimMode::Functional;
  Expected<RunResult> r =
      dev.run(assembleText("mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=64, k=64, n=64, init=1\nend\n"),
              {}, options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cycles, 0u);
  EXPECT_EQ(r->cores[0].macs, 64u * 64 * 64);
  EXPECT_EQ(r->instructions, 2u);
}
