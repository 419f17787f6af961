// RTL against the simulator: the Verilated cube tile and floating-point units must match the C++
// model bit for bit, and the tile must take exactly the cycles the timing model charges.
//
// Cases are seeded and reproducible. Environment: FRACTAL_RTL_CASES (default 300) and
// FRACTAL_RTL_SEED (default fixed); a failure prints the seed and case to re-run, e.g.
//   FRACTAL_RTL_SEED=1234 FRACTAL_RTL_CASES=1 build/tests/unit/rtl_tests --gtest_filter=Cube*
// A soak run for humans: FRACTAL_RTL_CASES=100000 build/tests/unit/rtl_tests.
#include "RtlCube.h"
#include "RtlFp.h"

#include "fractal/isa/Assembler.h"
#include "fractal/isa/Numerics.h"
#include "fractal/sim/Execute.h"

#include "RtlTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>

using namespace fractal;
using namespace fractal::isa;
using fractal::rtl::testing::envOr;

namespace {

bool sameValue(uint32_t a, uint32_t b) {
  bool nanA = std::isnan(bitsToFloat(a)), nanB = std::isnan(bitsToFloat(b));
  return (nanA && nanB) || a == b; // NaN payloads are unspecified (docs/isa.md)
}

// One random mmad: shapes, mode, data (fp16 with occasional specials, or int8), C and bias.
struct MmadCase {
  bool int8;
  uint64_t m, k, n;
  bool init, bias;
  std::vector<uint8_t> a, b, c, biasBytes;
  std::string describe() const {
    return std::string(int8 ? "s8" : "f16") + " m=" + std::to_string(m) + " k=" +
           std::to_string(k) + " n=" + std::to_string(n) + " init=" + std::to_string(init) +
           " bias=" + std::to_string(bias);
  }
};

uint16_t randomHalf(std::mt19937_64 &rng) {
  switch (rng() % 64) {
  case 0: return 0x7c00;                                   // +inf
  case 1: return 0xfe01;                                   // NaN
  case 2: return static_cast<uint16_t>(rng() % 0x400);     // subnormal
  case 3: return 0x8000;                                   // -0
  case 4: return static_cast<uint16_t>(0x7800 | (rng() & 0x3ff)); // large: sums may overflow
  default: {
    std::normal_distribution<float> d(0.0f, 2.0f);
    return floatToHalfReference(d(rng));
  }
  }
}

// A 16x16x16 f16 mmad of +0 operands onto accumulators at -0 (no init): for the sign rules of
// all-zero sums, which the caller's few nonzero or -0 values decide.
MmadCase zeroCase() {
  MmadCase z{false, 16, 16, 16, false, false, {}, {}, {}, {}};
  z.a.assign(512, 0);
  z.b.assign(512, 0);
  z.c.assign(1024, 0);
  z.biasBytes.assign(64, 0);
  for (size_t w = 0; w < z.c.size(); w += 4) z.c[w + 3] = 0x80; // -0.0f
  return z;
}

MmadCase randomCase(std::mt19937_64 &rng) {
  MmadCase c;
  c.int8 = rng() % 3 == 0;
  c.m = 1 + rng() % 64;
  c.k = 1 + rng() % (c.int8 ? 96 : 64);
  c.n = 1 + rng() % 64;
  c.init = rng() % 2;
  c.bias = c.init && rng() % 2;
  const uint64_t k0 = c.int8 ? 32 : 16;
  const uint64_t mf = (c.m + 15) / 16, kf = (c.k + k0 - 1) / k0, nf = (c.n + 15) / 16;
  c.a.resize(mf * kf * 512);
  c.b.resize(kf * nf * 512);
  c.c.resize(nf * mf * 1024);
  c.biasBytes.resize(nf * 64);
  auto fill = [&](std::vector<uint8_t> &v) {
    if (c.int8) {
      for (auto &x : v)
        x = static_cast<uint8_t>(rng());
    } else {
      for (size_t i = 0; i + 1 < v.size(); i += 2) {
        uint16_t h = randomHalf(rng);
        std::memcpy(&v[i], &h, 2);
      }
    }
  };
  fill(c.a);
  fill(c.b);
  for (size_t i = 0; i < c.c.size(); i += 4) {
    uint32_t w = c.int8 ? static_cast<uint32_t>(rng())
                        : floatBits(halfToFloatReference(randomHalf(rng)) * 3.0f);
    std::memcpy(&c.c[i], &w, 4);
  }
  for (size_t i = 0; i < c.biasBytes.size(); i += 4) {
    uint32_t w = c.int8 ? static_cast<uint32_t>(rng() % 1000) : floatBits(float(rng() % 100) / 8);
    std::memcpy(&c.biasBytes[i], &w, 4);
  }
  return c;
}

// A model of mmad: reads the case, writes the resulting L0C bytes.
using Model = std::function<void(const MmadCase &, std::vector<uint8_t> &)>;

// The simulator's own cube, through the same executeOp the simulator runs.
void simulatorModel(const MmadCase &mc, std::vector<uint8_t> &out) {
  static const ChipConfig config = *loadChipConfig("edge");
  sim::CoreState core(config, 0);
  std::memcpy(core.buffer(BufferKind::L0A).bytes.data(), mc.a.data(), mc.a.size());
  std::memcpy(core.buffer(BufferKind::L0B).bytes.data(), mc.b.data(), mc.b.size());
  std::memcpy(core.buffer(BufferKind::L0C).bytes.data(), mc.c.data(), mc.c.size());
  std::memcpy(core.buffer(BufferKind::L1).bytes.data(), mc.biasBytes.data(), mc.biasBytes.size());
  std::string text = std::string("mmad.") + (mc.int8 ? "s8" : "f16") +
                     " l0c[x0], l0a[x0], l0b[x0], m=" + std::to_string(mc.m) +
                     ", k=" + std::to_string(mc.k) + ", n=" + std::to_string(mc.n) +
                     ", init=" + std::to_string(mc.init) + (mc.bias ? ", bias=x1" : "");
  Expected<KernelBinary> k = assemble(text, "case.s");
  ASSERT_TRUE(k.ok()) << k.error().message;
  sim::DispatchedOp op;
  op.inst = k->code[0]; // every address register reads 0, as the case's buffers start at 0
  sim::GlobalMemory gm(4096);
  sim::OpEffects fx;
  sim::executeOp(core, gm, op, fx);
  out.assign(core.buffer(BufferKind::L0C).bytes.begin(),
             core.buffer(BufferKind::L0C).bytes.begin() + mc.c.size());
}

struct CheckResult {
  uint64_t mismatches = 0;
  std::string first;
};

// Runs `mc` on the RTL and on `model`; compares every accumulator and the tile's cycles.
CheckResult crossCheck(rtl::RtlCube &cube, const MmadCase &mc, const Model &model) {
  CheckResult r;
  std::vector<uint8_t> want;
  model(mc, want);
  std::vector<uint8_t> got = mc.c;
  rtl::MmadOperands op;
  op.int8 = mc.int8;
  op.m = mc.m;
  op.k = mc.k;
  op.n = mc.n;
  op.init = mc.init;
  op.a = mc.a.data();
  op.b = mc.b.data();
  op.c = got.data();
  op.bias = mc.bias ? mc.biasBytes.data() : nullptr;
  const uint64_t cycles = cube.mmad(op);
  for (size_t i = 0; i < got.size(); i += 4) {
    uint32_t g, w;
    std::memcpy(&g, &got[i], 4);
    std::memcpy(&w, &want[i], 4);
    bool same = mc.int8 ? g == w : sameValue(g, w);
    if (!same && r.mismatches++ == 0) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "accumulator word %zu: rtl %08x, model %08x", i / 4, g, w);
      r.first = buf;
    }
  }
  // Timing: one fractal step per cycle (the model's busy), then the pipeline drains.
  const uint64_t k0 = mc.int8 ? 32 : 16;
  const uint64_t steps = ((mc.m + 15) / 16) * ((mc.n + 15) / 16) * ((mc.k + k0 - 1) / k0);
  if (cycles != steps + rtl::RtlCube::kPipelineDepth - 1 && r.mismatches++ == 0)
    r.first = "cycles: rtl " + std::to_string(cycles) + ", model " +
              std::to_string(steps + rtl::RtlCube::kPipelineDepth - 1);
  return r;
}

} // namespace

