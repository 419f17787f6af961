// The first-order timing model of npu-facts.md, with every number taken from the chip config.
// An instruction occupies its pipe for `busy` cycles (the next one may start then) and completes
// `latency` cycles later (set_flag and barrier wait for completion).
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/sim/CoreState.h"
#include "fractal/sim/Execute.h"

#include <cstdint>

namespace fractal::sim::detail {

struct OpTiming {
  uint64_t busy = 0;
  uint64_t latency = 0;
};

// Timing of a pipe instruction, apart from the GM side of DMA/FixPipe transfers, which the memory
// system (L2, DRAM) adds. `localBytesBusy` is the time the local buffer ports need.
OpTiming pipeTiming(const ChipConfig &config, const DispatchedOp &op, const OpEffects &fx);

inline uint64_t ceilDivCycles(uint64_t bytes, int64_t perCycle) {
  return perCycle <= 0 ? 0 : (bytes + static_cast<uint64_t>(perCycle) - 1) / static_cast<uint64_t>(perCycle);
}

} // namespace fractal::sim::detail
