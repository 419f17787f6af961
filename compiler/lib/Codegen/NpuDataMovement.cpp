// Data-movement kernels lowered through the npu dialect (NpuBuilder.h): each work item's data
// passes through one of two UB buffers, so that sync injection overlaps one item's load with
// the previous item's stores.
#include "NpuBuilder.h"

namespace fractal::codegen {

// One input row of the transposed convolution's output (w pixels of f*f*cp channels) is loaded
// whole, and leaves as f output rows, each a strided DMA of w bursts of f*cp channels.
Expected<GeneratedKernel> generatePixelShuffle(const ChipConfig &config, const PixelShuffleKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes, cb = k.cp / 16, f = k.f;
  const int64_t rowElements = k.w * f * f * k.cp, rowBytes = rowElements * 2;
  if (rowBytes > ub)
    return Error::badInput(k.name + ": UB overflow: one row of the transposed convolution needs " +
                           std::to_string(rowBytes) + " bytes, UB has " + std::to_string(ub));
  const int64_t items = k.n * k.h, wo = k.w * f;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  NpuKernelBuilder kb(config, k.name, k.node);
  kb.begin({{kb.f16(), items * rowElements}, {kb.f16(), items * f * wo * k.cp}}, blockDim);
  // Two row buffers when they fit, else one (the loads and stores of consecutive rows then wait
  // for each other).
  mlir::Value rows[2];
  rows[0] = kb.alloc(npu::Space::ub, kb.f16(), rowElements);
  rows[1] = 2 * rowBytes <= ub ? kb.alloc(npu::Space::ub, kb.f16(), rowElements) : rows[0];
  const int64_t storeSpan = ((k.w - 1) * f * f * cb + f * cb) * 16; // elements a strided store reads
  auto row = [&](mlir::Value item, int set, bool) -> Status {
    kb.dma(kb.arg(0), kb.mul(item, rowElements), rows[set], kb.index(0), rowElements);
    mlir::Value outRow = kb.mul(item, f * wo * k.cp);
    for (int64_t a = 0; a < f; ++a)
      kb.instruction<npu::CopyOp>("ub2gm",
                                  {kb.view(kb.arg(1), kb.add(outRow, a * wo * k.cp), k.w * f * k.cp),
                                   kb.view(rows[set], kb.index(a * f * k.cp), storeSpan)},
                                  {{"nburst", k.w}, {"len", f * cb}, {"src_gap", (f - 1) * f * cb}});
    return Status::success();
  };
  if (Status s = kb.itemLoop(items, false, row); !s) return s.error();
  return kb.finish(k.name + ": pixel shuffle x" + std::to_string(f) + " into NHWC16 " + std::to_string(k.n) + "x" +
                   std::to_string(k.h * f) + "x" + std::to_string(wo) + "x" + std::to_string(k.cp));
}

} // namespace fractal::codegen
