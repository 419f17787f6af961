// The convolution kernel (KernelTemplates.h: generateConv) through the npu dialect: NHWC16 input,
// weights packed per (N tile, K step) in L0B's ZN order, f32 bias, an optional residual; output
// NHWC16 f16.
//
// Work items are (image, band of output rows, chunk of N tiles); each core takes every block_dim-th
// item, two per turn on two buffer sets, and issues both items' band loads (GM -> L1) before
// either's compute, so one item's input arrives while the other computes. An item's compute runs
// its stages (N tile x K step); a stage's M tiles (pixels) alternate between two L0A halves, so
// img2col (load3d) of one tile overlaps the cube on the other. With one K step per N tile the
// accumulators of a tile leave L0C (FixPipe) right after its mmad, from two L0C tile buffers;
// with several K steps a band's accumulators stay in L0C (one buffer per set) until its last K
// step. Weights stay in L1 for the whole kernel when they fit (else each stage's are loaded per
// item), the bias too. A residual is one more K step per tile: its channels (img2col of a 1x1 map)
// times an identity from the kernel's data section. Flags come from fractal-npu-inject-sync.
#include "NpuBuilder.h"

#include "EmitUtil.h"

#include "fractal/package/WeightLayouts.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <numeric>
#include <map>
#include <tuple>

