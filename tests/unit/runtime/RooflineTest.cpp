// The roofline breakdown of a model's time (runtime/Roofline.h), on hand-made profiles whose
// bounds follow from the edge config's numbers.
#include "fractal/runtime/Roofline.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace fractal;
using namespace fractal::runtime;

namespace {

ChipConfig edge() { return *loadChipConfig("edge"); }

TaskProfile kernel(const std::string &name, uint64_t cycles, uint64_t modelMacs, uint64_t tensorBytes,
                   std::vector<PipeUse> pipes) {
  TaskProfile t;
  t.name = name;
  t.opType = "Conv";
  t.blockDim = 2;
  t.cycles = cycles;
  t.modelMacs = modelMacs;
  t.tensorBytes = tensorBytes;
  t.pipes = std::move(pipes);
  return t;
}

} // namespace

TEST(Roofline, TaskBoundIsTheLongerOfComputeAndMemory) {
  const ChipConfig c = edge();
  const double peak = 16.0 * 16 * 16 * c.chip.cores; // fp16 MACs per cycle, whole chip
  TaskBound cube = taskBound(kernel("a", 1000, 8192 * 100, 75, {{"m", 0.9}, {"mte2", 0.3}}), c);
  EXPECT_DOUBLE_EQ(cube.computeCycles, 8192.0 * 100 / peak);
  EXPECT_DOUBLE_EQ(cube.memoryCycles, 75 / c.dramBytesPerCycle());
  EXPECT_DOUBLE_EQ(cube.cycles(), 100.0);
  EXPECT_EQ(cube.limitedBy, "cube");
  EXPECT_DOUBLE_EQ(cube.busiest, 0.9);
  TaskBound idle = taskBound(kernel("b", 1000, 0, 7530, {{"m", 0.2}, {"mte2", 0.45}}), c);
  EXPECT_DOUBLE_EQ(idle.cycles(), 7530 / c.dramBytesPerCycle());
  EXPECT_EQ(idle.limitedBy, "latency and sync"); // no pipe busier than half the time
  TaskProfile host;
  host.host = true;
  EXPECT_EQ(taskBound(host, c).cycles(), 0.0);
}

