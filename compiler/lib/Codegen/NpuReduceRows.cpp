// Reductions of rows to one value each, through the npu dialect (KernelTemplates.h,
// generateRowReduction): ReduceKernel's Sum/Mean/Max/Min/L1/L2/SumSquare/LogSum with inner == 1.
// (Softmax of long rows, generateSoftmaxRows, and layer normalisation of rows of whole blocks,
// generateLayerNormRows, are at the end.)
//
// A work item is a chunk of rows: one DMA brings them into UB (each row padded to whole repeats of
// 64 lanes), the lanes past a row's end are set to the operation's identity under a lane mask,
// each row's repeats are combined pairwise (one instruction per level and repeat pair, over all
// the chunk's rows), then one lane reduction per row (vcadd/vcmax/vcmin, a repeat each) writes the
// chunk's results side by side, and one DMA stores them. Chunks alternate between two UB buffer
// sets (NpuKernelBuilder::itemLoop), so one chunk's loads overlap the other's work, and are shared
// out over the cores: chunks of a multiple of 8 rows store whole 32-byte blocks, so no core's store
// reaches another's results (only the last chunk's spills, into the tail slack the memory plan
// leaves after every tensor). The previous kernel (ReduceKernels.cpp) took one row at a time on
// one core and waited for its GM round trip each time: PP-OCRv4 rec's layer-norm means, 40 rows
// of 120 values, took ~21k cycles each.
#include "NpuBuilder.h"

#include "EmitUtil.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <limits>

namespace fractal::codegen {
namespace {

using emit::ceilDiv;
using emit::roundUp;
using Kind = ReduceKernel::Kind;

constexpr int64_t kLanes = 64;     // f32 lanes of one vector repeat
constexpr int64_t kMaxRowRepeats = 31; // a row's repeats as a repeat stride in blocks (8 each) fit 255
// Softmax rows from this long take a work item each (a row's latency is then small beside its work).
constexpr int64_t kMinSoftmaxRow = 256;

// `mnemonic` over `repeats` repeats of `buffers` from their starts, 255 at a time; a block of 8
// copies (`block`, when given) is the last operand, read again for every block of the others.
void overRepeats(NpuKernelBuilder &kb, const char *mnemonic, const std::vector<mlir::Value> &buffers, int64_t repeats,
                 mlir::Value block = {}) {
  for (int64_t done = 0; done < repeats; done += 255) {
    std::vector<mlir::Value> operands;
    for (mlir::Value v : buffers) operands.push_back(kb.from(v, done * kLanes));
    std::vector<std::pair<std::string, int64_t>> params;
    if (block) operands.push_back(block), params = {{"src1_blk", 0}, {"src1_rep", 0}};
    kb.vector(mnemonic, operands, std::min<int64_t>(255, repeats - done), params);
  }
}

// The lanes past the end of each of `count` rows of `r` values (rows `rowStride` blocks apart from
// the start of `rows`, each padded to whole repeats; one row: no stride) set to `value`, under a
// lane mask.
void fillPastRows(NpuKernelBuilder &kb, mlir::Value rows, int64_t r, float value, int64_t count = 1, int64_t rowStride = 0) {
  if (r % kLanes == 0) return;
  kb.setMask(0, int64_t(~((uint64_t(1) << (r % kLanes)) - 1)));
  kb.vector("vdup.f32", {kb.from(rows, (ceilDiv(r, kLanes) - 1) * kLanes), kb.f32Value(value)}, count,
            count > 1 ? std::vector<std::pair<std::string, int64_t>>{{"dst_rep", rowStride}}
                      : std::vector<std::pair<std::string, int64_t>>{});
  kb.setMask(-1, -1);
}

// Each of `count` rows' `rowRepeats` repeats (rows rowRepeats * 8 blocks apart from the start of
// `rows`) combined pairwise into the row's first repeat: repeat j takes repeat j + keep, in every
// row at once.
void combineRowRepeats(NpuKernelBuilder &kb, const char *combine, mlir::Value rows, int64_t rowRepeats, int64_t count) {
  const int64_t rowStride = rowRepeats * 8;
  for (int64_t left = rowRepeats; left > 1;) {
    const int64_t half = left / 2, keep = left - half;
    for (int64_t j = 0; j < half; ++j)
      kb.vector(combine, {kb.from(rows, j * kLanes), kb.from(rows, j * kLanes), kb.from(rows, (j + keep) * kLanes)}, count,
                {{"dst_rep", rowStride}, {"src0_rep", rowStride}, {"src1_rep", rowStride}});
    left = keep;
  }
}

// `repeats` repeats of `w` combined pairwise into its first (destroying the rest): one
// instruction per level.
void combineIntoFirstRepeat(NpuKernelBuilder &kb, const char *combine, mlir::Value w, int64_t repeats) {
  for (int64_t count = repeats; count > 1;) {
    const int64_t half = count / 2, keep = count - half;
    overRepeats(kb, combine, {w, w, kb.from(w, keep * kLanes)}, half);
    count = keep;
  }
}

// Values per piece of a row too long for UB (the long-row kernels at the end): whole repeats, at
// most 255 of them (16,320 values: 64 KiB), two pieces (two buffer sets) in UB beside 8 KiB for
// the kernels' one-repeat buffers; a UB too small for that (a sweep's 8 KiB) keeps 5 KiB, what
// they take at most (the reduction's two 8-repeat groups and three repeats, 4.75 KiB).
int64_t rowPieceElements(const ChipConfig &config) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t reserve = ub - (8 << 10) >= 2 * 4 * kLanes ? (8 << 10) : (5 << 10);
  return std::min<int64_t>(255 * kLanes, std::max<int64_t>(0, ub - reserve) / 2 / 4 / kLanes * kLanes);
}

// The kinds that fold a row into one value: sums, means, extremes and norms.
bool sumLikeKind(Kind kind) {
  switch (kind) {
  case Kind::Sum:
  case Kind::Mean:
  case Kind::Max:
  case Kind::Min:
  case Kind::L1:
  case Kind::L2:
  case Kind::SumSquare:
  case Kind::LogSum: return true;
  default: return false;
  }
}

// How such a kind folds: its identity, the element-wise combination and the lane reduction.
struct Fold {
  float identity;
  const char *combine, *acrossLanes;
};
Fold foldOf(Kind kind) {
  const float inf = std::numeric_limits<float>::infinity();
  if (kind == Kind::Max) return {-inf, "vmax.f32", "vcmax.f32"};
  if (kind == Kind::Min) return {inf, "vmin.f32", "vcmin.f32"};
  return {0.0f, "vadd.f32", "vcadd.f32"};
}

} // namespace

