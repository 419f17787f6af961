// Cube (mmad) and FixPipe semantics. mmad follows the accumulation order of docs/isa.md exactly:
// fp32 products (exact), a pairwise tree per 16-deep k-block with every addition rounded to fp32,
// then acc += block sum. The loops run across the 16 output columns so that they vectorize; the
// build compiles this file with -ffp-contract=off so no addition is fused into a multiply.
#include "ExecUtil.h"

#include "fractal/isa/Numerics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace fractal::sim::detail {

using isa::DataType;

namespace {

constexpr int kF = 16; // fractal rows / columns

// AVX2 and baseline versions of the hot loops, chosen at load time through an ifunc. Sanitizer
// builds go without: the ifunc resolver runs during dynamic relocation, before the sanitizer's
// runtime is up, and crashes when instrumented. (Both versions compute the same bits.)
#ifdef FRACTAL_NO_TARGET_CLONES
#define FRACTAL_TARGET_CLONES
#else
#define FRACTAL_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

// acc[16] += tree-sum over t of a[t] * b[t][0..15], in the defined order: level 1 adds products
// (0,1), (2,3), ...; each later level adds neighbouring partial sums. Written as one expression per
// column so that the compiler keeps everything in registers and vectorises across the columns.
// Inlined into the row functions below, whose clones choose the instruction set.
[[gnu::always_inline]] inline void mmadBlockF16(const float *a, const float *b, float *acc) {
  const float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6],
              a7 = a[7], a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11], a12 = a[12],
              a13 = a[13], a14 = a[14], a15 = a[15];
  for (int j = 0; j < 16; ++j) {
    const float p0 = a0 * b[0 * 16 + j], p1 = a1 * b[1 * 16 + j], p2 = a2 * b[2 * 16 + j],
                p3 = a3 * b[3 * 16 + j], p4 = a4 * b[4 * 16 + j], p5 = a5 * b[5 * 16 + j],
                p6 = a6 * b[6 * 16 + j], p7 = a7 * b[7 * 16 + j], p8 = a8 * b[8 * 16 + j],
                p9 = a9 * b[9 * 16 + j], p10 = a10 * b[10 * 16 + j], p11 = a11 * b[11 * 16 + j],
                p12 = a12 * b[12 * 16 + j], p13 = a13 * b[13 * 16 + j],
                p14 = a14 * b[14 * 16 + j], p15 = a15 * b[15 * 16 + j];
    const float sum = (((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))) +
                      (((p8 + p9) + (p10 + p11)) + ((p12 + p13) + (p14 + p15)));
    acc[j] = acc[j] + sum;
  }
}

// The same sum when only the first R rows (R = 4 or 8) of the block can be nonzero: rows R..15 of
// B and entries R..15 of a are all +0 (bit patterns zero; the caller checks). Those products are
// +0 x +0 = +0 exactly, so every subtree of the tree made of them is +0, and the tree is the
// subtree of the first R products plus +0 (once or twice, which gives the same: x + 0 is x except
// that -0 becomes +0). No -ffast-math here, so the compiler keeps `+ 0.0f`.
template <int R>
[[gnu::always_inline]] inline void mmadHeadF16(const float *a, const float *b, float *acc) {
  for (int j = 0; j < 16; ++j) {
    const float p0 = a[0] * b[0 * 16 + j], p1 = a[1] * b[1 * 16 + j], p2 = a[2] * b[2 * 16 + j],
                p3 = a[3] * b[3 * 16 + j];
    float head = (p0 + p1) + (p2 + p3);
    if constexpr (R == 8) {
      const float p4 = a[4] * b[4 * 16 + j], p5 = a[5] * b[5 * 16 + j], p6 = a[6] * b[6 * 16 + j],
                  p7 = a[7] * b[7 * 16 + j];
      head = head + ((p4 + p5) + (p6 + p7));
    }
    acc[j] = acc[j] + (head + 0.0f);
  }
}

