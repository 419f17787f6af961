// Reductions and softmax over an axis group (KernelTemplates.h, ReduceKernel). Register use:
//   x2 input, x3 output, x5 slices left, x8 input slice, x9 output slice, x10..x13 operands and
//   row-loop addresses, x15/x16 mask and fill values, x21 scalar (1/r); x6/x7/x14/x22 the core's
//   share of the slices.
// Every vector instruction works on whole f32 repeats (64 lanes); lanes past a row's end carry
// whatever the DMA brought and are either neutralised (set to the operation's identity under a
// lane mask) or never stored.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include <limits>
#include <sstream>

namespace fractal::codegen {
namespace {

using emit::ceilDiv;
using emit::floatBits;
using emit::roundUp;
using Kind = ReduceKernel::Kind;

constexpr int64_t kRepeat = 256; // bytes of one vector repeat: 64 f32 lanes
constexpr int64_t kLanes = 64;

class ReduceEmitter {
public:
  explicit ReduceEmitter(std::ostringstream &s) : s_(s) {}

  // `op dst, a, b` over `repeats` contiguous repeats (255 per instruction).
  void binary(const char *op, int64_t dst, int64_t a, int64_t b, int64_t repeats) {
    for (int64_t done = 0; done < repeats; done += 255)
      s_ << "  li x10, " << dst + done * kRepeat << "\n  li x11, " << a + done * kRepeat << "\n  li x12, "
         << b + done * kRepeat << "\n  " << op << " ub[x10], ub[x11], ub[x12], repeat="
         << std::min<int64_t>(255, repeats - done) << "\n";
  }
  // `op dst, src` over `repeats` contiguous repeats.
  void unary(const char *op, int64_t dst, int64_t src, int64_t repeats) {
    for (int64_t done = 0; done < repeats; done += 255)
      s_ << "  li x10, " << dst + done * kRepeat << "\n  li x11, " << src + done * kRepeat << "\n  " << op
         << " ub[x10], ub[x11], repeat=" << std::min<int64_t>(255, repeats - done) << "\n";
  }
  // `op dst, src, block` where `block` holds 8 copies of one value, read again for every block.
  void broadcast(const char *op, int64_t dst, int64_t src, int64_t block, int64_t repeats) {
    for (int64_t done = 0; done < repeats; done += 255)
      s_ << "  li x10, " << dst + done * kRepeat << "\n  li x11, " << src + done * kRepeat << "\n  li x12, " << block
         << "\n  " << op << " ub[x10], ub[x11], ub[x12], repeat=" << std::min<int64_t>(255, repeats - done)
         << ", src1_blk=0, src1_rep=0\n";
  }
  // Combines `count` units of `unitRepeats` repeats at `base` pairwise until unit 0 holds the
  // result: unit i takes unit i + keep (keep = count - count / 2), so sources never overlap
  // destinations and an odd unit simply waits a level.
  void tree(const char *op, int64_t base, int64_t count, int64_t unitRepeats) {
    while (count > 1) {
      const int64_t half = count / 2, keep = count - half;
      binary(op, base, base, base + keep * unitRepeats * kRepeat, half * unitRepeats);
      count = keep;
    }
  }
  // Lanes [lanes, 64) of the repeat at `address` = the f32 value with bits `identity`.
  void fillTail(int64_t address, int64_t lanes, uint32_t identity) {
    if (lanes % kLanes == 0) return;
    const uint64_t mask = ~((uint64_t(1) << (lanes % kLanes)) - 1);
    s_ << "  li x15, " << int64_t(mask) << "\n  setmask x0, x15\n  li x16, " << identity << "\n  li x10, " << address
       << "\n  vdup.f32 ub[x10], x16, repeat=1\n  li x15, -1\n  setmask x15, x15\n";
  }
  // 8 copies of the lane reduction (vcadd/vcmax/vcmin) of one repeat: the same source read by 8
  // repeats, so the result is a block that `broadcast` can use.
  // `count` int32 indices at x`from` to int64 at x`to`, on the scalar unit (indices are never
  // negative: the high word is 0); x5, x8, x9, x16 scratch.
  void widenIndices(int64_t count, int from, int to) {
    s_ << "  li x5, " << count << "\n  mv x8, x" << from << "\n  mv x9, x" << to << "\nwiden:\n"
       << "  ldw x16, gm[x8]\n  st x16, gm[x9]\n  addi x8, x8, 4\n  addi x9, x9, 8\n  dbnz x5, widen\n";
  }
  void lanes(const char *op, int64_t dst, int64_t src) {
    s_ << "  li x10, " << dst << "\n  li x11, " << src << "\n  " << op << " ub[x10], ub[x11], repeat=8, src_rep=0\n";
  }

private:
  std::ostringstream &s_;
};

const char *combineOp(Kind kind) {
  switch (kind) {
  case Kind::Max: return "vmax.f32";
  case Kind::Min: return "vmin.f32";
  default: return "vadd.f32";
  }
}

uint32_t identityBits(Kind kind) {
  switch (kind) {
  case Kind::Max:
  case Kind::ArgMax:
  case Kind::Hardmax: return floatBits(-std::numeric_limits<float>::infinity());
  case Kind::Min:
  case Kind::ArgMin: return floatBits(std::numeric_limits<float>::infinity());
  case Kind::LogSumExp:
  case Kind::Softmax:
  case Kind::LogSoftmax: return floatBits(-std::numeric_limits<float>::infinity()); // exp(-inf) = 0
  default: return 0;
  }
}

// Kinds whose output has the input's shape.
bool keepsShape(Kind kind) {
  return kind == Kind::Softmax || kind == Kind::LogSoftmax || kind == Kind::LayerNorm || kind == Kind::Hardmax;
}

} // namespace

Expected<GeneratedKernel> generateReduce(const ChipConfig &config, const ReduceKernel &k) {
  if (k.outer < 1 || k.r < 1 || k.inner < 1)
    return Error::badInput(k.name + ": reduction over an empty tensor has no kernel");
  if (reducesRowsThroughNpu(config, k)) return generateRowReduction(config, k);
  if (softmaxRowsThroughNpu(config, k)) return generateSoftmaxRows(config, k);
  if (layerNormRowsThroughNpu(config, k)) return generateLayerNormRows(config, k);
  if (shortSoftmaxRowsThroughNpu(config, k)) return generateShortSoftmaxRows(config, k);
  if (reducesLongRowsThroughNpu(config, k)) return generateLongRowReduction(config, k);
  if (softmaxLongRowsThroughNpu(config, k)) return generateLongSoftmaxRows(config, k);
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  const bool rowwise = k.inner == 1; // one row of r values per slice, reduced across lanes
  const bool argKind = k.kind == Kind::ArgMax || k.kind == Kind::ArgMin || k.kind == Kind::Hardmax;
  // ArgMax/ArgMin write int32 indices to the scratch argument, widened to the int64 output at the end.
  const bool toScratch = k.kind == Kind::ArgMax || k.kind == Kind::ArgMin;
  const int64_t rows = rowwise ? 1 : k.r;
  // UB for a tile of rows of `values` (each padded to whole repeats): tile | copy of the tile (for
  // trees that must not destroy it) | the max row (across rows) | blocks of 8 copies of the max and
  // the sum (across lanes); LayerNorm also keeps the scale and bias rows; arg kinds and Hardmax an
  // index row | selection bits | best values | best indices | constant blocks (the fill for
  // unselected lanes, 1.0, 0.0).
  struct Layout {
    int64_t rowRepeats, rowBytes, tileBytes, copyBase, maxRow, blockBase, scaleRow, biasRow, iotaRow, selRow, bestRow,
        indexRow, fillBlock, oneBlock, zeroBlock, needed;
  };
  auto layoutFor = [&](int64_t values) {
    Layout l;
    l.rowRepeats = ceilDiv(values, kLanes);
    l.rowBytes = l.rowRepeats * kRepeat;
    l.tileBytes = rows * l.rowBytes;
    l.copyBase = l.tileBytes;
    l.maxRow = 2 * l.tileBytes;
    l.blockBase = l.maxRow + l.rowBytes;
    l.scaleRow = l.blockBase + 2 * kRepeat;
    l.biasRow = l.scaleRow + l.rowBytes;
    l.iotaRow = l.blockBase + 2 * kRepeat;
    l.selRow = l.iotaRow + l.rowBytes;
    l.bestRow = l.selRow + l.rowBytes;
    l.indexRow = l.bestRow + l.rowBytes;
    l.fillBlock = l.indexRow + l.rowBytes;
    l.oneBlock = l.fillBlock + kRepeat;
    l.zeroBlock = l.oneBlock + kRepeat;
    l.needed = k.kind == Kind::LayerNorm ? l.biasRow + l.rowBytes : argKind ? l.zeroBlock + kRepeat : l.blockBase + 2 * kRepeat;
    return l;
  };
  if (k.kind == Kind::LayerNorm && !rowwise)
    return Error::internal(k.name + ": LayerNorm normalises the trailing axes (inner must be 1)");
  // Across rows, a slice that UB cannot hold is taken in column blocks: items are (slice, block of
  // `width` columns), `width` a multiple of 8, so a block's stores are whole 32-byte blocks and
  // reach no other block's bytes (a softmax over 21 classes of a 128x128 map, or its arg max: 2.8
  // MB a slice, which had no kernel at all). Where `inner` is a multiple of 8, `width` is the
  // widest that divides it and fits (the blocks tile the slice, also over the cores); otherwise
  // the widest that fits, and the last block ends at the row's end, overlapping the one before
  // (its columns computed twice, the same values stored twice, on one core: DeepLab's 513x513).
  int64_t width = k.inner;
  if (!rowwise && layoutFor(k.inner).needed > ub)
    for (int64_t w = (k.inner - 1) / 8 * 8; w >= 8; w -= 8)
      if ((k.inner % 8 != 0 || k.inner % w == 0) && layoutFor(w).needed <= ub) {
        width = w;
        break;
      }
  const int64_t blocksPerSlice = ceilDiv(k.inner, width), items = k.outer * blocksPerSlice;
  const int64_t lastStep = k.inner - (blocksPerSlice - 1) * width; // into the last block: width when they tile
  // Rows: r rows of `width` values (rowwise: one row of r values).
  const int64_t rowValues = rowwise ? k.r : width;
  const Layout layout = layoutFor(rowValues);
  const int64_t rowRepeats = layout.rowRepeats, rowBytes = layout.rowBytes;
  const int64_t copyBase = layout.copyBase, maxRow = layout.maxRow, blockBase = layout.blockBase;
  const int64_t scaleRow = layout.scaleRow, biasRow = layout.biasRow;
  const int64_t iotaRow = layout.iotaRow, selRow = layout.selRow, bestRow = layout.bestRow, indexRow = layout.indexRow,
                fillBlock = layout.fillBlock, oneBlock = layout.oneBlock, zeroBlock = layout.zeroBlock;
  const int64_t needed = layout.needed;
  if (needed > ub)
    return Error::badInput(k.name + ": UB overflow: one slice of the reduction (" + std::to_string(k.r) + " x " +
                           std::to_string(k.inner) + " values) needs " + std::to_string(needed) +
                           " bytes of UB, the target has " + std::to_string(ub) +
                           (rowwise ? std::string() : "; so do 8 of its columns"));
  const int64_t maxBlock = blockBase, sumBlock = blockBase + kRepeat;
  const int64_t rowBlocks = ceilDiv(rowValues * 4, 32);
  if (rowBlocks > 65535 || rows > 65535)
    return Error::badInput(k.name + ": a row of the reduction is longer than one DMA can move");

  std::ostringstream s;
  ReduceEmitter e(s);
  s << "# " << k.name << ": reduction " << int(k.kind) << " of [" << k.outer << ", " << k.r << ", " << k.inner
    << "] over the middle axis, " << (rowwise ? "across lanes" : "across rows")
    << (blocksPerSlice > 1 ? ", in column blocks of " + std::to_string(width) : std::string()) << "\n";
  s << ".node \"" << k.node << "\"\n.text\n  mfsr x1, args\n  ld x2, gm[x1]\n";
  // Arguments in order: input; LayerNorm: [scale -> x17], [bias -> x18]; arg kinds and Hardmax: the
  // index row -> x17; output -> x3; ArgMax/ArgMin: int32 scratch -> x18; LayerNorm: [mean -> x19],
  // [inv std -> x20].
  int arg = 1;
  auto loadArg = [&](int reg) { s << "  ld x" << reg << ", gm[x1], offset=" << 8 * arg++ << "\n"; };
  if (k.kind == Kind::LayerNorm && k.hasScale) loadArg(17);
  if (k.kind == Kind::LayerNorm && k.hasBias) loadArg(18);
  if (argKind) loadArg(17); // index row
  loadArg(3);
  if (toScratch) loadArg(18);
  if (k.kind == Kind::LayerNorm && k.meanOut) loadArg(19);
  if (k.kind == Kind::LayerNorm && k.invStdOut) loadArg(20);
  if (argKind) {
    // Unselected lanes hold an index no reduction picks: +inf for the first index (min), -inf for
    // the last (max).
    const bool last = k.selectLast && k.kind != Kind::Hardmax; // Hardmax marks the first maximum
    const float fill = last ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
    if (rowwise) s << "  li x10, " << iotaRow << "\n  gm2ub ub[x10], gm[x17], len=" << rowRepeats * 8 << "\n";
    for (auto [block, value] : {std::pair<int64_t, float>{fillBlock, fill}, {oneBlock, 1.0f}, {zeroBlock, 0.0f}})
      s << "  li x10, " << block << "\n  li x16, " << floatBits(value) << "\n  vdup.f32 ub[x10], x16, repeat=1\n";
  }
  if (k.kind == Kind::LayerNorm) {
    s << "  li x22, " << floatBits(k.epsilon) << "\n";
    if (k.hasScale) s << "  li x10, " << scaleRow << "\n  gm2ub ub[x10], gm[x17], len=" << ceilDiv(k.r * 4, 32) << "\n";
    if (k.hasBias) s << "  li x10, " << biasRow << "\n  gm2ub ub[x10], gm[x18], len=" << ceilDiv(k.r * 4, 32) << "\n";
  }
  s << "  li x21, " << floatBits(1.0f / float(k.r)) << "\n";
  // Slices split over the cores when no store spills into another slice's bytes (stores write
  // whole 32-byte blocks; within one core the next, ascending store overwrites a spill): softmax
  // rows and per-row results whose bytes are whole blocks. Each core takes a contiguous run.
  const int64_t sliceIn = k.r * k.inner * 4, sliceOut = keepsShape(k.kind) ? k.r * k.inner * 4 : k.inner * 4;
  const bool wholeBlocks = keepsShape(k.kind) ? (rowwise ? (k.r * 4) % 32 == 0 : (k.inner * 4) % 32 == 0)
                                              : !rowwise && (k.inner * 4) % 32 == 0;
  const bool inBlocks = blocksPerSlice > 1;
  const int64_t cores = k.kind == Kind::LayerNorm || argKind || !wholeBlocks ? 1 : std::min<int64_t>(config.chip.cores, items);
  // This core's run of `count` items (slices, or slices x blocks): [count * idx / cores,
  // count * (idx + 1) / cores), x22 its first, x5 its length.
  auto coreRun = [&](int64_t count) {
    s << "  mfsr x6, block_idx\n  li x7, " << cores << "\n  li x14, " << count << "\n  mul x22, x14, x6\n  div x22, x22, x7\n"
      << "  addi x6, x6, 1\n  mul x14, x14, x6\n  div x14, x14, x7\n  sub x5, x14, x22\n  beq x5, x0, finish\n";
  };
  if (inBlocks) {
    // Slice o = x22 / blocks, block b = x22 % blocks; x24 blocks left in the slice.
    coreRun(items);
    s << "  li x14, " << blocksPerSlice << "\n  div x6, x22, x14\n  rem x7, x22, x14\n  sub x24, x14, x7\n"
      << "  muli x7, x7, " << width * 4 << "\n  li x14, " << (k.inner - width) * 4 << "\n  min x7, x7, x14\n"
      << "  muli x14, x6, " << sliceIn << "\n  add x8, x2, x14\n  add x8, x8, x7\n"
      << "  muli x14, x6, " << sliceOut << "\n  add x9, x" << (toScratch ? 18 : 3) << ", x14\n  add x9, x9, x7\n";
  } else if (cores > 1) {
    coreRun(k.outer);
    s << "  li x14, " << sliceIn << "\n  mul x14, x14, x22\n  add x8, x2, x14\n"
      << "  li x14, " << sliceOut << "\n  mul x14, x14, x22\n  add x9, x3, x14\n";
  } else {
    s << "  li x5, " << k.outer << "\n  mv x8, x2\n  mv x9, x" << (toScratch ? 18 : 3) << "\n  li x23, 0\n";
  }
  s << "slice:\n";
  // Load the slice (or its block): rows of `width` values `inner * 4` bytes apart in GM, `rowBytes`
  // apart in UB.
  const int64_t srcGap = rowwise ? 0 : (k.inner - width) * 4 / 32;
  if (rowwise || ((k.inner * 4) % 32 == 0 && srcGap <= 65535)) {
    const int64_t gap = (rowBytes - rowBlocks * 32) / 32;
    s << "  gm2ub ub[x0], gm[x8], nburst=" << rows << ", len=" << rowBlocks << ", dst_gap=" << gap
      << (srcGap ? ", src_gap=" + std::to_string(srcGap) : std::string()) << "\n";
  } else {
    s << "  li x10, 0\n  mv x11, x8\n  li x12, " << rows << "\nload:\n  gm2ub ub[x10], gm[x11], len=" << rowBlocks
      << "\n  addi x10, x10, " << rowBytes << "\n  addi x11, x11, " << k.inner * 4 << "\n  dbnz x12, load\n";
  }
  s << "  set_flag mte2, v, 0\n  wait_flag mte2, v, 0\n";

  const Kind kind = k.kind;
  const int64_t tileRepeats = rows * rowRepeats;
  // (A zero tail stays zero through |x| and x*x, so the fill may come before those.)
  if (rowwise) e.fillTail((rowRepeats - 1) * kRepeat, k.r, identityBits(kind));
  // Reduces the tile at `base` (destroyed) to one row; rowwise, on to 8 copies in `block`.
  auto reduceTile = [&](const char *op, const char *laneOp, int64_t base, int64_t block) {
    if (rowwise) {
      e.tree(op, base, rowRepeats, 1);
      e.lanes(laneOp, block, base);
    } else {
      e.tree(op, base, rows, rowRepeats);
    }
  };
  // x - m for every row, m being the reduced row (rowwise: the block of copies).
  auto eachRow = [&](const char *op, int64_t dst, int64_t src, int64_t reduced) {
    if (rowwise) {
      e.broadcast(op, dst, src, reduced, rowRepeats);
      return;
    }
    for (int64_t row = 0; row < rows; ++row)
      e.binary(op, dst + row * rowBytes, src + row * rowBytes, reduced, rowRepeats);
  };
  const int64_t result = rowwise ? sumBlock : 0; // where a reduction's row (or block) ends up
  switch (kind) {
  case Kind::Sum:
  case Kind::Mean:
  case Kind::L1:
  case Kind::L2:
  case Kind::SumSquare:
  case Kind::LogSum:
  case Kind::Max:
  case Kind::Min: {
    if (kind == Kind::L1) e.unary("vabs.f32", 0, 0, tileRepeats);
    if (kind == Kind::L2 || kind == Kind::SumSquare) e.binary("vmul.f32", 0, 0, 0, tileRepeats);
    const char *laneOp = kind == Kind::Max ? "vcmax.f32" : kind == Kind::Min ? "vcmin.f32" : "vcadd.f32";
    reduceTile(combineOp(kind), laneOp, 0, sumBlock);
    const int64_t n = rowwise ? 1 : rowRepeats;
    if (kind == Kind::Mean)
      for (int64_t done = 0; done < n; done += 255)
        s << "  li x10, " << result + done * kRepeat << "\n  vmuls.f32 ub[x10], ub[x10], x21, repeat="
          << std::min<int64_t>(255, n - done) << "\n";
    if (kind == Kind::L2) e.unary("vsqrt.f32", result, result, n);
    if (kind == Kind::LogSum) e.unary("vln.f32", result, result, n);
    break;
  }
  case Kind::LayerNorm: {
    // mean = sum / r; x -= mean; var = sum(x * x) / r; x *= 1 / sqrt(var + eps); x = x * scale + bias.
    auto scaleBlock = [&](int64_t block) {
      s << "  li x10, " << block << "\n  vmuls.f32 ub[x10], ub[x10], x21, repeat=1\n";
    };
    e.unary("vmov.f32", copyBase, 0, tileRepeats);
    reduceTile("vadd.f32", "vcadd.f32", copyBase, maxBlock);
    scaleBlock(maxBlock); // the mean, 8 copies
    eachRow("vsub.f32", 0, 0, maxBlock);
    e.fillTail((rowRepeats - 1) * kRepeat, k.r, 0);
    e.binary("vmul.f32", copyBase, 0, 0, tileRepeats);
    reduceTile("vadd.f32", "vcadd.f32", copyBase, sumBlock);
    scaleBlock(sumBlock);
    s << "  li x10, " << sumBlock << "\n  vadds.f32 ub[x10], ub[x10], x22, repeat=1\n";
    e.unary("vsqrt.f32", sumBlock, sumBlock, 1);
    e.unary("vrec.f32", sumBlock, sumBlock, 1); // 1 / sqrt(var + eps), 8 copies
    eachRow("vmul.f32", 0, 0, sumBlock);
    if (k.hasScale) e.binary("vmul.f32", 0, 0, scaleRow, rowRepeats);
    if (k.hasBias) e.binary("vadd.f32", 0, 0, biasRow, rowRepeats);
    break;
  }
  case Kind::ArgMax:
  case Kind::ArgMin:
  case Kind::Hardmax: {
    const bool max = kind != Kind::ArgMin;
    const char *v = max ? "vmax.f32" : "vmin.f32";
    if (rowwise) {
      // The extreme value (8 copies), the lanes equal to it, their indices (others: the fill),
      // then the smallest (first) or largest (last) of those indices.
      e.unary("vmov.f32", copyBase, 0, tileRepeats);
      reduceTile(v, max ? "vcmax.f32" : "vcmin.f32", copyBase, maxBlock);
      s << "  li x10, " << selRow << "\n  li x11, 0\n  li x12, " << maxBlock << "\n  vcmp.eq.f32 ub[x10], ub[x11], ub[x12], repeat="
        << rowRepeats << ", src1_blk=0, src1_rep=0\n";
      s << "  li x10, " << copyBase << "\n  li x11, " << iotaRow << "\n  li x12, " << fillBlock << "\n  li x13, " << selRow
        << "\n  vsel.f32 ub[x10], ub[x11], ub[x12], ub[x13], repeat=" << rowRepeats << ", src1_blk=0, src1_rep=0\n";
      const bool last = k.selectLast && kind != Kind::Hardmax;
      reduceTile(last ? "vmax.f32" : "vmin.f32", last ? "vcmax.f32" : "vcmin.f32", copyBase, sumBlock);
      if (kind == Kind::Hardmax) { // 1.0 where the index row equals the chosen index
        s << "  li x10, " << selRow << "\n  li x11, " << iotaRow << "\n  li x12, " << sumBlock
          << "\n  vcmp.eq.f32 ub[x10], ub[x11], ub[x12], repeat=" << rowRepeats << ", src1_blk=0, src1_rep=0\n";
        s << "  li x10, 0\n  li x11, " << oneBlock << "\n  li x12, " << zeroBlock << "\n  li x13, " << selRow
          << "\n  vsel.f32 ub[x10], ub[x11], ub[x12], ub[x13], repeat=" << rowRepeats
          << ", src0_blk=0, src0_rep=0, src1_blk=0, src1_rep=0\n";
      } else {
        s << "  li x10, " << sumBlock << "\n  vconv.f32.s32 ub[x10], ub[x10], repeat=1\n";
      }
      break;
    }
    // Across rows: a running best value and index per column; row j replaces them where it is
    // strictly better (first index) or at least as good (last index).
    const char *cmp = max ? (k.selectLast && kind != Kind::Hardmax ? "ge" : "gt") : (k.selectLast ? "le" : "lt");
    e.unary("vmov.f32", bestRow, 0, rowRepeats);
    s << "  li x10, " << indexRow << "\n  vdup.f32 ub[x10], x0, repeat=" << rowRepeats << "\n";
    for (int64_t row = 1; row < rows; ++row) {
      s << "  li x10, " << selRow << "\n  li x11, " << row * rowBytes << "\n  li x12, " << bestRow << "\n  vcmp." << cmp
        << ".f32 ub[x10], ub[x11], ub[x12], repeat=" << rowRepeats << "\n";
      s << "  li x13, " << selRow << "\n  vsel.f32 ub[x12], ub[x11], ub[x12], ub[x13], repeat=" << rowRepeats << "\n";
      s << "  li x10, " << maxRow << "\n  li x16, " << floatBits(float(row)) << "\n  vdup.f32 ub[x10], x16, repeat="
        << rowRepeats << "\n  li x11, " << indexRow << "\n  vsel.f32 ub[x11], ub[x10], ub[x11], ub[x13], repeat="
        << rowRepeats << "\n";
    }
    if (kind == Kind::Hardmax) {
      for (int64_t row = 0; row < rows; ++row) {
        s << "  li x10, " << maxRow << "\n  li x16, " << floatBits(float(row)) << "\n  vdup.f32 ub[x10], x16, repeat="
          << rowRepeats << "\n  li x11, " << indexRow << "\n  li x12, " << selRow << "\n  vcmp.eq.f32 ub[x12], ub[x10], ub[x11], repeat="
          << rowRepeats << "\n";
        s << "  li x10, " << row * rowBytes << "\n  li x11, " << oneBlock << "\n  li x13, " << zeroBlock
          << "\n  vsel.f32 ub[x10], ub[x11], ub[x13], ub[x12], repeat=" << rowRepeats
          << ", src0_blk=0, src0_rep=0, src1_blk=0, src1_rep=0\n";
      }
    } else {
      e.unary("vconv.f32.s32", 0, indexRow, rowRepeats); // the result row
    }
    break;
  }
  case Kind::LogSumExp:
  case Kind::Softmax:
  case Kind::LogSoftmax: {
    // m = max (on a copy), x -= m, then sum exp(x) (on a copy unless the tile is no longer needed).
    e.unary("vmov.f32", copyBase, 0, tileRepeats);
    reduceTile("vmax.f32", "vcmax.f32", copyBase, maxBlock);
    if (!rowwise) e.unary("vmov.f32", maxRow, copyBase, rowRepeats); // the copy is reused for the sum
    const int64_t mKept = rowwise ? maxBlock : maxRow;
    eachRow("vsub.f32", 0, 0, mKept);
    if (kind == Kind::Softmax) {
      e.unary("vexp.f32", 0, 0, tileRepeats);
      e.unary("vmov.f32", copyBase, 0, tileRepeats);
      reduceTile("vadd.f32", "vcadd.f32", copyBase, sumBlock);
      eachRow("vdiv.f32", 0, 0, rowwise ? sumBlock : copyBase);
    } else {
      e.unary("vexp.f32", copyBase, 0, tileRepeats);
      reduceTile("vadd.f32", "vcadd.f32", copyBase, sumBlock);
      const int64_t sum = rowwise ? sumBlock : copyBase;
      e.unary("vln.f32", sum, sum, rowwise ? 1 : rowRepeats);
      if (kind == Kind::LogSoftmax) {
        eachRow("vsub.f32", 0, 0, sum);
      } else { // log-sum-exp = m + ln(sum exp(x - m)), left in the result row / block
        e.binary("vadd.f32", result, sum, mKept, rowwise ? 1 : rowRepeats);
      }
    }
    break;
  }
  }

  s << "  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n";
  if (kind == Kind::LayerNorm) { // y row; mean and 1/std one value per row (x23: the row's offset)
    s << "  ub2gm gm[x9], ub[x0], len=" << rowBlocks << "\n";
    if (k.meanOut) s << "  li x10, " << maxBlock << "\n  add x11, x19, x23\n  ub2gm gm[x11], ub[x10], len=1\n";
    if (k.invStdOut) s << "  li x10, " << sumBlock << "\n  add x11, x20, x23\n  ub2gm gm[x11], ub[x10], len=1\n";
    s << "  addi x23, x23, 4\n";
  } else if (keepsShape(kind)) { // every row back, ascending, so each spill is overwritten by the next row
    if (rowwise)
      s << "  ub2gm gm[x9], ub[x0], len=" << rowBlocks << "\n";
    else
      s << "  li x10, 0\n  mv x11, x9\n  li x12, " << rows << "\nstore:\n  ub2gm gm[x11], ub[x10], len=" << rowBlocks
        << "\n  addi x10, x10, " << rowBytes << "\n  addi x11, x11, " << k.inner * 4 << "\n  dbnz x12, store\n";
  } else {
    s << "  li x10, " << result << "\n  ub2gm gm[x9], ub[x10], len=" << (rowwise ? 1 : rowBlocks) << "\n";
  }
  // The next slice reuses every buffer: drain all pipes first. (In blocks: the next block, or
  // after a slice's last one, the next slice's first.)
  if (inBlocks) {
    // x24 blocks left in the slice after this one: none, the next slice's first (this block
    // started at inner - width); one, the last block (lastStep on); else the next (width on).
    s << "  barrier all\n  addi x24, x24, -1\n  beq x24, x0, nextslice\n";
    if (lastStep != width) s << "  li x14, 1\n  beq x24, x14, laststep\n";
    s << "  addi x8, x8, " << width * 4 << "\n  addi x9, x9, " << width * 4 << "\n  jmp stepped\n";
    if (lastStep != width)
      s << "laststep:\n  addi x8, x8, " << lastStep * 4 << "\n  addi x9, x9, " << lastStep * 4 << "\n  jmp stepped\n";
    s << "nextslice:\n  addi x8, x8, " << sliceIn - (k.inner - width) * 4 << "\n  addi x9, x9, "
      << sliceOut - (k.inner - width) * 4 << "\n  li x24, " << blocksPerSlice << "\nstepped:\n  dbnz x5, slice\n";
  } else {
    s << "  barrier all\n  addi x8, x8, " << sliceIn << "\n  addi x9, x9, " << sliceOut << "\n  dbnz x5, slice\n";
  }
  if (toScratch) {
    s << "  barrier all\n";
    e.widenIndices(k.outer * k.inner, 18, 3);
  }
  if (cores > 1 || inBlocks) s << "finish:\n";
  s << "  end\n";
  return GeneratedKernel{s.str(), int(cores)};
}

Expected<GeneratedKernel> generateTopK(const ChipConfig &config, const TopKKernel &k) {
  if (k.outer < 1 || k.r < 1 || k.k < 1 || k.k > k.r)
    return Error::internal(k.name + ": TopK needs 1 <= k <= the row's length");
  const int64_t rowRepeats = ceilDiv(k.r, kLanes), rowBytes = rowRepeats * kRepeat;
  const int64_t outRepeats = ceilDiv(k.k, kLanes), outBytes = outRepeats * kRepeat;
  // UB: the row | keys | live indices | NaN penalties | candidates | work | index row | lane
  // bitmask | values out | indices out | their lane bitmask | blocks (one repeat each).
  const int64_t keys = rowBytes, live = 2 * rowBytes, penalty = 3 * rowBytes, cand = 4 * rowBytes,
                work = 5 * rowBytes, iota = 6 * rowBytes, sel = 7 * rowBytes,
                values = sel + roundUp(rowRepeats * 8, 32), indices = values + outBytes,
                outSel = indices + outBytes, blockBase = outSel + roundUp(outRepeats * 8, 32);
  enum Block { Extreme, Least, Value, Index, Lane, PlusInf, MinusInf, TakenKey, NanPenalty, Zero, Blocks };
  auto block = [&](Block b) { return blockBase + int64_t(b) * kRepeat; };
  const int64_t needed = block(Blocks);
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  if (needed > ub || rowRepeats > 255)
    return Error::badInput(k.name + ": UB overflow: TopK over rows of " + std::to_string(k.r) + " values needs " +
                           std::to_string(needed) + " bytes of UB, the target has " + std::to_string(ub));
  const float inf = std::numeric_limits<float>::infinity();
  const char *extreme = k.largest ? "vmax.f32" : "vmin.f32", *extremeLanes = k.largest ? "vcmax.f32" : "vcmin.f32";

  std::ostringstream s;
  ReduceEmitter e(s);
  s << "# " << k.name << ": TopK, the " << k.k << (k.largest ? " largest" : " smallest") << " of each of " << k.outer
    << " rows of " << k.r << " values: " << k.k << " rounds of select-and-take in UB\n";
  s << ".node \"" << k.node << "\"\n.text\n  mfsr x1, args\n  ld x2, gm[x1]\n  ld x17, gm[x1], offset=8\n"
    << "  ld x3, gm[x1], offset=16\n  ld x20, gm[x1], offset=24\n  ld x18, gm[x1], offset=32\n";
  // NaN penalty: 2^23 ahead of every index (largest) or behind it (smallest); indices stay exact.
  for (auto [b, value] : {std::pair<Block, float>{PlusInf, inf}, {MinusInf, -inf}, {TakenKey, k.largest ? -inf : inf},
                          {NanPenalty, k.largest ? -8388608.0f : 8388608.0f}, {Zero, 0.0f}})
    s << "  li x10, " << block(b) << "\n  li x16, " << floatBits(value) << "\n  vdup.f32 ub[x10], x16, repeat=1\n";
  s << "  li x10, " << iota << "\n  gm2ub ub[x10], gm[x17], len=" << rowRepeats * 8 << "\n  li x25, "
    << floatBits(1.0f) << "\n  li x5, " << k.outer << "\n  mv x8, x2\n  mv x9, x3\n  mv x23, x18\n";
  // `vsel dst = sel ? a : b` over `repeats`, a and/or b a broadcast block.
  auto select = [&](int64_t dst, int64_t a, bool aBlock, int64_t b, bool bBlock, int64_t mask, int64_t repeats) {
    s << "  li x10, " << dst << "\n  li x11, " << a << "\n  li x12, " << b << "\n  li x13, " << mask
      << "\n  vsel.f32 ub[x10], ub[x11], ub[x12], ub[x13], repeat=" << repeats << (aBlock ? ", src0_blk=0, src0_rep=0" : "")
      << (bBlock ? ", src1_blk=0, src1_rep=0" : "") << "\n";
  };
  auto compare = [&](const char *cmp, int64_t mask, int64_t a, int64_t b, bool bBlock, int64_t repeats) {
    s << "  li x10, " << mask << "\n  li x11, " << a << "\n  li x12, " << b << "\n  vcmp." << cmp
      << ".f32 ub[x10], ub[x11], ub[x12], repeat=" << repeats << (bBlock ? ", src1_blk=0, src1_rep=0" : "") << "\n";
  };
  // The 8 copies of the `op` reduction of `src` in `dst` (the work row is destroyed).
  auto reduceRow = [&](const char *op, const char *laneOp, int64_t src, Block dst) {
    e.unary("vmov.f32", work, src, rowRepeats);
    e.tree(op, work, rowRepeats, 1);
    e.lanes(laneOp, block(dst), work);
  };

  s << "slice:\n  gm2ub ub[x0], gm[x8], len=" << ceilDiv(k.r * 4, 32) << "\n  set_flag mte2, v, 0\n  wait_flag mte2, v, 0\n";
  // Keys: the row with NaN as +inf (NaN lanes also get their penalty); lanes past the row are
  // taken from the start.
  compare("ne", sel, 0, 0, false, rowRepeats);
  select(keys, block(PlusInf), true, 0, false, sel, rowRepeats);
  select(penalty, block(NanPenalty), true, block(Zero), true, sel, rowRepeats);
  e.fillTail(keys + (rowRepeats - 1) * kRepeat, k.r, floatBits(k.largest ? -inf : inf));
  e.unary("vmov.f32", live, iota, rowRepeats);
  e.fillTail(live + (rowRepeats - 1) * kRepeat, k.r, floatBits(inf));
  s << "  li x10, " << block(Lane) << "\n  vdup.f32 ub[x10], x0, repeat=1\n  li x24, " << k.k << "\nround:\n";
  reduceRow(extreme, extremeLanes, keys, Extreme);
  compare("eq", sel, keys, block(Extreme), true, rowRepeats);
  select(cand, live, false, block(PlusInf), true, sel, rowRepeats);
  e.binary("vadd.f32", cand, cand, penalty, rowRepeats);
  reduceRow("vmin.f32", "vcmin.f32", cand, Least);
  compare("eq", sel, cand, block(Least), true, rowRepeats); // the chosen lane alone: candidates differ
  select(work, 0, false, block(MinusInf), true, sel, rowRepeats);
  e.tree("vmax.f32", work, rowRepeats, 1);
  e.lanes("vcmax.f32", block(Value), work);
  select(work, iota, false, block(MinusInf), true, sel, rowRepeats);
  e.tree("vmax.f32", work, rowRepeats, 1);
  e.lanes("vcmax.f32", block(Index), work);
  select(keys, block(TakenKey), true, keys, false, sel, rowRepeats);
  select(live, block(PlusInf), true, live, false, sel, rowRepeats);
  compare("eq", outSel, iota, block(Lane), true, outRepeats); // output lane j = the round
  select(values, block(Value), true, values, false, outSel, outRepeats);
  select(indices, block(Index), true, indices, false, outSel, outRepeats);
  s << "  li x10, " << block(Lane) << "\n  vadds.f32 ub[x10], ub[x10], x25, repeat=1\n  dbnz x24, round\n";
  e.unary("vconv.f32.s32", indices, indices, outRepeats);
  const int64_t outBlocks = ceilDiv(k.k * 4, 32);
  s << "  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n  li x10, " << values << "\n  ub2gm gm[x9], ub[x10], len=" << outBlocks
    << "\n  li x10, " << indices << "\n  ub2gm gm[x23], ub[x10], len=" << outBlocks << "\n";
  // The next slice reuses every buffer: drain all pipes first.
  s << "  barrier all\n  addi x8, x8, " << k.r * 4 << "\n  addi x9, x9, " << k.k * 4 << "\n  addi x23, x23, " << k.k * 4
    << "\n  dbnz x5, slice\n";
  e.widenIndices(k.outer * k.k, 18, 20);
  s << "  end\n";
  return GeneratedKernel{s.str(), 1};
}

} // namespace fractal::codegen
