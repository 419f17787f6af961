// Every kind of device fault stops the run with a diagnostic naming core, pipe, pc, the
// instruction and the cause (the kernels are tests/sim/faults/*.s). Every engine diagnoses alike.
#include "SimTestUtil.h"

using namespace fractal;
using namespace fractal::sim;
using namespace fractal::sim::testing;

namespace {

// The three ways a kernel runs: the SystemC engine in functional mode (race checking on), the
// plain functional engine (cores on host threads), and the SystemC engine in timing mode.
enum class Engine { SystemCFunctional, Functional, Timing };

const char *engineName(Engine e) {
  switch (e) {
  case Engine::SystemCFunctional: return "systemc_functional";
  case Engine::Functional: return "functional";
  case Engine::Timing: return "timing";
  }
  return "?";
}

SimOptions optionsFor(Engine engine, uint64_t watchdog = 0) {
  SimOptions options;
  options.mode = engine == Engine::Timing ? SimMode::Timing : SimMode::Functional;
  options.watchdog = watchdog;
  // Race checking runs on the SystemC engine (no fault kernel but race.s has a race: this must
  // not add faults); without it functional mode takes the plain engine.
  options.checkRaces = engine != Engine::Functional;
  return options;
}

std::string faultOf(const isa::KernelBinary &kernel, const SimOptions &options) {
  Device dev;
  Expected<RunResult> r = dev.run(kernel, {0x1234}, options);
  if (r)
    return "(no fault)";
  EXPECT_EQ(r.error().code, ExitCode::DeviceFault) << r.error().message;
  return r.error().message;
}

std::string faultOf(const std::string &kernel, Engine engine, uint64_t watchdog = 0) {
  return faultOf(assembleFile("tests/sim/faults/" + kernel), optionsFor(engine, watchdog));
}

class Faults : public ::testing::TestWithParam<Engine> {};

} // namespace

TEST_P(Faults, Deadlock) {
  EXPECT_EQ(faultOf("deadlock.s", GetParam()).rfind(
                "deadlock: core 0 (block 0), pipe s, pc 2 `end`: every unfinished unit is blocked: "
                "the scalar unit at pc 2 `end` waits for the pipes to drain at end; pipe mte1 at "
                "pc 0 `wait_flag mte2, mte1, 0` waits for flag mte2->mte1 #0 (1 more queued "
                "behind it)",
                0),
            0u)
      << faultOf("deadlock.s", GetParam());
}

TEST_P(Faults, FlagSetTwice) {
  EXPECT_EQ(faultOf("flag_set_twice.s", GetParam()).rfind(
                "flag-set-twice: core 0 (block 0), pipe mte2, pc 1 `set_flag mte2, v, 3`: flag "
                "mte2->v #3 is set again before anyone waited on it",
                0),
            0u)
      << faultOf("flag_set_twice.s", GetParam());
}

TEST_P(Faults, OutOfBounds) {
  EXPECT_EQ(faultOf("out_of_bounds.s", GetParam()).rfind(
                "out-of-bounds: core 0 (block 0), pipe v, pc 1 `vadd.f16 ub[x1], ub[x1], ub[x1]`: "
                "dst: ub access [0x3ff80, +256) exceeds the 262144-byte buffer",
                0),
            0u)
      << faultOf("out_of_bounds.s", GetParam());
}

TEST_P(Faults, Misaligned) {
  EXPECT_NE(faultOf("misaligned.s", GetParam())
                .find("misaligned: core 0 (block 0), pipe v, pc 1 `vadd.f16 ub[x1], ub[x0], "
                      "ub[x0]`: dst: ub address 0x10 is not a multiple of 32"),
            std::string::npos)
      << faultOf("misaligned.s", GetParam());
}

TEST_P(Faults, GmOutsideAllocation) {
  EXPECT_NE(faultOf("gm_outside.s", GetParam())
                .find("gm-access: core 0 (block 0), pipe mte2, pc 1 `gm2ub ub[x0], gm[x1], len=4`: "
                      "src: GM access [0x7000000, +128) is outside every allocation"),
            std::string::npos)
      << faultOf("gm_outside.s", GetParam());
}

