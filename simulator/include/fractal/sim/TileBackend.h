// The seam for `--mode rtl`: a backend that executes some cube/vector instructions on other
// hardware models (the Verilated RTL tiles, simulator/rtl/), instead of the C++ semantics. The
// simulator keeps its timing model; the backend reports how many cycles its tile took, and a
// disagreement with the timing model is counted in the run report.
#pragma once

#include "fractal/sim/CoreState.h"
#include "fractal/sim/Execute.h"

#include <cstdint>

namespace fractal::sim {

class TileBackend {
public:
  virtual ~TileBackend() = default;
  // Executes `op` if the backend supports it; returns false to fall back to the C++ model.
  // `tileCycles` receives the cycles the tile took; `modelCycles` what the timing model says the
  // tile needs for the same work (busy + the tile's pipeline drain), for the live cross-check.
  virtual bool execute(CoreState &core, GlobalMemory &gm, const DispatchedOp &op,
                       OpEffects &effects, uint64_t &tileCycles, uint64_t &modelCycles) = 0;
  virtual const char *name() const = 0;
};

} // namespace fractal::sim
