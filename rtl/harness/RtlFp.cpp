#include "RtlFp.h"

#include "Vfp_unit.h"
#include "verilated.h"

namespace fractal::rtl {

struct RtlFp::Impl {
  VerilatedContext context;
  Vfp_unit unit{&context, "fp"};
};

RtlFp::RtlFp() : impl_(std::make_unique<Impl>()) {}
RtlFp::~RtlFp() = default;

uint32_t RtlFp::add(uint32_t a, uint32_t b) {
  impl_->unit.a = a;
  impl_->unit.b = b;
  impl_->unit.eval();
  return impl_->unit.sum;
}
uint32_t RtlFp::mulExact(uint16_t x, uint16_t y) {
  impl_->unit.x = x;
  impl_->unit.y = y;
  impl_->unit.eval();
  return impl_->unit.product;
}
uint32_t RtlFp::widen(uint16_t x) {
  impl_->unit.x = x;
  impl_->unit.eval();
  return impl_->unit.widened;
}
uint16_t RtlFp::narrow(uint32_t a) {
  impl_->unit.a = a;
  impl_->unit.eval();
  return impl_->unit.narrowed;
}

} // namespace fractal::rtl