// Rows per chunk of the row reduction at most: in multiples of 8 (whole blocks of results), at
// most 248 (one lane-reduction repeat each) and what two buffer sets of UB hold (a row of whole
// repeats and its result each, beside a results repeat).
static int64_t rowChunkCap(const ChipConfig &config, int64_t r) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t perRow = ceilDiv(r, kLanes) * kLanes * 4 + 4;
  return std::min<int64_t>(248, (ub / 2 - 2 * 256) / perRow / 8 * 8);
}

// The kinds and shapes the row reduction takes (UB aside).
static bool rowReductionShape(const ReduceKernel &k) {
  return sumLikeKind(k.kind) && k.inner == 1 && k.outer >= 1 && k.r >= 1 && ceilDiv(k.r, kLanes) <= kMaxRowRepeats;
}

bool reducesRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k) {
  return rowReductionShape(k) && rowChunkCap(config, k.r) >= 8;
}

Expected<GeneratedKernel> generateRowReduction(const ChipConfig &config, const ReduceKernel &k) {
  if (!rowReductionShape(k))
    return Error::internal(k.name + ": the row reduction kernel takes sums, means, maxima, minima and norms of rows "
                                    "of at most " + std::to_string(kMaxRowRepeats * kLanes) + " values");
  const int64_t rowRepeats = ceilDiv(k.r, kLanes), rowElements = rowRepeats * kLanes;
  const int64_t rowBlocks = ceilDiv(k.r * 4, 32);
  const bool alignedRows = (k.r * 4) % 32 == 0; // rows start on blocks in GM: one strided DMA per chunk
  // Rows per chunk: enough chunks for two per core where there are rows for it, up to the cap.
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t perRow = rowElements * 4 + 4;
  const int64_t cap = rowChunkCap(config, k.r);
  if (cap < 8)
    return Error::badInput(k.name + ": UB overflow: 8 rows of " + std::to_string(k.r) + " values need " +
                           std::to_string(2 * 8 * perRow) + " bytes of UB in two buffer sets, UB has " + std::to_string(ub));
  const int64_t spread = roundUp(ceilDiv(k.outer, 2 * int64_t(config.chip.cores)), 8);
  const int64_t rows = std::min(cap, std::max<int64_t>(8, spread));
  const int64_t chunks = ceilDiv(k.outer, rows), tailRows = k.outer - (chunks - 1) * rows;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, chunks));

  NpuKernelBuilder kb(config, k.name, k.node);
  kb.begin({{kb.f32(), k.outer * k.r + 8}, {kb.f32(), roundUp(k.outer, 8) + 8}}, blockDim);
  mlir::Value tile[2], results[2];
  for (int set = 0; set < 2; ++set) {
    tile[set] = kb.alloc(npu::Space::ub, kb.f32(), rows * rowElements);
    results[set] = kb.alloc(npu::Space::ub, kb.f32(), roundUp(rows, kLanes));
  }
  const Fold fold = foldOf(k.kind);
  const float identity = fold.identity;
  const char *combine = fold.combine, *acrossLanes = fold.acrossLanes;
  const int64_t rowStride = rowRepeats * 8; // blocks from one row to the next

  auto chunk = [&](mlir::Value c, int set, bool last) -> Status {
    const int64_t n = last ? tailRows : rows;
    mlir::Value first = kb.mul(c, rows); // the chunk's first row
    // The rows into UB, rowElements apart.
    if (alignedRows) {
      kb.instruction<npu::CopyOp>("gm2ub", {tile[set], kb.view(kb.arg(0), kb.mul(c, rows * k.r), n * k.r)},
                                  {{"nburst", n}, {"len", rowBlocks}, {"dst_gap", rowStride - rowBlocks}});
    } else {
      for (int64_t row = 0; row < n; ++row) // a row's last block reads past it: the next row, or the tail slack
        kb.instruction<npu::CopyOp>("gm2ub", {kb.from(tile[set], row * rowElements),
                                              kb.view(kb.arg(0), kb.add(kb.mul(c, rows * k.r), row * k.r), rowBlocks * 8)},
                                    {{"len", rowBlocks}});
    }
    mlir::Value rowsIn = tile[set];
    // Lanes past each row's end: the identity (what the DMA left there, or an earlier chunk's).
    fillPastRows(kb, rowsIn, k.r, identity, n, rowStride);
    // |x| or x*x first (the identity 0 stays 0).
    if (k.kind == Kind::L1) overRepeats(kb, "vabs.f32", {rowsIn, rowsIn}, n * rowRepeats);
    if (k.kind == Kind::L2 || k.kind == Kind::SumSquare) overRepeats(kb, "vmul.f32", {rowsIn, rowsIn, rowsIn}, n * rowRepeats);
    combineRowRepeats(kb, combine, rowsIn, rowRepeats, n);
    // One value per row, side by side.
    kb.vector(acrossLanes, {results[set], rowsIn}, n, {{"src_rep", rowStride}});
    const int64_t resultRepeats = ceilDiv(n, kLanes);
    if (k.kind == Kind::Mean) kb.vector("vmuls.f32", {results[set], results[set], kb.f32Value(1.0f / float(k.r))}, resultRepeats, {});
    if (k.kind == Kind::L2) kb.vector("vsqrt.f32", {results[set], results[set]}, resultRepeats, {});
    if (k.kind == Kind::LogSum) kb.vector("vln.f32", {results[set], results[set]}, resultRepeats, {});
    kb.dma(results[set], kb.index(0), kb.arg(1), first, roundUp(n, 8));
    return Status::success();
  };
  if (Status s = kb.itemLoop(chunks, tailRows != rows, chunk); !s) return s.error();
  return kb.finish(k.name + ": reduction " + std::to_string(int(k.kind)) + " of " + std::to_string(k.outer) + " rows of " +
                   std::to_string(k.r) + " values, " + std::to_string(chunks) + " chunk(s) of " + std::to_string(rows) +
                   " rows on " + std::to_string(blockDim) + " block(s)");
}