TEST(RtlFp, MatchesTheCppNumerics) {
  rtl::RtlFp fp;
  std::mt19937_64 rng(envOr("FRACTAL_RTL_SEED", 42));
  uint64_t checked = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_EQ(fp.widen(static_cast<uint16_t>(h)), floatBits(halfToFloatReference(h))) << h;
    uint16_t y = static_cast<uint16_t>(rng());
    float p = halfToFloatReference(h) * halfToFloatReference(y);
    ASSERT_TRUE(sameValue(fp.mulExact(static_cast<uint16_t>(h), y), floatBits(p))) << h << " " << y;
    checked += 2;
  }
  for (int i = 0; i < 200000; ++i) {
    uint32_t a = static_cast<uint32_t>(rng()), b = static_cast<uint32_t>(rng());
    if (i % 3 == 0)
      b = (a & 0xff800000) ^ (static_cast<uint32_t>(rng()) & 0x80ffffff); // close exponents
    if (i % 5 == 0)
      b = a ^ 0x80000000 ^ (static_cast<uint32_t>(rng()) & 0xff); // cancellation
    if (i % 7 == 0)
      a &= 0x807fffff; // subnormal
    ASSERT_TRUE(sameValue(fp.add(a, b), floatBits(bitsToFloat(a) + bitsToFloat(b))))
        << std::hex << a << " + " << b;
    uint16_t n = fp.narrow(a);
    if (!std::isnan(bitsToFloat(a))) {
      ASSERT_EQ(n, floatToHalfReference(bitsToFloat(a))) << std::hex << a;
    }
    checked += 2;
  }
  RecordProperty("cases", static_cast<int>(checked));
}