// Whether a[from..15] are all +0.
[[gnu::always_inline]] inline bool tailIsPositiveZero(const float *a, int from) {
  uint32_t bits = 0;
  for (int t = from; t < 16; ++t) {
    uint32_t v;
    std::memcpy(&v, &a[t], 4);
    bits |= v;
  }
  return bits == 0;
}

// The same sum when the B block is diagonal (every off-diagonal b is +-0, the diagonal finite:
// depthwise convolutions, whose 16 input channels each feed only their own output channel) and
// every a is finite (the caller checks A once). Then every product but p = a[j] * d[j] is a zero,
// and adding zeros to a nonzero value is exact, so the tree sum is p; when p is zero the tree sum
// of sixteen zeros is -0 exactly when every product is -0 (round to nearest), that is when a[t]
// and b[t][j] differ in sign for every t (bit t of `bSigns[j]` = sign of b[t][j]). That sign only
// shows when the accumulator is -0 (x + -0 = x + +0 = x for any other x, and +0 + either zero is
// +0), so the exact rule runs only for a block where some lane has p == 0 and acc == -0.
[[gnu::always_inline]] inline void mmadDiagonalF16(const float *a, const float *d, const uint16_t *bSigns,
                                                   float *acc) {
  // Two 8-lane halves as GCC vectors: each clone compiles them to its widest registers.
  typedef float F8 __attribute__((vector_size(32), aligned(4)));
  typedef int32_t I8 __attribute__((vector_size(32), aligned(4)));
  const F8 p0 = *reinterpret_cast<const F8 *>(a) * *reinterpret_cast<const F8 *>(d);
  const F8 p1 = *reinterpret_cast<const F8 *>(a + 8) * *reinterpret_cast<const F8 *>(d + 8);
  F8 &acc0 = *reinterpret_cast<F8 *>(acc), &acc1 = *reinterpret_cast<F8 *>(acc + 8);
  const I8 negZero = I8{} + int32_t(0x80000000u);
  const I8 exact = ((p0 == 0.0f) & (reinterpret_cast<const I8 &>(acc0) == negZero)) |
                   ((p1 == 0.0f) & (reinterpret_cast<const I8 &>(acc1) == negZero));
  uint64_t any[4];
  std::memcpy(any, &exact, sizeof any);
  if ((any[0] | any[1] | any[2] | any[3]) == 0) {
    acc0 = acc0 + p0;
    acc1 = acc1 + p1;
    return;
  }
  float p[16];
  std::memcpy(p, &p0, 32);
  std::memcpy(p + 8, &p1, 32);
  uint32_t aSigns = 0;
  for (int t = 0; t < 16; ++t)
    aSigns |= uint32_t(std::signbit(a[t])) << t;
  for (int j = 0; j < 16; ++j)
    acc[j] = acc[j] + (p[j] != 0.0f ? p[j] : ((aSigns ^ bSigns[j]) & 0xffffu) == 0xffffu ? -0.0f : 0.0f);
}

template <typename Acc>
[[gnu::always_inline]] inline void loadAccumulators(Acc *acc, const uint8_t *c, uint64_t mf, uint64_t nfIdx, uint64_t i,
                      bool init, const uint8_t *bias, uint64_t n) {
  if (!init) { // the row's 16 accumulators are contiguous in L0C
    std::memcpy(acc, c + (nfIdx * mf * kF + i) * kF * 4, kF * 4);
    return;
  }
  if (bias && (nfIdx + 1) * kF <= n) {
    std::memcpy(acc, bias + nfIdx * kF * 4, kF * 4);
    return;
  }
  for (int j = 0; j < kF; ++j) { // init: the bias where a column exists, else zero
    uint64_t col = nfIdx * kF + j;
    if (bias && col < n)
      std::memcpy(&acc[j], bias + col * 4, 4);
    else
      acc[j] = 0;
  }
}

