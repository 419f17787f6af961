// The fractal_fp_pkg functions through the Verilated fp_unit, one call at a time.
#pragma once

#include <cstdint>
#include <memory>

namespace fractal::rtl {

class RtlFp {
public:
  RtlFp();
  ~RtlFp();
  uint32_t add(uint32_t a, uint32_t b);
  uint32_t mulExact(uint16_t x, uint16_t y);
  uint32_t widen(uint16_t x);
  uint16_t narrow(uint32_t a);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace fractal::rtl