TEST(Roofline, WhereTimeGoesSplitsLaunchesLimitersAndGaps) {
  const ChipConfig c = edge();
  ModelProfile prof;
  prof.tasks.push_back(kernel("conv", 3000, 0, 0, {{"mte2", 0.8}}));
  prof.tasks.push_back(kernel("near", 1000, 8192 * 900, 0, {{"m", 0.95}}));
  TaskProfile host;
  host.host = true;
  host.name = "host";
  prof.tasks.push_back(host);
  prof.tasks.push_back(kernel("pool", 1000, 0, 0, {{"v", 0.7}}));
  prof.tasks[0].dramBytes = 100000; // the DRAM traffic and L2 lookups of two kernels add up
  prof.tasks[0].l2Hits = 30;
  prof.tasks[0].l2Misses = 10;
  prof.tasks[3].dramBytes = 70000; // DRAM busy for 0.93 of pool's cycles: busier than its vector (0.7)
  prof.tasks[3].l2Misses = 40;
  pkg::Package p;
  pkg::Tensor w;
  w.kind = pkg::TensorKind::Constant;
  w.dtype = pkg::DType::F16;
  w.shape = {1000};
  p.tensors.push_back(w);
  const WhereTimeGoes g = whereTimeGoes(prof, p, c);
  EXPECT_DOUBLE_EQ(g.kernelCycles, 5000);
  EXPECT_DOUBLE_EQ(g.launchCycles, 3 * c.runtime.kernelLaunchUs * c.chip.clockMhz); // host tasks launch nothing
  // The model's bound: 900 x 8192 MACs at 8192 per cycle = 900 cycles (the 2000 weight bytes take less).
  EXPECT_DOUBLE_EQ(g.boundCycles, 900);
  ASSERT_EQ(g.byLimiter.size(), 3u);
  EXPECT_EQ(g.byLimiter[0], (std::pair<std::string, double>{"GM loads (mte2)", 3000}));
  // Furthest above the bound first: conv (3000 over 0), pool (1000), near (1000 - 900).
  ASSERT_EQ(g.furthestAboveBound.size(), 3u);
  EXPECT_EQ(g.furthestAboveBound[0].name, "conv");
  EXPECT_EQ(g.furthestAboveBound[1].name, "pool");
  EXPECT_EQ(g.furthestAboveBound[2].name, "near");
  EXPECT_DOUBLE_EQ(g.furthestAboveBound[2].bound.cycles(), 900);
  const std::string text = describe(g, prof);
  EXPECT_NE(text.find("5000 kernel cycles + 40800 cycles of kernel launches (89% of 45800)"), std::string::npos) << text;
  EXPECT_NE(text.find("roofline bound 900 cycles = 0.180 of the kernel cycles, 0.020 of the latency with the launches"),
            std::string::npos) << text;
  EXPECT_EQ(g.tasks[3].limitedBy, "DRAM bandwidth");
  EXPECT_NEAR(g.tasks[3].busiest, 70000 / c.dramBytesPerCycle() / 1000, 1e-12);
  EXPECT_EQ(g.tasks[0].limitedBy, "GM loads (mte2)"); // DRAM busy for 0.44 of its cycles: its mte2 (0.8) limits
  EXPECT_NE(text.find("GM loads (mte2) 60%, DRAM bandwidth 20%, cube 20%"), std::string::npos) << text;
  // conv 0 + near 900 + pool 0 (no MACs, no tensors).
  EXPECT_DOUBLE_EQ(g.sumOfKernelBounds, 900);
  EXPECT_NE(text.find("kernels' own bounds (intermediate tensors through DRAM too): 900 cycles = 0.180 of the kernel cycles"),
            std::string::npos) << text;
  // No kernel ends before its busiest unit's work: conv's mte2 0.8 x 3000, near's cube 0.95 x
  // 1000, pool's DRAM (busier than its vector) for what it moved.
  const double poolDram = 70000 / c.dramBytesPerCycle();
  EXPECT_DOUBLE_EQ(g.busiestWorkCycles, 2400 + 950 + poolDram);
  ASSERT_EQ(g.busiestWork.size(), 3u);
  EXPECT_EQ(g.busiestWork[0], (std::pair<std::string, double>{"GM loads (mte2)", 2400}));
  EXPECT_EQ(g.busiestWork[1], (std::pair<std::string, double>{"cube", 950}));
  EXPECT_EQ(g.busiestWork[2].first, "DRAM bandwidth");
  char work[320];
  std::snprintf(work, sizeof work,
                "  the busiest unit's own work, kernel by kernel (a traced sequence's parts each): %.0f cycles = %.3f of "
                "the kernel cycles (GM loads (mte2) 2400, cube 950, DRAM bandwidth %.0f): however well their pipes "
                "overlapped, these kernels would take that long, %.3f of the roofline at best\n",
                g.busiestWorkCycles, g.busiestWorkCycles / 5000, poolDram, 900 / g.busiestWorkCycles);
  EXPECT_NE(text.find(work), std::string::npos) << text;
  EXPECT_DOUBLE_EQ(g.dramBytes, 170000);
  EXPECT_DOUBLE_EQ(g.dramCycles, 170000 / c.dramBytesPerCycle());
  EXPECT_DOUBLE_EQ(g.l2HitRate, 30.0 / 80.0);
  char dram[160];
  std::snprintf(dram, sizeof dram, "DRAM moved 170.0 KB during the kernels: %.0f cycles at its bandwidth = %.3f of the kernel cycles; L2 hit rate 37.5%%",
                g.dramCycles, g.dramCycles / 5000);
  EXPECT_NE(text.find(dram), std::string::npos) << text;
  EXPECT_EQ(text.find("cross-core barriers"), std::string::npos) << "no task waited at a barrier: " << text;
  // A sequence's blocks waiting for each other between parts: their waits, per core.
  prof.tasks[0].barrierWaitCycles = 300;
  prof.tasks[3].barrierWaitCycles = 200;
  const WhereTimeGoes spun = whereTimeGoes(prof, p, c);
  EXPECT_DOUBLE_EQ(spun.barrierWaitCycles, 500);
  const std::string spunText = describe(spun, prof);
  EXPECT_NE(spunText.find("  cross-core barriers between kernel parts: each core waited 500 cycles at them = 0.100 "
                          "of the kernel cycles\n  kernel cycles by limiter"),
            std::string::npos) << spunText;
}