namespace fractal::codegen {

using emit::ceilDiv;
using emit::roundUp;

namespace {

constexpr int64_t kFractal = 512; // bytes of a 16x16 f16 fractal
constexpr int64_t kRepeatHalves = emit::kRepeatBytes / 2; // f16 elements of one vector repeat

// Bands of the same shape (rows, loaded input rows, pads) share code; their first input row
// advances linearly with the band index.
struct BandGroup {
  int64_t first, end;      // band indices
  int64_t rows, hl, pt, pb; // output rows, loaded input rows, top and bottom pads
  int64_t ihsFirst;        // first loaded input row of band `first`
};

std::vector<BandGroup> bandGroups(const ConvKernel &k, int64_t ohb, int64_t bands) {
  std::vector<BandGroup> groups;
  for (int64_t b = 0; b < bands; ++b) {
    const int64_t rows = std::min(ohb, k.ho - b * ohb);
    const int64_t ih0 = b * ohb * k.sh - k.pt, ihs = std::max<int64_t>(ih0, 0);
    const int64_t ihe = std::min(ih0 + convInputRows(k, rows) - 1, k.h - 1);
    const int64_t hl = ihe - ihs + 1, pt = ihs - ih0;
    const int64_t pb = std::max<int64_t>(0, convInputRows(k, rows) - hl - pt);
    if (!groups.empty()) {
      BandGroup &g = groups.back();
      if (std::tie(rows, hl, pt, pb) == std::tie(g.rows, g.hl, g.pt, g.pb) &&
          ihs == g.ihsFirst + (b - g.first) * ohb * k.sh) {
        g.end = b + 1;
        continue;
      }
    }
    groups.push_back({b, b + 1, rows, hl, pt, pb, ihs});
  }
  return groups;
}

// `body(value)` in a chain of scf.if on `selector` < ends[i] (the last case unconditional).
Status branchOn(NpuKernelBuilder &kb, mlir::Value selector, const std::vector<int64_t> &ends, size_t from,
                const std::function<Status(size_t)> &body) {
  if (from + 1 >= ends.size()) return body(from);
  mlir::OpBuilder &b = kb.builder();
  mlir::Value below = b.create<mlir::arith::CmpIOp>(kb.loc(), mlir::arith::CmpIPredicate::slt, selector,
                                                    kb.index(ends[from]));
  auto branch = b.create<mlir::scf::IfOp>(kb.loc(), below, /*withElseRegion=*/true);
  mlir::OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(branch.thenBlock()->getTerminator());
  if (Status s = body(from); !s) return s;
  b.setInsertionPoint(branch.elseBlock()->getTerminator());
  return branchOn(kb, selector, ends, from + 1, body);
}

// Ways of hiding latency, each of which keeps more flags live: M tiles leave L0C in groups
// (fixGroup), N tiles alternate two L0B buffers (twoTileWeights), K steps run in a peeled loop.
struct LatencyHiding {
  bool groups, twoTileWeights, peeledSteps;
};

// The scalar register N of `line` when it is `head` + "{sN}, repeat={rep}", else -1.
int scalarOperand(const std::string &line, const std::string &head) {
  const std::string tail = "}, repeat={rep}";
  if (line.size() <= head.size() + 2 + tail.size() || line.compare(0, head.size(), head) != 0 ||
      line.compare(head.size(), 2, "{s") != 0 || line.compare(line.size() - tail.size(), tail.size(), tail) != 0)
    return -1;
  const std::string digits = line.substr(head.size() + 2, line.size() - tail.size() - head.size() - 2);
  if (digits.empty() || digits.size() > 2 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoi(digits);
}

// The first multiplication of a convolution's epilogue moved into FixPipe's scale, which applies
// it in fp32 on the way from L0C into UB, before the one rounding to fp16: a vector instruction
// fewer per tile. Two forms (the epilogue's inputs {in0} and {in1} are both the tile):
// - HardSigmoid, `vmuls {out}, {in0}, s` first: FixPipe scales by s, the next instruction reads
//   {in0} instead of {out};
// - hardswish times a scale, x * clip(x + a, lo, hi) * s (PP-OCRv4's hardswish and learnable
//   scale, whose "/ 6" fractal-factor-scale folded into s): for s > 0 and q = sqrt(s),
//   q*x * clip(q*x + q*a, q*lo, q*hi) is the same product, so FixPipe scales by q, the clip's
//   constants are q times theirs, and the multiplication by s goes (6 instructions to 5).
// Nothing after the folded instruction may read the tile again (it is scaled now), nor may
// FixPipe's ReLU, which follows its scale, meet a negative one. Returns the scale for FixPipe (1:
// the body unchanged).
float foldScaleIntoFixPipe(ElementwiseKernel &e, bool relu) {
  std::vector<std::string> &body = e.body;
  auto readsTile = [&](size_t from) {
    for (size_t i = from; i < body.size(); ++i)
      if (body[i].find("{in0}") != std::string::npos || body[i].find("{in1}") != std::string::npos) return true;
    return false;
  };
  auto usesOf = [&](int scalar) {
    int n = 0;
    for (const std::string &line : body) n += line.find("{s" + std::to_string(scalar) + "}") != std::string::npos;
    return n;
  };
  auto scalar = [&](int index) { return index >= 0 && size_t(index) < e.scalars.size() ? e.scalars[size_t(index)] : 0.0f; };
  if (!e.halfScalars || !e.prologue.empty() || body.size() < 2) return 1.0f;
  // HardSigmoid.
  const std::string outOut = "{out}, {out}, ";
  if (const int s0 = scalarOperand(body[0], "vmuls.f16 {out}, {in0}, "); s0 >= 0) {
    const float scale = scalar(s0);
    const size_t dst = body[1].find(' ');
    if (!(std::isfinite(scale) && scale != 0.0f) || (relu && scale < 0.0f) || readsTile(1) || dst == std::string::npos ||
        body[1].compare(dst + 1, outOut.size(), outOut) != 0)
      return 1.0f;
    body[1].replace(dst + 1, outOut.size(), "{out}, {in0}, ");
    body.erase(body.begin());
    return scale;
  }
  // Hardswish times a scale.
  if (body.size() < 5) return 1.0f;
  const int a = scalarOperand(body[0], "vadds.f16 {out}, {in0}, "), lo = scalarOperand(body[1], "vmaxs.f16 {out}, {out}, "),
            hi = scalarOperand(body[2], "vmins.f16 {out}, {out}, "), s = scalarOperand(body[4], "vmuls.f16 {out}, {out}, ");
  const bool timesTile = body[3] == "vmul.f16 {out}, {in1}, {out}, repeat={rep}" ||
                         body[3] == "vmul.f16 {out}, {out}, {in1}, repeat={rep}";
  if (a < 0 || lo < 0 || hi < 0 || s < 0 || !timesTile || readsTile(4) || usesOf(a) != 1 || usesOf(lo) != 1 ||
      usesOf(hi) != 1)
    return 1.0f;
  const float q = std::sqrt(scalar(s)); // (NaN for s < 0)
  if (!(q >= 1.0f / 128 && q <= 128.0f)) return 1.0f; // the scaled tile and constants stay well inside fp16
  for (int index : {a, lo, hi}) e.scalars[size_t(index)] *= q;
  body.erase(body.begin() + 4);
  return q;
}

// `*hid` is set when the kernel uses any of `hide` (then, and only then, generating it with
// fewer could succeed where this failed).
Expected<GeneratedKernel> generateConvKernel(const ChipConfig &config, const ConvKernel &k, const LatencyHiding &hide,
                                             bool *hid) {
  Expected<ConvTiling> planned = planConv(config, k);
  if (!planned) return planned.takeError();
  const ConvTiling t = *planned;
  const int64_t l1Bytes = config.buffer(BufferKind::L1).sizeBytes, l0aBytes = config.buffer(BufferKind::L0A).sizeBytes;
  const int64_t l0bBytes = config.buffer(BufferKind::L0B).sizeBytes, l0cBytes = config.buffer(BufferKind::L0C).sizeBytes;
  const int64_t l0aTileBytes = l0aBytes / t.l0aTiles; // an M tile's room in L0A (ConvTiling::l0aTiles)
  const int64_t c1 = k.cip / 16, taps = k.kh * k.kw, cores = config.chip.cores;
  const int64_t rc = k.residualChannels ? k.residualChannels : k.cop; // the residual's channels
  // A depthwise convolution run first, band by band, into this one's input band in L1
  // (ConvKernel::depthwiseFirst): its output must be exactly this 1x1 convolution's input.
  const ConvKernel *dw = k.depthwiseFirst.get();
  if (dw && !(dw->depthwise && !dw->residual && !dw->outF32 && !dw->epilogue && !dw->depthwiseFirst && dw->n == k.n &&
              dw->cop == k.cip && dw->ho == k.h && dw->wo == k.w && !k.depthwise && k.kh == 1 && k.kw == 1 &&
              k.sh == 1 && k.sw == 1 && k.pt == 0 && k.pl == 0 && k.pb == 0 && k.pr == 0))
    return Error::internal(k.name + ": a depthwise convolution runs first only before a 1x1 stride-1 unpadded "
                                    "convolution of exactly its output");
  const int64_t dwTaps = dw ? dw->kh * dw->kw : 0, dwTile = dwTaps * 16 * 16; // a 16-channel tile's weights
  // Its M tiles have L0A buffers of their own (two: img2col of one overlaps the cube on the
  // other), so no flag orders its cube work against this convolution's img2col; up to half of
  // L0A, what this convolution's tiles leave (they leave room for two of 64 pixels at least).
  const int64_t mtDwCap = dw ? std::clamp<int64_t>(l0aBytes / 2 / (dwTaps * 16 * 2) / 16 * 16, 16, 4080) : 0;

  // N tiles (the last may be narrower) and, without depthwise, K steps of kc1 input slices (the
  // last may have fewer). Depthwise N tiles read only their own 16 input channels: one K step.
  const int64_t nTiles = ceilDiv(k.cop, t.nt), ntLast = k.cop - (nTiles - 1) * t.nt;
  const int64_t kSteps = k.depthwise ? 1 : ceilDiv(c1, t.kc1), slicesLast = k.depthwise ? 1 : c1 - (kSteps - 1) * t.kc1;
  if (k.c04 && !(k.inputChannels >= 1 && k.inputChannels <= 4 && c1 == 1 && !k.depthwise && !dw))
    return Error::internal(k.name + ": the small-channel (C04) form needs an unpadded input of at most 4 channels");
  // An N tile's depth (C04: taps x 4 channels, padded to 16; one K step).
  const int64_t kTotal = k.c04 ? convC04Depth(k) : (k.depthwise ? 1 : c1) * taps * 16;
  const int64_t weightTotal = (nTiles - 1) * kTotal * t.nt + kTotal * ntLast;
  const int64_t stageWeightsMax = (k.c04 ? kTotal : std::min(t.kc1, k.depthwise ? int64_t(1) : c1) * taps * 16) *
                                  std::min(t.nt, k.cop);
  // One K step per N tile: accumulators leave L0C tile by tile (two tile buffers); else a band's
  // stay until its last K step (one buffer per item set).
  const bool oneKStep = kSteps == 1;
  const int64_t ntPad = roundUp(std::min(t.nt, k.cop), 16);
  int64_t mt = t.mt;
  if (oneKStep) mt = std::min(mt, (l0cBytes - 2 * mtDwCap * 16 * 4) / (2 * ntPad * 4) / 16 * 16);
  // With one K step, a residual's tile has an L0A buffer of its own beside the input's (both
  // loaded before the two mmads, so one flag hands both over): they share half of L0A.
  const int64_t kMain = k.c04 ? kTotal : std::min(t.kc1, k.depthwise ? int64_t(1) : c1) * taps * 16;
  const int64_t kTile = kMain + (k.residual ? ntPad : 0); // a pixel's depth in L0A (input and residual)
  if (k.residual) mt = std::min(mt, l0aTileBytes / (kTile * 2) / 16 * 16);
  // Two depthwise tiles of (up to) 80 pixels, this convolution's tiles in the rest: the depthwise's
  // img2col moves taps times its input and pays a flag's latency per tile, so it gets the larger
  // share (BlazeFace's 3x3 blocks: 80 + 64 pixels instead of 64 + 112, back 751k -> 733k kernel
  // cycles; 96 + 48 measured worse).
  const int64_t dwReserve = dw ? 2 * std::min<int64_t>(80, mtDwCap) * dwTaps * 16 * 2 : 0;
  if (dw) mt = std::max<int64_t>(16, std::min(mt, (l0aBytes - dwReserve) / 2 / (kTile * 2) / 16 * 16));
  // An epilogue's tile passes through UB whole (four tiles there: FixPipe's output and the body's,
  // two sets, beside four one-repeat constants): a tile split into bands of rows serializes, each
  // band's FixPipe waiting for the previous band's vector work and the vector for its store
  // (PP-OCRv4 det's 320x320 1x1: 1024-pixel tiles, bands of 1008 + 16 rows).
  const int64_t ubHalves = config.buffer(BufferKind::UB).sizeBytes / 2 - 4 * kRepeatHalves;
  if (k.epilogue && mt * ntPad > ubHalves / 4)
    mt = std::max<int64_t>(16, ubHalves / 4 / kRepeatHalves * kRepeatHalves / ntPad / 16 * 16);
  // Pooling: tiles of whole pairs of output rows (and whole 16-pixel fractal rows).
  const int64_t poolUnit = k.maxPool2x2 ? std::lcm<int64_t>(16, 2 * k.wo) : 16;
  if (k.maxPool2x2) {
    if (k.epilogue || k.outF32 || k.secondFrom || ceilDiv(k.cop, t.nt) != 1 || k.ho % 2 || k.wo % 16 ||
        k.cop / 16 > 15 || k.wo * k.cop / kRepeatHalves > emit::kMaxRepeat)
      return Error::internal(k.name + ": a pooled second output needs an NHWC16 output of one N tile (at most 240 "
                                      "channels), even rows, rows of a multiple of 16 pixels");
    mt = mt / poolUnit * poolUnit;
    // (With a depthwise first, whose tiles shrink to make room, when L0A and L0C allow it.)
    if (mt < poolUnit && dw && poolUnit * kTile * 2 + 16 * dwTaps * 16 * 2 <= l0aTileBytes &&
        (!oneKStep || 2 * poolUnit * ntPad * 4 + 2 * mtDwCap * 16 * 4 <= l0cBytes))
      mt = poolUnit;
  }
  if (mt < poolUnit) {
    // Which buffer cannot hold two tiles of poolUnit pixels (a pooled output's tiles are whole
    // pairs of rows): L0C for the accumulators, or L0A for the img2col (beside the depthwise's
    // smallest tiles when one runs first).
    const int64_t l0cNeedTiles = 2 * poolUnit * ntPad * 4;
    const int64_t l0aNeedTiles = t.l0aTiles * poolUnit * kTile * 2 + (dw ? 2 * 16 * dwTaps * 16 * 2 : 0);
    const bool l0cShort = l0cNeedTiles > l0cBytes;
    return Error::badInput(k.name + ": " + (l0cShort ? "L0C" : "L0A") + " overflow: " +
                           (l0cShort || t.l0aTiles == 2 ? "two " : "one ") + std::to_string(poolUnit) + "-pixel tile" +
                           (l0cShort || t.l0aTiles == 2 ? "s" : "") + (k.maxPool2x2 ? " (whole pairs of output rows, for the pooled output)" : "") +
                           " need " + std::to_string(l0cShort ? l0cNeedTiles : l0aNeedTiles) + " bytes, " +
                           (l0cShort ? "L0C has " + std::to_string(l0cBytes) : "L0A has " + std::to_string(l0aBytes)));
  }
  const int64_t mtDw = dw ? std::min(mtDwCap, (l0aTileBytes - mt * kTile * 2) / (dwTaps * 16 * 2) / 16 * 16) : 0;
  if (dw && mtDw < 16)
    return Error::badInput(k.name + ": L0A overflow: 16 pixels of the depthwise " + std::to_string(dw->kh) + "x" +
                           std::to_string(dw->kw) + " convolution before it do not fit beside its own tiles");
  // The residual: all its channels of a band loaded with the band; per N tile, the channels it has
  // (none past its last: those read as zero).
  const int64_t rk = k.residual ? rc : 0;
  std::vector<int64_t> widths = {std::min(t.nt, k.cop)};
  if (ntLast != widths[0]) widths.push_back(ntLast);
  int64_t identityElements = 0;
  for (int64_t w : widths) identityElements += k.residual ? w * w : 0;
  auto l1Need = [&](int64_t ohb, int64_t bandSlices, bool resident) {
    return convL1Bytes(k, t, ohb, ConvL1Use{resident, bandSlices, false});
  };
  auto l0cNeed = [&](int64_t ohb) {
    return 2 * mtDw * 16 * 4 + (oneKStep ? 2 * mt * ntPad * 4 : t.itemSets * roundUp(ohb * k.wo, 16) * ntPad * 4);
  };
  // Bands: enough items for every core and, when there is work enough, up to four per core so
  // that the two buffer sets overlap (an item costs a few hundred cycles of latency however small
  // it is: below about 6000 cycles of cube work per item, fewer and larger items win; with tile
  // groups hiding more latency inside an item, 6000 beat 3000 by 0.6% on PP-OCRv4 det, 2000 and
  // 9000 were worse); not much shorter than the kernel's reach (halo rows are loaded twice); then
  // as large as the buffers allow. With a depthwise first, an item's depthwise band and its 1x1
  // run one after the other and overlap only across items, so items pay off far sooner: from
  // about 250 cycles of cube work each (BlazeFace front: one item per core 107,578 kernel cycles,
  // 1500 -> 105,081, 400 -> 100,770, 250 -> 100,644, 200 -> 101,373, 100 -> 106,411; six or eight
  // items per core were no better).
  // Input slices held per band: all of them when L1 allows (loaded once per item), else a K
  // step's (depthwise: an N tile's).
  const int64_t cubeCycles = ceilDiv(k.n * k.ho * k.wo, 16) * (kTotal / 16) * ceilDiv(k.cop, 16) +
                             (dw ? ceilDiv(k.n * k.h * k.w, 16) * dwTaps * c1 : 0);
  const int64_t cubeCyclesPerItem = dw ? 250 : 6000;
  const int64_t wantedItems = std::clamp<int64_t>(cubeCycles / cubeCyclesPerItem, cores, 4 * cores);
  const int64_t wantedBands = std::max<int64_t>(1, ceilDiv(wantedItems, k.n));
  const ConvKernel &reach = dw ? *dw : k; // whose halo rows a band loads
  int64_t ohb = std::max(ceilDiv(k.ho, wantedBands), std::min(k.ho, (reach.kh - 1) * reach.dh));
  const ConvL1Use l1Use = convL1Use(config, k, t);
  bool resident = l1Use.resident;
  const bool allSlices = l1Use.allSlices;
  if (dw && !allSlices)
    return Error::badInput(k.name + ": L1 overflow: a band of the depthwise convolution before it and its output need " +
                           std::to_string(l1Need(1, c1, false)) + " bytes, L1 has " + std::to_string(l1Bytes));
  const int64_t bandSlices = l1Use.bandSlices;
  // Where a band of one output row does not fit L1 (beside the weights, or alone).
  auto rowOverflow = [&] {
    return Error::badInput(k.name + ": L1/L0C overflow: one output row (" + std::to_string(k.wo) +
                           " pixels, input width " + std::to_string(k.w) + ") needs L1 " +
                           std::to_string(l1Need(1, bandSlices, resident)) + " and L0C " +
                           std::to_string(l0cNeed(1)) + " bytes; the config has L1 " + std::to_string(l1Bytes) +
                           ", L0C " + std::to_string(l0cBytes));
  };
  // (An unpadded input's band holds its only slice: not even that fits.)
  if (k.inputChannels && !allSlices) return rowOverflow();
  if (k.inputChannels && !(k.inputChannels < 16 && k.cip == 16 && !dw && !k.depthwise))
    return Error::internal(k.name + ": an unpadded NHWC input needs fewer than 16 channels, all loaded with the band");
  // An unpadded input's band is one ND -> NZ copy of at most 65505 pixels (its rows operand).
  constexpr int64_t kMaxNdPixels = 65520 - 15;
  auto ndBandPixels = [&](int64_t rows) { return std::min(k.h, convInputRows(k, rows)) * k.w; };
  auto ndBandFits = [&](int64_t rows) { return !k.inputChannels || ndBandPixels(rows) <= kMaxNdPixels; };
  if (!ndBandFits(1))
    return Error::badInput(k.name + ": an unpadded NHWC input's band of one output row loads " +
                           std::to_string(ndBandPixels(1)) + " pixels at once, at most " + std::to_string(kMaxNdPixels));
  // (PP-OCRv4 det at 960x960 and larger: its first convolution's bands were too tall for the copy.)
  while (ohb > 1 && (l1Need(ohb, bandSlices, resident) > l1Bytes || l0cNeed(ohb) > l0cBytes || !ndBandFits(ohb))) --ohb;
  // The kernel takes as long as its busiest core: with at least one band per core, the band
  // height (from this one down to half of it, not below the kernel's reach; pairs of rows with a
  // 2x2 max pooling) that gives the busiest core the fewest rows, the taller on a tie (PP-OCRv4's
  // 320x320 1x1: 7 bands of 51 rows, 4 on one core, became 8 of 40).
  if (k.maxPool2x2) ohb = std::max<int64_t>(2, ohb / 2 * 2); // bands of whole pairs of rows
  if (k.n * ceilDiv(k.ho, ohb) >= cores) {
    const int64_t step = k.maxPool2x2 ? 2 : 1;
    const int64_t lowest = std::max<int64_t>({step, ohb / 2, std::min(k.ho, (reach.kh - 1) * reach.dh)});
    auto busiest = [&](int64_t rows) { return ceilDiv(k.n * ceilDiv(k.ho, rows), cores) * rows; };
    for (int64_t rows = ohb - step; rows >= lowest; rows -= step)
      if (busiest(rows) < busiest(ohb)) ohb = rows;
  }
  if (l1Need(ohb, bandSlices, resident) > l1Bytes || l0cNeed(ohb) > l0cBytes) return rowOverflow();
  const int64_t l0bOwn = (oneKStep ? 1 : 2) * stageWeightsMax * 2 + identityElements * 2;
  // The depthwise's weights: a tile's in L0B, two alternating when they fit.
  const int dwL0bCount = dw ? (l0bOwn + 2 * dwTile * 2 <= l0bBytes ? 2 : 1) : 0;
  const int64_t l0bNeed = l0bOwn + dwL0bCount * dwTile * 2;
  if (l0bNeed > l0bBytes)
    return Error::badInput(k.name + ": L0B overflow: the weights of " + (oneKStep ? "an N tile" : "two K steps") +
                           (dw ? " and a 16-channel tile of the depthwise convolution before it" : "") + " need " +
                           std::to_string(l0bNeed) + " bytes, L0B has " + std::to_string(l0bBytes));
  const int64_t bands = ceilDiv(k.ho, ohb);
  // Every band's M tiles an odd number (the K-step loop then alternates L0A by step too).
  const bool oddTileBands = ceilDiv(ohb * k.wo, mt) % 2 == 1 && ceilDiv((k.ho - (bands - 1) * ohb) * k.wo, mt) % 2 == 1;
  const std::vector<BandGroup> groups = bandGroups(k, ohb, bands);
  const std::vector<BandGroup> dwGroups = dw ? bandGroups(*dw, ohb, bands) : std::vector<BandGroup>{};
  for (const auto &[kk, gs] : {std::pair{&k, &groups}, std::pair{dw, &dwGroups}})
    for (const BandGroup &g : *gs)
      if (g.hl < 1 || g.pt > 255 || g.pb > 255 || kk->pl > 255 || kk->pr > 255)
        return Error::badInput(kk->name + ": padding too large for the feature-map register (bands " +
                               std::to_string(g.first) + ".." + std::to_string(g.end - 1) + ")");
  constexpr int64_t kItemLatency = 250; // cycles an item costs beyond its cube work
  // Fewer (image, band) items than cores: the N tiles are shared out too, in chunks.
  emit::NChunks chunking = emit::shareOutNTiles(nTiles, k.n * bands, cores);
  // With bands that do not share out evenly (3 on 2 cores, or a short last band), chunks of N
  // tiles balance the cores: the chunk count (up to 4) whose busiest core has the least work, items
  // dealt round-robin as the loop deals them, each costing its cube cycles (rows x tiles) and an
  // item's latency. A depthwise item loads only its chunk's channels; a dense one loads the band's
  // input again per chunk, which pays where rows are long in cube work. (PP-OCRv4 rec's 5x5
  // depthwise on 12x80 maps: 3 bands of 4 rows, 2 on one core; its 1x1 convolutions on 3x80x480
  // maps: bands of 2 and 1 rows, 24.3k -> 21.8k cycles each in 2 chunks.)
  if (chunking.count == 1 && nTiles > 1) {
    // Cube cycles of an output row for one N tile.
    const int64_t rowTile = ceilDiv(k.wo, 16) * (kTotal / 16) * (t.nt / 16);
    auto busiest = [&](int64_t count) {
      const int64_t perChunk = ceilDiv(nTiles, count), chunks = ceilDiv(nTiles, perChunk);
      std::vector<int64_t> work(size_t(cores), 0);
      int64_t item = 0;
      for (int64_t image = 0; image < k.n; ++image)
        for (int64_t band = 0; band < bands; ++band)
          for (int64_t chunk = 0; chunk < chunks; ++chunk, ++item) {
            const int64_t rows = std::min(ohb, k.ho - band * ohb);
            const int64_t tiles = std::min(perChunk, nTiles - chunk * perChunk);
            work[size_t(item % cores)] += rows * tiles * rowTile + kItemLatency;
          }
      return *std::max_element(work.begin(), work.end());
    };
    for (int64_t count = 2; count <= std::min<int64_t>(4, nTiles); ++count)
      if (busiest(count) < busiest(chunking.count)) {
        chunking.tilesPerChunk = ceilDiv(nTiles, count);
        chunking.count = ceilDiv(nTiles, chunking.tilesPerChunk);
      }
  }
  const int64_t nChunks = chunking.count, chunkTiles = chunking.tilesPerChunk;
  const int64_t lastChunkTiles = nTiles - (nChunks - 1) * chunkTiles;
  // A depthwise item in N chunks reads only its chunk's input slices (a slice per 16-channel N
  // tile): the band holds those, and the room left may take the weights for the whole kernel
  // (PP-OCRv4 rec's 5x5 depthwise on 6x80x480: 30 slices and the weights per stage before).
  const bool chunkBand = k.depthwise && allSlices && nChunks > 1 && t.nt == 16;
  const int64_t bandBufferSlices = chunkBand ? chunkTiles : bandSlices;
  if (chunkBand && !resident && l1Need(ohb, chunkTiles, true) <= l1Bytes) resident = true;
  const int64_t items = k.n * bands * nChunks;
  const int blockDim = int(std::min<int64_t>(cores, items));
  const int64_t hlMax = std::min(k.h, convInputRows(k, ohb));
  const int64_t kMax = kMain;
  if (mt * (kMax + (k.residual ? ntPad : 0)) * 2 > l0aTileBytes)
    return Error::internal(k.name + ": an M tile of " + std::to_string(mt) + " pixels overflows its share of L0A");

  NpuKernelBuilder kb(config, k.name, k.node);
  mlir::OpBuilder &b = kb.builder();
  if ((k.inputF32 || k.inputPlanar) && !k.inputChannels)
    return Error::internal(k.name + ": an f32 or planar input is read with only its channels (inputChannels)");
  if (k.inputPlanar && k.h * k.w > ConvKernel::kMaxPlaneStride)
    return Error::internal(k.name + ": the input's planes are further apart than a planar load's stride reaches");
  std::vector<std::pair<mlir::Type, int64_t>> args = {{k.inputF32 ? kb.f32() : kb.f16(), k.n * k.h * k.w * (k.inputChannels ? k.inputChannels : k.cip)},
                                                      {kb.f16(), weightTotal},
                                                      {kb.f32(), k.cop}};
  if (dw) {
    args[0] = {kb.f16(), k.n * dw->h * dw->w * k.cip};
    args.insert(args.begin() + 1, {{kb.f16(), c1 * dwTile}, {kb.f32(), k.cip}});
  }
  const size_t first = dw ? 2 : 0; // this convolution's arguments after the depthwise's
  if (k.residual) args.push_back({kb.f16(), k.n * k.ho * k.wo * rc});
  // The output's channels per pixel: NHWC16's cop, or an f32 output's own (FixPipe writes only
  // those of the single N tile when there are fewer than 16).
  const int64_t outStride = k.outF32 && k.outChannels ? k.outChannels : k.cop;
  const int64_t firstCop = k.secondFrom ? k.secondFrom : k.cop; // the first output's share of the channels
  if (outStride != firstCop && !(outStride < 16 && firstCop == 16))
    return Error::internal(k.name + ": an f32 output of " + std::to_string(outStride) + " channels needs " +
                           std::to_string(firstCop) + " (or fewer than 16)");
  if (k.secondFrom && !(k.outF32 && !k.epilogue && nTiles == 1 && k.secondFrom % 16 == 0 && k.secondChannels > 0 &&
                        k.secondFrom + k.secondChannels <= k.cop))
    return Error::internal(k.name + ": a second output needs NHWC f32 outputs from one N tile, channels from a "
                                    "multiple of 16 within the convolution's");
  args.push_back({k.outF32 ? kb.f32() : kb.f16(), k.n * k.ho * k.wo * outStride});
  if (k.secondFrom) args.push_back({kb.f32(), k.n * k.ho * k.wo * k.secondChannels});
  if (k.maxPool2x2) args.push_back({kb.f16(), k.n * (k.ho / 2) * (k.wo / 2) * k.cop});
  kb.begin(args, blockDim);
  mlir::Value input = kb.arg(0), weights = kb.arg(first + 1), biasGm = kb.arg(first + 2);
  mlir::Value residualGm = k.residual ? kb.arg(first + 3) : nullptr, output = kb.arg(first + (k.residual ? 4 : 3));

  // Kernel-wide buffers: bias and (resident) weights in L1, the residual's identities. With a
  // depthwise first their loads (`lateLoads`) are issued at the start of the block's first turn,
  // behind the depthwise's own and the first item's input, and their moves into L0B wait until
  // that item's depthwise band is done, so the depthwise starts as soon as its weights and input
  // are in. (Issued before the item loop, the loop's first wait covered them too: the depthwise
  // waited for the 1x1's weights.)
  std::vector<std::function<void()>> lateLoads;
  auto kernelWideLoad = [&](std::function<void()> load) {
    if (dw)
      lateLoads.push_back(std::move(load));
    else
      load();
  };
  mlir::Value bias = kb.alloc(npu::Space::l1, kb.f32(), k.cop);
  kernelWideLoad([&, bias] { kb.dma(biasGm, kb.index(0), bias, kb.index(0), k.cop); });
  mlir::Value l1Weights[2];
  if (resident) {
    l1Weights[0] = l1Weights[1] = kb.alloc(npu::Space::l1, kb.f16(), weightTotal);
    kernelWideLoad([&, to = l1Weights[0]] { kb.dma(weights, kb.index(0), to, kb.index(0), weightTotal); });
  } else {
    for (mlir::Value &w : l1Weights) w = kb.alloc(npu::Space::l1, kb.f16(), stageWeightsMax);
  }
  // The depthwise's bias and weights in L1 for the whole kernel, a tile's weights in L0B.
  mlir::Value dwBias, dwWeights, dwL0b[2];
  if (dw) {
    // Both first, in the kernel's straight-line start: in a kernel sequence they are issued
    // before the cross-core barrier (isa/KernelSequence.h, early loads), where the bias's DRAM
    // latency (~450 cycles on the edge chip) passes while the blocks wait for each other. Loaded
    // after the first item's input, the flag the depthwise starts on waited for it: BlazeFace
    // front 92,797 -> 92,036 cycles, back 547,016 -> 545,337.
    dwBias = kb.alloc(npu::Space::l1, kb.f32(), k.cip);
    dwWeights = kb.alloc(npu::Space::l1, kb.f16(), c1 * dwTile);
    kb.dma(kb.arg(1), kb.index(0), dwWeights, kb.index(0), c1 * dwTile);
    kb.dma(kb.arg(2), kb.index(0), dwBias, kb.index(0), k.cip);
    for (int q = 0; q < 2; ++q) dwL0b[q] = q < dwL0bCount ? kb.alloc(npu::Space::l0b, kb.f16(), dwTile) : dwL0b[0];
  }
  // L0B: one buffer for an N tile's weights (one K step), two alternating K steps otherwise.
  // With one K step and several N tiles, two when they fit: the next N tile's weights move in
  // while this one's last M tiles are on the cube, instead of after them (a 40x40 5x5 depthwise
  // of 12 channel tiles spent a few hundred cycles per tile draining and refilling its pipes).
  const bool twoTileWeights = hide.twoTileWeights && oneKStep && nTiles > 1 && l0bNeed + stageWeightsMax * 2 <= l0bBytes;
  *hid = twoTileWeights || (hide.peeledSteps && kSteps > 1);
  mlir::Value l0b[2];
  l0b[0] = l0b[1] = kb.alloc(npu::Space::l0b, kb.f16(), stageWeightsMax);
  if (!oneKStep || twoTileWeights) l0b[1] = kb.alloc(npu::Space::l0b, kb.f16(), stageWeightsMax);
  std::map<int64_t, mlir::Value> identity, stagedIdentity; // tile width -> its identity in L0B, in L1
  if (k.residual) {
    for (int64_t width : widths) {
      std::vector<float> eye(size_t(width * width), 0.0f);
      for (int64_t c = 0; c < width; ++c) eye[size_t(c * width + c)] = 1.0f;
      mlir::Value data = kb.kernelData("identity" + std::to_string(width),
                                       pkg::packConvWeights({width, width, 1, 1, width, width, width, width / 16, false}, eye.data()));
      stagedIdentity[width] = kb.alloc(npu::Space::l1, kb.f16(), width * width);
      kernelWideLoad([&, data, width, to = stagedIdentity[width]] { kb.dma(data, kb.index(0), to, kb.index(0), width * width); });
      identity[width] = kb.alloc(npu::Space::l0b, kb.f16(), width * width);
    }
  }
  // A stage's weights (`elements` from element `offset` of the packed tensor) into L0B buffer q:
  // from the resident copy in L1, or through L1 slot q.
  auto loadWeights = [&](mlir::Value offset, int64_t elements, int q) {
    mlir::Value from = l1Weights[q];
    if (!resident)
      kb.dma(weights, offset, l1Weights[q], kb.index(0), elements);
    else
      from = kb.view(l1Weights[0], offset, elements);
    const int64_t fractals = elements * 2 / kFractal;
    for (int64_t f = 0; f < fractals; f += 255)
      kb.instruction<npu::LoadOp>("load2d", {kb.view(l0b[q], kb.index(f * 256), elements - f * 256),
                                             kb.view(from, kb.index(f * 256), elements - f * 256)},
                                  {{"repeat", std::min<int64_t>(255, fractals - f)}});
  };
  // A single stage with resident weights: its L0B is loaded once (after the first loads, below).
  const bool weightsOnce = resident && nTiles == 1 && kSteps == 1;

  // Per item set: the band's input slices and residual channels in L1; L0C for a band.
  // (With a depthwise first: its input band, and `band` receives its output.)
  mlir::Value band[2], residualBand[2], l0cBand[2], dwBand[2];
  const int64_t dwHlMax = dw ? std::min(dw->h, convInputRows(*dw, ohb)) : 0;
  for (int s = 0; s < 2; ++s) {
    if (s >= t.itemSets) { // one item set: set 1 is never used
      band[s] = band[0], residualBand[s] = residualBand[0], l0cBand[s] = l0cBand[0], dwBand[s] = dwBand[0];
      continue;
    }
    if (dw) dwBand[s] = kb.alloc(npu::Space::l1, kb.f16(), c1 * dwHlMax * dw->w * 16);
    // (An unpadded input's load writes whole 16-row fractal rows.)
    band[s] = kb.alloc(npu::Space::l1, kb.f16(),
                       bandBufferSlices * (k.inputChannels ? roundUp(hlMax * k.w, 16) : hlMax * k.w) * (k.c04 ? 4 : 16));
    if (k.residual) residualBand[s] = kb.alloc(npu::Space::l1, kb.f16(), (rk / 16) * ohb * k.wo * 16);
    if (!oneKStep) l0cBand[s] = kb.alloc(npu::Space::l0c, kb.f32(), roundUp(ohb * k.wo, 16) * ntPad);
  }
  // One K step: tiles leave L0C in groups of fixGroup (when L0C holds two groups), each tile's
  // FixPipe after the group's last mmad. Straight to GM, one set_flag after the group's last
  // FixPipe hands the buffer back; through UB (an epilogue), each tile of the group has UB tiles
  // of its own and MTE3's set_flags after the group's stores share one drain
  // (fractal-npu-sink-flags). Either flag waits until its pipe's GM writes have landed (the
  // write path's latency, ~150 cycles on the edge chip), during which the pipe starts nothing: a
  // flag per tile paid that for every tile. With an epilogue only for small tiles, whose store
  // takes under a quarter of that latency (PP-OCRv4's 32-pixel 5x5 depthwise tiles: 1 KiB;
  // measured worse from 3.5 KiB up: the group's first tile then waits for its last mmad for
  // nothing), and in groups of two (each tile's UB pair is a chain of flags of its own, and a
  // pipe pair has 8 event ids).
  const int64_t writeLatency = config.dma.gmWritePathLatencyCycles + config.l2.hitLatencyCycles;
  const bool smallStores = 4 * mt * ntPad * 2 <= writeLatency * config.dma.gmWriteBytesPerCycle;
  int64_t fixGroup = 1;
  if (hide.groups && oneKStep && !k.maxPool2x2 && (!k.epilogue || smallStores)) {
    const int64_t tilesPerBand = ceilDiv(ohb * k.wo, mt);
    // (Groups of 4 only for a depthwise first's 1x1, whose FixPipe is its bottleneck: elsewhere 2
    // measured better, the group's first FixPipe waiting for fewer mmads.)
    for (int64_t g : k.epilogue || !dw ? std::vector<int64_t>{2} : std::vector<int64_t>{4, 2})
      if (g <= tilesPerBand && 2 * g * mt * ntPad * 4 + (dw ? 2 * mtDw * 16 * 4 : 0) <= l0cBytes &&
          (!k.epilogue || 4 * g * roundUp(mt * ntPad, kRepeatHalves) <= ubHalves)) {
        fixGroup = g;
        *hid = true;
        break;
      }
  }
  // The epilogue's UB tiles (FixPipe's output, the body's result), one pair per L0C tile (of a
  // group) so that one tile's vector work and store overlap the next tile's FixPipe; its
  // constants.
  std::vector<std::map<std::string, mlir::Value>> epilogueTiles[2];
  int64_t epilogueRows = 0; // rows (pixels) of a tile per pass through UB
  std::optional<VectorTemplates> templates;
  std::optional<ElementwiseKernel> epilogue = k.epilogue; // its first multiplication maybe in FixPipe
  const float fixScale = epilogue ? foldScaleIntoFixPipe(*epilogue, k.relu) : 1.0f;
  if (k.epilogue || k.maxPool2x2) {
    if (k.outF32) return Error::internal(k.name + ": an epilogue needs the NHWC16 f16 output");
    // Four tiles (per tile of a group) and the four one-repeat constants in UB: a tile too big
    // for that leaves L0C in bands of rows.
    // (Bands of whole 16-row fractal rows: a band's L0C address stays aligned.)
    epilogueRows = std::max<int64_t>(
        poolUnit, std::min(mt, (ubHalves / (4 * fixGroup)) / kRepeatHalves * kRepeatHalves / ntPad / poolUnit * poolUnit));
    const int64_t tileElements = roundUp(epilogueRows * ntPad, kRepeatHalves);
    for (auto &group : epilogueTiles)
      for (int64_t j = 0; j < fixGroup; ++j) {
        mlir::Value in = kb.alloc(npu::Space::ub, kb.f16(), tileElements);
        group.push_back({{"{in0}", in}, {"{in1}", in}, {"{out}", kb.alloc(npu::Space::ub, kb.f16(), tileElements)}});
      }
    if (k.epilogue) {
      templates.emplace(kb, *epilogue);
      if (Status st = templates->lower(epilogue->prologue, 1, epilogueTiles[0][0]); !st) return st.error();
    }
  }
  // (A depthwise first has L0A and L0C tiles of its own.)
  mlir::Value l0a[2], l0aResidual[2], l0cTile[2], l0aDw[2], l0cDw[2];
  for (int p = 0; p < 2; ++p) {
    l0a[p] = p == 1 && t.l0aTiles == 1 ? l0a[0] : kb.alloc(npu::Space::l0a, kb.f16(), mt * kMax);
    if (dw) {
      l0aDw[p] = kb.alloc(npu::Space::l0a, kb.f16(), mtDw * dwTaps * 16);
      l0cDw[p] = kb.alloc(npu::Space::l0c, kb.f32(), mtDw * 16);
    }
    l0aResidual[p] = k.residual ? kb.alloc(npu::Space::l0a, kb.f16(), mt * ntPad) : l0a[p];
    if (oneKStep) l0cTile[p] = kb.alloc(npu::Space::l0c, kb.f32(), fixGroup * mt * ntPad);
  }
  std::vector<int64_t> groupEnds;
  for (const BandGroup &g : groups) groupEnds.push_back(g.end);

  // The item's image, band and chunk.
  struct Where { mlir::Value image, band, chunk; };
  auto where = [&](mlir::Value item) {
    mlir::Value rest = b.create<mlir::arith::DivSIOp>(kb.loc(), item, kb.index(nChunks));
    return Where{b.create<mlir::arith::DivSIOp>(kb.loc(), rest, kb.index(bands)),
                 b.create<mlir::arith::RemSIOp>(kb.loc(), rest, kb.index(bands)),
                 b.create<mlir::arith::RemSIOp>(kb.loc(), item, kb.index(nChunks))};
  };
  // GM -> L1 copies of `pixels` pixels' 16-channel blocks, one of every `stride` blocks.
  auto gatherRows = [&](mlir::Value from, mlir::Value fromOffset, int64_t stride, mlir::Value to, mlir::Value toOffset,
                        int64_t pixels) {
    for (int64_t p0 = 0; p0 < pixels; p0 += 65535) {
      const int64_t count = std::min<int64_t>(65535, pixels - p0);
      const int64_t span = (count - 1) * stride * 16 + 16;
      kb.instruction<npu::CopyOp>("gm2l1", {kb.view(to, kb.add(toOffset, p0 * 16), count * 16),
                                            kb.view(from, kb.add(fromOffset, p0 * stride * 16), span)},
                                  {{"nburst", count}, {"len", 1}, {"src_gap", stride - 1}});
    }
  };
  // The band's first loaded input row, and its pixel base in the input (of convolution kk).
  auto inputBaseOf = [&](const ConvKernel &kk, const Where &at, const BandGroup &g) {
    mlir::Value firstRow = kb.add(kb.mul(kb.add(at.band, -g.first), ohb * kk.sh), g.ihsFirst);
    return kb.mul(kb.add(kb.mul(at.image, kk.h), firstRow), kk.w);
  };
  auto inputBase = [&](const Where &at, const BandGroup &g) { return inputBaseOf(k, at, g); };
  // `count` input slices from slice `first` (runtime) into the band buffer. When a slice is whole
  // fractal rows (pixels a multiple of 16), one ND -> NZ copy of the band's pixels x the slices'
  // channels: its column blocks are the slices, where the gathers put them. A gather per slice
  // cost the scalar unit a dispatch each, and 30 of them (a 480-channel band) filled MTE2's
  // queue, so the scalar unit stalled before it could dispatch the cube's work.
  auto loadSlices = [&](mlir::Value inPixel, mlir::Value first, int64_t count, int s, const BandGroup &g) {
    const int64_t pixels = g.hl * k.w;
    if (count > 1 && pixels % 16 == 0 && pixels <= 65520) {
      kb.instruction<npu::CopyOp>("gm2l1_nz.f16",
                                  {kb.view(band[s], kb.index(0), count * pixels * 16),
                                   kb.view(input, kb.add(kb.mul(inPixel, k.cip), kb.mul(first, 16)),
                                           (pixels - 1) * k.cip + count * 16)},
                                  {{"rows", pixels}, {"cols", count * 16}, {"src_stride", k.cip}, {"dst_rows", pixels}});
      return;
    }
    for (int64_t sl = 0; sl < count; ++sl)
      gatherRows(input, kb.add(kb.mul(inPixel, k.cip), kb.mul(kb.add(first, sl), 16)), c1, band[s],
                 kb.index(sl * g.hl * k.w * 16), g.hl * k.w);
  };

  std::vector<int64_t> dwGroupEnds;
  for (const BandGroup &g : dwGroups) dwGroupEnds.push_back(g.end);
  // Loads: the band's input rows (every slice when all fit; with a depthwise first, its input
  // rows) and its residual channels.
  auto loads = [&](mlir::Value item, int s) -> Status {
    const Where at = where(item);
    if (dw) {
      Status st = branchOn(kb, at.band, dwGroupEnds, 0, [&](size_t gi) -> Status {
        const BandGroup &g = dwGroups[gi];
        mlir::Value inPixel = inputBaseOf(*dw, at, g);
        for (int64_t sl = 0; sl < c1; ++sl)
          gatherRows(input, kb.add(kb.mul(inPixel, k.cip), sl * 16), c1, dwBand[s], kb.index(sl * g.hl * dw->w * 16),
                     g.hl * dw->w);
        return Status::success();
      });
      if (!st || !k.residual) return st;
    }
    return branchOn(kb, at.band, groupEnds, 0, [&](size_t gi) -> Status {
      const BandGroup &g = groups[gi];
      if (k.inputChannels) { // ND (pixels x channels) -> NZ: the channels padded to 16 (C04: 4) with zeros
        const int64_t pixels = g.hl * k.w, ic = k.inputChannels, plane = k.h * k.w;
        // NHWC: the band's pixels are consecutive, ic elements each; NCHW planes: the band is
        // the same pixels of each of the image's ic planes.
        std::vector<std::pair<std::string, int64_t>> params = {
            {"rows", pixels}, {"cols", ic}, {"src_stride", k.inputPlanar ? plane : ic}, {"dst_rows", roundUp(pixels, 16)}};
        if (k.c04) params.push_back({"c04", 1});
        if (k.inputPlanar) params.push_back({"planar", 1});
        if (k.inputF32) params.push_back({"from_f32", 1});
        mlir::Value source = k.inputPlanar ? kb.view(input, kb.add(inputBase(at, g), kb.mul(at.image, (ic - 1) * plane)),
                                                     (ic - 1) * plane + pixels)
                                           : kb.view(input, kb.mul(inputBase(at, g), ic), pixels * ic);
        kb.instruction<npu::CopyOp>("gm2l1_nz.f16", {kb.view(band[s], kb.index(0), roundUp(pixels, 16) * (k.c04 ? 4 : 16)), source},
                                    params);
      } else if (chunkBand) {
        mlir::Value first = kb.mul(at.chunk, chunkTiles);
        auto chunkSlices = [&](bool last) {
          loadSlices(inputBase(at, g), first, last ? lastChunkTiles : chunkTiles, s, g);
          return Status::success();
        };
        if (lastChunkTiles == chunkTiles) chunkSlices(false);
        else if (Status st = kb.splitLast(at.chunk, nChunks - 1, chunkSlices); !st) return st;
      } else if (allSlices && !dw) {
        loadSlices(inputBase(at, g), kb.index(0), c1, s, g);
      }
      if (k.residual) {
        mlir::Value pixel = kb.add(kb.mul(at.image, k.ho * k.wo), kb.mul(at.band, ohb * k.wo));
        for (int64_t sl = 0; sl < rk / 16; ++sl)
          gatherRows(residualGm, kb.add(kb.mul(pixel, rc), sl * 16), rc / 16, residualBand[s],
                     kb.index(sl * g.rows * k.wo * 16), g.rows * k.wo);
      }
      return Status::success();
    });
  };

  // A band as compute sees it: its rows (fixed in the code), its loaded input rows, first input
  // pixel and feature-map register value (from the band index at run time, or fixed for a group).
  struct BandView {
    int64_t rows;
    mlir::Value hl, inPixel, fmap;
    const BandGroup *group; // set when hl is fixed (slices loaded by compute need it)
  };
  auto fixedBand = [&](const Where &at, const BandGroup &g) {
    const uint64_t fmap = uint64_t(k.w) | (uint64_t(g.hl) << 16) | (uint64_t(k.pl) << 32) | (uint64_t(k.pr) << 40) |
                          (uint64_t(g.pt) << 48) | (uint64_t(g.pb) << 56);
    return BandView{g.rows, kb.index(g.hl), inputBase(at, g), b.create<mlir::arith::ConstantIntOp>(kb.loc(), int64_t(fmap), 64), &g};
  };
  // The same from the band index: the rows it reads, clipped to the map, and the pads the clipping
  // leaves to the feature-map register (W | H << 16 | pads left, right, top, bottom << 32.. 56).
  auto runtimeBand = [&](const Where &at, int64_t rows) {
    mlir::Value ih0 = kb.add(kb.mul(at.band, ohb * k.sh), -k.pt);
    mlir::Value ihs = b.create<mlir::arith::MaxSIOp>(kb.loc(), ih0, kb.index(0));
    mlir::Value ihe = b.create<mlir::arith::MinSIOp>(kb.loc(), kb.add(ih0, convInputRows(k, rows) - 1), kb.index(k.h - 1));
    mlir::Value hl = kb.add(b.create<mlir::arith::SubIOp>(kb.loc(), ihe, ihs), 1);
    mlir::Value top = b.create<mlir::arith::SubIOp>(kb.loc(), ihs, ih0);
    mlir::Value bottom = b.create<mlir::arith::MaxSIOp>(
        kb.loc(), b.create<mlir::arith::SubIOp>(kb.loc(), kb.index(convInputRows(k, rows)), kb.add(hl, top)), kb.index(0));
    mlir::Value fmap = kb.add(kb.add(kb.mul(hl, int64_t(1) << 16), kb.mul(top, int64_t(1) << 48)),
                              kb.add(kb.mul(bottom, int64_t(1) << 56),
                                     kb.index(int64_t(uint64_t(k.w) | (uint64_t(k.pl) << 32) | (uint64_t(k.pr) << 40)))));
    return BandView{rows, hl, kb.mul(kb.add(kb.mul(at.image, k.h), ihs), k.w), fmap, nullptr};
  };

  // Compute of one item (set s) in a band: its chunk's N tiles, each through its K steps, M tile
  // by M tile.
  auto computeBand = [&](const Where &at, int s, const BandView &g) -> Status {
    const int64_t pixels = g.rows * k.wo, tiles = ceilDiv(pixels, mt), lastMc = pixels - (tiles - 1) * mt;
    mlir::Value inPixel = g.inPixel;
    mlir::Value outPixel = kb.add(kb.mul(at.image, k.ho * k.wo), kb.mul(at.band, ohb * k.wo));
    const uint64_t residualFmap = uint64_t(k.wo) | (uint64_t(g.rows) << 16); // a 1x1 map of the band's pixels
    mlir::Value fmapValue = g.fmap;
    mlir::Value residualFmapValue = b.create<mlir::arith::ConstantIntOp>(kb.loc(), int64_t(residualFmap), 64);
    b.create<npu::SetFmapOp>(kb.loc(), fmapValue);
    mlir::Value sliceElements = kb.mul(g.hl, k.w * 16); // one input slice of the band in L1
    // The accumulators of M tile `m` (index) for an N tile of ntc channels.
    auto accumulators = [&](mlir::Value m, int p, int64_t ntc, int64_t mcp) {
      return oneKStep ? l0cTile[p] : kb.view(l0cBand[s], kb.mul(m, mt * roundUp(ntc, 16)), mcp * roundUp(ntc, 16));
    };
    // Rows r0.. (`rows` of them) of a tile's accumulators (NZ: src_rows rows of 16 per block) into
    // UB as rows of ntc channels, and the output pixel of the tile's row r0.
    auto fixToUb = [&](mlir::Value ub, mlir::Value acc, int64_t r0, int64_t rows, int64_t mcp, int64_t ntc) {
      std::vector<mlir::Value> operands = {kb.view(ub, kb.index(0), rows * ntc),
                                           kb.view(acc, kb.index(r0 * 16), mcp * roundUp(ntc, 16) - r0 * 16)};
      if (fixScale != 1.0f) operands.push_back(kb.index(int64_t(emit::floatBits(fixScale))));
      kb.instruction<npu::FixpipeOp>("fixp.f32.f16", operands,
                                     {{"m", rows}, {"n", ntc}, {"src_rows", mcp}, {"dst_stride", ntc},
                                      {"relu", k.relu ? 1 : 0}},
                                     fixScale != 1.0f ? std::vector<llvm::StringRef>{"scale"} : std::vector<llvm::StringRef>{});
    };
    auto pixelOf = [&](mlir::Value m, int64_t r0) { return kb.add(kb.add(outPixel, kb.mul(m, mt)), r0); };
    // (p: the L0C buffer's parity, slot: the tile's place in its group.)
    auto fixOut = [&](mlir::Value m, mlir::Value n0, mlir::Value acc, int64_t mc, int64_t ntc, int p, int slot) -> Status {
      if (k.maxPool2x2) { // through UB tile pair p: FixPipe, MTE3 stores the rows; the pooled rows too
        std::map<std::string, mlir::Value> &tiles = epilogueTiles[p][size_t(slot)];
        const int64_t mcp = roundUp(mc, 16), cb = ntc / 16, rowElements = k.wo * ntc;
        mlir::Value pooledOut = kb.arg(args.size() - 1);
        for (int64_t r0 = 0; r0 < mc; r0 += epilogueRows) {
          const int64_t rows = std::min(epilogueRows, mc - r0), elements = rows * ntc, pairs = rows / (2 * k.wo);
          fixToUb(tiles["{in0}"], acc, r0, rows, mcp, ntc);
          kb.dma(tiles["{in0}"], kb.index(0), output, kb.mul(pixelOf(m, r0), k.cop), elements);
          // Rows 2i and 2i+1 -> row i of {out}; then pixels 2x and 2x+1 of it, 16 channels at a
          // time (a repeat: 8 output pixels), -> the pooled rows after them.
          for (int64_t i = 0; i < pairs; ++i)
            kb.vector("vmax.f16", {kb.view(tiles["{out}"], kb.index(i * rowElements), rowElements),
                                   kb.view(tiles["{in0}"], kb.index(2 * i * rowElements), rowElements),
                                   kb.view(tiles["{in0}"], kb.index((2 * i + 1) * rowElements), rowElements)},
                      rowElements / kRepeatHalves, {});
          const int64_t pooledAt = pairs * rowElements, pooled = pairs * (k.wo / 2) * ntc;
          for (int64_t c = 0; c < cb; ++c)
            kb.vector("vmax.f16", {kb.view(tiles["{out}"], kb.index(pooledAt + c * 16), pooled - c * 16),
                                   kb.view(tiles["{out}"], kb.index(c * 16), pooledAt - c * 16),
                                   kb.view(tiles["{out}"], kb.index(ntc + c * 16), pooledAt - ntc - c * 16)},
                      pairs * (k.wo / 2) / 8,
                      {{"dst_blk", cb}, {"dst_rep", 8 * cb}, {"src0_blk", 2 * cb}, {"src0_rep", 16 * cb},
                       {"src1_blk", 2 * cb}, {"src1_rep", 16 * cb}});
          // The tile's first output pixel is a whole pair of rows into its image: pooled, a quarter.
          mlir::Value pooledFirst = kb.add(kb.add(kb.mul(at.image, k.ho * k.wo / 4), kb.mul(at.band, ohb * k.wo / 4)),
                                           kb.add(kb.mul(m, mt / 4), r0 / 4));
          kb.dma(tiles["{out}"], kb.index(pooledAt), pooledOut, kb.mul(pooledFirst, k.cop), pooled);
        }
        return Status::success();
      }
      if (k.epilogue) { // through UB tile pair p: FixPipe, the body, then MTE3 into the output's rows
        std::map<std::string, mlir::Value> &tiles = epilogueTiles[p][size_t(slot)];
        const int64_t mcp = roundUp(mc, 16);
        for (int64_t r0 = 0; r0 < mc; r0 += epilogueRows) {
          const int64_t rows = std::min(epilogueRows, mc - r0), elements = rows * ntc;
          fixToUb(tiles["{in0}"], acc, r0, rows, mcp, ntc);
          // At most 255 repeats per vector instruction: the band in pieces.
          for (int64_t from = 0; from < elements; from += emit::kMaxRepeat * kRepeatHalves) {
            const int64_t count = std::min(emit::kMaxRepeat * kRepeatHalves, elements - from);
            mlir::Value in = kb.view(tiles["{in0}"], kb.index(from), count);
            const std::map<std::string, mlir::Value> piece = {
                {"{in0}", in}, {"{in1}", in}, {"{out}", kb.view(tiles["{out}"], kb.index(from), count)}};
            if (Status st = templates->lower(epilogue->body, ceilDiv(count, kRepeatHalves), piece); !st) return st;
          }
          mlir::Value out = kb.view(output, kb.add(kb.mul(pixelOf(m, r0), k.cop), n0), (rows - 1) * k.cop + ntc);
          kb.instruction<npu::CopyOp>("ub2gm", {out, kb.view(tiles["{out}"], kb.index(0), elements)},
                                      {{"nburst", rows}, {"len", ntc * 2 / 32}, {"dst_gap", (k.cop - ntc) * 2 / 32}});
        }
        return Status::success();
      }
      const int64_t n = std::min(ntc, outStride);
      mlir::Value out = kb.view(output, kb.add(kb.mul(pixelOf(m, 0), outStride), n0), (mc - 1) * outStride + n);
      kb.instruction<npu::FixpipeOp>(k.outF32 ? "fixp.f32.f32" : "fixp.f32.f16", {out, acc},
                                     {{"m", mc}, {"n", n}, {"src_rows", roundUp(mc, 16)}, {"dst_stride", outStride},
                                      {"relu", k.relu ? 1 : 0}});
      if (k.secondFrom) { // its column blocks of the tile (NZ: mcp rows each) into the second output
        const int64_t mcp = roundUp(mc, 16), c2 = k.secondChannels;
        mlir::Value from = kb.view(acc, kb.index(k.secondFrom / 16 * mcp * 16), mcp * (ntc - k.secondFrom));
        mlir::Value out2 = kb.view(kb.arg(args.size() - 1), kb.mul(pixelOf(m, 0), c2), (mc - 1) * c2 + c2);
        kb.instruction<npu::FixpipeOp>("fixp.f32.f32", {out2, from},
                                       {{"m", mc}, {"n", c2}, {"src_rows", mcp}, {"dst_stride", c2}, {"relu", k.relu ? 1 : 0}});
      }
      return Status::success();
    };
    // The residual's K step for M tile m: its rkTile channels from n0 on (img2col of a 1x1 map)
    // into L0A, then times the identity onto the accumulators (with the bias when it comes first).
    auto loadResidual = [&](mlir::Value m, int p, mlir::Value n0, int64_t rkTile, int64_t mcp) {
      b.create<npu::SetFmapOp>(kb.loc(), residualFmapValue);
      mlir::Value from = kb.mul(n0, g.rows * k.wo); // n0 / 16 slices of rows x wo pixels x 16 channels
      kb.instruction<npu::LoadOp>("load3d.f16", {l0aResidual[p], kb.view(residualBand[s], from, (rkTile / 16) * g.rows * k.wo * 16), kb.mul(m, mt)},
                                  {{"mcount", mcp / 16}, {"kh", 1}, {"kw", 1}, {"sh", 1}, {"sw", 1}, {"dh", 1}, {"dw", 1},
                                   {"c1", rkTile / 16}});
      b.create<npu::SetFmapOp>(kb.loc(), fmapValue);
    };
    auto mmadResidual = [&](int p, mlir::Value n0, int64_t ntc, int64_t rkTile, int64_t mcp, mlir::Value acc, bool init) {
      if (init)
        kb.instruction<npu::CubeOp>("mmad.f16", {acc, l0aResidual[p], identity.at(ntc), kb.view(bias, n0, ntc)},
                                    {{"m", mcp}, {"k", rkTile}, {"n", ntc}, {"init", 1}}, {"bias"});
      else
        kb.instruction<npu::CubeOp>("mmad.f16", {acc, l0aResidual[p], identity.at(ntc)}, {{"m", mcp}, {"k", rkTile}, {"n", ntc}, {"init", 0}});
    };
    // The residual channels of N tile `tile` (runtime): all of ntc, some (one tile at most), none.
    // `body(rkTile)` in a branch per case.
    auto byResidual = [&](mlir::Value tile, int64_t ntc, const std::function<Status(int64_t)> &body) -> Status {
      if (!k.residual) return body(0);
      // Runs of N tiles with the same residual channels (tiles of the given width ntc only).
      std::vector<int64_t> ends, kinds;
      for (int64_t j = 0; j < nTiles; ++j) {
        const int64_t width = j + 1 < nTiles ? t.nt : ntLast;
        const int64_t kind = width == ntc ? std::clamp<int64_t>(rc - j * t.nt, 0, width) : 0;
        if (!kinds.empty() && kinds.back() == kind) ends.back() = j + 1;
        else ends.push_back(j + 1), kinds.push_back(kind);
      }
      return branchOn(kb, tile, ends, 0, [&](size_t i) { return body(kinds[i]); });
    };
    // One N tile (tile: runtime index; ntc: its width), L0B buffer q.
    auto nTile = [&](mlir::Value tile, int q, int64_t ntc) -> Status {
      mlir::Value n0 = kb.mul(tile, t.nt), weightBase = kb.mul(tile, kTotal * t.nt);
      if (oneKStep) {
        const int64_t slices = k.depthwise ? 1 : c1, kst = k.c04 ? kTotal : slices * taps * 16;
        // (The band's slices: all of them, or from the chunk's first.)
        mlir::Value slice = !k.depthwise ? kb.index(0)
                            : chunkBand ? b.create<mlir::arith::SubIOp>(kb.loc(), tile, kb.mul(at.chunk, chunkTiles)).getResult()
                                        : tile;
        if (!allSlices) loadSlices(inPixel, slice, slices, s, *g.group);
        if (!weightsOnce) loadWeights(weightBase, kst * ntc, q);
        mlir::Value src = kb.view(band[s], allSlices ? b.create<mlir::arith::MulIOp>(kb.loc(), slice, sliceElements) : kb.index(0),
                                  slices * 16);
        // Groups of fixGroup M tiles, L0C buffer by group parity; within a group (of more than
        // one tile) L0A by tile parity.
        const int64_t groupCount = ceilDiv(tiles, fixGroup), lastGroup = tiles - (groupCount - 1) * fixGroup;
        return byResidual(tile, ntc, [&](int64_t rkTile) -> Status {
          const bool shortLast = lastGroup != fixGroup || lastMc != mt;
          // A group's tiles: M tile index, accumulators and rows of its j-th.
          struct Tile { mlir::Value m, acc; int64_t mc; };
          auto tileOf = [&](mlir::Value group, int p, bool lastOne, int64_t j) {
            const int64_t count = lastOne ? lastGroup : fixGroup;
            const int64_t mc = lastOne && j == count - 1 ? lastMc : mt, mcp = roundUp(mc, 16);
            return Tile{fixGroup == 1 ? group : kb.add(kb.mul(group, fixGroup), j),
                        fixGroup == 1 ? l0cTile[p] : kb.view(l0cTile[p], kb.index(j * mt * ntPad), mcp * ntPad), mc};
          };
          // The group's img2col and mmads ...
          auto groupCube = [&](mlir::Value group, int p, bool lastOne) -> Status {
            const int64_t count = lastOne ? lastGroup : fixGroup;
            for (int64_t j = 0; j < count; ++j) {
              const auto [m, acc, mc] = tileOf(group, p, lastOne, j);
              const int64_t mcp = roundUp(mc, 16);
              const int pa = fixGroup == 1 ? p : int(j % 2);
              // The residual's tile in its own L0A buffer, loaded last and multiplied first (with
              // the bias): one flag then hands both loads to the cube, and one hands both buffers
              // back.
              if (k.c04)
                kb.instruction<npu::LoadOp>("load3d_c04.f16", {l0a[pa], src, kb.mul(m, mt)},
                                            {{"mcount", mcp / 16}, {"kh", k.kh}, {"kw", k.kw}, {"sh", k.sh}, {"sw", k.sw},
                                             {"dh", k.dh}, {"dw", k.dw}});
              else
                kb.instruction<npu::LoadOp>("load3d.f16", {l0a[pa], src, kb.mul(m, mt)},
                                            {{"mcount", mcp / 16}, {"kh", k.kh}, {"kw", k.kw}, {"sh", k.sh}, {"sw", k.sw},
                                             {"dh", k.dh}, {"dw", k.dw}, {"c1", slices}});
              if (rkTile > 0) {
                loadResidual(m, pa, n0, rkTile, mcp);
                mmadResidual(pa, n0, ntc, rkTile, mcp, acc, true);
                kb.instruction<npu::CubeOp>("mmad.f16", {acc, l0a[pa], l0b[q]}, {{"m", mcp}, {"k", kst}, {"n", ntc}, {"init", 0}});
              } else {
                kb.instruction<npu::CubeOp>("mmad.f16", {acc, l0a[pa], l0b[q], kb.view(bias, n0, ntc)},
                                            {{"m", mcp}, {"k", kst}, {"n", ntc}, {"init", 1}}, {"bias"});
              }
            }
            return Status::success();
          };
          // ... and its tiles out of L0C.
          auto groupOut = [&](mlir::Value group, int p, bool lastOne) -> Status {
            for (int64_t j = 0; j < (lastOne ? lastGroup : fixGroup); ++j) {
              const auto [m, acc, mc] = tileOf(group, p, lastOne, j);
              if (Status st = fixOut(m, n0, acc, mc, ntc, p, int(j)); !st) return st;
            }
            return Status::success();
          };
          // An epilogue's vector work (ten queue entries per tile with its flags) fills the
          // vector pipe's queue while it waits for FixPipe, and the scalar unit stalls there: the
          // next group's cube work goes first (PP-OCRv4 det's 5x5 depthwise 61.1k -> 54.5k
          // cycles; with single tiles, whose vector work is long, skewing measured 10-20% worse).
          if (k.epilogue && fixGroup > 1) return kb.pairLoopSkewed(groupCount, shortLast, groupCube, groupOut);
          auto groupBody = [&](mlir::Value group, int p, bool lastOne) -> Status {
            if (Status st = groupCube(group, p, lastOne); !st) return st;
            return groupOut(group, p, lastOne);
          };
          // (Groups of several tiles touch both L0A buffers: no branch around a group.)
          if (fixGroup > 1) return kb.pairLoopPeeled(groupCount, shortLast, groupBody);
          return kb.pairLoop(kb.index(0), groupCount, kb.index(1), shortLast, groupBody);
        });
      }
      // K steps (L0B buffer by step parity), the residual with the last; then the band's
      // accumulators out.
      return byResidual(tile, ntc, [&](int64_t rkTile) -> Status {
        auto stepBody = [&](mlir::Value step, int q2, bool lastStep) -> Status {
          const int64_t slices = lastStep ? slicesLast : t.kc1, kst = slices * taps * 16;
          mlir::Value first = kb.mul(step, t.kc1);
          if (!allSlices) loadSlices(inPixel, first, slices, s, *g.group);
          loadWeights(kb.add(weightBase, kb.mul(step, t.kc1 * taps * 16 * ntc)), kst * ntc, q2);
          mlir::Value src = kb.view(band[s], allSlices ? b.create<mlir::arith::MulIOp>(kb.loc(), first, sliceElements) : kb.index(0),
                                    slices * 16);
          mlir::Value isFirst = b.create<mlir::arith::CmpIOp>(kb.loc(), mlir::arith::CmpIPredicate::eq, step, kb.index(0));
          mlir::Value isLast = b.create<mlir::arith::CmpIOp>(kb.loc(), mlir::arith::CmpIPredicate::eq, step, kb.index(kSteps - 1));
          // `body` in a branch taken when `condition` holds.
          auto when = [&](mlir::Value condition, const std::function<void()> &body) {
            auto branch = b.create<mlir::scf::IfOp>(kb.loc(), condition, /*withElseRegion=*/false);
            mlir::OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(branch.thenBlock()->getTerminator());
            body();
          };
          return kb.pairLoop(kb.index(0), tiles, kb.index(1), lastMc != mt, [&](mlir::Value m, int p, bool last) -> Status {
            const int64_t mc = last ? lastMc : mt, mcp = roundUp(mc, 16);
            mlir::Value acc = accumulators(m, p, ntc, mcp);
            // L0A by tile parity, and when every band has an odd number of tiles by step parity
            // too, so that the next step's first img2col does not wait for this step's last
            // product (bands of one M tile had one L0A buffer for all their steps: PP-OCRv4 rec's
            // 1x1 convolution on 6x80x480, 30.7k -> 27.4k cycles). (With bands of both parities,
            // as its 3x80x480 ones, of 2 and 1 tiles, the flags placed for the two kinds of band
            // measured slower: 21.0k -> 22.5k.)
            const int pa = oddTileBands ? (p + q2) % 2 : p;
            // Loads and products nested (residual load, input load, input product, residual
            // product): one flag hands both loads to the cube, one both buffers back.
            if (rkTile > 0) when(isLast, [&] { loadResidual(m, p, n0, rkTile, mcp); });
            kb.instruction<npu::LoadOp>("load3d.f16", {l0a[pa], src, kb.mul(m, mt)},
                                        {{"mcount", mcp / 16}, {"kh", k.kh}, {"kw", k.kw}, {"sh", k.sh}, {"sw", k.sw},
                                         {"dh", k.dh}, {"dw", k.dw}, {"c1", slices}});
            auto branch = b.create<mlir::scf::IfOp>(kb.loc(), isFirst, /*withElseRegion=*/true);
            {
              mlir::OpBuilder::InsertionGuard guard(b);
              b.setInsertionPoint(branch.thenBlock()->getTerminator());
              kb.instruction<npu::CubeOp>("mmad.f16", {acc, l0a[pa], l0b[q2], kb.view(bias, n0, ntc)},
                                          {{"m", mcp}, {"k", kst}, {"n", ntc}, {"init", 1}}, {"bias"});
              b.setInsertionPoint(branch.elseBlock()->getTerminator());
              kb.instruction<npu::CubeOp>("mmad.f16", {acc, l0a[pa], l0b[q2]}, {{"m", mcp}, {"k", kst}, {"n", ntc}, {"init", 0}});
            }
            if (rkTile > 0) when(isLast, [&] { mmadResidual(p, n0, ntc, rkTile, mcp, acc, false); });
            return Status::success();
          });
        };
        // (Peeled: the second step's body, in a branch, waited for every mmad of the step before.)
        Status st = hide.peeledSteps ? kb.pairLoopPeeled(kSteps, slicesLast != t.kc1, stepBody)
                                : kb.pairLoop(kb.index(0), kSteps, kb.index(1), slicesLast != t.kc1, stepBody);
        if (!st) return st;
        (void)q;
        auto loop = b.create<mlir::scf::ForOp>(kb.loc(), kb.index(0), kb.index(tiles), kb.index(1));
        mlir::OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(loop.getBody()->getTerminator());
        mlir::Value m = loop.getInductionVar();
        return kb.splitLast(m, tiles - 1, [&](bool last) -> Status {
          const int64_t mc = last ? lastMc : mt;
          return fixOut(m, n0, accumulators(m, 0, ntc, roundUp(mc, 16)), mc, ntc, 0, 0);
        });
      });
    };
    // The chunk's N tiles: two per turn on alternating L0B buffers when there are two
    // (twoTileWeights), else one at a time through one buffer (fewer copies of the tile loop, so
    // fewer flags).
    auto chunk = [&](bool lastChunk) -> Status {
      const int64_t count = lastChunk ? lastChunkTiles : chunkTiles;
      const bool narrowLast = lastChunk && ntLast != t.nt;
      mlir::Value firstTile = kb.mul(at.chunk, chunkTiles);
      auto body = [&](mlir::Value j, int q, bool last) { return nTile(kb.add(firstTile, j), q, last && narrowLast ? ntLast : std::min(t.nt, k.cop)); };
      if (twoTileWeights && count > 1) return kb.pairLoop(kb.index(0), count, kb.index(1), narrowLast, body);
      auto loop = b.create<mlir::scf::ForOp>(kb.loc(), kb.index(0), kb.index(count), kb.index(1));
      mlir::OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      mlir::Value j = loop.getInductionVar();
      if (!narrowLast) return body(j, 0, false);
      return kb.splitLast(j, count - 1, [&](bool last) { return body(j, 0, last); });
    };
    // (Chunks all alike, the last one included: one copy of the body for all of them.)
    if (nChunks == 1 || (lastChunkTiles == chunkTiles && ntLast == t.nt)) return chunk(true);
    return kb.splitLast(at.chunk, nChunks - 1, chunk);
  };
  // With every slice loaded by the loads, a band's geometry comes from its index at run time and
  // only a shorter last band gets code of its own; else each group of bands does.
  const int64_t lastRows = k.ho - (bands - 1) * ohb;
  // The depthwise convolution of a band (group g of its bands) into `band[s]`, 16 channels at a
  // time: img2col of an M tile, the cube with its bias, FixPipe into the band's slice in L1.
  auto depthwiseBand = [&](const Where &at, int s, const BandGroup &g) -> Status {
    const uint64_t fmap = uint64_t(dw->w) | (uint64_t(g.hl) << 16) | (uint64_t(dw->pl) << 32) |
                          (uint64_t(dw->pr) << 40) | (uint64_t(g.pt) << 48) | (uint64_t(g.pb) << 56);
    b.create<npu::SetFmapOp>(kb.loc(), b.create<mlir::arith::ConstantIntOp>(kb.loc(), int64_t(fmap), 64));
    const int64_t pixels = g.rows * dw->wo, tiles = ceilDiv(pixels, mtDw), lastMc = pixels - (tiles - 1) * mtDw;
    return kb.pairLoop(kb.index(0), c1, kb.index(1), false, [&](mlir::Value c, int q, bool) -> Status {
      const int fractals = int(dwTile * 2 / kFractal);
      kb.instruction<npu::LoadOp>("load2d", {dwL0b[q], kb.view(dwWeights, kb.mul(c, dwTile), dwTile)}, {{"repeat", fractals}});
      mlir::Value src = kb.view(dwBand[s], kb.mul(c, g.hl * dw->w * 16), 16);
      mlir::Value outSlice = kb.mul(c, g.rows * dw->wo * 16);
      return kb.pairLoop(kb.index(0), tiles, kb.index(1), lastMc != mtDw, [&](mlir::Value m, int pm, bool last) -> Status {
        const int64_t mc = last ? lastMc : mtDw, mcp = roundUp(mc, 16);
        // The L0A/L0C pair: alternating tile by tile, and with an odd number of tiles per slice
        // (one, on small maps) also slice by slice, so that a slice's img2col and cube work
        // overlap the previous slice's FixPipe instead of waiting for it.
        const int p = tiles % 2 ? pm ^ q : pm;
        kb.instruction<npu::LoadOp>("load3d.f16", {l0aDw[p], src, kb.mul(m, mtDw)},
                                    {{"mcount", mcp / 16}, {"kh", dw->kh}, {"kw", dw->kw}, {"sh", dw->sh}, {"sw", dw->sw},
                                     {"dh", dw->dh}, {"dw", dw->dw}, {"c1", 1}});
        mlir::Value acc = kb.view(l0cDw[p], kb.index(0), mcp * 16);
        kb.instruction<npu::CubeOp>("mmad.f16", {acc, l0aDw[p], dwL0b[q], kb.view(dwBias, kb.mul(c, 16), 16)},
                                    {{"m", mcp}, {"k", dwTaps * 16}, {"n", 16}, {"init", 1}}, {"bias"});
        kb.instruction<npu::FixpipeOp>("fixp.f32.f16", {kb.view(band[s], kb.add(outSlice, kb.mul(m, mtDw * 16)), mc * 16), acc},
                                       {{"m", mc}, {"n", 16}, {"src_rows", mcp}, {"dst_stride", 16},
                                        {"relu", dw->relu ? 1 : 0}});
        return Status::success();
      });
    });
  };
  // The kernel-wide moves into L0B: the residual's identities, a single stage's weights.
  auto kernelWideMoves = [&] {
    for (const auto &[width, staged] : stagedIdentity)
      kb.instruction<npu::LoadOp>("load2d", {identity[width], staged}, {{"repeat", width * width * 2 / kFractal}});
    if (weightsOnce) loadWeights(kb.index(0), weightTotal, 0);
  };
  auto compute = [&](mlir::Value item, int s) -> Status {
    const Where at = where(item);
    if (dw) {
      if (Status st = branchOn(kb, at.band, dwGroupEnds, 0, [&](size_t gi) { return depthwiseBand(at, s, dwGroups[gi]); }); !st)
        return st;
      if (s == 0 && (weightsOnce || !stagedIdentity.empty())) { // after this core's first depthwise band
        mlir::Value firstItem = b.create<mlir::arith::CmpIOp>(kb.loc(), mlir::arith::CmpIPredicate::eq, item, kb.blockIdx());
        auto once = b.create<mlir::scf::IfOp>(kb.loc(), firstItem, /*withElseRegion=*/false);
        mlir::OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(once.thenBlock()->getTerminator());
        kernelWideMoves();
      }
    }
    if (!allSlices)
      return branchOn(kb, at.band, groupEnds, 0, [&](size_t gi) { return computeBand(at, s, fixedBand(at, groups[gi])); });
    if (lastRows == ohb) return computeBand(at, s, runtimeBand(at, ohb));
    return kb.splitLast(at.band, bands - 1, [&](bool last) { return computeBand(at, s, runtimeBand(at, last ? lastRows : ohb)); });
  };

  // The first item's loads go right after the kernel-wide ones (one memory drain for both; with
  // a depthwise first, after its weights and bias), then the kernel-wide moves into
  // L0B (with a depthwise first, after the first depthwise band: compute(); its 1x1's loads at
  // the start of the first turn); two items per turn: both loads, then both computes.
  if (Status s = kb.firstLoadsAhead(loads); !s) return s.error();
  if (!dw) kernelWideMoves();
  auto firstTurn = [&]() -> Status {
    for (const std::function<void()> &load : lateLoads) load();
    return Status::success();
  };
  if (Status s = kb.loadsThenCompute(items, loads, compute, dw ? std::function<Status()>(firstTurn) : nullptr, int(t.itemSets));
      !s)
    return s.error();
  const std::string image = std::string(k.inputPlanar ? "an NCHW" : "an NHWC") +
                            (k.inputF32 ? " f32 image (f16 by its load)" : " image");
  std::string header = (dw ? dw->name + ": depthwise conv " + std::to_string(dw->kh) + "x" + std::to_string(dw->kw) +
                                   " s" + std::to_string(dw->sh) + "x" + std::to_string(dw->sw) + " on NHWC16 " +
                                   std::to_string(dw->h) + "x" + std::to_string(dw->w) + " first, band by band into L1 (" +
                                   std::to_string(mtDw) + "-pixel tiles); then "
                                 : std::string()) +
                       k.name + ": conv " + std::to_string(k.kh) + "x" + std::to_string(k.kw) + " s" +
                       std::to_string(k.sh) + "x" + std::to_string(k.sw) +
                       (k.c04             ? " on " + image + ", C04 in L1 (K " + std::to_string(kTotal) + ", not " +
                                                 std::to_string(taps * 16) + ") "
                        : k.inputChannels ? " on " + image + ", padded to 16 channels in L1 "
                                          : " on NHWC16 ") +
                       std::to_string(k.n) + "x" + std::to_string(k.h) + "x" + std::to_string(k.w) + "x" +
                       std::to_string(k.inputChannels ? k.inputChannels : k.cip) + " -> " +
                       std::to_string(k.ho) + "x" + std::to_string(k.wo) + "x" + std::to_string(k.cop) + "; tiles: " +
                       std::to_string(t.nt) + " channels, " + std::to_string(t.kc1) + " slice(s) per K step, " +
                       std::to_string(mt) + " pixels" + (t.l0aTiles == 1 ? " (one at a time in L0A)" : "") + ", " +
                       std::to_string(ohb) + " row(s) per band; " +
                       std::to_string(items) + " item(s)" +
                       (nChunks > 1 ? " (bands x " + std::to_string(nChunks) + " N chunks)" : " (bands)") + " on " +
                       std::to_string(blockDim) + " block(s)" + (t.itemSets == 1 ? ", one item's band at a time in L1" : "") +
                       "; weights " + (resident ? "resident in L1" : "per stage") +
                       (!oneKStep ? ", a band's accumulators stay in L0C"
                        : fixGroup > 1 ? ", tiles leave L0C in groups of " + std::to_string(fixGroup)
                                       : ", tiles leave L0C one by one") +
                       (k.outF32 ? "; output NHWC f32 of " + std::to_string(outStride) + " channels" : "") +
                       (k.maxPool2x2 ? "; also its 2x2 max pooling, tiles through UB in passes of " +
                                           std::to_string(epilogueRows) + " pixels"
                                     : "") +
                       (k.secondFrom ? ", channels " + std::to_string(k.secondFrom) + ".. to a second one of " +
                                           std::to_string(k.secondChannels)
                                     : "") +
                       (k.epilogue ? "; epilogue: " + std::to_string(epilogue->body.size()) +
                                         " vector instruction(s) per tile in UB" +
                                         (fixScale != 1.0f ? " (FixPipe scales by " + std::to_string(fixScale) + ")" : "") +
                                         ", in bands of " + std::to_string(epilogueRows) + " rows at most"
                                   : "");
  return kb.finish(header);
}

} // namespace

Expected<GeneratedKernel> generateConv(const ChipConfig &config, const ConvKernel &k) {
  // Hiding latency keeps more flags live at once; a kernel that runs out of event ids with all of
  // it is generated with the groups alone (their own UB tiles per epilogue tile, so the vector
  // unit need not wait for the store two tiles back: PP-OCRv4 rec's 5x5 depthwise convolutions,
  // whose N chunks and two L0B buffers took more than 8 flags of a pipe pair), then without any
  // (tile by tile, one L0B weight buffer, K steps in a plain pair loop). (A kernel that failed
  // before using any, e.g. a tiling that does not fit, fails the same way without: not generated
  // again.)
  bool hid = false;
  Expected<GeneratedKernel> all = generateConvKernel(config, k, {true, true, true}, &hid);
  if (all || !hid) return all;
  bool groups = false; // (without groups, the second try is the third)
  Expected<GeneratedKernel> grouped = generateConvKernel(config, k, {true, false, false}, &groups);
  if (grouped || !groups) return grouped ? std::move(grouped) : std::move(all);
  Expected<GeneratedKernel> single = generateConvKernel(config, k, {false, false, false}, &hid);
  return single ? std::move(single) : std::move(all);
}

} // namespace fractal::codegen