bool softmaxRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k) {
  const int64_t rowElements = ceilDiv(k.r, kLanes) * kLanes;
  // Two buffer sets of the row, its copy and three one-repeat buffers.
  const bool fits = 2 * (2 * rowElements + 3 * kLanes) * 4 <= config.buffer(BufferKind::UB).sizeBytes;
  return (k.kind == Kind::Softmax || k.kind == Kind::LogSoftmax) && k.inner == 1 && k.r >= kMinSoftmaxRow && fits;
}

// Softmax and LogSoftmax of long rows: a work item is one row, on two buffer sets and every core.
// The one-row-at-a-time kernel kept to one core because a row that is not whole 32-byte blocks
// spills past its end when stored (a DMA writes whole blocks) and only the next row's later store
// on the same core mended that. Here a row leaves in two stores that both end inside it: its whole
// blocks from the start, then one block that ends at the row's end, made from the row's last 8
// values loaded on their own (a GM address need not be aligned, a UB one must) and put through the
// same operations with the row's max and sum; the two overlap, with the same values. No store
// leaves the row, so rows go round-robin over the cores. (PP-OCRv4 rec's output softmax, 40 rows
// of 6625 values: one core, ~100k cycles.)
Expected<GeneratedKernel> generateSoftmaxRows(const ChipConfig &config, const ReduceKernel &k) {
  if (!softmaxRowsThroughNpu(config, k))
    return Error::internal(k.name + ": the softmax row kernel takes rows of " + std::to_string(kMinSoftmaxRow) +
                           " values and more that fit UB twice in two buffer sets");
  const int64_t rowRepeats = ceilDiv(k.r, kLanes), rowElements = rowRepeats * kLanes;
  const int64_t headElements = k.r / 8 * 8; // the row's whole blocks
  const bool log = k.kind == Kind::LogSoftmax;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, k.outer));

  NpuKernelBuilder kb(config, k.name, k.node);
  kb.begin({{kb.f32(), k.outer * k.r + 8}, {kb.f32(), k.outer * k.r + 8}}, blockDim);
  mlir::Value row[2], work[2], maxima[2], sums[2], tail[2];
  for (int set = 0; set < 2; ++set) {
    row[set] = kb.alloc(npu::Space::ub, kb.f32(), rowElements);
    work[set] = kb.alloc(npu::Space::ub, kb.f32(), rowElements);
    maxima[set] = kb.alloc(npu::Space::ub, kb.f32(), kLanes); // 8 copies of the row's max
    sums[set] = kb.alloc(npu::Space::ub, kb.f32(), kLanes);   // 8 copies of 1 / its sum (LogSoftmax: its log)
    tail[set] = kb.alloc(npu::Space::ub, kb.f32(), kLanes);   // the row's last 8 values
  }
  // 8 copies of the `combine` reduction of the row in `work` (destroyed) into `block`.
  auto reduce = [&](const char *combine, const char *acrossLanes, mlir::Value w, mlir::Value block) {
    combineIntoFirstRepeat(kb, combine, w, rowRepeats);
    kb.vector(acrossLanes, {block, w}, 8, {{"src_rep", 0}});
  };

  auto item = [&](mlir::Value r, int set, bool) -> Status {
    mlir::Value start = kb.mul(r, k.r);
    kb.dma(kb.arg(0), start, row[set], kb.index(0), roundUp(k.r, 8)); // past the row: the next, or the tail slack
    kb.dma(kb.arg(0), kb.add(start, k.r - 8), tail[set], kb.index(0), 8);
    // Lanes past the row: -inf, which neither the max nor the sum of exp sees.
    fillPastRows(kb, row[set], k.r, -std::numeric_limits<float>::infinity());
    overRepeats(kb, "vmov.f32", {work[set], row[set]}, rowRepeats);
    reduce("vmax.f32", "vcmax.f32", work[set], maxima[set]);
    overRepeats(kb, "vsub.f32", {row[set], row[set]}, rowRepeats, maxima[set]);
    overRepeats(kb, "vsub.f32", {tail[set], tail[set]}, 1, maxima[set]);
    if (log) {
      overRepeats(kb, "vexp.f32", {work[set], row[set]}, rowRepeats);
      reduce("vadd.f32", "vcadd.f32", work[set], sums[set]);
      kb.vector("vln.f32", {sums[set], sums[set]}, 1, {});
      overRepeats(kb, "vsub.f32", {row[set], row[set]}, rowRepeats, sums[set]);
      overRepeats(kb, "vsub.f32", {tail[set], tail[set]}, 1, sums[set]);
    } else {
      // exp once (a slow op: a quarter of vmov's rate), its copy summed; then times 1 / sum, since
      // a division runs at the rate of exp too.
      overRepeats(kb, "vexp.f32", {row[set], row[set]}, rowRepeats);
      overRepeats(kb, "vmov.f32", {work[set], row[set]}, rowRepeats);
      reduce("vadd.f32", "vcadd.f32", work[set], sums[set]);
      kb.vector("vrec.f32", {sums[set], sums[set]}, 1, {});
      overRepeats(kb, "vmul.f32", {row[set], row[set]}, rowRepeats, sums[set]);
      overRepeats(kb, "vexp.f32", {tail[set], tail[set]}, 1);
      overRepeats(kb, "vmul.f32", {tail[set], tail[set]}, 1, sums[set]);
    }
    if (headElements) kb.dma(row[set], kb.index(0), kb.arg(1), start, headElements);
    if (headElements < k.r) kb.dma(tail[set], kb.index(0), kb.arg(1), kb.add(start, k.r - 8), 8);
    return Status::success();
  };
  if (Status s = kb.itemLoop(k.outer, false, item); !s) return s.error();
  return kb.finish(k.name + ": " + (log ? "log-softmax" : "softmax") + " of " + std::to_string(k.outer) + " rows of " +
                   std::to_string(k.r) + " values, a row per item on " + std::to_string(blockDim) + " block(s)" +
                   (headElements < k.r ? ", each stored as its whole blocks and a last block ending at its end" : ""));
}

