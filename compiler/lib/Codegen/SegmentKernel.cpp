// Data movement by byte segments (KernelTemplates.h, SegmentCopyKernel). Register use: x3 output,
// x8/x9 addresses, x10 UB copy buffer, x11 UB fill buffer, x16 fill word, x17.. the sources.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include <sstream>

namespace fractal::codegen {

using emit::ceilDiv;

Expected<GeneratedKernel> generateSegmentCopy(const ChipConfig &config, const SegmentCopyKernel &k) {
  constexpr int64_t kPiece = 32 * 1024; // bytes per DMA piece
  if (config.buffer(BufferKind::UB).sizeBytes < 2 * kPiece)
    return Error::badInput(k.name + ": UB overflow: the segment copy kernel needs " + std::to_string(2 * kPiece) +
                           " bytes of UB");
  // Merge neighbours (a copy continuing a copy, a fill after a fill) and check the tiling.
  std::vector<SegmentCopyKernel::Segment> merged;
  int64_t at = 0;
  for (const SegmentCopyKernel::Segment &sg : k.segments) {
    if (sg.dst != at || sg.bytes < 0)
      return Error::internal(k.name + ": segments must tile the output in ascending order (gap or overlap at byte " +
                             std::to_string(at) + ")");
    at += sg.bytes;
    if (sg.bytes == 0) continue;
    if (!merged.empty()) {
      SegmentCopyKernel::Segment &last = merged.back();
      const bool fills = last.src < 0 && sg.src < 0;
      const bool copies = last.src >= 0 && sg.src >= 0 && last.source == sg.source && last.src + last.bytes == sg.src;
      if (fills || copies) {
        last.bytes += sg.bytes;
        continue;
      }
    }
    merged.push_back(sg);
  }
  if (k.numSources < 1 || k.numSources > 12)
    return Error::internal(k.name + ": a segment kernel takes 1 to 12 sources");
  for (const auto &sg : merged)
    if (sg.src >= 0 && (sg.source < 0 || sg.source >= k.numSources))
      return Error::internal(k.name + ": a segment names source " + std::to_string(sg.source));
  if (at != k.totalBytes)
    return Error::internal(k.name + ": segments cover " + std::to_string(at) + " of " + std::to_string(k.totalBytes) +
                           " output bytes");
  int64_t pieces = 0;
  bool fills = false;
  for (const auto &sg : merged) {
    pieces += ceilDiv(sg.bytes, kPiece);
    fills |= sg.src < 0;
  }
  if (pieces > kMaxSegmentPieces)
    return Error::badInput(k.name + ": data movement needs " + std::to_string(pieces) + " DMA pieces, more than the " +
                           std::to_string(kMaxSegmentPieces) + " an unrolled segment kernel takes");

  std::ostringstream s;
  s << "# " << k.name << ": " << merged.size() << " segment(s), " << pieces << " DMA piece(s), one core\n.node \""
    << k.node << "\"\n.text\n  mfsr x1, args\n";
  for (int i = 0; i < k.numSources; ++i) s << "  ld x" << 17 + i << ", gm[x1], offset=" << 8 * i << "\n";
  s << "  ld x3, gm[x1], offset=" << 8 * k.numSources << "\n  li x10, 0\n  li x11, " << kPiece << "\n";
  if (fills)
    s << "  li x16, " << k.fillWord << "\n  vdup.s32 ub[x11], x16, repeat=" << kPiece / 256
      << "\n  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n";
  for (const auto &sg : merged)
    for (int64_t done = 0; done < sg.bytes; done += kPiece) {
      const int64_t n = std::min(kPiece, sg.bytes - done), blocks = ceilDiv(n, 32);
      s << "  li x9, " << sg.dst + done << "\n  add x9, x9, x3\n";
      if (sg.src < 0) {
        s << "  ub2gm gm[x9], ub[x11], len=" << blocks << "\n";
        continue;
      }
      s << "  li x8, " << sg.src + done << "\n  add x8, x8, x" << 17 + sg.source << "\n  gm2ub ub[x10], gm[x8], len=" << blocks
        << "\n  set_flag mte2, mte3, 0\n  wait_flag mte2, mte3, 0\n  ub2gm gm[x9], ub[x10], len=" << blocks
        << "\n  set_flag mte3, mte2, 0\n  wait_flag mte3, mte2, 0\n";
    }
  s << "  end\n";
  return GeneratedKernel{s.str(), 1};
}

} // namespace fractal::codegen
