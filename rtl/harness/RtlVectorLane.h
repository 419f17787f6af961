// Drives the Verilated vector lane tile (rtl/vector/vector_lane.sv): one instruction's repeats in,
// results out, and the cycles it took. The caller gathers each repeat's elements and scatters the
// results (strides are address generation, outside the lane).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace fractal::rtl {

enum class LaneOp : uint8_t { Add = 0, Sub, Mul, Max, Min, Relu, Cmp, Sel, F16ToF32, F32ToF16 };

struct LaneRepeat {
  std::array<uint8_t, 256> src0{}, src1{};
  std::array<uint64_t, 2> sel{}, mask{}; // 128-bit sets, element e = bit e
};

struct LaneResult {
  std::array<uint8_t, 256> dst{};
  std::array<uint64_t, 2> enable{}, bits{};
};

class RtlVectorLane {
public:
  RtlVectorLane();
  ~RtlVectorLane();
  // Runs the repeats back to back (one per cycle); returns the cycles from the first issue to the
  // last result, i.e. repeats + latency - 1.
  uint64_t run(LaneOp op, int compareMode, const std::vector<LaneRepeat> &in,
               std::vector<LaneResult> &out);
  uint64_t totalCycles() const { return totalCycles_; }

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t totalCycles_ = 0;
};

} // namespace fractal::rtl
