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
  constexpr int64_t kPiece = 8192;              // elements per DMA piece (32 KiB of UB)
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes, need = 2 * (kPiece * 4 + 512);
  if (ub < need)
    return Error::badInput(k.name + ": UB overflow: the expand kernel needs " + std::to_string(need) +
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
  kb.begin({{kb.f32(), roundUp(sourceElements, 8) + 8}, {kb.f32(), roundUp(runs * run, 8) + 8}}, blockDim);
  mlir::OpBuilder &b = kb.builder();
  mlir::Value pieceBuffer[2], element[2], copies[2];
  for (int set = 0; set < 2; ++set) {
    pieceBuffer[set] = kb.alloc(npu::Space::ub, kb.f32(), kPiece);
    if (repeat) {
      element[set] = kb.alloc(npu::Space::ub, kb.f32(), 64); // one repeat read with stride 0
      copies[set] = kb.alloc(npu::Space::ub, kb.f32(), 64);
    }
  }
  auto constant = [&](int64_t v) { return b.create<mlir::arith::ConstantOp>(kb.loc(), b.getI64IntegerAttr(v)); };
  auto piece = [&](mlir::Value item, int set, bool) -> Status {
    // item = run r * piecesPerRun + piece j; the run's source offset from r's digits over the
    // outer axes.
    mlir::Value r = b.create<mlir::arith::DivSIOp>(kb.loc(), item, kb.index(piecesPerRun));
    mlir::Value j = b.create<mlir::arith::RemSIOp>(kb.loc(), item, kb.index(piecesPerRun));
    mlir::Value src = kb.index(0), rest = r;
    for (size_t d = 1; d < dims.size(); ++d) {
      mlir::Value digit = b.create<mlir::arith::RemSIOp>(kb.loc(), rest, kb.index(dims[d].first));
      rest = b.create<mlir::arith::DivSIOp>(kb.loc(), rest, kb.index(dims[d].first));
      src = kb.add(src, kb.mul(digit, dims[d].second));
    }
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
        b.create<npu::SetMaskOp>(kb.loc(), constant(0), constant(1));
        kb.vector("vcmax.f32", {copies[set], element[set]}, 8, {{"src_rep", 0}});
        b.create<npu::SetMaskOp>(kb.loc(), constant(-1), constant(-1));
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
