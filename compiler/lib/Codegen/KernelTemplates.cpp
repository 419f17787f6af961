// The matmul kernel generator (see KernelTemplates.h); the element-wise kernel is lowered through
// the npu dialect (NpuElementwise.cpp).
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include "fractal/isa/Numerics.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace fractal::codegen {
namespace {

constexpr int64_t kBlockBytes = 32;   // DMA and vector block
constexpr int64_t kFractalBytes = 512;
// Matmul results leave L0C in bands of at least this many rows, of at most kFixBandBytes (the
// bytes 32 rows of a 128-column f32 tile write) when there are more.
constexpr int64_t kFixBandRows = 32;
constexpr int64_t kFixBandBytes = 32 * 128 * 4;

using emit::ceilDiv;
using emit::floatBits;
using emit::kRepeatBytes;
using emit::roundUp;

} // namespace

int64_t elementsPerRepeat(int inBytes, int outBytes) {
  return kRepeatBytes / std::max(inBytes, outBytes);
}

Expected<GeneratedKernel> generateMatMul(const ChipConfig &config, const MatMulKernel &k) {
  const int64_t l1 = config.buffer(BufferKind::L1).sizeBytes;
  const int64_t l0a = config.buffer(BufferKind::L0A).sizeBytes;
  const int64_t l0b = config.buffer(BufferKind::L0B).sizeBytes;
  const int64_t l0c = config.buffer(BufferKind::L0C).sizeBytes;
  const int64_t mp = roundUp(k.m, 16), kp = roundUp(k.k, 16), np = roundUp(k.n, 16);
  const int64_t ldc = k.ldc ? k.ldc : k.n;
  const int outBytes = k.outHalf ? 2 : 4;
  // Operands stored as float32 are converted on their way into L1 (`from_f32=1`).
  const int64_t aBytes = k.aF32 ? 4 : 2, bBytes = k.bF32 ? 4 : 2;
  const std::string aFrom = k.aF32 ? ", from_f32=1" : "", bFrom = k.bF32 ? ", from_f32=1" : "";
  const int64_t phaseWidth = k.phases > 1 ? k.n / k.phases : k.n; // a row phase's columns
  if (k.phases < 1 || (k.phases > 1 && (k.n % k.phases || phaseWidth % 16 || k.phaseCols < 1 || k.phaseCols > phaseWidth)))
    return Error::internal(k.name + ": " + std::to_string(k.phases) + " output row phases of " + std::to_string(k.n) +
                           " columns need groups of a multiple of 16 columns, each writing 1.. of them");

  // Double buffering everywhere: two L0C tiles, two L0A/L0B halves, two groups of L1 slots for B
  // (and for A when the item's A panel does not stay in L1), so later steps load while step s
  // computes.
  const int64_t biasBytes = k.hasBias ? roundUp(np * 4, kFractalBytes) : 0;
  // M tiles up to 256 rows: each B tile loaded from GM then feeds twice the cube work, which keeps
  // two cores under the DRAM bandwidth of the edge chip.
  int64_t mt = std::min<int64_t>(mp, 256), nt = std::min<int64_t>(np, 128);
  // Narrow products (layout changes to NHWC16: few channels, many pixels): taller M tiles, so a
  // work item is more than one short step.
  if (np <= 32 && kp <= 32) mt = std::min<int64_t>(mp, 1024);
  // Few rows (layout changes to NCHW: one row per channel): wider N tiles instead, as far as L0C
  // (two tiles) and a 16-deep L0B half allow, so each step does more than a sliver of work.
  if (mt <= 64) nt = std::min({np, (l0c / (2 * mt * 4)) / 16 * 16, (l0b / 2 / (16 * 2)) / 16 * 16, int64_t(1024)});
  while (2 * mt * nt * 4 > l0c && (mt > 16 || nt > 16)) (mt >= nt ? mt : nt) -= 16;
  // And at least a 16-deep K step in each half of L0A and of L0B (the tall tiles above fill the
  // edge chip's 64 KiB L0A exactly; a smaller L0A takes shorter ones).
  while (mt > 16 && 2 * mt * 16 * 2 > l0a) mt -= 16;
  while (nt > 16 && 2 * 16 * nt * 2 > l0b) nt -= 16;
  // Fewer (product, M tile) items than cores: the N tiles are also shared out, in chunks, so that
  // every core gets work (N tiles narrowed to give at least one per core where N allows).
  int64_t mItems = k.batch * ceilDiv(k.m, mt);
  if (mItems < config.chip.cores)
    nt = std::min(nt, std::max<int64_t>(16, roundUp(ceilDiv(np, ceilDiv(config.chip.cores, mItems)), 16)));
  auto deepestStep = [&] { return std::min({kp, (l0a / 2 / (mt * 2)) / 16 * 16, (l0b / 2 / (nt * 2)) / 16 * 16, int64_t(4080)}); };
  int64_t kt = deepestStep();
  // The A panel (mt rows x all of K) stays in L1 for the whole item when it fits in half of it.
  int64_t panelBytes = 0;
  bool panel = false;
  auto choosePanel = [&] {
    panelBytes = roundUp(mt * kp * 2, kFractalBytes);
    panel = biasBytes + panelBytes <= l1 / 2;
  };
  choosePanel();
  // Per L1 slot: an A tile (unless the panel holds A) and a B tile, for a K step of kt. The
  // slots form two groups of `group` steps, double-buffered: MTE2 loads a whole group, then sets
  // one flag. A set_flag waits until the pipe's earlier transfers have completed (GM latency
  // included), so one flag per step would expose the GM latency once per step; per group it is
  // paid once per `group` transfers. Groups of 4 when L1 has room, else 2, else 1.
  auto aSlotFor = [&](int64_t kt) { return panel ? 0 : roundUp(mt * kt * 2, kFractalBytes); };
  auto bSlotFor = [&](int64_t kt) { return roundUp(kt * nt * 2, kFractalBytes); };
  auto l1Need = [&](int64_t kt, int slots) {
    return biasBytes + (panel ? panelBytes : 0) + slots * (aSlotFor(kt) + bSlotFor(kt));
  };
  while (kt > 16 && l1Need(kt, 2) > l1) kt -= 16;
  // Narrower N tiles where two 16-deep steps' B tiles do not fit L1 beside A (a 64 KiB L1: a
  // layout change to NCHW's 1024-wide tiles take all of it).
  while (nt > 16 && l1Need(16, 2) > l1) {
    nt -= 16;
    kt = deepestStep();
    while (kt > 16 && l1Need(kt, 2) > l1) kt -= 16;
  }
  // Then shorter M tiles (a small L1: a layout change to NHWC16's 1024-row tiles take 64 KiB
  // for two 16-deep steps), the A panel chosen again for them.
  while (mt > 16 && l1Need(16, 2) > l1) {
    mt -= 16;
    mItems = k.batch * ceilDiv(k.m, mt);
    choosePanel();
    kt = deepestStep();
    while (kt > 16 && l1Need(kt, 2) > l1) kt -= 16;
  }
  if (2 * mt * nt * 4 > l0c || kt < 16 || l1Need(kt, 2) > l1)
    return Error::badInput(k.name + ": L0/L1 overflow: the smallest double-buffered matmul tile needs L0A " +
                           std::to_string(2 * mt * 16 * 2) + ", L0B " + std::to_string(2 * 16 * nt * 2) + ", L0C " +
                           std::to_string(2 * mt * nt * 4) + ", L1 " + std::to_string(l1Need(16, 2)) +
                           " bytes; the config has L0A " + std::to_string(l0a) + ", L0B " + std::to_string(l0b) +
                           ", L0C " + std::to_string(l0c) + ", L1 " + std::to_string(l1));
  const int64_t kSteps = ceilDiv(k.k, kt), nTiles = ceilDiv(k.n, nt), stepsPerItem = kSteps * nTiles;
  int64_t group = 1;
  for (int64_t g : {4, 2})
    if (group == 1 && g <= stepsPerItem && l1Need(kt, int(2 * g)) <= l1) group = g;
  const int64_t slots = 2 * group;
  const int64_t aSlotBytes = aSlotFor(kt), bSlotBytes = bSlotFor(kt);
  const int64_t l0aHalf = l0a / 2, l0bHalf = l0b / 2, l0cHalf = l0c / 2;
  const int64_t mTiles = ceilDiv(k.m, mt);
  // Items are (product, M tile, N chunk), the chunk fastest so that the cores working at the same
  // time share one A panel through L2. A chunk is `chunkTiles` N tiles; the last may be narrower.
  // (Not with row phases: a chunk's columns would not map to C linearly.)
  const emit::NChunks chunking = emit::shareOutNTiles(nTiles, k.phases > 1 ? std::max<int64_t>(mItems, config.chip.cores) : mItems,
                                                      config.chip.cores);
  const int64_t chunkTiles = chunking.tilesPerChunk, nChunks = chunking.count;
  const int64_t chunkCols = chunkTiles * nt, lastChunkCols = k.n - (nChunks - 1) * chunkCols;
  const int64_t items = mItems * nChunks;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  const int64_t tailRows = k.m - (mTiles - 1) * mt;
  const int64_t groupsPerItem = ceilDiv(stepsPerItem, group);
  const int64_t lastTileStep = (nTiles - 1) * kSteps; // the first step of the last N tile

  // Panel prefetch: the next item's panel is loaded while this one computes, so that no item
  // but a block's first waits for a whole panel from DRAM. The panel area is a ring of `ring`
  // K slices (mt x kt each; as many as L1 holds, up to two panels); an item's slices start at
  // ring slot x25, the next item's at x25 + kSteps. The next item's first slices go to ring
  // slots this item does not use, spread over the item; the rest overlay this item's slices and
  // are loaded once MTE1 has read those for the last time (in the last N tile). MTE2 knows MTE1
  // is done with group g - 2 when it has waited for group g's slots, so the slices freed by an
  // item's last two groups are loaded by the next item's first two groups ("own"). Needs whole
  // groups per N tile and an even number per item; only full M tiles (the NZ slice offsets depend
  // on the tile height) and untransposed A (whose NZ panel keeps K slices contiguous).
  const int64_t sliceBytes = mt * kt * 2;
  const int64_t ringRoom = (l1 - biasBytes - slots * (aSlotBytes + bSlotBytes)) / sliceBytes;
  // Early slices are spread over groups 2.. of the item, so an item of two groups has none.
  const int64_t ring = groupsPerItem > 2 ? std::min(2 * kSteps, ringRoom) : kSteps;
  bool nextFullItem = false; // some block's second or later item is a full M tile
  for (int64_t j = blockDim; j < items && !nextFullItem; ++j) nextFullItem = tailRows == mt || j % mTiles != mTiles - 1;
  bool prefetch = panel && !k.transA && nextFullItem && nChunks == 1 && kSteps % group == 0 && kSteps >= slots &&
                  groupsPerItem % 2 == 0 && ringRoom >= kSteps;
  struct SliceLoad { int64_t group; bool own; };
  std::vector<SliceLoad> plan(static_cast<size_t>(kSteps));
  const int64_t early = ring - kSteps; // next slices into ring slots this item does not use
  for (int64_t t = 0; t < kSteps && prefetch; ++t) {
    if (t < early) {
      plan[size_t(t)] = {2 + t * (groupsPerItem - 2) / early, false};
      continue;
    }
    const int64_t used = (lastTileStep + t - (ring - kSteps)) / group; // last reader of the overlaid slice
    plan[size_t(t)] = used + 2 < groupsPerItem ? SliceLoad{used + 2, false} : SliceLoad{used + 2 - groupsPerItem, true};
    if (plan[size_t(t)].own && plan[size_t(t)].group > t / group) prefetch = false; // would arrive after its use
  }
  const int64_t panelArea = prefetch ? std::max(panelBytes, ring * sliceBytes) : panelBytes;
  // Consecutive items on alternate buffers. Buffers follow a step's group, step and N tile
  // parity; an item with an odd number of each (e.g. one step: a layout change) would start on
  // the buffers its predecessor used and wait for it to drain, so every other item flips all
  // three, and has a panel of its own. (Only when every item variant has odd counts, so that the
  // flip keeps the alternation of all three; a prefetching item has an even number of groups.)
  bool alternate = !prefetch && (!panel || l1Need(kt, int(slots)) + panelBytes <= l1);
  for (int64_t cols : {chunkCols < k.n ? chunkCols : k.n, lastChunkCols}) {
    const int64_t tiles = ceilDiv(cols, nt), steps = tiles * kSteps;
    alternate = alternate && tiles % 2 == 1 && steps % 2 == 1 && ceilDiv(steps, group) % 2 == 1;
  }
  // B the same for every item (one step per item, one N chunk, one B for every product: a layout
  // change's identity, a transposed convolution's weights): moved from GM and into both L0B
  // halves once, before the first item. Through the slots, each item waited for its own copy of
  // B from GM, whose latency (~450 cycles) paced a layout change's 1024-row items.
  const bool bOnce = stepsPerItem == 1 && nChunks == 1 && (k.batch == 1 || k.strideB == 0);
  // Such items in runs of 2 (one M tile per product): a run's A panels come in back to back under
  // one "loaded" flag. A set_flag waits for its pipe's transfers to complete, GM latency included,
  // so a flag per one-step item paid that latency once per item (a transposed convolution's
  // 320-row items: ~300 of each item's ~550 cycles; in pairs 65.3k cycles instead of 89.6k). Two
  // runs of panels: the next run loads while this one computes. Runs of 4 measured slower
  // (76.7k): the scalar unit dispatches a run's compute before the next run's loads, and four
  // items' FixPipe bands fill its queue, so the next loads wait for most of the run to finish.
  // (An even run, so that the L0 and L0C halves keep alternating.)
  const int64_t run = bOnce && panel && alternate && mTiles == 1 && items > blockDim &&
                              l1Need(kt, int(slots)) + 3 * panelBytes <= l1
                          ? 2
                          : 1;
  const int64_t l1Panel = biasBytes, l1Slots = biasBytes + (panel ? panelArea * (run > 1 ? 2 * run : alternate ? 2 : 1) : 0);
  auto l1A = [&](int64_t p) { return l1Slots + p * (aSlotBytes + bSlotBytes); };
  auto l1B = [&](int64_t p) { return l1A(p) + aSlotBytes; };
  std::ostringstream s;
  s << "# " << k.name << ": " << k.batch << " x C[" << k.m << "," << k.n << "] = A[" << k.m << ","
    << k.k << "]" << (k.transA ? "^T" : "") << " x B[" << k.k << "," << k.n << "]"
    << (k.transB ? "^T" : "") << ", tiles " << mt << "x" << kt << "x" << nt
    << (panel ? prefetch ? ", A panel in L1 (next one prefetched, ring of " + std::to_string(ring) + " K slices)" : ", A panel in L1" : "") << ", loads in groups of "
    << group << " steps; " << items << " work item(s)" << (run > 1 ? " in runs of " + std::to_string(run) : "") << (nChunks > 1 ? " (" + std::to_string(nChunks) + " N chunks per M tile)" : "")
    << " on " << blockDim << " block(s)\n";
  s << "# flags: mte2->mte1 #g group g's slots loaded; mte1->mte2 #2+g group g's slots free; mte1->m #h\n"
    << "# L0 half h loaded; m->mte1 #2+h L0 half h free; m->fix #q tile q done; fix->m #2+q L0C half q\n"
    << "# free (g, h, q = 0/1); mte1->mte2 #4 the A panel is free (read by the previous item; #4/#5 by turn\n"
    << "# parity when items alternate, their panels or runs' panels).\n";
  s << ".node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  s << "  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n";
  int argC = 2;
  if (k.hasBias) {
    s << "  ld x4, gm[x1], offset=16\n  gm2l1 l1[x0], gm[x4], len=" << ceilDiv(np * 4, kBlockBytes) << "\n";
    argC = 3;
  }
  s << "  ld x5, gm[x1], offset=" << 8 * argC << "\n";
  s << "  li x20, " << floatBits(k.alpha) << "   # alpha " << k.alpha << "\n";
  s << "  mfsr x6, block_idx\n  mfsr x7, block_dim\n  li x14, " << items << "\n  li x23, 0\n  li x28, 0\n  li x29, 0\n";

  int labels = 0;
  auto label = [&] { return "pf" + std::to_string(labels++); };
  // x`dst` = byte offset of ring slot x25 + `slot` (mod the ring) from the panel area's start.
  auto ringOffset = [&](int dst, int scratch, int64_t slot) {
    s << "  addi x" << dst << ", x25, " << slot << "\n  li x" << scratch << ", " << ring << "\n  rem x" << dst << ", x"
      << dst << ", x" << scratch << "\n  muli x" << dst << ", x" << dst << ", " << sliceBytes << "\n";
  };
  // Slice t of a full-height panel (rows mt of the A at x`base`) into ring slot x25 + `slot`.
  auto panelSlice = [&](int base, int64_t slot, int64_t t) {
    const int64_t k0 = t * kt;
    ringOffset(9, 8, slot);
    s << "  addi x9, x9, " << l1Panel << "\n  li x8, " << k0 * aBytes << "\n  add x8, x" << base
      << ", x8\n  gm2l1_nz.f16 l1[x9], gm[x8], rows=" << mt << ", cols=" << std::min(kt, k.k - k0) << ", src_stride="
      << k.k << ", dst_rows=" << mt << aFrom << "\n";
  };

  // B's [k0, k0 + kc) x [n0, n0 + nc) (from the B at x18) into L1 slot p, NZ.
  auto fetchB = [&](int64_t p, int64_t n0, int64_t k0, int64_t nc, int64_t kc) {
    if (!k.transB)
      s << "  li x8, " << (k0 * k.n + n0) * bBytes << "\n  add x8, x18, x8\n  li x9, " << l1B(p)
        << "\n  gm2l1_nz.f16 l1[x9], gm[x8], rows=" << kc << ", cols=" << nc << ", src_stride=" << k.n
        << ", dst_rows=" << roundUp(kc, 16) << bFrom << "\n";
    else
      s << "  li x8, " << (n0 * k.k + k0) * bBytes << "\n  add x8, x18, x8\n  li x9, " << l1B(p)
        << "\n  gm2l1_nz.f16 l1[x9], gm[x8], rows=" << nc << ", cols=" << kc << ", src_stride=" << k.k
        << ", dst_rows=" << roundUp(nc, 16) << bFrom << "\n";
  };
  // Slot p's B step (kcp x ncp) into L0B half h (ZN).
  auto loadB = [&](int64_t h, int64_t p, int64_t kcp, int64_t ncp) {
    if (!k.transB) {
      for (int64_t r = 0; r < kcp / 16; ++r)
        s << "  li x9, " << h * l0bHalf + r * (ncp / 16) * kFractalBytes << "\n  li x10, " << l1B(p) + r * kFractalBytes
          << "\n  load2d l0b[x9], l1[x10], repeat=" << ncp / 16 << ", src_stride=" << kcp / 16 << ", transpose=1\n";
    } else {
      for (int64_t f = 0; f < (kcp / 16) * (ncp / 16); f += 255)
        s << "  li x9, " << h * l0bHalf + f * kFractalBytes << "\n  li x10, " << l1B(p) + f * kFractalBytes
          << "\n  load2d l0b[x9], l1[x10], repeat=" << std::min<int64_t>(255, (kcp / 16) * (ncp / 16) - f) << "\n";
    }
  };

  // The whole A panel of `mc` rows (from the A at x`base`) into L1 at `at`, NZ (transA: NZ of A^T).
  auto loadPanel = [&](int base, int64_t at, int64_t mc) {
    s << "  li x9, " << at << "\n";
    if (!k.transA)
      s << "  gm2l1_nz.f16 l1[x9], gm[x" << base << "], rows=" << mc << ", cols=" << k.k << ", src_stride=" << k.k
        << ", dst_rows=" << roundUp(mc, 16) << aFrom << "\n";
    else
      s << "  gm2l1_nz.f16 l1[x9], gm[x" << base << "], rows=" << k.k << ", cols=" << mc << ", src_stride=" << k.m
        << ", dst_rows=" << kp << aFrom << "\n";
  };

  // One work item: x16 = product index, x15 = first row of the M tile, x28 = first column of the
  // N chunk (x29 = its byte offset in the f32 bias); bases in x17 (A), x18 (B), x19 (C). `mc`
  // rows (the last tile may be short), `nLen` columns (the last chunk may be narrower). With
  // prefetching, x23 says whether this item's panel was (mostly) loaded by the previous item, x24
  // whether this item loads the next one's (base in x22), x25 where its slices start in the ring.
  // Items in runs (`pos` 0.. of a run of parity `parity`; -1 when not in runs): the first loads
  // every panel of the run (item x6 + j * x7's, while it exists) and raises the run's one "loaded"
  // flag; the last frees the slots and the panels. L0 and L0C halves alternate item by item.
  auto item = [&](int64_t mc, int64_t nLen, int parity, int pos) {
    const int64_t panelAt = l1Panel + (pos < 0 ? parity : run * parity + pos) * panelArea; // this item's panel
    const int hq = pos < 0 ? parity : pos % 2; // the parity of its L0 and L0C halves
    const bool lastOfRun = pos < 0 || pos == run - 1;
    s << "  muli x17, x16, " << k.strideA * aBytes << "\n  add x17, x17, x2\n";
    s << "  muli x8, x15, " << (k.transA ? 1 : k.k) * aBytes << "\n  add x17, x17, x8\n";
    s << "  muli x18, x16, " << k.strideB * bBytes << "\n  add x18, x18, x3\n";
    s << "  muli x19, x16, " << k.strideC * outBytes << "\n  add x19, x19, x5\n";
    s << "  muli x8, x15, " << ldc * outBytes << "\n  add x19, x19, x8\n";
    if (nChunks > 1)
      s << "  muli x8, x28, " << (k.transB ? k.k : 1) * bBytes << "\n  add x18, x18, x8\n  muli x8, x28, " << outBytes
        << "\n  add x19, x19, x8\n  muli x29, x28, 4\n";
    const int64_t mcp = roundUp(mc, 16);
    const bool ringed = prefetch && mc == mt; // a short tile neither is nor loads a prefetched panel
    if (ringed) { // x24 = the next item (x6 + x7) exists and is a full M tile; x22 its A
      const std::string none = label();
      s << "  li x24, 0\n  add x21, x6, x7\n  bge x21, x14, " << none << "\n  li x8, " << mTiles
        << "\n  div x9, x21, x8\n  rem x10, x21, x8\n";
      if (tailRows != mt) s << "  li x8, " << mTiles - 1 << "\n  beq x10, x8, " << none << "\n";
      s << "  muli x22, x9, " << k.strideA * aBytes << "\n  add x22, x22, x2\n  muli x8, x10, " << mt * k.k * aBytes
        << "\n  add x22, x22, x8\n  li x24, 1\n" << none << ":\n";
    }
    if (ringed) { // a panel not prefetched arrives slice by slice with the first N tile's groups
      const std::string loaded = label();
      s << "  bne x23, x0, " << loaded << "\n  li x25, 0\n  wait_flag mte1, mte2, 4\n" << loaded << ":\n";
    } else if (panel && pos < 1) { // the whole A panel once per item, after MTE1 has read the
                                   // previous item's; group 0's "loaded" flag, set by MTE2 after
                                   // it, covers it too (one MTE2 queue, in order)
      s << "  wait_flag mte1, mte2, " << 4 + parity << "\n";
      loadPanel(17, panelAt, mc);
      if (pos == 0) { // the run's other items (one M tile per product: item = product)
        const std::string ended = label();
        s << "  mv x21, x6\n";
        for (int64_t j = 1; j < run; ++j) {
          s << "  add x21, x21, x7\n  bge x21, x14, " << ended << "\n  muli x22, x21, " << k.strideA * aBytes
            << "\n  add x22, x22, x2\n";
          loadPanel(22, panelAt + j * panelArea, mc);
        }
        s << ended << ":\n";
      }
    }
    struct Step { int64_t n0, k0, nc, kc; };
    std::vector<Step> steps;
    for (int64_t n0 = 0; n0 < nLen; n0 += nt)
      for (int64_t k0 = 0; k0 < k.k; k0 += kt)
        steps.push_back({n0, k0, std::min(nt, nLen - n0), std::min(kt, k.k - k0)});
    const int64_t itemSteps = int64_t(steps.size()), itemGroups = ceilDiv(itemSteps, group);
    // MTE2: group g's operands into its slots, once MTE1 is done with group g - 2.
    auto loadGroup = [&](int64_t g) {
      const int64_t gp = (g + parity) % 2; // the group's slots and flags
      s << "  # loads of group " << g << "\n  wait_flag mte1, mte2, " << 2 + gp << "\n";
      // A panel that was not prefetched arrives slice by slice, each in the group of its first
      // reader, so the first steps start after a few slices instead of the whole panel.
      for (int64_t t = g * group; ringed && t < std::min((g + 1) * group, kSteps); ++t) {
        const std::string skip = label();
        s << "  bne x23, x0, " << skip << "\n";
        panelSlice(17, t, t);
        s << skip << ":\n";
      }
      for (int64_t t = 0; ringed && t < kSteps; ++t) { // prefetch slices due in this group
        if (plan[size_t(t)].group != g) continue;
        const bool own = plan[size_t(t)].own; // this item's, left over by the previous one
        const std::string skip = label();
        s << "  beq x" << (own ? 23 : 24) << ", x0, " << skip << "\n";
        panelSlice(own ? 17 : 22, own ? t : kSteps + t, t);
        s << skip << ":\n";
      }
      for (int64_t i = g * group; i < std::min((g + 1) * group, itemSteps); ++i) {
        const Step &st = steps[size_t(i)];
        const int64_t p = gp * group + i % group, kcp = roundUp(st.kc, 16);
        if (!panel) {
          if (!k.transA)
            s << "  li x8, " << st.k0 * aBytes << "\n  add x8, x17, x8\n  li x9, " << l1A(p) << "\n  gm2l1_nz.f16 l1[x9], gm[x8], rows="
              << mc << ", cols=" << st.kc << ", src_stride=" << k.k << ", dst_rows=" << mcp << aFrom << "\n";
          else
            s << "  li x8, " << st.k0 * k.m * aBytes << "\n  add x8, x17, x8\n  li x9, " << l1A(p)
              << "\n  gm2l1_nz.f16 l1[x9], gm[x8], rows=" << st.kc << ", cols=" << mc << ", src_stride=" << k.m
              << ", dst_rows=" << kcp << aFrom << "\n";
        }
        if (!bOnce) fetchB(p, st.n0, st.k0, st.nc, st.kc);
      }
      s << "  set_flag mte2, mte1, " << gp << "\n";
    };
    // MTE1: slot p -> L0 half h; M: L0 half h into L0C half q; FIX: a finished tile out.
    auto compute = [&](int64_t i) {
      const Step &st = steps[size_t(i)];
      const int64_t g = i / group, gp = (g + parity) % 2, p = gp * group + i % group;
      const int64_t h = (i + hq) % 2, q = (st.n0 / nt + hq) % 2;
      const bool firstK = st.k0 == 0, lastK = st.k0 + st.kc >= k.k;
      const bool groupStart = i % group == 0, groupEnd = (i + 1) % group == 0 || i + 1 == itemSteps;
      const int64_t ncp = roundUp(st.nc, 16), kcp = roundUp(st.kc, 16);
      s << "  # step " << i << ": n0=" << st.n0 << " k0=" << st.k0 << ", slot " << p << ", L0 half " << h
        << ", L0C " << q << "\n";
      if (groupStart && pos < 1) s << "  wait_flag mte2, mte1, " << gp << "\n";
      s << "  wait_flag m, mte1, " << 2 + h << "\n";
      if (ringed) ringOffset(26, 27, st.k0 / kt); // x26 = this step's K slice in the ring
      // A's step into L0A half h (ZZ: fractal (r, kk) at r * kf + kk). Its L1 copy has fractal
      // (r, kk) at srcBase + r * sr + kk * sk: an NZ slice or panel (sr = 1, sk = rows/16), or
      // NZ of A^T (sr = fractals per column block, sk = 1, each fractal transposed).
      const int64_t mf = mcp / 16, kf = kcp / 16;
      int64_t srcBase = 0, sr = 1, sk = mf;
      if (ringed)
        srcBase = l1Panel / kFractalBytes;
      else if (panel && !k.transA)
        srcBase = panelAt / kFractalBytes + (st.k0 / 16) * mf;
      else if (panel)
        srcBase = panelAt / kFractalBytes + st.k0 / 16, sr = kp / 16, sk = 1;
      else if (!k.transA)
        srcBase = l1A(p) / kFractalBytes;
      else
        srcBase = l1A(p) / kFractalBytes, sr = kf, sk = 1;
      const std::string transpose = k.transA ? ", transpose=1" : "";
      auto loadA = [&](int64_t dst, int64_t src, int64_t repeat, int64_t srcStride, int64_t dstGap) {
        s << "  li x9, " << h * l0aHalf + dst * kFractalBytes << "\n";
        if (ringed)
          s << "  addi x10, x26, " << src * kFractalBytes << "\n";
        else
          s << "  li x10, " << src * kFractalBytes << "\n";
        s << "  load2d l0a[x9], l1[x10], repeat=" << repeat << ", src_stride=" << srcStride
          << (dstGap ? ", dst_gap=" + std::to_string(dstGap) : "") << transpose << "\n";
      };
      // As few load2d as the layouts allow (each costs the scalar unit a dispatch and MTE1 its
      // latency): all fractals in one run when the copy's order is L0A's, else one per row of
      // fractals or one per column of them, whichever is fewer.
      if (sr == kf * sk) {
        for (int64_t f = 0; f < mf * kf; f += 255) loadA(f, srcBase + f * sk, std::min<int64_t>(255, mf * kf - f), sk, 0);
      } else if (kf < mf) {
        for (int64_t kk = 0; kk < kf; ++kk) loadA(kk, srcBase + kk * sk, mf, sr, kf - 1);
      } else {
        for (int64_t r = 0; r < mf; ++r) loadA(r * kf, srcBase + r * sr, kf, sk, 0);
      }
      if (!bOnce) loadB(h, p, kcp, ncp);
      if (groupEnd && lastOfRun) s << "  set_flag mte1, mte2, " << 2 + gp << "\n";
      s << "  set_flag mte1, m, " << h << "\n";
      // M: L0 half h into L0C half q.
      s << "  wait_flag mte1, m, " << h << "\n";
      if (firstK) s << "  wait_flag fix, m, " << 2 + q << "\n";
      s << "  li x9, " << h * l0aHalf << "\n  li x10, " << h * l0bHalf << "\n  li x12, " << q * l0cHalf << "\n";
      if (firstK && k.hasBias)
        s << "  addi x11, x29, " << st.n0 * 4 << "\n  mmad.f16 l0c[x12], l0a[x9], l0b[x10], m=" << mcp << ", k=" << kcp
          << ", n=" << ncp << ", init=1, bias=x11\n";
      else
        s << "  mmad.f16 l0c[x12], l0a[x9], l0b[x10], m=" << mcp << ", k=" << kcp << ", n=" << ncp
          << ", init=" << (firstK ? 1 : 0) << "\n";
      s << "  set_flag m, mte1, " << 2 + h << "\n";
      if (lastK) {
        // FIX: the finished tile out, while the cube fills the other L0C half, in bands of rows:
        // a GM write holds the DRAM channel for its whole length, and MTE2's reads queued behind
        // a whole tile (and the other core's) would starve the cube. (Pacing the bands with
        // flags from the cube's next steps measured no better.)
        s << "  set_flag m, fix, " << q << "\n  wait_flag m, fix, " << q << "\n";
        // (Narrow results, e.g. a layout change to a few channels, leave in fewer, longer bands:
        // each FixPipe instruction costs an issue, which 32 rows of 3 columns would not repay.)
        const int64_t bandRows = std::max(kFixBandRows, kFixBandBytes / (roundUp(st.nc, 16) * 4) / 16 * 16);
        // The tile's columns that C receives, as (first column in the tile, column in C, count):
        // all of them, or with row phases each phase's written columns, at its own place.
        struct Piece { int64_t inTile, toC, cols; };
        std::vector<Piece> pieces;
        for (int64_t g = 0; g < k.phases; ++g) {
          const int64_t lo = std::max(st.n0, g * phaseWidth);
          const int64_t hi = std::min(st.n0 + st.nc, k.phases > 1 ? g * phaseWidth + k.phaseCols : st.n0 + st.nc);
          if (lo < hi) pieces.push_back({lo - st.n0, (k.phases > 1 ? g * k.phaseOffset - g * phaseWidth : 0) + lo, hi - lo});
        }
        for (int64_t r0 = 0; r0 < mc; r0 += bandRows)
          for (const Piece &piece : pieces)
            s << "  li x8, " << (piece.toC + r0 * ldc) * outBytes << "\n  add x8, x19, x8\n  li x13, "
              << q * l0cHalf + (piece.inTile / 16) * mcp * 64 + r0 * 16 * 4 << "\n  fixp.f32." << (k.outHalf ? "f16" : "f32")
              << " gm[x8], l0c[x13], m=" << std::min(bandRows, mc - r0) << ", n=" << piece.cols << ", src_rows=" << mcp
              << ", dst_stride=" << ldc << ", relu=" << (k.relu ? 1 : 0) << (k.alpha != 1.0f ? ", scale=x20" : "") << "\n";
        s << "  set_flag fix, m, " << 2 + q << "\n";
      }
    };
    // Software-pipelined in program order: the scalar unit dispatches group g + 1's loads before
    // group g's compute. Dispatch is in order and a step's MTE1 work alone is more than a pipe
    // queue holds, so with a group's loads right before its own compute the scalar unit would
    // stall on MTE1 before it could queue the next loads, and MTE2 would never run ahead.
    if (pos < 1) loadGroup(0);
    for (int64_t g = 0; g < itemGroups; ++g) {
      if (g + 1 < itemGroups) loadGroup(g + 1);
      for (int64_t i = g * group; i < std::min((g + 1) * group, itemSteps); ++i) compute(i);
    }
    // No drain between items: the next item's first steps load while this one's last tiles are
    // still in the cube and FixPipe (the per-buffer flags order every hand-over); a whole-panel
    // load waits until MTE1 is done with this item's panel.
    if (panel && lastOfRun) {
      const std::string skip = label();
      if (ringed) s << "  bne x24, x0, " << skip << "\n";
      s << "  set_flag mte1, mte2, " << 4 + parity << "\n";
      if (ringed)
        s << skip << ":\n  add x23, x24, x0\n  addi x25, x25, " << kSteps << "\n  li x8, " << ring
          << "\n  rem x25, x25, x8\n";
    }
  };

  // Items round-robin over the blocks; the last M tile of each product may be short. Every
  // buffer starts free (and the panel area); the "free" flags are consumed after the last item.
  auto flags = [&](const char *op) {
    s << "  " << op << " mte1, mte2, 2\n  " << op << " mte1, mte2, 3\n  " << op << " m, mte1, 2\n  " << op
      << " m, mte1, 3\n  " << op << " fix, m, 2\n  " << op << " fix, m, 3\n";
    if (panel) s << "  " << op << " mte1, mte2, 4\n";
    if (panel && alternate) s << "  " << op << " mte1, mte2, 5\n";
  };
  flags("set_flag");
  if (bOnce) { // B into L1 slot 0 (which no item then uses for B) and both L0B halves
    s << "  # B, once: the same for every item\n  mv x18, x3\n";
    fetchB(0, 0, 0, k.n, k.k);
    s << "  barrier all\n";
    for (int64_t h = 0; h < 2; ++h) loadB(h, 0, kp, np);
  }
  // The item variants: full or short M tile x full or narrower last N chunk; with alternating
  // buffers, the whole dispatch twice (loop0 for even turns, loop1 for odd).
  const bool shortM = tailRows != mt, narrowN = lastChunkCols != chunkCols;
  for (int parity = 0; run > 1 && parity < 2; ++parity) { // one M tile per product: item x6 = product x6
    s << "loop" << parity << ":\n  bge x6, x14, done\n  mv x16, x6\n  li x15, 0\n";
    for (int pos = 0; pos < run; ++pos) {
      if (pos > 0) s << "  add x6, x6, x7\n  bge x6, x14, ended" << parity << "\n  mv x16, x6\n";
      item(tailRows, k.n, parity, pos);
    }
    s << "  add x6, x6, x7\n  jmp loop" << 1 - parity << "\nended" << parity << ":  # a short run: its last item's flags\n"
      << "  set_flag mte1, mte2, " << 2 + parity << "\n  set_flag mte1, mte2, " << 4 + parity << "\n  jmp done\n";
  }
  for (int parity = 0; run == 1 && parity < (alternate ? 2 : 1); ++parity) {
    const std::string suffix = alternate ? std::to_string(parity) : "";
    const std::string next = "loop" + (alternate ? std::to_string(1 - parity) : "");
    s << "loop" << suffix << ":\n  bge x6, x14, done\n";
    if (nChunks > 1)
      s << "  li x8, " << nChunks << "\n  rem x28, x6, x8\n  div x9, x6, x8\n  li x8, " << mTiles
        << "\n  div x16, x9, x8\n  rem x15, x9, x8\n";
    else
      s << "  li x8, " << mTiles << "\n  div x16, x6, x8\n  rem x15, x6, x8\n";
    if (shortM) s << "  li x9, " << mTiles - 1 << "\n  beq x15, x9, tailm" << suffix << "\n";
    auto variant = [&](const std::string &name, int64_t mc) {
      s << name << ":\n  muli x15, x15, " << mt << "\n";
      if (nChunks > 1) {
        if (narrowN) s << "  li x9, " << nChunks - 1 << "\n  beq x28, x9, " << name << "_lastn\n";
        s << "  muli x28, x28, " << chunkCols << "\n";
      }
      item(mc, chunkCols < k.n ? chunkCols : k.n, parity, -1);
      s << "  add x6, x6, x7\n  jmp " << next << "\n";
      if (nChunks > 1 && narrowN) {
        s << name << "_lastn:\n  muli x28, x28, " << chunkCols << "\n";
        item(mc, lastChunkCols, parity, -1);
        s << "  add x6, x6, x7\n  jmp " << next << "\n";
      }
    };
    if (mTiles > 1 || !shortM) variant("fullm" + suffix, mt); // full M tiles exist
    if (shortM) variant("tailm" + suffix, tailRows);
  }
  s << "done:\n";
  flags("wait_flag");
  s << "  end\n";
  return GeneratedKernel{s.str(), blockDim};
}


} // namespace fractal::codegen