namespace {

// Chunks of rows of whole 32-byte blocks (a multiple of 8 values) for the kernels that apply each
// row's statistics to the row (layer norm, short softmax rows): a chunk of a multiple of 8 rows
// comes in with one strided DMA, each row padded to whole repeats, and leaves the same way.
// A row's statistic becomes a block of 8 copies of itself: its repeats combined pairwise, then
// `vcg*` (its 8 block results, side by side) and `vcg*` again reading that one block 8 times
// (block stride 0). Instructions then read the rows' blocks of copies with block stride 0 and
// repeat stride 1 block, a repeat per row, so a statistic is applied to all of a chunk's rows by
// one instruction per repeat of a row rather than one per row.
class RowChunks {
public:
  RowChunks(NpuKernelBuilder &kb, int64_t r) : kb_(kb), r_(r), rowRepeats_(ceilDiv(r, kLanes)), rowStride_(rowRepeats_ * 8) {}
  int64_t rowElements() const { return rowRepeats_ * kLanes; }
  int64_t rowRepeats() const { return rowRepeats_; }
  int64_t rowStride() const { return rowStride_; }
  // UB for `rows` rows, and for their blocks of copies (a block a row).
  mlir::Value rowsBuffer(int64_t rows) { return kb_.alloc(npu::Space::ub, kb_.f32(), rows * rowElements()); }
  mlir::Value copiesBuffer(int64_t rows) { return kb_.alloc(npu::Space::ub, kb_.f32(), roundUp(rows * 8, kLanes)); }

  // n rows from GM (`rows` a view from the first) into `tile`, and back.
  void load(mlir::Value tile, mlir::Value rows, int64_t n) {
    kb_.instruction<npu::CopyOp>("gm2ub", {tile, rows}, {{"nburst", n}, {"len", r_ / 8}, {"dst_gap", rowStride_ - r_ / 8}});
  }
  void store(mlir::Value rows, mlir::Value tile, int64_t n) {
    kb_.instruction<npu::CopyOp>("ub2gm", {rows, tile}, {{"nburst", n}, {"len", r_ / 8}, {"src_gap", rowStride_ - r_ / 8}});
  }
  // 8 copies of the `combine` reduction of each of n rows of `w` (destroyed) into `copies`
  // (`blocks`: a block per row of scratch); `across` is the matching vcgadd/vcgmax.
  void copies(const char *combine, const char *across, mlir::Value w, mlir::Value blocks, mlir::Value copies, int64_t n) {
    combineRowRepeats(kb_, combine, w, rowRepeats_, n);
    kb_.vector(across, {blocks, w}, n, {{"src_rep", rowStride_}});
    kb_.vector(across, {copies, blocks}, n, {{"src_blk", 0}, {"src_rep", 1}});
  }
  // The blocks of copies of n rows: as many repeats as they take.
  static int64_t copyRepeats(int64_t n) { return ceilDiv(n * 8, kLanes); }
  // Every repeat j of n rows of `rows` op= the row's block of copies (`operand`), or, with
  // `sameRow`, repeat j of one row (a scale or bias) for every row.
  void apply(const char *mnemonic, mlir::Value rows, mlir::Value operand, int64_t n, bool sameRow = false) {
    for (int64_t j = 0; j < rowRepeats_; ++j) {
      std::vector<std::pair<std::string, int64_t>> params = {{"dst_rep", rowStride_}, {"src0_rep", rowStride_}};
      if (sameRow) params.push_back({"src1_rep", 0});
      else params.insert(params.end(), {{"src1_blk", 0}, {"src1_rep", 1}});
      kb_.vector(mnemonic, {kb_.from(rows, j * kLanes), kb_.from(rows, j * kLanes), sameRow ? kb_.from(operand, j * kLanes) : operand},
                 n, params);
    }
  }

private:
  NpuKernelBuilder &kb_;
  int64_t r_, rowRepeats_, rowStride_;
};

// Rows per chunk (a multiple of 8, at most 248) that UB holds twice (two buffer sets) beside
// `fixedBytes`, at `bytesPerRow` each; 0 when not even 8 fit.
int64_t rowChunkCap(const ChipConfig &config, int64_t bytesPerRow, int64_t fixedBytes) {
  const int64_t room = config.buffer(BufferKind::UB).sizeBytes / 2 - fixedBytes - 4 * 256;
  return std::min<int64_t>(248, std::max<int64_t>(0, room) / bytesPerRow / 8 * 8);
}

// Per row of a layer-norm chunk: the row, its copy, three blocks (two statistics, block results)
// and two result values; the scale and bias rows once.
int64_t layerNormChunkCap(const ChipConfig &config, const ReduceKernel &k) {
  const int64_t rowElements = ceilDiv(k.r, kLanes) * kLanes;
  return rowChunkCap(config, 2 * rowElements * 4 + 3 * 32 + 2 * 4, rowElements * 4);
}

// Per row of a softmax chunk: the row, its copy, three blocks.
int64_t softmaxChunkCap(const ChipConfig &config, const ReduceKernel &k) {
  return rowChunkCap(config, 2 * ceilDiv(k.r, kLanes) * kLanes * 4 + 3 * 32, 0);
}

// How a kernel of chunks of rows shares out `outer` rows: chunks of `rows` (a multiple of 8, up
// to `cap`) enough for two per core where there are rows for it, the last one `tailRows`.
struct ChunkPlan {
  int64_t rows, chunks, tailRows;
  int blockDim;
};
ChunkPlan planChunks(const ChipConfig &config, int64_t outer, int64_t cap) {
  const int64_t spread = roundUp(ceilDiv(outer, 2 * int64_t(config.chip.cores)), 8);
  const int64_t rows = std::min(cap, std::max<int64_t>(8, spread));
  const int64_t chunks = ceilDiv(outer, rows);
  return {rows, chunks, outer - (chunks - 1) * rows, int(std::min<int64_t>(config.chip.cores, chunks))};
}

bool wholeBlockRows(const ReduceKernel &k) {
  return k.inner == 1 && k.outer >= 1 && k.r >= 8 && k.r % 8 == 0 && ceilDiv(k.r, kLanes) <= kMaxRowRepeats;
}

} // namespace