template <typename Acc>
[[gnu::always_inline]] inline void storeAccumulators(const Acc *acc, uint8_t *c, uint64_t mf, uint64_t nfIdx, uint64_t i,
                       uint64_t n) {
  if ((nfIdx + 1) * kF <= n) { // all 16 columns exist: one contiguous row
    std::memcpy(c + (nfIdx * mf * kF + i) * kF * 4, acc, kF * 4);
    return;
  }
  for (int j = 0; j < kF; ++j)
    if (nfIdx * kF + j < n)
      std::memcpy(c + ((nfIdx * mf * kF + i) * kF + j) * 4, &acc[j], 4);
}

// The f16 mmad's arithmetic: for each 16-column block and output row, acc[16] = the row's
// accumulators (or bias/zero at init) plus its kf k-blocks (16 floats each, 256 apart: A's NZ
// order) times the block's columns. With `Shortcuts`: a diagonal block through its shortcut when
// `finiteA` (A has no Inf or NaN), a block whose B rows and A entries from 4 or 8 on are +0 through
// the head sum. Without: every block dense, the tight loop of a plain GEMM (the checks cost it 40%).
typedef float F8 __attribute__((vector_size(32)));

// Rows i0 .. i0 + rows - 1 (one 16-row block of A, rows <= 16), A's block `af` as floats: k-block
// kb's row r at kb * 256 + r * 16.
template <bool Shortcuts>
[[gnu::always_inline]] inline void mmadRowsF16(const float *af, const CubeOperandCache &cb, uint8_t *c,
                                               uint64_t i0, uint64_t rows, uint64_t mf, uint64_t kf, uint64_t nf,
                                               uint64_t n, bool init, const uint8_t *bias, bool finiteA) {
  for (uint64_t jb = 0; jb < nf; ++jb) {
    // (None for an all-diagonal B whose columns were dropped: its blocks all take the diagonal
    // paths, which read only the diagonals.)
    const float *bcol = cb.columns.empty() ? nullptr : cb.columns.data() + jb * kf * 16 * kF;
    for (uint64_t r = 0; r < rows; ++r) {
      const uint64_t i = i0 + r;
      const float *arow = &af[r * 16];
      float acc[16];
      loadAccumulators(acc, c, mf, jb, i, init, bias, n);
      if constexpr (!Shortcuts) {
        for (uint64_t kb = 0; kb < kf; ++kb)
          mmadBlockF16(arow + kb * 256, &bcol[kb * 16 * kF], acc);
        storeAccumulators(acc, c, mf, jb, i, n);
        continue;
      }
      // An accumulator that is not -0 never becomes -0 (x + y is -0 only when both are -0), so
      // without one at the start the diagonal shortcut needs no sign rule for this row.
      uint32_t negativeZeros = 0;
      for (int j = 0; j < 16; ++j) {
        uint32_t bits;
        std::memcpy(&bits, &acc[j], 4);
        negativeZeros |= bits == 0x80000000u;
      }
      for (uint64_t kb = 0; kb < kf; ++kb) {
        const uint64_t blk = jb * kf + kb;
        const float *ablk = arow + kb * 256;
        const uint8_t tail = cb.zeroTail[blk];
        if (finiteA && cb.diagonal[blk] && !negativeZeros) {
          // A run of diagonal blocks (a depthwise convolution's row) with the accumulators in
          // registers: no store and reload between blocks.
          F8 acc0, acc1;
          std::memcpy(&acc0, acc, 32);
          std::memcpy(&acc1, acc + 8, 32);
          for (;;) {
            const float *d = &cb.diagonals[(jb * kf + kb) * 16];
            F8 a0, a1, d0, d1;
            std::memcpy(&a0, arow + kb * 256, 32);
            std::memcpy(&a1, arow + kb * 256 + 8, 32);
            std::memcpy(&d0, d, 32);
            std::memcpy(&d1, d + 8, 32);
            acc0 = acc0 + a0 * d0;
            acc1 = acc1 + a1 * d1;
            if (kb + 1 == kf || !cb.diagonal[jb * kf + kb + 1])
              break;
            ++kb;
          }
          std::memcpy(acc, &acc0, 32);
          std::memcpy(acc + 8, &acc1, 32);
        } else if (finiteA && cb.diagonal[blk])
          mmadDiagonalF16(ablk, &cb.diagonals[blk * 16], &cb.signs[blk * 16], acc);
        else if (tail == 4 && tailIsPositiveZero(ablk, 4))
          mmadHeadF16<4>(ablk, &bcol[kb * 16 * kF], acc);
        else if (tail != 0 && tailIsPositiveZero(ablk, 8)) // rows 8..15 are +0 for tail 4 too
          mmadHeadF16<8>(ablk, &bcol[kb * 16 * kF], acc);
        else
          mmadBlockF16(ablk, &bcol[kb * 16 * kF], acc);
      }
      storeAccumulators(acc, c, mf, jb, i, n);
    }
  }
}

