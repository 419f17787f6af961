// Drives the Verilated cube tile (rtl/cube/cube_tile.sv) through a whole mmad instruction: the
// same operands, layouts and results as the simulator's C++ cube (docs/isa.md), plus the exact
// number of cycles the tile took. Used by the cross-checks and by the simulator's rtl mode.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace fractal::rtl {

struct MmadOperands {
  bool int8 = false;
  uint64_t m = 0, k = 0, n = 0;
  bool init = false;
  const uint8_t *a = nullptr;    // L0A, ZZ fractals
  const uint8_t *b = nullptr;    // L0B, ZN fractals
  uint8_t *c = nullptr;          // L0C, accumulators (NZ)
  const uint8_t *bias = nullptr; // n fp32/int32 values, or nullptr
};

class RtlCube {
public:
  RtlCube();
  ~RtlCube();
  RtlCube(const RtlCube &) = delete;
  RtlCube &operator=(const RtlCube &) = delete;

  // Runs one mmad on the RTL; returns the cycles from the first fractal step issued to the last
  // result written (0 when m, k or n is 0).
  uint64_t mmad(const MmadOperands &op);

  // The tile's pipeline depth: results appear this many cycles after their step is issued.
  static constexpr uint64_t kPipelineDepth = 6;

  uint64_t totalCycles() const { return totalCycles_; }
  // Waveforms for debugging: every cycle from now on goes to an FST file.
  void traceTo(const std::string &fstPath);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t totalCycles_ = 0;
};

} // namespace fractal::rtl
