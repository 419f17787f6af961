// Running generated kernels in tests: assemble, launch with the kernel's block_dim, report a
// failure (assembly error or device fault) as a test failure with the simulator's message.
#pragma once

#include "fractal/compiler/Codegen/KernelTemplates.h"
#include "fractal/isa/SyncTransform.h"

#include "../sim/SimTestUtil.h"

namespace fractal::codegen::testing {

// Timing mode with the race detector on when `checkRaces`, else functional mode.
inline ::testing::AssertionResult runGenerated(sim::testing::Device &dev, const GeneratedKernel &gen,
                                               const std::string &name, const std::vector<uint64_t> &args,
                                               bool checkRaces, bool barrierAll = false) {
  Expected<isa::KernelBinary> bin = isa::assemble(gen.assembly, name);
  if (!bin) return ::testing::AssertionFailure() << bin.error().message << "\n" << gen.assembly;
  if (barrierAll) { // --sync=barrier-all: the kernel's flags replaced by barriers
    bin = isa::serializeSync(*bin);
    if (!bin) return ::testing::AssertionFailure() << bin.error().message;
  }
  sim::SimOptions options;
  options.mode = checkRaces ? sim::SimMode::Timing : sim::SimMode::Functional;
  options.blockDim = gen.blockDim;
  options.checkRaces = checkRaces;
  Expected<sim::RunResult> run = dev.run(*bin, args, options);
  if (!run) return ::testing::AssertionFailure() << run.error().message;
  return ::testing::AssertionSuccess();
}

} // namespace fractal::codegen::testing
