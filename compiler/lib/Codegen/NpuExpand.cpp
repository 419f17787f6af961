// Numpy broadcasting by DMA through the npu dialect (KernelTemplates.h, ExpandKernel).
#include "NpuBuilder.h"

#include "EmitUtil.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace fractal::codegen {

using emit::ceilDiv;
using emit::roundUp;

Expected<GeneratedKernel> generateExpand(const ChipConfig &config, const ExpandKernel &k) {
  if (k.shape.size() != k.strides.size())
    return Error::internal(k.name + ": expand needs one source stride per output axis");
  // Merge axes (inner to outer): size-1 axes vanish; neighbours merge when both broadcast or
  // when the outer one's stride continues the inner one's.
  std::vector<std::pair<int64_t, int64_t>> dims; // (size, stride), innermost first
  int64_t sourceElements = 1;
  for (size_t i = k.shape.size(); i-- > 0;) {
    const int64_t size = k.shape[i], stride = k.strides[i];
    if (size == 0) return Error::badInput(k.name + ": expand of an empty tensor has no kernel");
    sourceElements += (size - 1) * stride;
    if (size == 1) continue;
    if (!dims.empty()) {
      auto &[inSize, inStride] = dims.back();
      if ((stride == 0 && inStride == 0) || (stride != 0 && stride == inStride * inSize)) {
        inSize *= size;
        continue;
      }
    }
    dims.push_back({size, stride});
  }
  if (dims.empty()) dims.push_back({1, 1});
  const int64_t run = dims.front().first;
  const bool repeat = dims.front().second == 0; // the run is one element repeated
  // Elements per DMA piece: 8192 (32 KiB) where UB holds two pieces and the chunks' element
  // buffers below (for up to `chunkRuns` short runs per item, 2 vector instructions and a DMA
  // each) with room to spare (edge, cloud); a smaller UB (a config being swept) takes shorter
  // pieces, in whole repeats, and below 512 elements fewer runs per chunk (an 8 KiB UB: 16),
  // rather than no kernel at all.
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  auto pieceFor = [&](int64_t chunkRuns) {
    return std::min<int64_t>(8192, (ub / 2 / 4 - 64 - (chunkRuns * 8 + 56) - chunkRuns * 8) / 64 * 64);
  };
  int64_t maxChunkRuns = 64;
  while (maxChunkRuns > 1 && pieceFor(maxChunkRuns) < 512) maxChunkRuns /= 2;
  const int64_t kPiece = pieceFor(maxChunkRuns);
  if (kPiece < 64)
    return Error::badInput(k.name + ": UB overflow: the expand kernel needs " +
                           std::to_string(2 * 4 * (64 + 64 + maxChunkRuns * 8 + 56 + maxChunkRuns * 8)) +
                           " bytes of UB, UB has " + std::to_string(ub));
  int64_t runs = 1;
  for (size_t d = 1; d < dims.size(); ++d) runs *= dims[d].first;
  const int64_t piecesPerRun = ceilDiv(run, kPiece), items = runs * piecesPerRun;
  const int64_t lastPiece = run - (piecesPerRun - 1) * kPiece;
  // Pieces of whole 32-byte blocks may run anywhere; others spill into the next piece, which
  // must then be stored after them: one core, ascending.
  const bool aligned = run % 8 == 0;
  const int blockDim = aligned ? int(std::min<int64_t>(config.chip.cores, items)) : 1;

  NpuKernelBuilder kb(config, k.name, k.node);
  mlir::OpBuilder &b = kb.builder();
  // Run r's source offset, from r's digits over the outer axes.
  auto sourceOf = [&](mlir::Value r) {
    mlir::Value src = kb.index(0), rest = r;
    for (size_t d = 1; d < dims.size(); ++d) {
      mlir::Value digit = b.create<mlir::arith::RemSIOp>(kb.loc(), rest, kb.index(dims[d].first));
      rest = b.create<mlir::arith::DivSIOp>(kb.loc(), rest, kb.index(dims[d].first));
      src = kb.add(src, kb.mul(digit, dims[d].second));
    }
    return src;
  };

  // Short runs in whole blocks (a [rows, 1] or [cols] operand against [rows, cols]: PP-OCRv4 rec's
  // layer-norm statistics and scales, 40 runs of 120): a run per item paid a GM round trip for a
  // few hundred bytes. Instead an item is a chunk of runs: every run's source comes in by its own
  // small DMA, back to back (a repeated element is then spread to 8 copies by a one-lane vcmax and
  // over its run by a stride-0 vmov), and the chunk leaves in one store (runs are whole blocks, so
  // the chunks may run on every core).
  if (aligned && runs > 1 && run <= kPiece / 2) {
    const int64_t perItem = std::min<int64_t>({maxChunkRuns, kPiece / run,
                                               std::max<int64_t>(1, ceilDiv(runs, 2 * int64_t(config.chip.cores)))});
    const int64_t chunks = ceilDiv(runs, perItem), tailRuns = runs - (chunks - 1) * perItem;
    kb.begin({{kb.f32(), roundUp(sourceElements, 8) + 8}, {kb.f32(), runs * run + 8}},
             int(std::min<int64_t>(config.chip.cores, chunks)));
    mlir::Value elements[2], copies[2], out[2];
    for (int set = 0; set < 2; ++set) {
      out[set] = kb.alloc(npu::Space::ub, kb.f32(), perItem * run + 64); // a run's last repeat may pass its end
      if (!repeat) continue;
      elements[set] = kb.alloc(npu::Space::ub, kb.f32(), perItem * 8 + 56); // vcmax reads a repeat (one lane on)
      copies[set] = kb.alloc(npu::Space::ub, kb.f32(), perItem * 8);
    }
    auto chunk = [&](mlir::Value c, int set, bool last) -> Status {
      const int64_t n = last ? tailRuns : perItem;
      mlir::Value first = kb.mul(c, perItem);
      if (!repeat) {
        for (int64_t j = 0; j < n; ++j) kb.dma(kb.arg(0), sourceOf(kb.add(first, j)), out[set], kb.index(j * run), run);
        kb.dma(out[set], kb.index(0), kb.arg(1), kb.mul(first, run), n * run);
        return Status::success();
      }
      for (int64_t j = 0; j < n; ++j)
        kb.dma(kb.arg(0), sourceOf(kb.add(first, j)), elements[set], kb.index(j * 8), 8);
      kb.setMask(0, 1);
      for (int64_t j = 0; j < n; ++j)
        kb.vector("vcmax.f32", {kb.view(copies[set], kb.index(j * 8), 8), kb.view(elements[set], kb.index(j * 8), 64)}, 8,
                  {{"src_rep", 0}});
      kb.setMask(-1, -1);
      // In run order: each run's last repeat spills into the next run, which its own vmov rewrites.
      for (int64_t j = 0; j < n; ++j)
        kb.vector("vmov.f32", {kb.view(out[set], kb.index(j * run), roundUp(run, 64)), kb.view(copies[set], kb.index(j * 8), 8)},
                  ceilDiv(run, 64), {{"src_blk", 0}, {"src_rep", 0}});
      kb.dma(out[set], kb.index(0), kb.arg(1), kb.mul(first, run), n * run);
      return Status::success();
    };
    if (Status s = kb.itemLoop(chunks, tailRuns != perItem, chunk); !s) return s.error();
    return kb.finish(k.name + ": broadcast, " + std::to_string(runs) + " run(s) of " + std::to_string(run) +
                     (repeat ? " copies of one element, " : " elements, ") + std::to_string(chunks) + " chunk(s) of " +
                     std::to_string(perItem) + " run(s)");
  }

  kb.begin({{kb.f32(), roundUp(sourceElements, 8) + 8}, {kb.f32(), roundUp(runs * run, 8) + 8}}, blockDim);
  mlir::Value pieceBuffer[2], element[2], copies[2];
  for (int set = 0; set < 2; ++set) {
    pieceBuffer[set] = kb.alloc(npu::Space::ub, kb.f32(), kPiece);
    if (repeat) {
      element[set] = kb.alloc(npu::Space::ub, kb.f32(), 64); // one repeat read with stride 0
      copies[set] = kb.alloc(npu::Space::ub, kb.f32(), 64);
    }
  }
  auto piece = [&](mlir::Value item, int set, bool) -> Status {
    // item = run r * piecesPerRun + piece j.
    mlir::Value r = b.create<mlir::arith::DivSIOp>(kb.loc(), item, kb.index(piecesPerRun));
    mlir::Value j = b.create<mlir::arith::RemSIOp>(kb.loc(), item, kb.index(piecesPerRun));
    mlir::Value src = sourceOf(r);
    mlir::Value dst = kb.add(kb.mul(r, run), kb.mul(j, kPiece));
    if (!repeat) src = kb.add(src, kb.mul(j, kPiece));
    // The last piece of a run may be short: a copy of the body for it.
    auto body = [&](bool last) {
      const int64_t n = last ? lastPiece : kPiece;
      const int64_t rounded = roundUp(n, 8); // whole blocks; the memory plan leaves slack after tensors
      if (!repeat) {
        kb.dma(kb.arg(0), src, pieceBuffer[set], kb.index(0), rounded);
      } else {
        kb.dma(kb.arg(0), src, element[set], kb.index(0), 8);
        kb.setMask(0, 1);
        kb.vector("vcmax.f32", {copies[set], element[set]}, 8, {{"src_rep", 0}});
        kb.setMask(-1, -1);
        kb.vector("vmov.f32", {pieceBuffer[set], copies[set]}, ceilDiv(n, 64), {{"src_blk", 0}, {"src_rep", 0}});
      }
      kb.dma(pieceBuffer[set], kb.index(0), kb.arg(1), dst, rounded);
      return Status::success();
    };
    return lastPiece == kPiece ? body(false) : kb.splitLast(j, piecesPerRun - 1, body);
  };
  if (Status s = kb.itemLoop(items, false, piece); !s) return s.error();
  return kb.finish(k.name + ": broadcast, " + std::to_string(runs) + " run(s) of " + std::to_string(run) +
                   (repeat ? " copies of one element" : " elements") + ", " + std::to_string(items) + " piece(s)" +
                   (aligned ? "" : ", one core"));
}

} // namespace fractal::codegen