bool layerNormRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k) {
  return k.kind == Kind::LayerNorm && k.hasScale && wholeBlockRows(k) && layerNormChunkCap(config, k) >= 8;
}

// Layer normalisation of rows of whole 32-byte blocks, in chunks of rows (RowChunks), double-
// buffered and shared out over the cores as the row reductions' chunks are: y = (x - mean) *
// (1 / sqrt(var + epsilon)) * scale + bias, as ONNX defines it; mean and 1 / sqrt(var + epsilon)
// leave as one value per row (`vcgmax` of the blocks of copies). The one-row-at-a-time kernel
// (ReduceKernels.cpp) took 29k cycles for 40 rows of 120 values, on one core.
Expected<GeneratedKernel> generateLayerNormRows(const ChipConfig &config, const ReduceKernel &k) {
  if (!layerNormRowsThroughNpu(config, k))
    return Error::internal(k.name + ": the layer norm row kernel takes rows of whole blocks of up to " +
                           std::to_string(kMaxRowRepeats * kLanes) + " values, with a scale, 8 of them in UB twice");
  const ChunkPlan plan = planChunks(config, k.outer, layerNormChunkCap(config, k));
  const int64_t rows = plan.rows;
  NpuKernelBuilder kb(config, k.name, k.node);
  RowChunks rc(kb, k.r);
  const int64_t rowElements = rc.rowElements(), rowRepeats = rc.rowRepeats();
  // Arguments: input, scale, [bias], y, [mean], [1 / std].
  std::vector<std::pair<mlir::Type, int64_t>> args = {{kb.f32(), k.outer * k.r}, {kb.f32(), k.r}};
  if (k.hasBias) args.push_back({kb.f32(), k.r});
  args.push_back({kb.f32(), k.outer * k.r});
  const size_t yArg = args.size() - 1;
  for (bool out : {k.meanOut, k.invStdOut})
    if (out) args.push_back({kb.f32(), roundUp(k.outer, 8) + 8});
  kb.begin(args, plan.blockDim);
  mlir::Value scale = kb.alloc(npu::Space::ub, kb.f32(), rowElements), bias;
  kb.dma(kb.arg(1), kb.index(0), scale, kb.index(0), k.r);
  if (k.hasBias) {
    bias = kb.alloc(npu::Space::ub, kb.f32(), rowElements);
    kb.dma(kb.arg(2), kb.index(0), bias, kb.index(0), k.r);
  }
  mlir::Value tile[2], work[2], blocks[2], mean[2], invStd[2], values[2];
  for (int set = 0; set < 2; ++set) {
    tile[set] = rc.rowsBuffer(rows);
    work[set] = rc.rowsBuffer(rows);
    blocks[set] = rc.copiesBuffer(rows);
    mean[set] = rc.copiesBuffer(rows);
    invStd[set] = rc.copiesBuffer(rows);
    values[set] = kb.alloc(npu::Space::ub, kb.f32(), roundUp(rows, kLanes));     // one a row, to store
  }
  auto chunk = [&](mlir::Value c, int set, bool last) -> Status {
    const int64_t n = last ? plan.tailRows : rows, statRepeats = RowChunks::copyRepeats(n);
    mlir::Value first = kb.mul(c, rows), gmRows = kb.mul(c, rows * k.r);
    rc.load(tile[set], kb.view(kb.arg(0), gmRows, n * k.r), n);
    fillPastRows(kb, tile[set], k.r, 0.0f, n, rc.rowStride());
    overRepeats(kb, "vmov.f32", {work[set], tile[set]}, n * rowRepeats);
    rc.copies("vadd.f32", "vcgadd.f32", work[set], blocks[set], mean[set], n);
    kb.vector("vmuls.f32", {mean[set], mean[set], kb.f32Value(1.0f / float(k.r))}, statRepeats, {});
    rc.apply("vsub.f32", tile[set], mean[set], n);                // x - mean
    fillPastRows(kb, tile[set], k.r, 0.0f, n, rc.rowStride()); // (-mean there now)
    overRepeats(kb, "vmul.f32", {work[set], tile[set], tile[set]}, n * rowRepeats);
    rc.copies("vadd.f32", "vcgadd.f32", work[set], blocks[set], invStd[set], n);
    kb.vector("vmuls.f32", {invStd[set], invStd[set], kb.f32Value(1.0f / float(k.r))}, statRepeats, {});
    kb.vector("vadds.f32", {invStd[set], invStd[set], kb.f32Value(k.epsilon)}, statRepeats, {});
    kb.vector("vsqrt.f32", {invStd[set], invStd[set]}, statRepeats, {});
    kb.vector("vrec.f32", {invStd[set], invStd[set]}, statRepeats, {});
    rc.apply("vmul.f32", tile[set], invStd[set], n);
    rc.apply("vmul.f32", tile[set], scale, n, true);
    if (k.hasBias) rc.apply("vadd.f32", tile[set], bias, n, true);
    rc.store(kb.view(kb.arg(yArg), gmRows, n * k.r), tile[set], n);
    size_t out = yArg + 1;
    for (auto [wanted, copies] : {std::pair{k.meanOut, mean[set]}, std::pair{k.invStdOut, invStd[set]}}) {
      if (!wanted) continue;
      kb.vector("vcgmax.f32", {values[set], copies}, statRepeats, {}); // the max of 8 equal copies: the value
      kb.dma(values[set], kb.index(0), kb.arg(out++), first, roundUp(n, 8));
    }
    return Status::success();
  };
  if (Status st = kb.itemLoop(plan.chunks, plan.tailRows != rows, chunk); !st) return st.error();
  return kb.finish(k.name + ": layer norm of " + std::to_string(k.outer) + " rows of " + std::to_string(k.r) + " values, " +
                   std::to_string(plan.chunks) + " chunk(s) of " + std::to_string(rows) + " rows on " +
                   std::to_string(plan.blockDim) + " block(s)");
}

bool shortSoftmaxRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k) {
  return (k.kind == Kind::Softmax || k.kind == Kind::LogSoftmax) && k.r < kMinSoftmaxRow && wholeBlockRows(k) &&
         softmaxChunkCap(config, k) >= 8;
}