// One call per mmad: the clones are reached through an indirect call, and everything above inlines
// into each clone.
FRACTAL_TARGET_CLONES void mmadF16(const float *af, const CubeOperandCache &cb, uint8_t *c, uint64_t i0,
                                   uint64_t rows, uint64_t mf, uint64_t kf, uint64_t nf, uint64_t n, bool init,
                                   const uint8_t *bias, bool finiteA) {
  if (cb.anyDiagonal || cb.anyZeroTail)
    mmadRowsF16<true>(af, cb, c, i0, rows, mf, kf, nf, n, init, bias, finiteA);
  else
    mmadRowsF16<false>(af, cb, c, i0, rows, mf, kf, nf, n, init, bias, finiteA);
}

// Whether none of the n halves is Inf or NaN (exponent all ones). Read from A's half bits rather
// than its floats: half the bytes. Lanes of A past depth k are zeroed in the floats but not here,
// so an Inf there only costs the shortcut, never the result.
FRACTAL_TARGET_CLONES bool allFiniteHalf(const uint16_t *h, uint64_t n) {
  uint16_t special = 0;
  for (uint64_t i = 0; i < n; ++i)
    special |= uint16_t((h[i] & 0x7c00u) == 0x7c00u);
  return special == 0;
}

// Fills `cache` with the B operand of an f16 mmad: fp32 columns per 16-column block and which
// 16x16 blocks are diagonal. The tests look at the half bits (zero: no bits but the sign; finite:
// exponent not all ones), branch-free per element. Depth >= k reads as +0.
FRACTAL_TARGET_CLONES void fillCubeB(CubeOperandCache &cache, const uint8_t *b, uint64_t k, uint64_t kf, uint64_t nf) {
  const uint64_t kp = kf * 16;
  cache.columns.resize(nf * kp * kF);
  cache.diagonal.resize(nf * kf);
  cache.diagonals.resize(nf * kf * 16);
  cache.signs.resize(nf * kf * 16);
  cache.zeroTail.resize(nf * kf);
  uint16_t half[256], rows[256];
  bool anyDiagonal = false, allDiagonal = true, anyZeroTail = false;
  for (uint64_t kb = 0; kb < kf; ++kb) {
    const int depth = static_cast<int>(std::min<uint64_t>(16, k - std::min(k, kb * 16))); // real rows
    for (uint64_t jb = 0; jb < nf; ++jb) {
      // ZN fractal: element (kk, j) at j*16 + kk; the columns want it at kk*16 + j.
      std::memcpy(half, b + (kb * nf + jb) * 512, 512);
      for (int j = 0; j < 16; ++j)
        for (int kk = depth; kk < 16; ++kk)
          half[j * 16 + kk] = 0;
      for (int j = 0; j < 16; ++j)
        for (int kk = 0; kk < 16; ++kk)
          rows[kk * 16 + j] = half[j * 16 + kk];
      isa::halfToFloatArray(rows, &cache.columns[(jb * kp + kb * 16) * kF], 256);
      const uint64_t blk = jb * kf + kb;
      uint32_t offDiagonal = 0, nonFinite = 0;
      for (int j = 0; j < 16; ++j) {
        uint32_t signs = 0;
        for (int kk = 0; kk < 16; ++kk) {
          const uint16_t h = half[j * 16 + kk];
          signs |= uint32_t(h >> 15) << kk;
          offDiagonal |= kk != j ? (h & 0x7fffu) : 0u;
        }
        const uint16_t d = half[j * 17];
        nonFinite |= (d & 0x7c00u) == 0x7c00u;
        cache.signs[blk * 16 + j] = static_cast<uint16_t>(signs);
        cache.diagonals[blk * 16 + j] = cache.columns[(jb * kp + kb * 16 + j) * kF + j];
      }
      cache.diagonal[blk] = offDiagonal == 0 && nonFinite == 0;
      uint32_t rowsNonzero = 0; // bit kk: some column has a b other than +0 in row kk
      for (int j = 0; j < 16; ++j)
        for (int kk = 0; kk < 16; ++kk)
          rowsNonzero |= uint32_t(half[j * 16 + kk] != 0) << kk;
      cache.zeroTail[blk] = (rowsNonzero >> 4) == 0 ? 4 : (rowsNonzero >> 8) == 0 ? 8 : 0;
      anyZeroTail = anyZeroTail || cache.zeroTail[blk] != 0;
      anyDiagonal = anyDiagonal || cache.diagonal[blk];
      allDiagonal = allDiagonal && cache.diagonal[blk];
    }
  }
  cache.anyDiagonal = anyDiagonal;
  cache.allDiagonal = allDiagonal;
  cache.anyZeroTail = anyZeroTail;
}

