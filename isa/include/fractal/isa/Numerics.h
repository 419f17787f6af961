// The NPU's number formats, defined once (docs/isa.md, "Numerics") and shared by the assembler,
// the simulator and the RTL cross-checks:
// - fp16 is IEEE binary16; fp32 -> fp16 rounds to nearest, ties to even; overflow gives ±inf;
//   subnormals are kept (no flush to zero); a NaN stays a NaN with its sign and the top 10 bits of
//   its payload, with the quiet bit set (exactly what x86 F16C does, so the fast path is exact).
// - float -> integer conversions round to nearest even and saturate; NaN converts to 0.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace fractal::isa {

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Portable reference conversions (bit-exact with the definitions above).
float halfToFloatReference(uint16_t h);
uint16_t floatToHalfReference(float f);

// Fast conversions: F16C when the host has it, else the reference code. Same results.
float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
void halfToFloatArray(const uint16_t *in, float *out, size_t n);
void floatToHalfArray(const float *in, uint16_t *out, size_t n);
bool hostHasF16C();

// exp and ln as the vector unit computes them: evaluated in double precision with Fractal's own
// range reduction and series (so every host gives the same bits), then rounded to fp32.
float fractalExp(float x);
void fractalExpArray(const float *in, float *out, size_t n); // the same, n lanes at once
float fractalLog(float x);

// IEEE-style max/min as the ISA defines them: NaN if either input is NaN; max(-0, +0) = +0,
// min(-0, +0) = -0. Inline and branch-free, so the simulator's lane loops vectorise them.
inline float fractalMax(float a, float b) {
  const float bigger = a > b ? a : b, equal = std::signbit(a) ? b : a;
  return std::isnan(a) || std::isnan(b) ? a + b : a == b ? equal : bigger;
}
inline float fractalMin(float a, float b) {
  const float smaller = a < b ? a : b, equal = std::signbit(a) ? a : b;
  return std::isnan(a) || std::isnan(b) ? a + b : a == b ? equal : smaller;
}

int8_t floatToInt8Saturate(float f);   // RNE, saturate to [-128, 127], NaN -> 0
int32_t floatToInt32Saturate(float f); // RNE, saturate to int32 range, NaN -> 0
int8_t int32ToInt8Saturate(int32_t v);

} // namespace fractal::isa