// Softmax and LogSoftmax of short rows of whole blocks (under 256 values, a multiple of 8), in
// chunks of rows (RowChunks) over the cores: each row's max and sum as blocks of copies, so a
// chunk's subtraction, exp and scaling are a few instructions over all its rows. Before, such
// rows were transposed so that one kernel combined them a row per lane (fractal-short-row-softmax)
// and transposed back: PP-OCRv4 rec's attention softmax (320 rows of 40) 11.4k cycles in three
// kernels, one of them on one core.
Expected<GeneratedKernel> generateShortSoftmaxRows(const ChipConfig &config, const ReduceKernel &k) {
  if (!shortSoftmaxRowsThroughNpu(config, k))
    return Error::internal(k.name + ": the short softmax row kernel takes rows of whole blocks under " +
                           std::to_string(kMinSoftmaxRow) + " values, 8 of them in UB twice");
  const bool log = k.kind == Kind::LogSoftmax;
  const ChunkPlan plan = planChunks(config, k.outer, softmaxChunkCap(config, k));
  const int64_t rows = plan.rows;
  NpuKernelBuilder kb(config, k.name, k.node);
  RowChunks rc(kb, k.r);
  const int64_t rowRepeats = rc.rowRepeats();
  kb.begin({{kb.f32(), k.outer * k.r}, {kb.f32(), k.outer * k.r}}, plan.blockDim);
  mlir::Value tile[2], work[2], blocks[2], maxima[2], sums[2];
  for (int set = 0; set < 2; ++set) {
    tile[set] = rc.rowsBuffer(rows);
    work[set] = rc.rowsBuffer(rows);
    blocks[set] = rc.copiesBuffer(rows);
    maxima[set] = rc.copiesBuffer(rows);
    sums[set] = rc.copiesBuffer(rows);
  }
  auto chunk = [&](mlir::Value c, int set, bool last) -> Status {
    const int64_t n = last ? plan.tailRows : rows, statRepeats = RowChunks::copyRepeats(n);
    mlir::Value gmRows = kb.mul(c, rows * k.r);
    rc.load(tile[set], kb.view(kb.arg(0), gmRows, n * k.r), n);
    // Lanes past each row: -inf, which neither the max nor the sum of exp sees.
    fillPastRows(kb, tile[set], k.r, -std::numeric_limits<float>::infinity(), n, rc.rowStride());
    overRepeats(kb, "vmov.f32", {work[set], tile[set]}, n * rowRepeats);
    rc.copies("vmax.f32", "vcgmax.f32", work[set], blocks[set], maxima[set], n);
    rc.apply("vsub.f32", tile[set], maxima[set], n);
    if (log) {
      overRepeats(kb, "vexp.f32", {work[set], tile[set]}, n * rowRepeats);
      rc.copies("vadd.f32", "vcgadd.f32", work[set], blocks[set], sums[set], n);
      kb.vector("vln.f32", {sums[set], sums[set]}, statRepeats, {});
      rc.apply("vsub.f32", tile[set], sums[set], n);
    } else { // exp once, its copy summed; then times 1 / sum (a division runs at exp's rate)
      overRepeats(kb, "vexp.f32", {tile[set], tile[set]}, n * rowRepeats);
      overRepeats(kb, "vmov.f32", {work[set], tile[set]}, n * rowRepeats);
      rc.copies("vadd.f32", "vcgadd.f32", work[set], blocks[set], sums[set], n);
      kb.vector("vrec.f32", {sums[set], sums[set]}, statRepeats, {});
      rc.apply("vmul.f32", tile[set], sums[set], n);
    }
    rc.store(kb.view(kb.arg(1), gmRows, n * k.r), tile[set], n);
    return Status::success();
  };
  if (Status st = kb.itemLoop(plan.chunks, plan.tailRows != rows, chunk); !st) return st.error();
  return kb.finish(k.name + ": " + (log ? "log-softmax" : "softmax") + " of " + std::to_string(k.outer) + " rows of " +
                   std::to_string(k.r) + " values, " + std::to_string(plan.chunks) + " chunk(s) of " + std::to_string(rows) +
                   " rows on " + std::to_string(plan.blockDim) + " block(s)");
}

// ---- rows longer than UB holds: a row in pieces ----

namespace {

// The pieces of a row of `r` values: how many, and how long the last one is.
struct RowPieces {
  int64_t piece, count, last;
  RowPieces(const ChipConfig &config, int64_t r)
      : piece(rowPieceElements(config)), count(ceilDiv(r, std::max<int64_t>(1, piece))), last(r - (count - 1) * piece) {}
};

} // namespace

bool reducesLongRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k) {
  return (sumLikeKind(k.kind) || k.kind == Kind::LogSumExp) && k.inner == 1 && k.outer >= 1 &&
         (ceilDiv(k.r, kLanes) > kMaxRowRepeats || (k.kind != Kind::LogSumExp && !reducesRowsThroughNpu(config, k))) &&
         rowPieceElements(config) >= kLanes;
}