TEST(CubeTile, RandomMmadsMatchTheSimulatorBitForBitAndCycleForCycle) {
  const uint64_t seed = envOr("FRACTAL_RTL_SEED", 20261124), cases = envOr("FRACTAL_RTL_CASES", 300);
  std::mt19937_64 rng(seed);
  rtl::RtlCube cube;
  uint64_t failures = 0;
  for (uint64_t i = 0; i < cases; ++i) {
    MmadCase mc = randomCase(rng);
    CheckResult r = crossCheck(cube, mc, simulatorModel);
    if (r.mismatches) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ", case " << i << " (" << mc.describe() << "): "
                    << r.mismatches << " mismatches; first: " << r.first;
      if (failures > 3)
        break;
    }
  }
  EXPECT_EQ(failures, 0u);
  std::printf("cube cross-check: %llu random mmads, %llu mismatches, %llu RTL cycles\n",
              (unsigned long long)cases, (unsigned long long)failures,
              (unsigned long long)cube.totalCycles());
}

// Sets about one in `oneIn` of the halves in `v` to +0 or -0.
static void sprinkleSignedZeros(std::vector<uint8_t> &v, std::mt19937_64 &rng, int oneIn) {
  for (size_t e = 0; e + 1 < v.size(); e += 2)
    if (rng() % oneIn == 0) {
      const uint16_t z = rng() % 2 ? 0x8000 : 0x0000;
      std::memcpy(&v[e], &z, 2);
    }
}

// Cross-checks case `i` against the simulator's model; false (with a failure added) on mismatch.
static bool checkedAlike(rtl::RtlCube &cube, const MmadCase &mc, int i) {
  CheckResult r = crossCheck(cube, mc, simulatorModel);
  if (r.mismatches)
    ADD_FAILURE() << "case " << i << " (" << mc.describe() << "): " << r.mismatches << " mismatches; first: " << r.first;
  return r.mismatches == 0;
}

