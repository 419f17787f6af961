// Float32 batched 2-D transposes on the vector unit (VectorTransposeKernel in KernelTemplates.h):
// the permutations whose innermost axis moves, which DMA can only copy element by element.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include <algorithm>
#include <sstream>

namespace fractal::codegen {

// Argument order: input, result. UB: the input tile (tileRows rows of rowBlocks blocks) at 0, the
// result tile (tileCols rows of resultBlocks blocks) after it.
Expected<GeneratedKernel> generateVectorTranspose(const ChipConfig &config, const VectorTransposeKernel &k) {
  if (k.batch < 1 || k.rows < 1 || k.cols < 1) return Error::badInput(k.name + ": a transpose of no elements has no kernel");
  constexpr int64_t kMaxCols = 248;   // a tile row of at most 31 blocks: the repeat stride (8 rows) fits 255
  constexpr int64_t kMaxRows = 2040;  // 255 repeats of 8 rows
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t tileCols = std::min(k.cols, kMaxCols), rowBlocks = (tileCols + 7) / 8;
  // Rows per tile: all of them when they fit (with the result tile), else a multiple of 8.
  int64_t tileRows = std::min(k.rows, kMaxRows);
  auto fits = [&](int64_t r) { return r * rowBlocks * 32 + tileCols * ((r + 7) / 8) * 32 <= ub; };
  while (tileRows > 8 && !fits(tileRows)) tileRows = (tileRows - 1) / 8 * 8;
  if (!fits(tileRows) || (tileRows < k.rows && k.rows % 8))
    return Error::badInput(k.name + ": a transpose of " + std::to_string(k.rows) + " x " + std::to_string(k.cols) +
                           " whose rows need several UB tiles and are not whole 32-byte blocks has no vector kernel");
  const int64_t resultBlocks = (tileRows + 7) / 8, resultAt = tileRows * rowBlocks * 32;
  std::ostringstream s;
  s << "# " << k.name << ": transpose of " << k.batch << " x [" << k.rows << ", " << k.cols
    << "] float32 on the vector unit, tiles of " << tileRows << " x " << tileCols << "\n.node \"" << k.node
    << "\"\n.text\n  mfsr x1, args\n  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n";
  int labels = 0;
  for (int64_t b = 0; b < k.batch; ++b)
    for (int64_t r0 = 0; r0 < k.rows; r0 += tileRows)
      for (int64_t c0 = 0; c0 < k.cols; c0 += tileCols) {
        const int64_t rows = std::min(tileRows, k.rows - r0), cols = std::min(tileCols, k.cols - c0);
        const int64_t blocks = (cols + 7) / 8;
        // The tile's rows into UB, rowBlocks apart (a loop: one burst per row; a row's last block
        // may read past the tensor, which the plan's tail slack covers).
        const std::string load = "load" + std::to_string(labels++);
        s << "  li x8, 0\n  li x9, " << ((b * k.rows + r0) * k.cols + c0) * 4 << "\n  add x9, x9, x2\n  li x10, " << rows
          << "\n" << load << ":\n  gm2ub ub[x8], gm[x9], len=" << blocks << "\n  addi x8, x8, " << rowBlocks * 32
          << "\n  addi x9, x9, " << k.cols * 4 << "\n  dbnz x10, " << load << "\n";
        s << "  set_flag mte2, v, 0\n  wait_flag mte2, v, 0\n";
        // Result row c (column c of the tile): lane c % 8 of block c / 8 of every row.
        for (int64_t lane = 0; lane < 8 && lane < cols; ++lane) {
          s << "  li x11, " << int64_t(0x0101010101010101ull << lane) << "\n  setmask x0, x11\n";
          for (int64_t j = 0; 8 * j + lane < cols; ++j)
            s << "  li x12, " << resultAt + (8 * j + lane) * resultBlocks * 32 << "\n  li x13, " << j * 32
              << "\n  vcgmax.f32 ub[x12], ub[x13], repeat=" << (rows + 7) / 8 << ", src_blk=" << rowBlocks
              << ", src_rep=" << 8 * rowBlocks << "\n";
        }
        s << "  li x11, -1\n  setmask x11, x11\n  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n";
        // Result rows in ascending order, each over the next one's start at most.
        const std::string store = "store" + std::to_string(labels++);
        s << "  li x8, " << resultAt << "\n  li x9, " << ((b * k.cols + c0) * k.rows + r0) * 4 << "\n  add x9, x9, x3\n  li x10, "
          << cols << "\n" << store << ":\n  ub2gm gm[x9], ub[x8], len=" << (rows + 7) / 8 << "\n  addi x8, x8, "
          << resultBlocks * 32 << "\n  addi x9, x9, " << k.rows * 4 << "\n  dbnz x10, " << store << "\n";
        s << "  set_flag mte3, mte2, 0\n  wait_flag mte3, mte2, 0\n";
      }
  s << "  end\n";
  return GeneratedKernel{s.str(), 1};
}

} // namespace fractal::codegen