// Sums, means, extremes, norms and log-sum-exps of rows longer than generateRowReduction takes (a
// chunk of whole rows in UB): a work item is 8 rows (their results are one 32-byte block, so no
// core's store reaches another's), each row read in pieces (rowPieceElements: whole repeats, the
// last one's lanes past the row set to the identity) on two buffer sets, so one piece loads while
// the other is folded: its repeats combined pairwise into one, then into the row's accumulator
// repeat; one lane reduction then gives the 8 rows' results side by side. LogSumExp reads each row
// twice: its max, then the sum of exp(x - max); the result is max + ln sum. Rows of any length: a
// row that did not fit UB (~20k values on the edge chip) had no kernel at all, and rows of 2k..20k
// took the one-row-at-a-time kernel on one core.
Expected<GeneratedKernel> generateLongRowReduction(const ChipConfig &config, const ReduceKernel &k) {
  if (!reducesLongRowsThroughNpu(config, k))
    return Error::internal(k.name + ": the long-row reduction kernel takes sums, means, maxima, minima, norms and "
                                    "log-sum-exps of rows longer than " + std::to_string(kMaxRowRepeats * kLanes) + " values");
  const RowPieces pieces(config, k.r);
  const int64_t groups = ceilDiv(k.outer, 8), tailRows = k.outer - (groups - 1) * 8;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, groups));
  const bool logSumExp = k.kind == Kind::LogSumExp;
  const Fold fold = foldOf(logSumExp ? Kind::Max : k.kind); // LogSumExp's first pass: the max
  const float identity = fold.identity;
  const char *combine = fold.combine, *acrossLanes = fold.acrossLanes;

  NpuKernelBuilder kb(config, k.name, k.node);
  kb.begin({{kb.f32(), k.outer * k.r + 8}, {kb.f32(), roundUp(k.outer, 8) + 8}}, blockDim);
  mlir::Value piece[2];
  for (mlir::Value &p : piece) p = kb.alloc(npu::Space::ub, kb.f32(), pieces.piece);
  mlir::Value accumulators = kb.alloc(npu::Space::ub, kb.f32(), 8 * kLanes); // a repeat per row of the group
  mlir::Value results = kb.alloc(npu::Space::ub, kb.f32(), kLanes);
  // LogSumExp: the sums of exp(x - max) a repeat per row, 8 copies of a row's max, the rows' maxima.
  mlir::Value sums, maxCopies, maxima;
  if (logSumExp) {
    sums = kb.alloc(npu::Space::ub, kb.f32(), 8 * kLanes);
    maxCopies = kb.alloc(npu::Space::ub, kb.f32(), kLanes);
    maxima = kb.alloc(npu::Space::ub, kb.f32(), kLanes);
  }

  auto group = [&](mlir::Value g) -> Status {
    return kb.splitLast(g, groups - 1, [&](bool lastGroup) -> Status {
      const int64_t rows = lastGroup ? tailRows : 8;
      kb.vector("vdup.f32", {accumulators, kb.f32Value(identity)}, rows, {});
      if (logSumExp) kb.vector("vdup.f32", {sums, kb.f32Value(0.0f)}, rows, {});
      for (int64_t j = 0; j < rows; ++j) {
        mlir::Value rowStart = kb.add(kb.mul(g, 8 * k.r), j * k.r);
        // One pass over the row: each piece loaded (lanes past the row: the identity), `fold`ed.
        auto pass = [&](const std::function<void(mlir::Value piece, int64_t repeats)> &foldPiece) {
          return kb.pairLoop(kb.index(0), pieces.count, kb.index(1), pieces.last != pieces.piece,
                             [&](mlir::Value p, int set, bool lastPiece) -> Status {
                               const int64_t n = lastPiece ? pieces.last : pieces.piece;
                               // (Past the row's end the DMA reads the next row, or the tail slack.)
                               kb.dma(kb.arg(0), kb.add(rowStart, kb.mul(p, pieces.piece)), piece[set], kb.index(0),
                                      roundUp(n, 8));
                               fillPastRows(kb, piece[set], n, identity);
                               foldPiece(piece[set], ceilDiv(n, kLanes));
                               return Status::success();
                             });
        };
        mlir::Value accumulator = kb.view(accumulators, kb.index(j * kLanes), kLanes);
        Status first = pass([&](mlir::Value w, int64_t repeats) {
          if (k.kind == Kind::L1) overRepeats(kb, "vabs.f32", {w, w}, repeats);
          if (k.kind == Kind::L2 || k.kind == Kind::SumSquare) overRepeats(kb, "vmul.f32", {w, w, w}, repeats);
          combineIntoFirstRepeat(kb, combine, w, repeats);
          kb.vector(combine, {accumulator, accumulator, w}, 1, {});
        });
        if (!first || !logSumExp) {
          if (!first) return first;
          continue;
        }
        kb.vector("vcmax.f32", {maxCopies, accumulator}, 8, {{"src_rep", 0}});
        mlir::Value sum = kb.view(sums, kb.index(j * kLanes), kLanes);
        if (Status second = pass([&](mlir::Value w, int64_t repeats) {
              overRepeats(kb, "vsub.f32", {w, w}, repeats, maxCopies);
              overRepeats(kb, "vexp.f32", {w, w}, repeats); // exp(-inf) = 0 past the row
              combineIntoFirstRepeat(kb, "vadd.f32", w, repeats);
              kb.vector("vadd.f32", {sum, sum, w}, 1, {});
            });
            !second)
          return second;
      }
      if (logSumExp) {
        kb.vector("vcmax.f32", {maxima, accumulators}, rows, {});
        kb.vector("vcadd.f32", {results, sums}, rows, {});
        kb.vector("vln.f32", {results, results}, 1, {});
        kb.vector("vadd.f32", {results, results, maxima}, 1, {});
      } else {
        kb.vector(acrossLanes, {results, accumulators}, rows, {});
      }
      if (k.kind == Kind::Mean) kb.vector("vmuls.f32", {results, results, kb.f32Value(1.0f / float(k.r))}, 1, {});
      if (k.kind == Kind::L2) kb.vector("vsqrt.f32", {results, results}, 1, {});
      if (k.kind == Kind::LogSum) kb.vector("vln.f32", {results, results}, 1, {});
      // A whole block: the last group's spills into the tail slack after the output.
      kb.dma(results, kb.index(0), kb.arg(1), kb.mul(g, 8), 8);
      return Status::success();
    });
  };
  if (Status s = kb.forEachItem(groups, group); !s) return s.error();
  return kb.finish(k.name + ": reduction " + std::to_string(int(k.kind)) + " of " + std::to_string(k.outer) + " rows of " +
                   std::to_string(k.r) + " values, 8 rows per item on " + std::to_string(blockDim) + " block(s), each row in " +
                   std::to_string(pieces.count) + " piece(s) of up to " + std::to_string(pieces.piece) + " values" +
                   (logSumExp ? ", read twice" : ""));
}

bool softmaxLongRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k) {
  return (k.kind == Kind::Softmax || k.kind == Kind::LogSoftmax) && k.inner == 1 && k.outer >= 1 &&
         k.r >= kMinSoftmaxRow && !softmaxRowsThroughNpu(config, k) && rowPieceElements(config) >= kLanes;
}

