// The cube's cache of converted B operands (simulator/lib/CubeExec.cpp: cachedCubeB) must never
// change a result: a core that has multiplied other B operands before -- hits, evictions by count
// and by bytes, an all-diagonal B whose fp32 columns were dropped and that an A with an infinity
// needs again -- gives the same bits as a fresh core. And it must stay small (issue 6's RSS).
#include "SimTestUtil.h"

#include "fractal/sim/Execute.h"

#include <numeric>

using namespace fractal;
using namespace fractal::sim;
using namespace fractal::sim::testing;

namespace {

struct Operands {
  uint64_t m, k, n;
  std::vector<uint8_t> a, b; // L0A (NZ) and L0B (ZN) bytes
};

std::vector<uint8_t> randomHalves(size_t count, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<uint8_t> bytes(count * 2);
  for (size_t i = 0; i < count; ++i) {
    const uint16_t h = isa::floatToHalf(u(rng));
    std::memcpy(&bytes[i * 2], &h, 2);
  }
  return bytes;
}

// A depthwise convolution's B: every 16x16 block diagonal (ZN: element (kk, j) at j*16 + kk).
Operands diagonalCase(uint64_t m, uint64_t k, std::mt19937_64 &rng) {
  Operands o{m, k, 16, randomHalves(m * k, rng), randomHalves(k * 16, rng)};
  for (size_t blk = 0; blk < k / 16; ++blk)
    for (int j = 0; j < 16; ++j)
      for (int kk = 0; kk < 16; ++kk)
        if (kk != j)
          std::memset(&o.b[blk * 512 + size_t(j * 16 + kk) * 2], 0, 2);
  return o;
}

Operands denseCase(uint64_t m, uint64_t k, uint64_t n, std::mt19937_64 &rng) {
  return Operands{m, k, n, randomHalves(m * k, rng), randomHalves(k * n, rng)};
}

// L0C after `mmad.f16 l0c[0], l0a[0], l0b[0], m, k, n, init=1` on `core`.
std::vector<uint8_t> multiply(CoreState &core, const Operands &o) {
  std::memcpy(core.buffer(BufferKind::L0A).bytes.data(), o.a.data(), o.a.size());
  std::memcpy(core.buffer(BufferKind::L0B).bytes.data(), o.b.data(), o.b.size());
  const isa::KernelBinary k = assembleText("mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=" + std::to_string(o.m) +
                                           ", k=" + std::to_string(o.k) + ", n=" + std::to_string(o.n) +
                                           ", init=1\n");
  DispatchedOp op;
  op.inst = k.code.at(0);
  GlobalMemory gm(4096);
  OpEffects fx;
  executeOp(core, gm, op, fx);
  const uint8_t *c = core.buffer(BufferKind::L0C).bytes.data();
  return std::vector<uint8_t>(c, c + o.m * o.n * 4);
}

std::vector<uint8_t> onFreshCore(const ChipConfig &config, const Operands &o) {
  CoreState fresh(config, 0);
  return multiply(fresh, o);
}

size_t cacheBytes(const CoreState &core) {
  return std::accumulate(core.cubeB.begin(), core.cubeB.end(), size_t(0),
                         [](size_t s, const CubeOperandCache &e) { return s + e.heapBytes(); });
}

TEST(CubeOperandCache, ResultsAreAFreshCoresThroughHitsEvictionsAndDroppedColumns) {
  const ChipConfig config = edge();
  CoreState core(config, 0);
  std::mt19937_64 rng(20261208);

  // Six channel groups of a 3x3 depthwise convolution (k = 9 taps x 16), twice round: all six
  // stay cached (small, since their fp32 columns are dropped).
  std::vector<Operands> groups;
  for (int g = 0; g < 6; ++g)
    groups.push_back(diagonalCase(32, 144, rng));
  for (int round = 0; round < 2; ++round)
    for (size_t g = 0; g < groups.size(); ++g)
      ASSERT_EQ(multiply(core, groups[g]), onFreshCore(config, groups[g])) << "round " << round << ", group " << g;
  EXPECT_EQ(core.cubeB.size(), 6u);
  for (const CubeOperandCache &e : core.cubeB)
    EXPECT_TRUE(e.allDiagonal && e.columns.empty());

  // Ten of them: at most eight entries.
  for (int g = 0; g < 4; ++g)
    groups.push_back(diagonalCase(32, 144, rng));
  for (const Operands &o : groups)
    ASSERT_EQ(multiply(core, o), onFreshCore(config, o));
  EXPECT_EQ(core.cubeB.size(), 8u);

  // A B of all L0B's 64 KiB (three times that once converted): the budget leaves it and the one
  // used before it; the next small one evicts the older.
  const Operands big = denseCase(16, 256, 128, rng);
  ASSERT_EQ(multiply(core, big), onFreshCore(config, big));
  EXPECT_EQ(core.cubeB.size(), 2u);
  ASSERT_EQ(multiply(core, groups[0]), onFreshCore(config, groups[0]));
  EXPECT_EQ(core.cubeB.size(), 2u);
  ASSERT_EQ(multiply(core, big), onFreshCore(config, big)); // still cached: the result is the same
  EXPECT_LE(core.cubeB.size(), 2u);

  // A cached all-diagonal B (columns dropped) with an A holding an infinity: the shortcut is off
  // (inf x 0 is NaN) and the dense path needs the columns back.
  ASSERT_EQ(multiply(core, groups[0]), onFreshCore(config, groups[0]));
  Operands withInf = groups[0];
  const uint16_t inf = 0x7c00;
  std::memcpy(&withInf.a[2 * 37], &inf, 2);
  const std::vector<uint8_t> c = multiply(core, withInf);
  ASSERT_EQ(c, onFreshCore(config, withInf));
  size_t nans = 0;
  for (size_t i = 0; i < c.size(); i += 4) {
    float v;
    std::memcpy(&v, &c[i], 4);
    nans += std::isnan(v);
  }
  EXPECT_EQ(nans, 15u); // A's row 2, depth 5: the infinity times the zeros off B's diagonal
}

TEST(CubeOperandCache, StaysUnderItsBudgetBeyondTwoEntries) {
  const ChipConfig config = edge();
  CoreState core(config, 0);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 12; ++i) {
    const Operands o = denseCase(16, 64 + 16 * (i % 4), 96, rng); // 12-24 KiB of B, 36-72 KiB converted
    ASSERT_EQ(multiply(core, o), onFreshCore(config, o));
    ASSERT_GE(core.cubeB.size(), 1u);
    if (core.cubeB.size() > 2)
      EXPECT_LE(cacheBytes(core), size_t(128 << 10)) << "after B " << i;
  }
  EXPECT_GE(core.cubeB.size(), 2u);
}

} // namespace
