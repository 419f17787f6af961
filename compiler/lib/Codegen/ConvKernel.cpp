// The convolution's tiling and weight packing (KernelTemplates.h); the kernel itself is built
// through the npu dialect (NpuConv.cpp).
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include "fractal/package/WeightLayouts.h"

#include <algorithm>

namespace fractal::codegen {
namespace {

using emit::ceilDiv;
using emit::roundUp;

constexpr int64_t kFractal = 512;
constexpr int64_t kMinTilePixels = 64; // planConvWithin: M tiles this tall where K steps allow

// L0B: a stage's weights (K step x N tile), twice when an N tile takes several K steps (one
// loads while the other is read), and a residual's identities (one per N-tile width).
int64_t l0bNeed(const ConvKernel &k, const ConvTiling &t) {
  const int64_t kst = k.c04 ? convC04Depth(k) : t.kc1 * k.kh * k.kw * 16, c1 = k.cip / 16;
  const bool oneStage = k.depthwise || t.kc1 >= c1;
  int64_t identities = 0;
  if (k.residual) {
    identities = std::min(t.nt, k.cop) * std::min(t.nt, k.cop) * 2;
    if (k.cop % t.nt != 0 && k.cop > t.nt) identities += (k.cop % t.nt) * (k.cop % t.nt) * 2;
  }
  return (oneStage ? 1 : 2) * roundUp(kst * t.nt * 2, kFractal) + identities;
}

// The tiling with N tiles of at most ntCap channels and K steps of at most kc1Cap input slices.
Expected<ConvTiling> planConvWithin(const ChipConfig &config, const ConvKernel &k, int64_t ntCap,
                                    int64_t kc1Cap = INT64_MAX) {
  const int64_t l0a = config.buffer(BufferKind::L0A).sizeBytes;
  const int64_t l0b = config.buffer(BufferKind::L0B).sizeBytes;
  const int64_t c1 = k.cip / 16, taps = k.kh * k.kw;
  ConvTiling t;
  t.nt = k.depthwise ? 16 : std::min<int64_t>(k.cop, ntCap);
  t.kc1 = k.depthwise ? 1 : std::min(c1, kc1Cap);
  while (t.kc1 > 1 && (16 * t.kc1 * taps * 16 * 2 > l0a / 2 || l0bNeed(k, t) > l0b)) --t.kc1;
  while (t.nt > 16 && l0bNeed(k, t) > l0b) t.nt -= 16;
  // Fewer input slices per K step (so more K steps, accumulating in L0C) where that gives M
  // tiles of kMinTilePixels: a 16-pixel tile pays a stage's fixed costs (img2col latency, a
  // FixPipe issue, the flags) for 16 pixels. (PP-OCRv4 det's 3x3 96 -> 24 convolution at
  // 160x160: 201k -> 132k cycles; a floor of 32 pixels saved less, of 128 pixels too.)
  while (t.kc1 > 1 && l0a / 2 / (t.kc1 * taps * 16 * 2) < kMinTilePixels) --t.kc1;
  // (Fewer slices can mean two K steps where there was one, and two stages of weights in L0B:
  // narrower N tiles then. BlazeFace front's 1x1 80 -> 96 with a residual at L0A 16 KiB and L0B
  // 32 KiB: K steps of 4 slices, 80-channel tiles and their identity were 33,280 bytes.)
  while (t.nt > 16 && l0bNeed(k, t) > l0b) t.nt -= 16;
  const int64_t kst = k.c04 ? convC04Depth(k) : t.kc1 * taps * 16;
  // One M tile at a time when two of 16 pixels do not fit (not beside a residual's tile, which
  // has L0A buffers of its own, or a depthwise convolution run first, which has its own too).
  if (16 * kst * 2 > l0a / 2 && 16 * kst * 2 <= l0a && !k.residual && !k.depthwiseFirst) t.l0aTiles = 1;
  if (16 * kst * 2 > l0a / t.l0aTiles || l0bNeed(k, t) > l0b)
    return Error::badInput(k.name + ": L0 overflow: one K step of the " + std::to_string(k.kh) + "x" +
                           std::to_string(k.kw) + " kernel needs L0A " + std::to_string(16 * kst * 2) +
                           " (16 pixels) and L0B " + std::to_string(l0bNeed(k, t)) + " bytes; the config has L0A " +
                           std::to_string(l0a) + ", L0B " + std::to_string(l0b));
  // M tiles fill half of L0A: img2col of tile t+1 runs while the cube works on tile t. (A
  // residual's K step is one N tile deep.)
  const int64_t deepest = k.residual ? std::max(kst, roundUp(std::min(t.nt, k.cop), 16)) : kst;
  t.mt = std::max<int64_t>(16, std::min<int64_t>(l0a / t.l0aTiles / (deepest * 2) / 16 * 16, 4080));
  return t;
}

} // namespace

int64_t convC04Depth(const ConvKernel &k) { return roundUp(k.kh * k.kw * 4, 16); }

Expected<ConvTiling> planConv(const ChipConfig &config, const ConvKernel &k) {
  Expected<ConvTiling> t = planConvWithin(config, k, 128);
  if (!t) return t;
  // Over K steps a band's accumulators stay in L0C, two bands' of an N tile (NpuConv): N tiles
  // narrow enough for a band of one output row where L0C is small (PP-OCRv4 rec's 1x1 convolutions
  // on 160-pixel rows in 128-channel tiles need 160 KiB; a 64 KiB L0C takes 48-channel tiles).
  const int64_t l0c = config.buffer(BufferKind::L0C).sizeBytes;
  const int64_t rowAccumulators = 2 * roundUp(k.wo, 16) * 4; // bytes per output channel
  if (!k.depthwise && !k.c04 && t->kc1 < k.cip / 16 && rowAccumulators * t->nt > l0c) {
    const int64_t cap = l0c / rowAccumulators / 16 * 16;
    if (cap >= 16)
      if (Expected<ConvTiling> narrower = planConvWithin(config, k, cap)) t = std::move(narrower);
  }
  // Fewer output rows than cores (bands are at least a row): the N tiles are shared out too
  // (generateConv), so narrow them until there is one per core where the channels allow.
  const int64_t items = k.n * k.ho, cores = config.chip.cores;
  if (items < cores && !k.depthwise && ceilDiv(k.cop, t->nt) < cores) {
    const int64_t cap = std::max<int64_t>(16, roundUp(ceilDiv(k.cop, ceilDiv(cores, items)), 16));
    if (cap < t->nt)
      if (Expected<ConvTiling> narrower = planConvWithin(config, k, cap)) t = std::move(narrower);
  }
  // A band of one output row must fit L1 beside the weights. Where it does not, stage the weights
  // in shallower K steps (a band then holds fewer input slices too), down to one slice, and only
  // then in narrower N tiles (each re-reads the input band): PP-OCRv4 det's 1x1 192 -> 192 on
  // 40-pixel rows stages 12 slices x 128 channels twice, 96 KiB, at a 64 KiB L1. Last, the same
  // with one item set (no overlap of an item's loads with the previous item's compute). A plan
  // with K steps keeps a band's accumulators in L0C (one row's, per item set, at least), so those
  // must fit too (at L1 128 KiB and L0C 32 KiB, PP-OCRv4 det's 1x1 192 -> 192 took K steps of 128
  // channels: 48 KiB of accumulators). Where nothing fits, generateConv reports the first plan's
  // needs.
  const int64_t l1 = config.buffer(BufferKind::L1).sizeBytes;
  auto fits = [&](const ConvTiling &c) {
    const bool kSteps = !k.depthwise && !k.c04 && c.kc1 < k.cip / 16;
    return convL1Bytes(k, c, 1, convL1Use(config, k, c)) <= l1 &&
           (!kSteps || c.itemSets * roundUp(k.wo, 16) * roundUp(std::min(c.nt, k.cop), 16) * 4 <= l0c);
  };
  if (fits(*t)) return t;
  for (int64_t sets : {2, 1})
    for (int64_t nt = t->nt; nt >= 16; nt -= 16)
      for (int64_t kc1 = t->kc1; kc1 >= 1; --kc1) {
        Expected<ConvTiling> narrower = planConvWithin(config, k, nt, kc1);
        if (!narrower) continue;
        narrower->itemSets = sets;
        if (fits(*narrower)) return narrower;
      }
  return t;
}

int64_t convInputRows(const ConvKernel &k, int64_t rows) { return (rows - 1) * k.sh + (k.kh - 1) * k.dh + 1; }

ConvL1Use convL1Use(const ChipConfig &config, const ConvKernel &k, const ConvTiling &t) {
  const int64_t l1 = config.buffer(BufferKind::L1).sizeBytes, c1 = k.cip / 16;
  ConvL1Use use{true, c1, true}; // every slice with the band: weights resident if they fit too
  if (convL1Bytes(k, t, 1, use) <= l1) return use;
  use.resident = false;
  if (convL1Bytes(k, t, 1, use) <= l1) return use;
  use = ConvL1Use{true, k.depthwise ? 1 : t.kc1, false}; // a K step's slices
  use.resident = convL1Bytes(k, t, 1, use) <= l1;
  return use;
}

int64_t convL1Bytes(const ConvKernel &k, const ConvTiling &t, int64_t rows, const ConvL1Use &use) {
  const int64_t c1 = k.cip / 16, taps = k.kh * k.kw;
  const ConvKernel *dw = k.depthwiseFirst.get();
  // The depthwise's bias, resident weights (16-channel tiles) and input bands (every slice).
  const int64_t dwBytes = dw ? k.cip * 4 + c1 * dw->kh * dw->kw * 256 * 2 +
                                   t.itemSets * c1 * std::min(dw->h, convInputRows(*dw, rows)) * dw->w * 32
                             : 0;
  // Weights: all N tiles (the last may be narrower), or two stages of a K step x N tile.
  const int64_t nTiles = ceilDiv(k.cop, t.nt), ntLast = k.cop - (nTiles - 1) * t.nt;
  const int64_t kTotal = k.c04 ? convC04Depth(k) : (k.depthwise ? 1 : c1) * taps * 16;
  const int64_t weightTotal = (nTiles - 1) * kTotal * t.nt + kTotal * ntLast;
  const int64_t stageWeightsMax =
      (k.c04 ? kTotal : std::min(t.kc1, k.depthwise ? int64_t(1) : c1) * taps * 16) * std::min(t.nt, k.cop);
  // The residual: a band of all its channels, and an identity per N-tile width.
  const int64_t rk = k.residual ? (k.residualChannels ? k.residualChannels : k.cop) : 0;
  int64_t identityElements = 0;
  if (k.residual) {
    identityElements = std::min(t.nt, k.cop) * std::min(t.nt, k.cop);
    if (ntLast != std::min(t.nt, k.cop)) identityElements += ntLast * ntLast;
  }
  return dwBytes + (k.inputChannels ? 2 * 15 * 32 : 0) + k.cop * 4 + (use.resident ? weightTotal : 2 * stageWeightsMax) * 2 +
         t.itemSets * use.bandSlices * std::min(k.h, convInputRows(k, rows)) * k.w * (k.c04 ? 8 : 32) +
         t.itemSets * (rk / 16) * rows * k.wo * 32 + identityElements * 2;
}

std::vector<uint16_t> packConvWeights(const ConvKernel &k, const ConvTiling &t, const std::vector<float> &w,
                                      int64_t cout, int64_t cin) {
  return pkg::packConvWeights(convWeightLayout(k, t, cout, cin), w.data());
}

pkg::ConvWeightLayout convWeightLayout(const ConvKernel &k, const ConvTiling &t, int64_t cout, int64_t cin) {
  return {cout, cin, k.kh, k.kw, k.cop, k.cip, t.nt, t.kc1, k.depthwise, k.c04};
}

} // namespace fractal::codegen
