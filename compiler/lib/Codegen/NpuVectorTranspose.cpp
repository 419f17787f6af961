// Float32 batched 2-D transposes on the vector unit, through the npu dialect
// (VectorTransposeKernel in KernelTemplates.h): the permutations whose innermost axis moves, which
// DMA can only copy element by element.
//
// A work item is a tile of rows x (up to 248) columns of one matrix: its rows come into UB, a
// whole number of blocks apart (one strided DMA when the rows are whole blocks in GM, else a DMA
// per row); each result row is one vcgmax under a mask enabling one lane per block, which takes
// that lane of 8 rows per repeat; the result rows leave in one strided DMA when they are whole
// blocks, else one by one, each spilling up to 28 bytes past its end into the next one's place,
// which its later store on the same core overwrites. Items alternate between two buffer sets and,
// when no store spills (rows of whole blocks), go over the cores.
#include "NpuBuilder.h"

#include "EmitUtil.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <algorithm>

namespace fractal::codegen {

using emit::ceilDiv;
using emit::roundUp;

Expected<GeneratedKernel> generateVectorTranspose(const ChipConfig &config, const VectorTransposeKernel &k) {
  if (k.batch < 1 || k.rows < 1 || k.cols < 1) return Error::badInput(k.name + ": a transpose of no elements has no kernel");
  constexpr int64_t kMaxCols = 248;  // a tile row of at most 31 blocks: the repeat stride (8 rows) fits 255
  constexpr int64_t kMaxRows = 2040; // 255 repeats of 8 rows
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t tileCols = std::min(k.cols, kMaxCols), rowBlocks = ceilDiv(tileCols, 8);
  // Rows per tile: all of them when two buffer sets of the tile and its result fit, else a
  // multiple of 8.
  int64_t tileRows = std::min(k.rows, kMaxRows);
  auto fits = [&](int64_t r) { return 2 * (roundUp(r, 8) * rowBlocks * 32 + tileCols * ceilDiv(r, 8) * 32) <= ub; };
  while (tileRows > 8 && !fits(tileRows)) tileRows = (tileRows - 1) / 8 * 8;
  if (!fits(tileRows) || (tileRows < k.rows && k.rows % 8))
    return Error::badInput(k.name + ": a transpose of " + std::to_string(k.rows) + " x " + std::to_string(k.cols) +
                           " whose rows need several UB tiles and are not whole 32-byte blocks has no vector kernel");
  const int64_t resultBlocks = ceilDiv(tileRows, 8); // a result row's blocks in UB
  const int64_t rowTiles = ceilDiv(k.rows, tileRows), colTiles = ceilDiv(k.cols, tileCols);
  const int64_t lastRows = k.rows - (rowTiles - 1) * tileRows, lastCols = k.cols - (colTiles - 1) * tileCols;
  const int64_t items = k.batch * rowTiles * colTiles;
  const bool wholeResultRows = k.rows % 8 == 0; // no store spills: items on every core
  const int blockDim = wholeResultRows ? int(std::min<int64_t>(config.chip.cores, items)) : 1;

  NpuKernelBuilder kb(config, k.name, k.node);
  const int64_t elements = k.batch * k.rows * k.cols;
  kb.begin({{kb.f32(), elements + 8}, {kb.f32(), elements + 8}}, blockDim);
  mlir::OpBuilder &b = kb.builder();
  mlir::Value tile[2], result[2];
  for (int set = 0; set < 2; ++set) {
    tile[set] = kb.alloc(npu::Space::ub, kb.f32(), roundUp(tileRows, 8) * rowBlocks * 8); // whole repeats of 8 rows
    result[set] = kb.alloc(npu::Space::ub, kb.f32(), tileCols * resultBlocks * 8);
  }
  auto at = [&](mlir::Value buffer, int64_t offset, int64_t count) { return kb.view(buffer, kb.index(offset), count); };

  // One tile: matrix `m`, rows from r0, columns from c0; `rows` x `cols` of them.
  auto transposeTile = [&](mlir::Value m, mlir::Value r0, mlir::Value c0, int64_t rows, int64_t cols, int set) {
    const int64_t blocks = ceilDiv(cols, 8), repeats = ceilDiv(rows, 8);
    mlir::Value from = kb.add(kb.add(kb.mul(m, k.rows * k.cols), kb.mul(r0, k.cols)), c0);
    if (k.cols % 8 == 0) {
      kb.instruction<npu::CopyOp>("gm2ub", {tile[set], kb.view(kb.arg(0), from, (rows - 1) * k.cols + blocks * 8)},
                                  {{"nburst", rows}, {"len", blocks}, {"src_gap", k.cols / 8 - blocks},
                                   {"dst_gap", rowBlocks - blocks}});
    } else {
      for (int64_t i = 0; i < rows; ++i) // a row's last block reads past it: the next row, or the tail slack
        kb.dma(kb.arg(0), kb.add(from, i * k.cols), tile[set], kb.index(i * rowBlocks * 8), blocks * 8);
    }
    // Result row c: lane c % 8 of block c / 8 of every row.
    for (int64_t lane = 0; lane < 8 && lane < cols; ++lane) {
      kb.setMask(0, int64_t(0x0101010101010101ull << lane));
      for (int64_t j = 0; 8 * j + lane < cols; ++j)
        kb.vector("vcgmax.f32",
                  {at(result[set], (8 * j + lane) * resultBlocks * 8, repeats * 8),
                   at(tile[set], j * 8, roundUp(rows, 8) * rowBlocks * 8 - j * 8)},
                  repeats, {{"src_blk", rowBlocks}, {"src_rep", 8 * rowBlocks}});
    }
    kb.setMask(-1, -1);
    mlir::Value to = kb.add(kb.add(kb.mul(m, k.rows * k.cols), kb.mul(c0, k.rows)), r0);
    if (wholeResultRows) {
      kb.instruction<npu::CopyOp>("ub2gm", {kb.view(kb.arg(1), to, (cols - 1) * k.rows + repeats * 8), result[set]},
                                  {{"nburst", cols}, {"len", repeats}, {"src_gap", resultBlocks - repeats},
                                   {"dst_gap", k.rows / 8 - repeats}});
    } else {
      for (int64_t c = 0; c < cols; ++c) // ascending: each overwrites the previous one's spill
        kb.dma(result[set], kb.index(c * resultBlocks * 8), kb.arg(1), kb.add(to, c * k.rows), repeats * 8);
    }
  };
  auto item = [&](mlir::Value it, int set, bool) -> Status {
    mlir::Value ct = b.create<mlir::arith::RemSIOp>(kb.loc(), it, kb.index(colTiles));
    mlir::Value rest = b.create<mlir::arith::DivSIOp>(kb.loc(), it, kb.index(colTiles));
    mlir::Value rt = b.create<mlir::arith::RemSIOp>(kb.loc(), rest, kb.index(rowTiles));
    mlir::Value m = b.create<mlir::arith::DivSIOp>(kb.loc(), rest, kb.index(rowTiles));
    mlir::Value r0 = kb.mul(rt, tileRows), c0 = kb.mul(ct, tileCols);
    // A short last row tile and a narrow last column tile get their own copies of the body.
    auto withCols = [&](int64_t rows) -> Status {
      if (lastCols == tileCols) {
        transposeTile(m, r0, c0, rows, tileCols, set);
        return Status::success();
      }
      return kb.splitLast(ct, colTiles - 1, [&](bool last) {
        transposeTile(m, r0, c0, rows, last ? lastCols : tileCols, set);
        return Status::success();
      });
    };
    if (lastRows == tileRows) return withCols(tileRows);
    return kb.splitLast(rt, rowTiles - 1, [&](bool last) { return withCols(last ? lastRows : tileRows); });
  };
  if (Status s = kb.itemLoop(items, false, item); !s) return s.error();
  return kb.finish(k.name + ": transpose of " + std::to_string(k.batch) + " x [" + std::to_string(k.rows) + ", " +
                   std::to_string(k.cols) + "] float32 on the vector unit, tiles of " + std::to_string(tileRows) + " x " +
                   std::to_string(tileCols) + ", " + std::to_string(items) + " item(s) on " + std::to_string(blockDim) +
                   " block(s)");
}

} // namespace fractal::codegen