TEST_P(Faults, BadBranch) {
  EXPECT_NE(faultOf("bad_branch.s", GetParam())
                .find("bad-branch: core 0 (block 0), pipe s, pc 1 `bne x1, x0, .+100`: branch "
                      "target 101 is outside the program"),
            std::string::npos)
      << faultOf("bad_branch.s", GetParam());
  // In timing mode the fault names the cycle the branch ran at: after li's one cycle (which the
  // engine had not waited out yet: li changes only its core).
  if (GetParam() == Engine::Timing)
    EXPECT_NE(faultOf("bad_branch.s", GetParam()).find("(cycle 1)"), std::string::npos)
        << faultOf("bad_branch.s", GetParam());
}

TEST_P(Faults, BadImg2colOperands) {
  EXPECT_NE(faultOf("load3d_no_fmap.s", GetParam())
                .find("bad-operand: core 0 (block 0), pipe mte1, pc 0 `load3d.f16 l0a[x0], l1[x0], "
                      "x0, kh=3, kw=3`: load3d: feature map 0x0"),
            std::string::npos)
      << faultOf("load3d_no_fmap.s", GetParam());
}

TEST_P(Faults, ScalarMisaligned) {
  EXPECT_NE(faultOf("scalar_misaligned.s", GetParam())
                .find("misaligned: core 0 (block 0), pipe s, pc 1 `ld x2, gm[x1], offset=4`"),
            std::string::npos)
      << faultOf("scalar_misaligned.s", GetParam());
}

TEST_P(Faults, DataRace) {
  // Which of the two unordered accesses runs first depends on the mode (in functional mode both
  // pipes start at the same instant); the race is reported from whichever comes second.
  SimOptions options = optionsFor(GetParam());
  options.checkRaces = true; // what finds it (on the SystemC engine in both modes)
  std::string f = faultOf(assembleFile("tests/sim/faults/race.s"), options);
  EXPECT_EQ(f.rfind("data-race: core 0 (block 0), pipe ", 0), 0u) << f;
  EXPECT_NE(f.find("`vadd.f16 ub[x0], ub[x0], ub[x0]`"), std::string::npos) << f;
  EXPECT_NE(f.find("`gm2ub ub[x0], gm[x2], len=8`"), std::string::npos) << f;
  EXPECT_NE(f.find("ub [0x0, +256)"), std::string::npos) << f;
  EXPECT_NE(f.find("with no flag or barrier ordering the two"), std::string::npos) << f;
}

TEST(FaultsRace, OffByDefault) {
  Device dev;
  Expected<RunResult> r = dev.run(assembleFile("tests/sim/faults/race.s"), {0x1234});
  EXPECT_TRUE(r.ok()) << r.error().message; // the race is real, but nobody asked to look for it
}

TEST(FaultsWatchdog, TimingModeCountsCycles) {
  std::string f = faultOf("watchdog.s", Engine::Timing, 1000);
  EXPECT_EQ(f.rfind("watchdog: core 0 (block 0)", 0), 0u) << f;
  EXPECT_NE(f.find("no end after 1000 cycles"), std::string::npos) << f;
}

TEST(FaultsRecovery, TheDeviceRunsAgainAfterAFault) {
  // A fault stops SystemC; the next run elaborates afresh and works.
  Device dev;
  Expected<RunResult> bad = dev.run(assembleFile("tests/sim/faults/deadlock.s"), {});
  ASSERT_FALSE(bad.ok());
  Expected<RunResult> good = dev.run(assembleText("mmad.f16 l0c[x0], l0a[x0], l0b[x0]\nend\n"), {});
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_GT(good->cycles, 0u);
}

