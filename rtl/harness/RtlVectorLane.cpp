#include "RtlVectorLane.h"

#include "Vvector_lane.h"
#include "verilated.h"

#include <cstring>

namespace fractal::rtl {

struct RtlVectorLane::Impl {
  VerilatedContext context;
  Vvector_lane lane{&context, "vector"};
  Impl() {
    lane.clk = 0;
    lane.rst_n = 0;
    lane.eval();
    lane.rst_n = 1;
    lane.eval();
  }
  void tick() {
    lane.clk = 1;
    lane.eval();
    lane.clk = 0;
    lane.eval();
  }
};

RtlVectorLane::RtlVectorLane() : impl_(std::make_unique<Impl>()) {}
RtlVectorLane::~RtlVectorLane() = default;

uint64_t RtlVectorLane::run(LaneOp op, int compareMode, const std::vector<LaneRepeat> &in,
                            std::vector<LaneResult> &out) {
  Vvector_lane &l = impl_->lane;
  out.clear();
  if (in.empty())
    return 0;
  uint64_t issued = 0, cycles = 0;
  while (out.size() < in.size()) {
    if (issued < in.size()) {
      const LaneRepeat &r = in[issued++];
      std::memcpy(&l.src0, r.src0.data(), 256);
      std::memcpy(&l.src1, r.src1.data(), 256);
      std::memcpy(&l.sel, r.sel.data(), 16);
      std::memcpy(&l.mask, r.mask.data(), 16);
      l.op = static_cast<uint8_t>(op);
      l.cmp = static_cast<uint8_t>(compareMode);
      l.in_valid = 1;
    } else {
      l.in_valid = 0;
    }
    l.eval();
    // The last stage of a delay line is visible before the edge that would shift it out.
    if (l.out_valid && cycles > 0) {
      LaneResult res;
      std::memcpy(res.dst.data(), &l.dst, 256);
      std::memcpy(res.enable.data(), &l.out_enable, 16);
      std::memcpy(res.bits.data(), &l.out_bits, 16);
      out.push_back(res);
      if (out.size() == in.size())
        break;
    }
    impl_->tick();
    ++cycles;
  }
  totalCycles_ += cycles;
  return cycles;
}

} // namespace fractal::rtl