FRACTAL_TARGET_CLONES void mmadBlockS8(const int32_t *a,
                                                                    const int32_t *b,
                                                                    int32_t *acc) {
  uint32_t sum[16] = {};
  for (int t = 0; t < 32; ++t)
    for (int j = 0; j < 16; ++j)
      sum[j] += static_cast<uint32_t>(a[t]) * static_cast<uint32_t>(b[t * 16 + j]);
  for (int j = 0; j < 16; ++j)
    acc[j] = static_cast<int32_t>(static_cast<uint32_t>(acc[j]) + sum[j]);
}

// The B operand of an f16 mmad as fillCubeB makes it: from the core's cache when the same bytes
// were converted before, else converted into a new entry. Entries beyond two are kept while the
// cache's bytes stay under kCubeBBudgetBytes (and at most kCubeBMaxEntries of them); the least
// recently used go first, their memory freed. A B whose blocks are all diagonal (a depthwise
// convolution's) is multiplied through its diagonals alone while A is finite, so its fp32 columns,
// two thirds of an entry, are not kept (executeCube makes them again for an A that is not).
constexpr size_t kCubeBMaxEntries = 8, kCubeBMinEntries = 2;
constexpr size_t kCubeBBudgetBytes = 128 << 10;

CubeOperandCache &cachedCubeB(CoreState &core, const uint8_t *b, uint64_t k, uint64_t n, uint64_t kf,
                              uint64_t nf) {
  const uint64_t bBytes = kf * nf * 512;
  const uint64_t now = ++core.cubeBClock;
  std::vector<CubeOperandCache> &cache = core.cubeB;
  for (CubeOperandCache &entry : cache)
    if (entry.k == k && entry.n == n && entry.source.size() == bBytes &&
        std::memcmp(entry.source.data(), b, bBytes) == 0) {
      entry.lastUse = now;
      return entry;
    }
  CubeOperandCache &added = cache.emplace_back();
  fillCubeB(added, b, k, kf, nf);
  added.source.assign(b, b + bBytes);
  added.k = k;
  added.n = n;
  added.lastUse = now;
  if (added.allDiagonal)
    decltype(added.columns)().swap(added.columns);
  // Then the least recently used others go (the new entry is the most recent).
  size_t bytes = 0;
  for (const CubeOperandCache &entry : cache)
    bytes += entry.heapBytes();
  while (cache.size() > kCubeBMaxEntries || (cache.size() > kCubeBMinEntries && bytes > kCubeBBudgetBytes)) {
    auto oldest = std::min_element(cache.begin(), cache.end(), [](const CubeOperandCache &x, const CubeOperandCache &y) {
      return x.lastUse < y.lastUse;
    });
    bytes -= oldest->heapBytes();
    cache.erase(oldest);
  }
  return *std::find_if(cache.begin(), cache.end(), [&](const CubeOperandCache &e) { return e.lastUse == now; });
}

