// Every kind of device fault stops the run with a diagnostic naming core, pipe, pc, the
// instruction and the cause (the kernels are tests/sim/faults/*.s). Both modes diagnose alike.
#include "SimTestUtil.h"

using namespace fractal;
using namespace fractal::sim;
using namespace fractal::sim::testing;

namespace {

std::string faultOf(const std::string &kernel, SimMode mode, uint64_t watchdog = 0) {
  Device dev;
  SimOptions options;
  options.mode = mode;
  options.watchdog = watchdog;
  options.checkRaces = true; // no fault kernel but race.s has a race: this must not add faults
  Expected<RunResult> r = dev.run(assembleFile("tests/sim/faults/" + kernel), {0x1234}, options);
  if (r)
    return "(no fault)";
  EXPECT_EQ(r.error().code, ExitCode::DeviceFault) << r.error().message;
  return r.error().message;
}

class Faults : public ::testing::TestWithParam<SimMode> {};

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
  std::string f = faultOf("race.s", GetParam());
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
  std::string f = faultOf("watchdog.s", SimMode::Timing, 1000);
  EXPECT_EQ(f.rfind("watchdog: core 0 (block 0)", 0), 0u) << f;
  EXPECT_NE(f.find("no end after 1000 cycles"), std::string::npos) << f;
}

TEST(FaultsWatchdog, FunctionalModeCountsInstructions) {
  std::string f = faultOf("watchdog.s", SimMode::Functional, 1000);
  EXPECT_EQ(f.rfind("watchdog: core 0 (block 0), pipe s, pc ", 0), 0u) << f;
  EXPECT_NE(f.find("more than 1000 scalar instructions"), std::string::npos) << f;
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

INSTANTIATE_TEST_SUITE_P(BothModes, Faults, ::testing::Values(SimMode::Functional, SimMode::Timing),
                         [](const auto &info) { return std::string(simModeName(info.param)); });
