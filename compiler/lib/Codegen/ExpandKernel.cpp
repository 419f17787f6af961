// Numpy broadcasting by DMA (KernelTemplates.h, ExpandKernel). Register use: x2 source, x3 output,
// x8/x9 addresses, x10..x12 UB operands, x15/x16 mask words.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include <sstream>

namespace fractal::codegen {

using emit::ceilDiv;

Expected<GeneratedKernel> generateExpand(const ChipConfig &config, const ExpandKernel &k) {
  if (k.shape.size() != k.strides.size())
    return Error::internal(k.name + ": expand needs one source stride per output axis");
  // Merge axes (inner to outer): size-1 axes vanish; neighbours merge when both broadcast or
  // when the outer one's stride continues the inner one's.
  std::vector<std::pair<int64_t, int64_t>> dims; // (size, stride), innermost first
  for (size_t i = k.shape.size(); i-- > 0;) {
    const int64_t size = k.shape[i], stride = k.strides[i];
    if (size == 0) return Error::badInput(k.name + ": expand of an empty tensor has no kernel");
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
  int64_t runs = 1;
  for (size_t d = 1; d < dims.size(); ++d) runs *= dims[d].first;
  const int64_t pieces = runs * ceilDiv(run, kPiece);
  if (pieces > kMaxExpandPieces)
    return Error::badInput(k.name + ": broadcast needs " + std::to_string(pieces) + " DMA pieces, more than the " +
                           std::to_string(kMaxExpandPieces) + " an unrolled expand kernel takes");
  if (config.buffer(BufferKind::UB).sizeBytes < 2 * kPiece * 4 + 512)
    return Error::badInput(k.name + ": UB overflow: the expand kernel needs " + std::to_string(2 * kPiece * 4 + 512) +
                           " bytes of UB");
  const int64_t element = 2 * kPiece * 4, block = element + 256; // UB: run | element | 8 copies

  std::ostringstream s;
  s << "# " << k.name << ": broadcast, " << runs << " run(s) of " << run << (repeat ? " copies of one element" : " elements")
    << ", one core\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n";
  s << "  li x15, 1\n  li x16, -1\n";
  std::vector<int64_t> index(dims.size(), 0);
  for (int64_t r = 0; r < runs; ++r) {
    int64_t src = 0;
    for (size_t d = 1; d < dims.size(); ++d) src += index[d] * dims[d].second;
    for (int64_t done = 0; done < run; done += kPiece) {
      const int64_t n = std::min(kPiece, run - done), dst = r * run + done;
      s << "  li x8, " << (src + (repeat ? 0 : done)) * 4 << "\n  add x8, x8, x2\n  li x9, " << dst * 4
        << "\n  add x9, x9, x3\n";
      if (!repeat) {
        s << "  gm2ub ub[x0], gm[x8], len=" << ceilDiv(n * 4, 32) << "\n  set_flag mte2, mte3, 0\n  wait_flag mte2, mte3, 0\n"
          << "  ub2gm gm[x9], ub[x0], len=" << ceilDiv(n * 4, 32) << "\n  set_flag mte3, mte2, 0\n  wait_flag mte3, mte2, 0\n";
        continue;
      }
      s << "  li x10, " << element << "\n  li x11, " << block << "\n  gm2ub ub[x10], gm[x8], len=1\n"
        << "  set_flag mte2, v, 0\n  wait_flag mte2, v, 0\n"
        << "  setmask x0, x15\n  vcmax.f32 ub[x11], ub[x10], repeat=8, src_rep=0\n  setmask x16, x16\n"
        << "  vmov.f32 ub[x0], ub[x11], repeat=" << ceilDiv(n, 64) << ", src_blk=0, src_rep=0\n"
        << "  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n  ub2gm gm[x9], ub[x0], len=" << ceilDiv(n * 4, 32) << "\n"
        // The next piece's element load waits for this store (which waited for V); V's next
        // writes wait for it too.
        << "  set_flag mte3, v, 0\n  wait_flag mte3, v, 0\n  set_flag mte3, mte2, 0\n  wait_flag mte3, mte2, 0\n";
    }
    for (size_t d = 1; d < dims.size(); ++d) { // odometer over the outer axes
      if (++index[d] < dims[d].first) break;
      index[d] = 0;
    }
  }
  s << "  end\n";
  return GeneratedKernel{s.str(), 1};
}

} // namespace fractal::codegen