// FixPipe's float path on `count` consecutive L0C values: the scale, then ReLU keeping NaN.
// Cloned like the cube's loops: the AVX versions do 8 or 16 values at a time.
FRACTAL_TARGET_CLONES void scaleAndReluF32(const uint8_t *from, float *values, uint64_t count, bool hasScale,
                                           float scale, bool relu) {
  for (uint64_t j = 0; j < count; ++j) {
    float v;
    std::memcpy(&v, from + j * 4, 4);
    v = hasScale ? v * scale : v;
    values[j] = relu && !(v > 0.0f || v != v) ? 0.0f : v; // v != v: NaN (std::isnan, vectorizable)
  }
}

} // namespace

void executeCube(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  const auto type = static_cast<DataType>(operand(op, slot::type));
  const uint64_t m = operand(op, slot::m), k = operand(op, slot::k), n = operand(op, slot::n);
  const bool init = operand(op, slot::init);
  const uint64_t k0 = type == DataType::S8 ? 32 : 16;
  const uint64_t mf = ceilDiv(m, kF), kf = ceilDiv(k, k0), nf = ceilDiv(n, kF);
  fx.macs = m * n * k;
  fx.fractalCycles = mf * nf * kf;
  if (m == 0 || n == 0 || k == 0)
    return;
  const uint8_t *a = operandMemory(core, gm, op, slot::a, mf * kf * 512, &fx, false);
  const uint8_t *b = operandMemory(core, gm, op, slot::b, kf * nf * 512, &fx, false);
  uint8_t *c = operandMemory(core, gm, op, slot::dst, nf * mf * 1024, &fx, true);
  const uint8_t *bias = nullptr;
  size_t biasIdx = slot::bias.index(op.inst);
  if (op.inst.values[biasIdx] != 0 && init)
    bias = core.local(isa::Space::L1, op.address(biasIdx), n * 4, "bias");
  if (bias)
    fx.touched(isa::Space::L1, op.address(biasIdx), n * 4, false);

  const uint64_t kp = kf * k0; // padded depth
  if (type == DataType::F16) {
    CubeOperandCache &cb = cachedCubeB(core, b, k, n, kf, nf);
    const bool finiteA =
        cb.anyDiagonal && allFiniteHalf(reinterpret_cast<const uint16_t *>(a), mf * kf * 256);
    if (!finiteA && cb.columns.empty())
      fillCubeB(cb, b, k, kf, nf); // the dropped columns of an all-diagonal B: this A needs them
    // A as floats a 16-row block at a time, in its NZ order (fractal (i/16, kb) holds rows i%16 of
    // 16 halves each: a block's k-blocks are consecutive), depth >= k read as zero. Converting all
    // of A at once held a float copy of L0A (up to 128 KiB a core; peak RSS, issue 6).
    std::vector<float> &af = core.cubeA;
    af.resize(kf * 256);
    for (uint64_t ib = 0; ib < mf; ++ib) {
      const uint64_t rows = std::min<uint64_t>(kF, m - ib * kF);
      isa::halfToFloatArray(reinterpret_cast<const uint16_t *>(a) + ib * kf * 256, af.data(), kf * 256);
      if (k < kp)
        for (uint64_t r = 0; r < rows; ++r)
          std::fill_n(&af[(kf - 1) * 256 + r * 16 + k % 16], kp - k, 0.0f);
      mmadF16(af.data(), cb, c, ib * kF, rows, mf, kf, nf, n, init, bias, finiteA);
    }
    return;
  }
  // s8: A row-major m x kp and B kp x 16 per column block, as int32; exact wrapping arithmetic.
  std::vector<int32_t> ai(m * kp), bcol(kp * kF);
  for (uint64_t i = 0; i < m; ++i)
    for (uint64_t kk = 0; kk < kp; ++kk)
      ai[i * kp + kk] =
          kk < k ? static_cast<int8_t>(a[((i / kF) * kf + kk / k0) * 512 + (i % kF) * k0 + kk % k0])
                 : 0;
  for (uint64_t jb = 0; jb < nf; ++jb) {
    for (uint64_t kk = 0; kk < kp; ++kk)
      for (int j = 0; j < kF; ++j)
        bcol[kk * kF + j] =
            kk < k ? static_cast<int8_t>(b[((kk / k0) * nf + jb) * 512 + j * k0 + kk % k0]) : 0;
    for (uint64_t i = 0; i < m; ++i) {
      int32_t acc[16];
      loadAccumulators(acc, c, mf, jb, i, init, bias, n);
      for (uint64_t kb = 0; kb < kf; ++kb)
        mmadBlockS8(&ai[i * kp + kb * k0], &bcol[kb * k0 * kF], acc);
      storeAccumulators(acc, c, mf, jb, i, n);
    }
  }
}