// Diagonal B blocks (depthwise convolutions) take the simulator's shortcut (the product on the
// diagonal instead of the 16-product tree): the RTL computes the whole tree. Zeros of both signs
// in A and off the diagonal, zero diagonal values, and infinities/NaNs in A (which must fall back
// to the tree: inf * 0 is NaN) all have to come out the same.
TEST(CubeTile, DiagonalBlocksMatchTheRtlBitForBit) {
  std::mt19937_64 rng(envOr("FRACTAL_RTL_SEED", 20261125));
  rtl::RtlCube cube;
  uint64_t failures = 0;
  for (int i = 0; i < 200 && failures < 4; ++i) {
    MmadCase mc = randomCase(rng);
    if (mc.int8) continue;
    const uint64_t kf = (mc.k + 15) / 16, nf = (mc.n + 15) / 16;
    for (uint64_t blk = 0; blk < kf * nf; ++blk) // ZN fractal: element (kk, j) at j*16 + kk
      for (int j = 0; j < 16; ++j)
        for (int kk = 0; kk < 16; ++kk) {
          uint16_t h;
          std::memcpy(&h, &mc.b[blk * 512 + size_t(j * 16 + kk) * 2], 2);
          if (kk != j) h = rng() % 3 == 0 ? 0x8000 : 0x0000; // +-0 off the diagonal
          else if (rng() % 8 == 0) h = rng() % 2 ? 0x8000 : 0x0000; // some zero diagonals
          else if ((h & 0x7c00) == 0x7c00) h = 0x3c00; // a finite diagonal (else no shortcut)
          std::memcpy(&mc.b[blk * 512 + size_t(j * 16 + kk) * 2], &h, 2);
        }
    sprinkleSignedZeros(mc.a, rng, 4); // many zeros of both signs in A
    failures += !checkedAlike(cube, mc, i);
  }
  EXPECT_EQ(failures, 0u);
  // The sign of an all-zero sum: accumulators at -0, A rows of -0 (and of +0), a diagonal B with
  // some zero diagonal values: -0 + (-0 x +0, sixteen times) stays -0, anything else gives +0.
  MmadCase z = zeroCase();
  for (int row = 0; row < 16; ++row)
    for (int t = 0; t < 16; ++t)
      if (row % 2 == 0) z.a[size_t(row * 32 + t * 2 + 1)] = 0x80; // -0
  for (int j = 0; j < 16; ++j)
    if (j % 3 != 0) {
      const uint16_t one = 0x3c00; // 1.0 on the diagonal; columns j % 3 == 0 keep +0 there
      std::memcpy(&z.b[size_t(j * 16 + j) * 2], &one, 2);
    }
  CheckResult r = crossCheck(cube, z, simulatorModel);
  EXPECT_EQ(r.mismatches, 0u) << r.first;
}

