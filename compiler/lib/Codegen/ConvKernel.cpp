// The convolution kernel (KernelTemplates.h): tiling, weight packing and code. Register use inside
// the kernel: x2 input, x3 weights, x4 bias, x5 output, x6 item, x7 block_dim, x14 item count,
// x15 band, x16 image, x17 band input base, x19 band output base, x18 residual, x20 band residual
// base, x8..x12 scratch.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include "fractal/isa/Numerics.h"
#include "fractal/package/WeightLayouts.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <tuple>

namespace fractal::codegen {
namespace {

using emit::ceilDiv;
using emit::roundUp;

constexpr int64_t kFractal = 512;
constexpr int64_t kMaxTilesPerBand = 32; // bounds the unrolled code per band

// Input rows a band of `rows` output rows starting at output row oh0 needs.
int64_t bandInputRows(const ConvKernel &k, int64_t rows) { return (rows - 1) * k.sh + (k.kh - 1) * k.dh + 1; }

// The distinct N-tile widths (the last tile may be narrower): one identity each for a residual.
std::vector<int64_t> tileWidths(const ConvKernel &k, const ConvTiling &t) {
  std::vector<int64_t> widths = {std::min(t.nt, k.cop)};
  if (k.cop % t.nt != 0 && k.cop > t.nt) widths.push_back(k.cop % t.nt);
  return widths;
}

// With a residual, L0B holds an N tile's identity after the largest K step's weights.
int64_t l0bNeed(const ConvKernel &k, const ConvTiling &t) {
  const int64_t kst = t.kc1 * k.kh * k.kw * 16;
  return roundUp(kst * t.nt * 2, kFractal) + (k.residual ? t.nt * t.nt * 2 : 0);
}

struct L1Plan {
  int64_t bias, weights, band, identity, residual, end;
};

L1Plan l1Plan(const ConvKernel &k, const ConvTiling &t) {
  const int64_t kst = t.kc1 * k.kh * k.kw * 16;
  L1Plan p;
  p.bias = 0;
  p.weights = roundUp(t.nt * 4, kFractal);
  p.band = p.weights + roundUp(kst * t.nt * 2, kFractal);
  p.identity = p.band + t.kc1 * std::min(k.h, bandInputRows(k, t.ohb)) * k.w * 32;
  p.residual = p.identity;
  if (k.residual)
    for (int64_t width : tileWidths(k, t)) p.residual += width * width * 2;
  p.end = p.residual + (k.residual ? t.nt / 16 * t.ohb * k.wo * 32 : 0);
  return p;
}

} // namespace

namespace {

// The tiling with N tiles of at most ntCap channels.
Expected<ConvTiling> planConvWithin(const ChipConfig &config, const ConvKernel &k, int64_t ntCap) {
  const int64_t l1 = config.buffer(BufferKind::L1).sizeBytes;
  const int64_t l0a = config.buffer(BufferKind::L0A).sizeBytes;
  const int64_t l0b = config.buffer(BufferKind::L0B).sizeBytes;
  const int64_t l0c = config.buffer(BufferKind::L0C).sizeBytes;
  const int64_t c1 = k.cip / 16, taps = k.kh * k.kw;
  ConvTiling t;
  t.nt = k.depthwise ? 16 : std::min<int64_t>(k.cop, ntCap);
  t.kc1 = k.depthwise ? 1 : c1;
  while (t.kc1 > 1 && (16 * t.kc1 * taps * 16 * 2 > l0a / 2 || l0bNeed(k, t) > l0b)) --t.kc1;
  while (t.nt > 16 && l0bNeed(k, t) > l0b) t.nt -= 16;
  const int64_t kst = t.kc1 * taps * 16;
  if (16 * kst * 2 > l0a / 2 || l0bNeed(k, t) > l0b)
    return Error::badInput(k.name + ": L0 overflow: one K step of the " + std::to_string(k.kh) + "x" +
                           std::to_string(k.kw) + " kernel needs L0A " + std::to_string(2 * 16 * kst * 2) +
                           " and L0B " + std::to_string(l0bNeed(k, t)) + " bytes; the config has L0A " +
                           std::to_string(l0a) + ", L0B " + std::to_string(l0b));
  // M tiles fill half of L0A: img2col of tile t+1 runs while the cube works on tile t. (A
  // residual's K step is one N tile deep.)
  const int64_t deepest = k.residual ? std::max(kst, t.nt) : kst;
  t.mt = std::max<int64_t>(16, std::min<int64_t>(l0a / 2 / (deepest * 2) / 16 * 16, 4080));
  // The largest band whose tiles all fit L0C at once (their rows rounded to 16); if one output row
  // does not fit with this N tile, narrow the N tile.
  for (;;) {
    for (t.ohb = k.ho; t.ohb >= 1; --t.ohb) {
      const int64_t pixels = t.ohb * k.wo, tiles = ceilDiv(pixels, t.mt);
      const int64_t accumulators = roundUp(pixels, 16) * t.nt * 4;
      if (tiles <= kMaxTilesPerBand && accumulators <= l0c && l1Plan(k, t).end <= l1) break;
    }
    if (t.ohb >= 1 || t.nt <= 16) break;
    t.nt -= 16;
  }
  if (t.ohb < 1) {
    ConvTiling one = t;
    one.ohb = 1;
    return Error::badInput(k.name + ": L1/L0C overflow: one output row (" + std::to_string(k.wo) +
                           " pixels, input width " + std::to_string(k.w) + ") needs L1 " +
                           std::to_string(l1Plan(k, one).end) + " and L0C " +
                           std::to_string(roundUp(k.wo, 16) * t.nt * 4) + " bytes; the config has L1 " +
                           std::to_string(l1) + ", L0C " + std::to_string(l0c));
  }
  return t;
}

} // namespace

Expected<ConvTiling> planConv(const ChipConfig &config, const ConvKernel &k) {
  Expected<ConvTiling> t = planConvWithin(config, k, 128);
  if (!t) return t;
  // Fewer (image, band) items than cores: the N tiles are shared out too (generateConv), so
  // narrow them until there is one per core where the channels allow.
  const int64_t items = k.n * ceilDiv(k.ho, t->ohb), cores = config.chip.cores;
  if (items < cores && !k.depthwise && ceilDiv(k.cop, t->nt) < cores) {
    const int64_t cap = std::max<int64_t>(16, roundUp(ceilDiv(k.cop, ceilDiv(cores, items)), 16));
    if (cap < t->nt)
      if (Expected<ConvTiling> narrower = planConvWithin(config, k, cap)) return narrower;
  }
  return t;
}

std::vector<uint16_t> packConvWeights(const ConvKernel &k, const ConvTiling &t, const std::vector<float> &w,
                                      int64_t cout, int64_t cin) {
  return pkg::packConvWeights(convWeightLayout(k, t, cout, cin), w.data());
}

pkg::ConvWeightLayout convWeightLayout(const ConvKernel &k, const ConvTiling &t, int64_t cout, int64_t cin) {
  return {cout, cin, k.kh, k.kw, k.cop, k.cip, t.nt, t.kc1, k.depthwise};
}

Expected<GeneratedKernel> generateConv(const ChipConfig &config, const ConvKernel &k) {
  Expected<ConvTiling> planned = planConv(config, k);
  if (!planned) return planned.takeError();
  const ConvTiling t = *planned;
  const L1Plan l1 = l1Plan(k, t);
  const int64_t c1 = k.cip / 16, taps = k.kh * k.kw;
  const int64_t bands = ceilDiv(k.ho, t.ohb);
  const int64_t rc = k.residualChannels ? k.residualChannels : k.cop; // the residual's channels
  // The stages of a band: N tiles x K steps, each with its weights' offset in the packed tensor.
  struct Stage { int64_t n0, s0, weightOffset; };
  std::vector<Stage> stages;
  int64_t nTiles = 0;
  for (int64_t n0 = 0, offset = 0; n0 < k.cop; n0 += t.nt, ++nTiles)
    for (int64_t s0 = k.depthwise ? n0 / 16 : 0; s0 < (k.depthwise ? n0 / 16 + 1 : c1); s0 += t.kc1) {
      stages.push_back({n0, s0, offset});
      offset += std::min(t.kc1, c1 - s0) * taps * 16 * std::min(t.nt, k.cop - n0) * 2;
    }
  // Items are (image, band, N chunk): with fewer (image, band) pairs than cores, the N tiles are
  // shared out in chunks (stage ranges), the chunk fastest.
  const emit::NChunks chunking = emit::shareOutNTiles(nTiles, k.n * bands, config.chip.cores);
  const int64_t chunkTiles = chunking.tilesPerChunk, nChunks = chunking.count;
  std::vector<std::pair<size_t, size_t>> chunks(size_t(nChunks), {stages.size(), 0}); // stage ranges
  for (size_t i = 0; i < stages.size(); ++i) { // stages run N tile by N tile
    auto &[first, end] = chunks[size_t(stages[i].n0 / t.nt / chunkTiles)];
    first = std::min(first, i);
    end = i + 1;
  }
  const int64_t items = k.n * bands * nChunks;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  const int64_t rowBytes = k.w * k.cip * 2;
  const int64_t l0aHalf = config.buffer(BufferKind::L0A).sizeBytes / 2;

  // Per band: rows, first loaded input row, loaded rows, and the pads the feature map needs.
  struct Band { int64_t rows, ihs, hl, pt, pb; };
  std::vector<Band> plan;
  for (int64_t b = 0; b < bands; ++b) {
    Band band;
    band.rows = std::min(t.ohb, k.ho - b * t.ohb);
    const int64_t ih0 = b * t.ohb * k.sh - k.pt;
    band.ihs = std::max<int64_t>(ih0, 0);
    const int64_t ihe = std::min(ih0 + bandInputRows(k, band.rows) - 1, k.h - 1);
    band.hl = ihe - band.ihs + 1;
    band.pt = band.ihs - ih0;
    band.pb = std::max<int64_t>(0, (band.rows - 1) * k.sh + (k.kh - 1) * k.dh + 1 - band.hl - band.pt);
    if (band.hl < 1 || band.pt > 255 || band.pb > 255 || k.pl > 255 || k.pr > 255)
      return Error::badInput(k.name + ": padding too large for the feature-map register (band " +
                             std::to_string(b) + ")");
    plan.push_back(band);
  }
  // Consecutive bands with the same shape share code; their input rows advance linearly.
  struct Group { int64_t first, end; Band shape; };
  std::vector<Group> groups;
  for (int64_t b = 0; b < bands; ++b) {
    const Band &x = plan[size_t(b)];
    if (!groups.empty()) {
      Group &g = groups.back();
      const Band &y = g.shape;
      if (std::tie(x.rows, x.hl, x.pt, x.pb) == std::tie(y.rows, y.hl, y.pt, y.pb) &&
          x.ihs == y.ihs + (b - g.first) * t.ohb * k.sh) {
        g.end = b + 1;
        continue;
      }
    }
    groups.push_back({b, b + 1, x});
  }

  std::ostringstream s;
  s << "# " << k.name << ": conv " << k.kh << "x" << k.kw << " s" << k.sh << "x" << k.sw << " on NHWC16 "
    << k.n << "x" << k.h << "x" << k.w << "x" << k.cip << " -> " << k.ho << "x" << k.wo << "x" << k.cop
    << "; tiles: " << t.nt << " channels, " << t.kc1 << " slice(s) per K step, " << t.mt << " pixels, "
    << t.ohb << " row(s) per band; " << items << " item(s)"
    << (nChunks > 1 ? " (bands x " + std::to_string(nChunks) + " N chunks)" : " (bands)") << " on " << blockDim
    << " block(s)\n";
  s << ".node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  s << "  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n  ld x4, gm[x1], offset=16\n";
  if (k.residual) s << "  ld x18, gm[x1], offset=24\n";
  s << "  ld x5, gm[x1], offset=" << (k.residual ? 32 : 24) << "\n";
  // The residual's identities (data section, packed as 1x1 weights) into L1 once; the first
  // stage's mte2 -> mte1 flag, set after later MTE2 work, covers them.
  const int64_t identityL0b = roundUp(t.kc1 * taps * 16 * t.nt * 2, kFractal);
  std::map<int64_t, int64_t> identityAt; // tile width -> L1 address
  std::ostringstream data;
  if (k.residual) {
    int64_t at = l1.identity;
    data << ".data\n";
    for (int64_t width : tileWidths(k, t)) {
      std::vector<float> eye(size_t(width * width), 0.0f);
      for (int64_t c = 0; c < width; ++c) eye[size_t(c * width + c)] = 1.0f;
      const std::vector<uint16_t> packed =
          pkg::packConvWeights({width, width, 1, 1, width, width, width, width / 16, false}, eye.data());
      data << "identity" << width << ":\n";
      for (size_t i = 0; i < packed.size(); i += 16) {
        data << "  .half ";
        for (size_t j = i; j < std::min(packed.size(), i + 16); ++j) data << (j > i ? ", " : "") << packed[j];
        data << "\n";
      }
      s << "  mfsr x9, data_base\n  addi x9, x9, identity" << width << "\n  li x10, " << at
        << "\n  gm2l1 l1[x10], gm[x9], len=" << width * width * 2 / 32 << "\n";
      identityAt[width] = at;
      at += width * width * 2;
    }
  }
  s << "  mfsr x6, block_idx\n  mfsr x7, block_dim\n  li x14, " << items << "\n";
  s << "loop:\n  bge x6, x14, done\n  li x8, " << nChunks << "\n  rem x21, x6, x8\n  div x9, x6, x8\n  li x8, " << bands
    << "\n  div x16, x9, x8\n  rem x15, x9, x8\n";
  for (size_t g = 0; g < groups.size(); ++g)
    s << "  li x8, " << groups[g].end << "\n  blt x15, x8, group" << g << "\n";
  s << "  jmp next\n";

  for (size_t g = 0; g < groups.size(); ++g) {
    const Group &grp = groups[g];
    const Band &band = grp.shape;
    const int64_t pixels = band.rows * k.wo;
    s << "group" << g << ":   # bands " << grp.first << ".." << grp.end - 1 << ": " << band.rows
      << " row(s), input rows " << band.hl << ", pads " << band.pt << "/" << band.pb << "\n";
    // Bases: input rows of this band, output pixels of this band.
    s << "  muli x17, x16, " << k.h * rowBytes << "\n  add x17, x17, x2\n";
    s << "  li x8, " << grp.first << "\n  sub x8, x15, x8\n  muli x8, x8, " << t.ohb * k.sh * rowBytes
      << "\n  add x17, x17, x8\n  li x8, " << band.ihs * rowBytes << "\n  add x17, x17, x8\n";
    s << "  muli x19, x16, " << k.ho * k.wo * k.cop * 2 << "\n  add x19, x19, x5\n";
    s << "  muli x8, x15, " << t.ohb * k.wo * k.cop * 2 << "\n  add x19, x19, x8\n";
    if (k.residual) // the same pixels of the residual (rc channels per pixel)
      s << "  muli x20, x16, " << k.ho * k.wo * rc * 2 << "\n  add x20, x20, x18\n  muli x8, x15, " << t.ohb * k.wo * rc * 2
        << "\n  add x20, x20, x8\n";
    const uint64_t fmap = uint64_t(k.w) | (uint64_t(band.hl) << 16) | (uint64_t(k.pl) << 32) |
                          (uint64_t(k.pr) << 40) | (uint64_t(band.pt) << 48) | (uint64_t(band.pb) << 56);
    s << "  li x9, " << int64_t(fmap) << "\n  setfmap x9\n";
    for (int64_t c = 1; c < nChunks; ++c) s << "  li x8, " << c << "\n  beq x21, x8, group" << g << "_n" << c << "\n";
    const bool oneKStep = t.kc1 >= c1 && !k.depthwise;
    for (int64_t c = 0; c < nChunks; ++c) {
      const auto [firstStage, endStage] = chunks[size_t(c)];
      s << "group" << g << "_n" << c << ":   # N tiles " << c * chunkTiles << "..\n";
      s << "  set_flag m, mte1, 4\n  set_flag m, mte1, 5\n"; // both L0A halves free
      int64_t half = 0;
      for (size_t i = firstStage; i < endStage; ++i) {
        const Stage &st = stages[i];
        const bool first = i == firstStage, last = i + 1 == endStage;
        const int64_t ntc = std::min(t.nt, k.cop - st.n0), slices = std::min(t.kc1, c1 - st.s0);
        const int64_t kst = slices * taps * 16;
        const bool firstK = k.depthwise || st.s0 == 0, lastK = k.depthwise || st.s0 + slices >= c1;
        s << "  # channels " << st.n0 << "+" << ntc << ", slices " << st.s0 << "+" << slices << "\n";
        // L1 (band, weights, bias) is reloaded only after the cube's last read of it: the bias is
        // read by mmad itself, so waiting for MTE1 alone would race.
        if (!first) s << "  wait_flag m, mte2, 1\n";
        if (first || !oneKStep) // the band's slices of this K step (NC1HWC0 in L1)
          for (int64_t sl = 0; sl < slices; ++sl) {
            const int64_t rowsPerDma = std::max<int64_t>(1, 65535 / k.w);
            for (int64_t r = 0; r < band.hl; r += rowsPerDma) {
              const int64_t rows = std::min(rowsPerDma, band.hl - r);
              s << "  li x8, " << (st.s0 + sl) * 32 + r * rowBytes << "\n  add x8, x17, x8\n  li x9, "
                << l1.band + (sl * band.hl + r) * k.w * 32 << "\n  gm2l1 l1[x9], gm[x8], nburst=" << rows * k.w
                << ", len=1, src_gap=" << c1 - 1 << "\n";
            }
          }
        const int64_t weightBytes = kst * ntc * 2;
        s << "  li x8, " << st.weightOffset << "\n  add x8, x3, x8\n  li x9, " << l1.weights
          << "\n  gm2l1 l1[x9], gm[x8], len=" << weightBytes / 32 << "\n";
        if (firstK)
          s << "  li x8, " << st.n0 * 4 << "\n  add x8, x4, x8\n  li x9, " << l1.bias << "\n  gm2l1 l1[x9], gm[x8], len="
            << ceilDiv(ntc * 4, 32) << "\n";
        // The residual's channels in this N tile (none past its last: those read as zero).
        const int64_t rk = std::clamp<int64_t>(rc - st.n0, 0, ntc);
        const bool addResidual = k.residual && lastK && rk > 0;
        if (addResidual) // this N tile's residual channels of the band's pixels, NC1HWC0 in L1
          for (int64_t sl = 0; sl < rk / 16; ++sl)
            for (int64_t p0 = 0; p0 < pixels; p0 += 65535) {
              const int64_t count = std::min<int64_t>(65535, pixels - p0);
              s << "  li x8, " << (st.n0 / 16 + sl) * 32 + p0 * rc * 2 << "\n  add x8, x20, x8\n  li x9, "
                << l1.residual + (sl * pixels + p0) * 32 << "\n  gm2l1 l1[x9], gm[x8], nburst=" << count
                << ", len=1, src_gap=" << rc / 16 - 1 << "\n";
            }
        s << "  set_flag mte2, mte1, 0\n  wait_flag mte2, mte1, 0\n";
        if (!first) s << "  wait_flag m, mte1, 2\n";
        for (int64_t f = 0; f < weightBytes / kFractal; f += 255)
          s << "  li x9, " << f * kFractal << "\n  li x10, " << l1.weights + f * kFractal
            << "\n  load2d l0b[x9], l1[x10], repeat=" << std::min<int64_t>(255, weightBytes / kFractal - f) << "\n";
        if (addResidual)
          s << "  li x9, " << identityL0b << "\n  li x10, " << identityAt.at(ntc) << "\n  load2d l0b[x9], l1[x10], repeat="
            << ntc * ntc * 2 / kFractal << "\n";
        const int64_t tiles = ceilDiv(pixels, t.mt);
        for (int64_t tile = 0; tile < tiles; ++tile, ++half) {
          // L0A half h: MTE1 waits until the cube is done with it, img2col, hands it over (#h).
          const int h = int(half % 2);
          const int64_t m0 = tile * t.mt, mc = std::min(t.mt, pixels - m0), mcp = roundUp(mc, 16);
          s << "  wait_flag m, mte1, " << 4 + h << "\n";
          s << "  li x9, " << l1.band << "\n  li x10, " << m0 << "\n  li x13, " << h * l0aHalf
            << "\n  load3d.f16 l0a[x13], l1[x9], x10, mcount=" << mcp / 16 << ", kh=" << k.kh << ", kw=" << k.kw
            << ", sh=" << k.sh << ", sw=" << k.sw << ", dh=" << k.dh << ", dw=" << k.dw << ", c1=" << slices << "\n";
          s << "  set_flag mte1, m, " << h << "\n  wait_flag mte1, m, " << h << "\n";
          if (firstK && tile == 0 && !first) s << "  wait_flag fix, m, 3\n";
          s << "  li x11, " << tile * t.mt * roundUp(ntc, 16) * 4 << "\n  li x12, " << l1.bias << "\n";
          s << "  mmad.f16 l0c[x11], l0a[x13], l0b[x0], m=" << mcp << ", k=" << kst << ", n=" << ntc
            << ", init=" << (firstK ? 1 : 0) << (firstK ? ", bias=x12" : "") << "\n";
          s << "  set_flag m, mte1, " << 4 + h << "\n";
        }
        if (addResidual) {
          // One more K step per tile: the residual's pixels x channels (img2col of a 1x1 "conv" over
          // the residual band) times the identity, accumulated onto the finished sums.
          s << "  li x9, " << int64_t(uint64_t(k.wo) | (uint64_t(band.rows) << 16)) << "\n  setfmap x9\n";
          for (int64_t tile = 0; tile < tiles; ++tile, ++half) {
            const int h = int(half % 2);
            const int64_t m0 = tile * t.mt, mc = std::min(t.mt, pixels - m0), mcp = roundUp(mc, 16);
            s << "  wait_flag m, mte1, " << 4 + h << "\n  li x9, " << l1.residual << "\n  li x10, " << m0
              << "\n  li x13, " << h * l0aHalf << "\n  load3d.f16 l0a[x13], l1[x9], x10, mcount=" << mcp / 16
              << ", kh=1, kw=1, sh=1, sw=1, dh=1, dw=1, c1=" << rk / 16 << "\n";
            s << "  set_flag mte1, m, " << h << "\n  wait_flag mte1, m, " << h << "\n  li x11, "
              << tile * t.mt * roundUp(ntc, 16) * 4 << "\n  li x12, " << identityL0b
              << "\n  mmad.f16 l0c[x11], l0a[x13], l0b[x12], m=" << mcp << ", k=" << rk << ", n=" << ntc
              << ", init=0\n  set_flag m, mte1, " << 4 + h << "\n";
          }
          s << "  li x9, " << int64_t(fmap) << "\n  setfmap x9\n"; // the input's again
        }
        if (!last) s << "  set_flag m, mte2, 1\n  set_flag m, mte1, 2\n";
        if (lastK) {
          s << "  set_flag m, fix, 0\n  wait_flag m, fix, 0\n";
          for (int64_t tile = 0; tile < tiles; ++tile) {
            const int64_t m0 = tile * t.mt, mc = std::min(t.mt, pixels - m0);
            s << "  li x8, " << (m0 * k.cop + st.n0) * 2 << "\n  add x8, x19, x8\n  li x11, "
              << tile * t.mt * roundUp(ntc, 16) * 4 << "\n";
            s << "  fixp.f32.f16 gm[x8], l0c[x11], m=" << mc << ", n=" << ntc << ", src_rows=" << roundUp(mc, 16)
              << ", dst_stride=" << k.cop << ", relu=" << (k.relu ? 1 : 0) << "\n";
          }
          if (!last) s << "  set_flag fix, m, 3\n";
        }
      }
      s << "  wait_flag m, mte1, 4\n  wait_flag m, mte1, 5\n  barrier all\n  jmp next\n";
    }
  }
  s << "next:\n  add x6, x6, x7\n  jmp loop\ndone:\n  end\n" << data.str();
  return GeneratedKernel{s.str(), blockDim};
}

} // namespace fractal::codegen