void executeFixPipe(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  const auto from = static_cast<DataType>(operand(op, slot::from));
  const auto to = static_cast<DataType>(operand(op, slot::to));
  const uint64_t m = operand(op, slot::m), n = operand(op, slot::n);
  const uint64_t srcRows = operand(op, slot::src_rows), dstStride = operand(op, slot::dst_stride);
  const bool relu = operand(op, slot::relu), nz2nd = operand(op, slot::nz2nd);
  const size_t scaleIdx = slot::scale.index(op.inst);
  const bool hasScale = op.inst.values[scaleIdx] != 0;
  const float scale = isa::bitsToFloat(static_cast<uint32_t>(op.address(scaleIdx)));
  const uint64_t outSize = isa::dataTypeBytes(to);
  const uint64_t nf = ceilDiv(n, kF);
  if (!nz2nd && dstStride < m)
    throw FaultError(FaultKind::BadOperand, "fixp: NZ output needs dst_stride >= m");

  const uint8_t *src = operandMemory(core, gm, op, slot::src, ((nf - 1) * srcRows + m) * 64, &fx, false);
  const uint64_t dstSpan = nz2nd ? ((m - 1) * dstStride + n) * outSize
                                 : (((nf - 1) * dstStride + m) * kF) * outSize;
  uint8_t *dst = operandMemory(core, gm, op, slot::dst, dstSpan, &fx, true);
  const bool integerPath = from == DataType::S32 && !hasScale &&
                           (to == DataType::S32 || to == DataType::S8);
  if (from == DataType::F32 && (to == DataType::F32 || to == DataType::F16)) {
    // The common float path (same arithmetic as the element loop below: scale, ReLU keeping NaN,
    // then RNE conversion). An NZ output's full column block is m x 16 values in a row in L0C and
    // in the destination alike: converted in runs of up to 256 rather than a row of 16 at a time.
    // The values are read from L0C in the loop (a memcpy of a variable count into a buffer first
    // is stored in 8-byte pieces that the loop's 16-byte loads then wait for).
    // The row loop does the rest: every block of an ND output, and an NZ output's partial last
    // block (which writes `count` of each row's 16).
    const uint64_t firstRowBlock = nz2nd ? 0 : n / kF;
    if (!nz2nd) {
      float run[256];
      for (uint64_t jb = 0; jb < firstRowBlock; ++jb)
        for (uint64_t e = 0; e < m * kF; e += 256) {
          const uint64_t count = std::min<uint64_t>(256, m * kF - e);
          scaleAndReluF32(src + (jb * srcRows * kF + e) * 4, run, count, hasScale, scale, relu);
          uint8_t *out = dst + (jb * dstStride * kF + e) * outSize;
          if (to == DataType::F16)
            isa::floatToHalfArray(run, reinterpret_cast<uint16_t *>(out), count);
          else
            std::memcpy(out, run, count * 4);
        }
    }
    float row[kF];
    for (uint64_t i = 0; i < m; ++i)
      for (uint64_t jb = firstRowBlock; jb < nf; ++jb) {
        const uint64_t count = std::min<uint64_t>(kF, n - jb * kF);
        scaleAndReluF32(src + ((jb * srcRows + i) * kF) * 4, row, count, hasScale, scale, relu);
        uint8_t *out = dst + (nz2nd ? (i * dstStride + jb * kF) * outSize : ((jb * dstStride + i) * kF) * outSize);
        if (to == DataType::F16)
          isa::floatToHalfArray(row, reinterpret_cast<uint16_t *>(out), count);
        else
          std::memcpy(out, row, count * 4);
      }
  } else
  for (uint64_t i = 0; i < m; ++i)
    for (uint64_t j = 0; j < n; ++j) {
      const uint8_t *in = src + (((j / kF) * srcRows + i) * kF + j % kF) * 4;
      uint8_t *out = dst + (nz2nd ? (i * dstStride + j) * outSize
                                  : (((j / kF) * dstStride + i) * kF + j % kF) * outSize);
      if (integerPath) {
        int32_t x;
        std::memcpy(&x, in, 4);
        if (relu && x < 0)
          x = 0;
        if (to == DataType::S32)
          std::memcpy(out, &x, 4);
        else
          *reinterpret_cast<int8_t *>(out) = isa::int32ToInt8Saturate(x);
        continue;
      }
      float v;
      if (from == DataType::S32) {
        int32_t x;
        std::memcpy(&x, in, 4);
        v = static_cast<float>(x); // round to nearest even
      } else {
        std::memcpy(&v, in, 4);
      }
      if (hasScale)
        v = v * scale;
      if (relu)
        v = (v > 0.0f || std::isnan(v)) ? v : 0.0f;
      switch (to) {
      case DataType::F32: std::memcpy(out, &v, 4); break;
      case DataType::F16: {
        uint16_t h = isa::floatToHalf(v);
        std::memcpy(out, &h, 2);
        break;
      }
      case DataType::S8: *reinterpret_cast<int8_t *>(out) = isa::floatToInt8Saturate(v); break;
      case DataType::S32: {
        int32_t x = isa::floatToInt32Saturate(v);
        std::memcpy(out, &x, 4);
        break;
      }
      }
    }
  const isa::Space dstSpace = slot::dst.space(op.inst);
  fx.path = dstSpace == isa::Space::GM ? DataPath::L0CToGm
            : dstSpace == isa::Space::UB ? DataPath::L0CToUb
                                         : DataPath::L0CToL1;
  fx.bytes = m * n * outSize;
  if (dstSpace == isa::Space::GM) {
    fx.gmAddress = op.address(slot::dst.index(op.inst));
    fx.gmWrite = true;
    if (nz2nd) { // m rows of n elements
      fx.gmRows = m;
      fx.gmRowBytes = n * outSize;
      fx.gmRowStride = dstStride * outSize;
    } else { // one block of m rows x 16 elements per column block
      fx.gmRows = nf;
      fx.gmRowBytes = m * kF * outSize;
      fx.gmRowStride = dstStride * kF * outSize;
    }
  }
}

} // namespace fractal::sim::detail