// Blocks with only a few real rows of K (an image's 3 channels padded to 16): B rows and A
// entries past 4 or 8 at +0 take the simulator's head-sum shortcut; -0 or a nonzero there (in A or
// in B) must not, and the sign of an all-zero head must come out as the full tree gives it.
TEST(CubeTile, ZeroTailBlocksMatchTheRtlBitForBit) {
  std::mt19937_64 rng(envOr("FRACTAL_RTL_SEED", 20261203));
  rtl::RtlCube cube;
  uint64_t failures = 0;
  for (int i = 0; i < 200 && failures < 4; ++i) {
    MmadCase mc = randomCase(rng);
    if (mc.int8) continue;
    const uint64_t kf = (mc.k + 15) / 16, nf = (mc.n + 15) / 16, mf = (mc.m + 15) / 16;
    for (uint64_t blk = 0; blk < kf * nf; ++blk) { // ZN fractal: element (kk, j) at j*16 + kk
      const int rows = int(rng() % 9);               // real rows 0..8
      for (int j = 0; j < 16; ++j)
        for (int kk = rows; kk < 16; ++kk) {
          uint16_t h = 0x0000;
          if (rng() % 64 == 0) h = rng() % 2 ? 0x8000 : 0x3c00; // now and then not +0
          std::memcpy(&mc.b[blk * 512 + size_t(j * 16 + kk) * 2], &h, 2);
        }
    }
    for (uint64_t f = 0; f < mf * kf; ++f) // A in ZZ: row-fractal f, row r, entry t at f*512 + (r*16 + t)*2
      for (int r = 0; r < 16; ++r)
        for (int t = 4; t < 16; ++t) {
          uint16_t h = 0x0000;
          if (rng() % 48 == 0) h = rng() % 2 ? 0x8000 : 0xbc00;
          else if (t < 8 && rng() % 3 == 0) continue; // keep the random value: a tail from 8 only
          std::memcpy(&mc.a[f * 512 + size_t(r * 16 + t) * 2], &h, 2);
        }
    sprinkleSignedZeros(mc.a, rng, 6); // zeros of both signs in the heads too
    failures += !checkedAlike(cube, mc, i);
  }
  EXPECT_EQ(failures, 0u);
  // An all-zero head: A's first four entries -0, B's first four rows 1.0, the rest +0, the
  // accumulators at -0. The full tree adds the +0 products of the tail, so every result is +0.
  MmadCase z = zeroCase();
  for (int row = 0; row < 16; ++row)
    for (int t = 0; t < 4; ++t)
      z.a[size_t(row * 32 + t * 2 + 1)] = 0x80; // -0
  for (int j = 0; j < 16; ++j)
    for (int kk = 0; kk < 4; ++kk) {
      const uint16_t one = 0x3c00;
      std::memcpy(&z.b[size_t(j * 16 + kk) * 2], &one, 2);
    }
  CheckResult r = crossCheck(cube, z, simulatorModel);
  EXPECT_EQ(r.mismatches, 0u) << r.first;
}

TEST(CubeTile, TheCheckerCatchesAWrongModel) {
  // A model that accumulates the 16 products of a k-block one by one instead of as a tree: a
  // plausible mistake, close in value, wrong in bits. The cross-check must notice.
  Model sequential = [](const MmadCase &mc, std::vector<uint8_t> &out) {
    out = mc.c;
    const uint64_t mf = (mc.m + 15) / 16, kf = (mc.k + 15) / 16, nf = (mc.n + 15) / 16;
    for (uint64_t i = 0; i < mc.m; ++i)
      for (uint64_t j = 0; j < mc.n; ++j) {
        uint8_t *c = &out[((j / 16) * mf * 16 + i) * 64 + (j % 16) * 4];
        float acc;
        std::memcpy(&acc, c, 4);
        if (mc.init)
          acc = mc.bias ? bitsToFloat(uint32_t(mc.biasBytes[j * 4]) | uint32_t(mc.biasBytes[j * 4 + 1]) << 8 |
                                      uint32_t(mc.biasBytes[j * 4 + 2]) << 16 | uint32_t(mc.biasBytes[j * 4 + 3]) << 24)
                        : 0.0f;
        for (uint64_t kk = 0; kk < mc.k; ++kk) {
          uint16_t a, b;
          std::memcpy(&a, &mc.a[(((i / 16) * kf + kk / 16) * 256 + (i % 16) * 16 + kk % 16) * 2], 2);
          std::memcpy(&b, &mc.b[(((kk / 16) * nf + j / 16) * 256 + (j % 16) * 16 + kk % 16) * 2], 2);
          acc = acc + halfToFloatReference(a) * halfToFloatReference(b);
        }
        std::memcpy(c, &acc, 4);
      }
  };
  std::mt19937_64 rng(7);
  rtl::RtlCube cube;
  uint64_t caught = 0, fp16Cases = 0;
  while (fp16Cases < 20) {
    MmadCase mc = randomCase(rng);
    if (mc.int8 || mc.k < 32)
      continue;
    ++fp16Cases;
    if (crossCheck(cube, mc, sequential).mismatches > 0)
      ++caught;
  }
  EXPECT_GT(caught, 10u) << "the cross-check did not tell tree from sequential accumulation";
}
