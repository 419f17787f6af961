// fp16 numerics as defined in docs/isa.md: the portable reference and the F16C fast path agree on
// every half and on every class of float; known values pin round-to-nearest-even.
#include "fractal/isa/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>
#include <random>

using namespace fractal::isa;

TEST(Numerics, KnownValues) {
  EXPECT_EQ(floatToHalfReference(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalfReference(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalfReference(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalfReference(65519.99f), 0x7bff); // below the rounding midpoint
  EXPECT_EQ(floatToHalfReference(65520.0f), 0x7c00);  // midpoint rounds to even: infinity
  EXPECT_EQ(floatToHalfReference(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToHalfReference(std::ldexp(1.0f, -25)), 0x0000); // tie -> even (zero)
  EXPECT_EQ(floatToHalfReference(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(floatToHalfReference(std::ldexp(3.0f, -25)), 0x0002); // 1.5 ulp tie -> even (2)
  EXPECT_EQ(floatToHalfReference(1.0f + std::ldexp(1.0f, -11)), 0x3c00); // tie -> even
  EXPECT_EQ(floatToHalfReference(1.0f + std::ldexp(3.0f, -11)), 0x3c02); // tie -> even (up)
  EXPECT_EQ(floatToHalfReference(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalfReference(INFINITY), 0x7c00);
  EXPECT_EQ(floatToHalfReference(NAN) & 0x7e00, 0x7e00);
  EXPECT_EQ(halfToFloatReference(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloatReference(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(halfToFloatReference(0x7bff), 65504.0f);
}

TEST(Numerics, EveryHalfConvertsExactlyAndBack) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = halfToFloatReference(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_EQ(floatToHalfReference(f), h | 0x0200) << h; // quieted, payload kept
      continue;
    }
    EXPECT_EQ(floatToHalfReference(f), h) << h;
  }
}

TEST(Numerics, FastPathMatchesReferenceForEveryHalf) {
  std::vector<uint16_t> halves(65536);
  for (uint32_t h = 0; h < 65536; ++h)
    halves[h] = static_cast<uint16_t>(h);
  std::vector<float> fast(65536);
  halfToFloatArray(halves.data(), fast.data(), halves.size());
  for (uint32_t h = 0; h < 65536; ++h) {
    uint32_t ref = floatBits(halfToFloatReference(static_cast<uint16_t>(h)));
    EXPECT_EQ(floatBits(fast[h]), ref) << std::hex << h;
  }
}

TEST(Numerics, FastPathMatchesReferenceForFloats) {
  std::mt19937 rng(99);
  std::vector<float> in;
  for (int i = 0; i < 2000000; ++i)
    in.push_back(bitsToFloat(static_cast<uint32_t>(rng())));
  // Dense sampling of the subnormal/overflow boundaries and of rounding ties.
  for (uint32_t b = 0x33000000; b < 0x38900000; b += 0x1000)
    in.push_back(bitsToFloat(b));
  for (uint32_t b = 0x477fe000; b < 0x47800100; ++b)
    in.push_back(bitsToFloat(b));
  for (uint32_t b = 0x3f800000; b < 0x3f810000; b += 0x800)
    in.push_back(bitsToFloat(b));
  std::vector<uint16_t> fast(in.size());
  floatToHalfArray(in.data(), fast.data(), in.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < in.size(); ++i)
    if (fast[i] != floatToHalfReference(in[i]) && ++mismatches < 10)
      ADD_FAILURE() << std::hex << floatBits(in[i]) << ": fast " << fast[i] << " reference "
                    << floatToHalfReference(in[i]);
  EXPECT_EQ(mismatches, 0u);
}

TEST(Numerics, IntegerConversionsRoundToEvenAndSaturate) {
  EXPECT_EQ(floatToInt8Saturate(2.5f), 2);
  EXPECT_EQ(floatToInt8Saturate(3.5f), 4);
  EXPECT_EQ(floatToInt8Saturate(-2.5f), -2);
  EXPECT_EQ(floatToInt8Saturate(127.4f), 127);
  EXPECT_EQ(floatToInt8Saturate(1e9f), 127);
  EXPECT_EQ(floatToInt8Saturate(-129.0f), -128);
  EXPECT_EQ(floatToInt8Saturate(NAN), 0);
  EXPECT_EQ(floatToInt32Saturate(3e9f), INT32_MAX);
  EXPECT_EQ(floatToInt32Saturate(-3e9f), INT32_MIN);
  EXPECT_EQ(floatToInt32Saturate(-0.5f), 0);
  EXPECT_EQ(int32ToInt8Saturate(300), 127);
  EXPECT_EQ(int32ToInt8Saturate(-300), -128);
}

// vexp's routine is its own (docs/isa.md), but it must be the correctly rounded exp: compared with
// exp in double precision rounded once to fp32, over every 997th fp32 bit pattern and the edges.
TEST(Numerics, ExpIsCorrectlyRoundedOverASweepOfFp32) {
  uint64_t checked = 0, wrong = 0;
  for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 997) {
    float x;
    const uint32_t bits = uint32_t(b);
    std::memcpy(&x, &bits, 4);
    if (std::isnan(x)) continue;
    const float got = fractalExp(x), want = float(std::exp(double(x)));
    ++checked;
    if (std::memcmp(&got, &want, 4) != 0 && ++wrong < 10)
      ADD_FAILURE() << "exp(" << x << " = 0x" << std::hex << bits << std::dec << "): " << got << ", expected " << want;
  }
  EXPECT_GT(checked, 4000000u);
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(fractalExp(0.0f), 1.0f);
  EXPECT_EQ(fractalExp(-0.0f), 1.0f);
  EXPECT_EQ(fractalExp(INFINITY), INFINITY);
  EXPECT_EQ(fractalExp(-INFINITY), 0.0f);
  EXPECT_EQ(fractalExp(89.0f), INFINITY);
  EXPECT_EQ(fractalExp(88.7f), float(std::exp(double(88.7f)))); // just below overflow
  EXPECT_EQ(fractalExp(-103.0f), float(std::exp(-103.0))); // a subnormal result
  EXPECT_TRUE(std::isnan(fractalExp(NAN)));
}

// The simulator runs vexp through the array form (vectorised): the same bits as the scalar form
// on every 101st fp32 bit pattern, NaNs included, in batches of odd length.
TEST(Numerics, ExpArrayIsTheScalarExp) {
  std::vector<float> in, out;
  uint64_t wrong = 0;
  for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 101) {
    float x;
    const uint32_t bits = uint32_t(b);
    std::memcpy(&x, &bits, 4);
    in.push_back(x);
    if (in.size() < 1001 && b + 101 < (uint64_t(1) << 32)) continue;
    out.assign(in.size(), 0.0f);
    fractalExpArray(in.data(), out.data(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      const float want = fractalExp(in[i]);
      const bool same = std::isnan(want) ? std::isnan(out[i]) : std::memcmp(&out[i], &want, 4) == 0;
      if (!same && ++wrong < 10) ADD_FAILURE() << "exp(" << in[i] << "): array " << out[i] << ", scalar " << want;
    }
    in.clear();
  }
  EXPECT_EQ(wrong, 0u);
}