// Softmax and LogSoftmax of rows longer than generateSoftmaxRows holds in UB (~16k values on the
// edge chip; a vocabulary's logits are longer): a work item is a row, on every core, read in pieces
// three times, each pass double-buffered: its maximum, then the sum of exp(x - max), then
// exp(x - max) / sum (LogSoftmax: x - max - ln sum) stored piece by piece. As in
// generateSoftmaxRows, no store leaves the row: the last piece stores its whole blocks and the
// row's last 8 values go out as one block ending at the row's end, loaded on their own.
Expected<GeneratedKernel> generateLongSoftmaxRows(const ChipConfig &config, const ReduceKernel &k) {
  if (!softmaxLongRowsThroughNpu(config, k))
    return Error::internal(k.name + ": the long softmax row kernel takes rows that generateSoftmaxRows cannot hold");
  const RowPieces pieces(config, k.r);
  const bool log = k.kind == Kind::LogSoftmax;
  const int64_t lastHead = pieces.last / 8 * 8; // the last piece's whole blocks
  const int blockDim = int(std::min<int64_t>(config.chip.cores, k.outer));
  const float inf = std::numeric_limits<float>::infinity();

  NpuKernelBuilder kb(config, k.name, k.node);
  kb.begin({{kb.f32(), k.outer * k.r + 8}, {kb.f32(), k.outer * k.r + 8}}, blockDim);
  mlir::Value piece[2];
  for (mlir::Value &p : piece) p = kb.alloc(npu::Space::ub, kb.f32(), pieces.piece);
  mlir::Value accumulator = kb.alloc(npu::Space::ub, kb.f32(), kLanes);
  mlir::Value maxima = kb.alloc(npu::Space::ub, kb.f32(), kLanes); // 8 copies of the row's max
  mlir::Value sums = kb.alloc(npu::Space::ub, kb.f32(), kLanes);   // 8 copies of 1 / its sum (LogSoftmax: its log)
  mlir::Value tail = kb.alloc(npu::Space::ub, kb.f32(), kLanes);   // the row's last 8 values

  // x - max, then exp(.) / sum, or . - ln sum, over `repeats` repeats of `w`.
  auto normalise = [&](mlir::Value w, int64_t repeats) {
    overRepeats(kb, "vsub.f32", {w, w}, repeats, maxima);
    if (log) {
      overRepeats(kb, "vsub.f32", {w, w}, repeats, sums);
    } else {
      overRepeats(kb, "vexp.f32", {w, w}, repeats);
      overRepeats(kb, "vmul.f32", {w, w}, repeats, sums);
    }
  };
  auto row = [&](mlir::Value r) -> Status {
    mlir::Value start = kb.mul(r, k.r);
    const bool split = pieces.last != pieces.piece;
    // A piece into `set`, the lanes past the row -inf (neither the max nor the sum of exp sees them).
    auto load = [&](mlir::Value p, int set, bool lastPiece) {
      const int64_t n = lastPiece ? pieces.last : pieces.piece;
      kb.dma(kb.arg(0), kb.add(start, kb.mul(p, pieces.piece)), piece[set], kb.index(0), roundUp(n, 8));
      fillPastRows(kb, piece[set], n, -inf);
      return ceilDiv(n, kLanes);
    };
    kb.vector("vdup.f32", {accumulator, kb.f32Value(-inf)}, 1, {});
    auto maxPass = [&](mlir::Value p, int set, bool lastPiece) -> Status {
      const int64_t repeats = load(p, set, lastPiece);
      combineIntoFirstRepeat(kb, "vmax.f32", piece[set], repeats);
      kb.vector("vmax.f32", {accumulator, accumulator, piece[set]}, 1, {});
      return Status::success();
    };
    if (Status s = kb.pairLoop(kb.index(0), pieces.count, kb.index(1), split, maxPass); !s) return s;
    kb.vector("vcmax.f32", {maxima, accumulator}, 8, {{"src_rep", 0}});
    kb.vector("vdup.f32", {accumulator, kb.f32Value(0.0f)}, 1, {});
    auto sumPass = [&](mlir::Value p, int set, bool lastPiece) -> Status {
      const int64_t repeats = load(p, set, lastPiece);
      overRepeats(kb, "vsub.f32", {piece[set], piece[set]}, repeats, maxima);
      overRepeats(kb, "vexp.f32", {piece[set], piece[set]}, repeats);
      combineIntoFirstRepeat(kb, "vadd.f32", piece[set], repeats);
      kb.vector("vadd.f32", {accumulator, accumulator, piece[set]}, 1, {});
      return Status::success();
    };
    if (Status s = kb.pairLoop(kb.index(0), pieces.count, kb.index(1), split, sumPass); !s) return s;
    kb.vector("vcadd.f32", {sums, accumulator}, 8, {{"src_rep", 0}});
    kb.vector(log ? "vln.f32" : "vrec.f32", {sums, sums}, 1, {});
    auto writePass = [&](mlir::Value p, int set, bool lastPiece) -> Status {
      normalise(piece[set], load(p, set, lastPiece));
      const int64_t stored = lastPiece ? lastHead : pieces.piece;
      if (stored) kb.dma(piece[set], kb.index(0), kb.arg(1), kb.add(start, kb.mul(p, pieces.piece)), stored);
      return Status::success();
    };
    if (Status s = kb.pairLoop(kb.index(0), pieces.count, kb.index(1), split, writePass); !s) return s;
    if (k.r % 8) {
      kb.dma(kb.arg(0), kb.add(start, k.r - 8), tail, kb.index(0), 8);
      normalise(tail, 1);
      kb.dma(tail, kb.index(0), kb.arg(1), kb.add(start, k.r - 8), 8);
    }
    return Status::success();
  };
  if (Status s = kb.forEachItem(k.outer, row); !s) return s.error();
  return kb.finish(k.name + ": " + (log ? "log-softmax" : "softmax") + " of " + std::to_string(k.outer) + " rows of " +
                   std::to_string(k.r) + " values, a row per item on " + std::to_string(blockDim) +
                   " block(s), each read three times in " + std::to_string(pieces.count) + " piece(s) of up to " +
                   std::to_string(pieces.piece) + " values");
}

} // namespace fractal::codegen
