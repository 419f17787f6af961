// `--mode rtl`: mmad on the Verilated cube tile and the lane subset of the vector unit on the
// Verilated vector lane (rtl/). Everything else runs on the C++ model.
#pragma once

#include "fractal/sim/TileBackend.h"

#include <memory>

namespace fractal::sim {
std::unique_ptr<TileBackend> makeRtlBackend();
} // namespace fractal::sim