// A traced kernel sequence is broken down by its parts: limiters and gaps per part, each part's
// bound from its own MACs and tensors. Untraced, it is one row and the text says how to see more.
TEST(Roofline, ASequenceIsSplitIntoItsParts) {
  const ChipConfig c = edge();
  ModelProfile prof;
  TaskProfile seq = kernel("a .. b", 5000, 8192 * 1000, 0, {{"s", 0.9}});
  seq.opType = "Sequence";
  seq.segments.push_back({"a", "Conv", {"a"}, 0, 1500, {{"m", 0.8}}, 8192 * 1000, 0});
  seq.segments.push_back({"b", "Sigmoid", {"b"}, 1500, 3500, {{"v", 0.6}}, 0, 7530});
  prof.tasks.push_back(seq);
  pkg::Package p;
  const WhereTimeGoes g = whereTimeGoes(prof, p, c);
  EXPECT_DOUBLE_EQ(g.kernelCycles, 5000);
  ASSERT_EQ(g.byLimiter.size(), 2u);
  EXPECT_EQ(g.byLimiter[0], (std::pair<std::string, double>{"vector", 3500}));
  EXPECT_EQ(g.byLimiter[1], (std::pair<std::string, double>{"cube", 1500}));
  ASSERT_EQ(g.furthestAboveBound.size(), 2u);
  EXPECT_EQ(g.furthestAboveBound[0].name, "b");
  EXPECT_DOUBLE_EQ(g.furthestAboveBound[0].bound.cycles(), 7530 / c.dramBytesPerCycle());
  EXPECT_EQ(g.furthestAboveBound[1].name, "a");
  EXPECT_DOUBLE_EQ(g.furthestAboveBound[1].bound.cycles(), 1000);
  EXPECT_DOUBLE_EQ(g.sumOfKernelBounds, 1000 + 7530 / c.dramBytesPerCycle());
  // Part by part (the sequence's scalar 0.9 over all of it is not a part's work).
  EXPECT_DOUBLE_EQ(g.busiestWorkCycles, 0.8 * 1500 + 0.6 * 3500);
  EXPECT_EQ(describe(g, prof).find("--profile DIR"), std::string::npos);
  prof.tasks[0].segments.clear();
  const WhereTimeGoes whole = whereTimeGoes(prof, p, c);
  ASSERT_EQ(whole.furthestAboveBound.size(), 1u);
  EXPECT_EQ(whole.furthestAboveBound[0].name, "a .. b");
  EXPECT_NE(describe(whole, prof).find("--profile DIR traces the run and lists its parts"), std::string::npos);
}

// Traced tasks say whether their pipes worked at once or took turns: per core, cycle-weighted over
// the tasks, the pipes that worked alone largest first (at most four named).
TEST(Roofline, PipesAtWorkAddUpOverTracedTasks) {
  const ChipConfig c = edge();
  ModelProfile prof;
  TaskProfile a = kernel("a", 1000, 0, 0, {{"m", 0.5}});
  a.noPipe = 0.5;
  a.overlapping = 0.1;
  a.alone = {{"m", 0.3}, {"mte2", 0.1}, {"v", 0}};
  TaskProfile b = kernel("b", 3000, 0, 0, {{"v", 0.5}});
  b.noPipe = 0.2;
  b.overlapping = 0.4;
  b.alone = {{"v", 0.3}, {"mte2", 0.1}};
  prof.tasks = {a, b};
  pkg::Package p;
  WhereTimeGoes g = whereTimeGoes(prof, p, c);
  ASSERT_TRUE(g.pipesTraced);
  EXPECT_DOUBLE_EQ(g.noPipeCycles, 500 + 600);
  EXPECT_DOUBLE_EQ(g.overlappingCycles, 100 + 1200);
  ASSERT_EQ(g.aloneCycles.size(), 3u); // v's 0 in task a is no entry of its own
  EXPECT_EQ(g.aloneCycles[0], (std::pair<std::string, double>{"v", 900}));
  EXPECT_EQ(g.aloneCycles[1], (std::pair<std::string, double>{"mte2", 400}));
  EXPECT_EQ(g.aloneCycles[2], (std::pair<std::string, double>{"m", 300}));
  EXPECT_NE(describe(g, prof).find("  pipes at work, per core: none for 28% of the kernel cycles (waiting on flags, GM "
                                   "latency or the scalar unit), one alone for 40% (vector 22%, GM loads (mte2) 10%, "
                                   "cube 8%), two or more at once for 32%\n  kernel cycles by limiter"),
            std::string::npos) << describe(g, prof);
  // Untraced: no such line.
  prof.tasks[0].alone.clear();
  prof.tasks[1].alone.clear();
  g = whereTimeGoes(prof, p, c);
  EXPECT_FALSE(g.pipesTraced);
  EXPECT_EQ(describe(g, prof).find("pipes at work"), std::string::npos);
}