TEST(FaultsTarget, KernelForAnotherChipIsBadInput) {
  Expected<ChipConfig> cloud = loadChipConfig("cloud");
  ASSERT_TRUE(cloud.ok());
  Device dev(*cloud);
  Expected<RunResult> r = dev.run(assembleFile("tests/sim/kernels/gemm_fp16.s"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::BadInput);
  EXPECT_NE(r.error().message.find("was built for target 'edge', the device is 'cloud'"),
            std::string::npos);
}

TEST(FaultsFunctional, WatchdogCountsInstructionsOnBothEngines) {
  for (Engine e : {Engine::SystemCFunctional, Engine::Functional}) {
    std::string f = faultOf("watchdog.s", e, 1000);
    EXPECT_EQ(f.rfind("watchdog: core 0 (block 0), pipe s, pc ", 0), 0u) << engineName(e) << ": " << f;
    EXPECT_NE(f.find("more than 1000 scalar instructions"), std::string::npos) << f;
  }
}

TEST(FaultsFunctional, WatchdogCountsThePipesWorkToo) {
  // An endless loop of 255-repeat vector instructions: 2 scalar instructions a turn, but 255
  // cycles of the vector unit's work (256 bytes a cycle at most on the edge chip). With a budget
  // of 10,000, the scalar count would allow 5,000 turns; the vector unit's work stops the 40th.
  const isa::KernelBinary kernel = assembleText("spin:\n"
                                                "  vadds.f16 ub[x0], ub[x0], x0, repeat=255\n"
                                                "  jmp spin\n");
  for (Engine e : {Engine::SystemCFunctional, Engine::Functional}) {
    std::string f = faultOf(kernel, optionsFor(e, 10000));
    EXPECT_EQ(f.rfind("watchdog: core 0 (block 0), pipe v, pc 0 `vadds.f16 ub[x0], ub[x0], x0, repeat=255`", 0), 0u)
        << engineName(e) << ": " << f;
    EXPECT_NE(f.find("more than 10000 cycles of work for pipe v"), std::string::npos) << f;
  }
}

// Several cores: a fault in one block names that block's core; when every block faults, the
// lowest core's fault is the one reported, whichever host thread got there first.
TEST_P(Faults, OnlyTheFaultingBlockIsNamed) {
  SimOptions options = optionsFor(GetParam());
  options.blockDim = 2;
  const isa::KernelBinary kernel = assembleText("  mfsr x2, block_idx\n"
                                                "  beq x2, x0, .+3\n"
                                                "  li x1, 262144 - 128\n"
                                                "  vadd.f16 ub[x1], ub[x1], ub[x1]\n"
                                                "  end\n");
  std::string f = faultOf(kernel, options);
  EXPECT_EQ(f.rfind("out-of-bounds: core 1 (block 1), pipe v, pc 3 `vadd.f16 ub[x1], ub[x1], ub[x1]`", 0), 0u) << f;
}

TEST_P(Faults, EveryBlockFaultingReportsTheLowestCore) {
  SimOptions options = optionsFor(GetParam());
  options.blockDim = 2;
  for (int repeat = 0; repeat < 20; ++repeat) {
    std::string f = faultOf(assembleFile("tests/sim/faults/out_of_bounds.s"), options);
    ASSERT_EQ(f.rfind("out-of-bounds: core 0 (block 0), pipe v, pc 1", 0), 0u) << f;
  }
}

TEST(FaultsFunctional, OneHostThreadOrSeveralGiveTheSameDeadlock) {
  for (int threads : {1, 2}) {
    SimOptions options = optionsFor(Engine::Functional);
    options.blockDim = 2;
    options.hostThreads = threads;
    std::string f = faultOf(assembleFile("tests/sim/faults/deadlock.s"), options);
    EXPECT_EQ(f.rfind("deadlock: core 0 (block 0), pipe s, pc 2 `end`", 0), 0u) << threads << ": " << f;
  }
}

INSTANTIATE_TEST_SUITE_P(AllEngines, Faults,
                         ::testing::Values(Engine::SystemCFunctional, Engine::Functional, Engine::Timing),
                         [](const auto &info) { return std::string(engineName(info.param)); });
