#include "fractal/isa/Numerics.h"

#include <cmath>
#include <cstring>
#include <immintrin.h>

namespace fractal::isa {

float halfToFloatReference(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) // inf or NaN; NaNs come out quiet with the payload kept
    return bitsToFloat(sign | 0x7f800000 | (mant << 13) | (mant ? 0x400000 : 0));
  if (exp == 0) {
    if (mant == 0)
      return bitsToFloat(sign);
    // Subnormal: normalise. value = mant * 2^-24.
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while (!(mant & 0x400));
    return bitsToFloat(sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13);
  }
  return bitsToFloat(sign | (exp + 112) << 23 | mant << 13);
}

uint16_t floatToHalfReference(float f) {
  uint32_t x = floatBits(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t absx = x & 0x7fffffff;
  if (absx > 0x7f800000) // NaN: quiet, top payload bits kept
    return sign | 0x7e00 | static_cast<uint16_t>((absx >> 13) & 0x3ff);
  if (absx >= 0x477ff000) // >= 65520 rounds to infinity (inf stays inf)
    return sign | 0x7c00;
  uint32_t exp = absx >> 23;
  if (absx < 0x38800000) { // below 2^-14: a half subnormal (or zero)
    int shift = 126 - static_cast<int>(exp);
    if (shift > 24)
      return sign;
    uint32_t mant = (absx & 0x7fffff) | 0x800000;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1)))
      ++half;
    return sign | static_cast<uint16_t>(half);
  }
  uint32_t base = (absx - 0x38000000) >> 13;
  uint32_t rem = absx & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (base & 1)))
    ++base;
  return sign | static_cast<uint16_t>(base);
}

bool hostHasF16C() {
  static const bool has = __builtin_cpu_supports("f16c");
  return has;
}

namespace {

__attribute__((target("f16c,avx"))) void halfToFloatF16C(const uint16_t *in, float *out,
                                                           size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i)
    out[i] = _cvtsh_ss(in[i]);
}

__attribute__((target("f16c,avx"))) void floatToHalfF16C(const float *in, uint16_t *out,
                                                           size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 f = _mm256_loadu_ps(in + i);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(out + i),
                     _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  for (; i < n; ++i)
    out[i] = _cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

} // namespace

void halfToFloatArray(const uint16_t *in, float *out, size_t n) {
  if (hostHasF16C())
    return halfToFloatF16C(in, out, n);
  for (size_t i = 0; i < n; ++i)
    out[i] = halfToFloatReference(in[i]);
}

void floatToHalfArray(const float *in, uint16_t *out, size_t n) {
  if (hostHasF16C())
    return floatToHalfF16C(in, out, n);
  for (size_t i = 0; i < n; ++i)
    out[i] = floatToHalfReference(in[i]);
}

float halfToFloat(uint16_t h) {
  float f;
  halfToFloatArray(&h, &f, 1);
  return f;
}

uint16_t floatToHalf(float f) {
  uint16_t h;
  floatToHalfArray(&f, &h, 1);
  return h;
}

namespace {
constexpr double inverseFactorial(int i) {
  double f = 1.0; // i! is exact in double for i <= 18
  for (int k = 2; k <= i; ++k) f *= k;
  return 1.0 / f;
}

// One lane of vexp, branch-free so that the array form vectorises: n = round(x / ln2) to nearest
// even through the 1.5 * 2^52 bias (no libm call, no division); any integer near x / ln2 gives
// the same result. x is clamped first so that n stays where 2^n is a normal double (the clamped
// lanes are overridden at the end).
[[gnu::always_inline]] inline float expLane(float xf) {
  constexpr double ln2 = 0.6931471805599453094, invLn2 = 1.4426950408889634074;
  constexpr double roundBias = 6755399441055744.0;
  const double x = std::min(std::max(double(xf), -104.0), 89.0);
  const double biased = x * invLn2 + roundBias, n = biased - roundBias;
  const double r = x - n * ln2; // |r| <= ln2/2 (+ rounding)
  // Taylor series to r^13/13! in Horner form: the truncation error is far below double
  // precision, and the result rounded to fp32 is the correctly rounded exp (checked against
  // std::exp in double over a sweep of all fp32 inputs, isa NumericsTest).
  static constexpr double c[14] = {inverseFactorial(0),  inverseFactorial(1),  inverseFactorial(2),
                                   inverseFactorial(3),  inverseFactorial(4),  inverseFactorial(5),
                                   inverseFactorial(6),  inverseFactorial(7),  inverseFactorial(8),
                                   inverseFactorial(9),  inverseFactorial(10), inverseFactorial(11),
                                   inverseFactorial(12), inverseFactorial(13)};
  double p = c[13];
  for (int i = 12; i >= 0; --i)
    p = p * r + c[i];
  // p * 2^n with 2^n built from its bits: the biased sum holds n in its low bits (two's
  // complement), so n + 1023 is an integer subtraction away. n is within [-151, 129], far inside
  // double's range, so the product is exact, as ldexp's is.
  uint64_t biasedBits, biasBits;
  std::memcpy(&biasedBits, &biased, 8);
  std::memcpy(&biasBits, &roundBias, 8);
  const uint64_t scaleBits = (biasedBits - biasBits + 1023) << 52;
  double scale;
  std::memcpy(&scale, &scaleBits, 8);
  const float y = static_cast<float>(p * scale);
  return std::isnan(xf) ? xf : xf > 88.72284f ? INFINITY : xf < -103.97909f ? 0.0f : y;
}

} // namespace

float fractalExp(float x) { return expLane(x); }

#ifdef FRACTAL_NO_TARGET_CLONES
void fractalExpArray(const float *in, float *out, size_t n) {
#else
__attribute__((target_clones("avx2", "default"))) void fractalExpArray(const float *in, float *out, size_t n) {
#endif
  for (size_t i = 0; i < n; ++i)
    out[i] = expLane(in[i]);
}

float fractalLog(float xf) {
  if (std::isnan(xf) || xf == INFINITY)
    return xf;
  if (xf == 0.0f)
    return -INFINITY;
  if (xf < 0.0f)
    return NAN;
  int e = 0;
  double m = std::frexp(static_cast<double>(xf), &e); // m in [0.5, 1)
  if (m < 0.70710678118654752) {
    m = m * 2.0;
    e = e - 1;
  }
  // ln(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172: the series to s^29 is exact in double.
  double s = (m - 1.0) / (m + 1.0), s2 = s * s, power = s, sum = 0.0;
  for (int i = 1; i <= 29; i += 2) {
    sum = sum + power / i;
    power = power * s2;
  }
  return static_cast<float>(2.0 * sum + e * 0.6931471805599453094);
}


int8_t floatToInt8Saturate(float f) {
  if (std::isnan(f))
    return 0;
  float r = std::nearbyint(f); // the default rounding mode: nearest, ties to even
  if (r >= 127.0f)
    return 127;
  if (r <= -128.0f)
    return -128;
  return static_cast<int8_t>(r);
}

int32_t floatToInt32Saturate(float f) {
  if (std::isnan(f))
    return 0;
  float r = std::nearbyint(f);
  if (r >= 2147483648.0f)
    return INT32_MAX;
  if (r <= -2147483648.0f)
    return INT32_MIN;
  return static_cast<int32_t>(r);
}

int8_t int32ToInt8Saturate(int32_t v) {
  return static_cast<int8_t>(v > 127 ? 127 : (v < -128 ? -128 : v));
}

} // namespace fractal::isa
