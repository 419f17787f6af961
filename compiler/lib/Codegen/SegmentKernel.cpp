// Data movement by byte segments (KernelTemplates.h, SegmentCopyKernel). Register use: x3 output,
// x5/x6 the core's part, x8/x9 addresses, x10 UB copy buffer, x11 UB fill buffer, x16 fill word,
// x17.. the sources.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include <sstream>

namespace fractal::codegen {

using emit::ceilDiv;

Expected<GeneratedKernel> generateSegmentCopy(const ChipConfig &config, const SegmentCopyKernel &k) {
  constexpr int64_t kPiece = 32 * 1024; // bytes per DMA piece
  constexpr size_t kBatchPieces = 32;    // pieces sharing a buffer and its flags
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
  // The DMA pieces: segments in runs of at most kPiece bytes.
  struct Piece {
    const SegmentCopyKernel::Segment *sg;
    int64_t done;
  };
  std::vector<Piece> all;
  bool fills = false;
  for (const auto &sg : merged) {
    for (int64_t done = 0; done < sg.bytes; done += kPiece) all.push_back({&sg, done});
    fills |= sg.src < 0;
  }
  const int64_t pieces = int64_t(all.size());
  if (pieces > kMaxSegmentPieces)
    return Error::badInput(k.name + ": data movement needs " + std::to_string(pieces) + " DMA pieces, more than the " +
                           std::to_string(kMaxSegmentPieces) + " an unrolled segment kernel takes");

  // Copies rotate through `slots` UB buffers, each with its own pair of flags, so that a piece's
  // load overlaps the previous pieces' stores (one buffer serialised every piece on the GM round
  // trip: ~480 cycles for PP-OCRv4 rec's 60-byte attention rows). The pieces are split between
  // the cores in contiguous runs (at least 16 pieces each), every core with its own buffers.
  const int64_t ubBytes = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t slots = std::min<int64_t>(4, ubBytes / kPiece - (fills ? 1 : 0));
  const int64_t fillAt = slots * kPiece;
  // Stores write whole 32-byte blocks, spilling past an unaligned piece's end into the following
  // pieces' bytes (several, when they are small), which their later, in-order stores overwrite.
  // So a core's run may only start at a piece that no earlier piece's store reaches into: another
  // core's stores are not ordered with it.
  std::vector<int64_t> reach(all.size()); // the furthest byte written by pieces 0..i
  for (size_t i = 0; i < all.size(); ++i) {
    const Piece &q = all[i];
    const int64_t end = q.sg->dst + q.done + ceilDiv(std::min(kPiece, q.sg->bytes - q.done), 32) * 32;
    reach[i] = std::max(i ? reach[i - 1] : 0, end);
  }
  auto startsClean = [&](size_t i) { return reach[i - 1] <= all[i].sg->dst + all[i].done; };
  const int64_t wanted = std::max<int64_t>(1, std::min<int64_t>(config.chip.cores, int64_t(all.size()) / 16));
  std::vector<size_t> starts{0};
  for (int64_t p = 1; p < wanted; ++p) {
    size_t at = std::max(size_t(int64_t(all.size()) * p / wanted), starts.back() + 1);
    while (at < all.size() && !startsClean(at)) ++at;
    if (at < all.size()) starts.push_back(at);
  }
  const int64_t parts = int64_t(starts.size());
  starts.push_back(all.size());

  std::ostringstream s;
  s << "# " << k.name << ": " << merged.size() << " segment(s), " << pieces << " DMA piece(s), " << parts
    << " core(s), " << slots << " UB buffers\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  for (int i = 0; i < k.numSources; ++i) s << "  ld x" << 17 + i << ", gm[x1], offset=" << 8 * i << "\n";
  s << "  ld x3, gm[x1], offset=" << 8 * k.numSources << "\n  li x11, " << fillAt << "\n";
  if (fills)
    s << "  li x16, " << k.fillWord << "\n  vdup.s32 ub[x11], x16, repeat=" << kPiece / 256
      << "\n  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n";
  if (parts > 1) {
    s << "  mfsr x5, block_idx\n";
    for (int64_t p = 1; p < parts; ++p) s << "  li x6, " << p << "\n  beq x5, x6, part" << p << "\n";
  }
  for (int64_t p = 0; p < parts; ++p) {
    if (p > 0) s << "part" << p << ":\n";
    const size_t first = starts[size_t(p)], last = starts[size_t(p) + 1];
    for (int64_t slot = 0; slot < slots; ++slot) s << "  set_flag mte3, mte2, " << slot << "\n"; // every buffer free
    // Batches of consecutive pieces share a buffer (their loads at successive block offsets) and
    // one pair of flags: a flag after every small store would wait out its GM write each time.
    int64_t next = 0;
    for (size_t i = first; i < last;) {
      size_t end = i;
      int64_t used = 0;
      while (end < last && end - i < kBatchPieces) {
        const Piece &q = all[end];
        const int64_t bytes = q.sg->src < 0 ? 0 : ceilDiv(std::min(kPiece, q.sg->bytes - q.done), 32) * 32;
        if (end > i && used + bytes > kPiece) break;
        used += bytes;
        ++end;
      }
      const int64_t slot = next % slots;
      const bool copies = used > 0;
      if (copies) {
        ++next;
        s << "  wait_flag mte3, mte2, " << slot << "\n";
        int64_t offset = slot * kPiece;
        for (size_t j = i; j < end; ++j) {
          const SegmentCopyKernel::Segment &sg = *all[j].sg;
          if (sg.src < 0) continue;
          const int64_t blocks = ceilDiv(std::min(kPiece, sg.bytes - all[j].done), 32);
          s << "  li x8, " << sg.src + all[j].done << "\n  add x8, x8, x" << 17 + sg.source << "\n  li x10, " << offset
            << "\n  gm2ub ub[x10], gm[x8], len=" << blocks << "\n";
          offset += blocks * 32;
        }
        s << "  set_flag mte2, mte3, " << slot << "\n  wait_flag mte2, mte3, " << slot << "\n";
      }
      int64_t offset = slot * kPiece;
      for (size_t j = i; j < end; ++j) { // stores in piece order (each overwrites the previous spill)
        const SegmentCopyKernel::Segment &sg = *all[j].sg;
        const int64_t blocks = ceilDiv(std::min(kPiece, sg.bytes - all[j].done), 32);
        s << "  li x9, " << sg.dst + all[j].done << "\n  add x9, x9, x3\n";
        if (sg.src < 0) {
          s << "  ub2gm gm[x9], ub[x11], len=" << blocks << "\n";
          continue;
        }
        s << "  li x10, " << offset << "\n  ub2gm gm[x9], ub[x10], len=" << blocks << "\n";
        offset += blocks * 32;
      }
      if (copies) s << "  set_flag mte3, mte2, " << slot << "\n";
      i = end;
    }
    for (int64_t slot = 0; slot < slots; ++slot) s << "  wait_flag mte3, mte2, " << slot << "\n"; // drained
    if (p + 1 < parts) s << "  jmp done\n";
  }
  if (parts > 1) s << "done:\n";
  s << "  end\n";
  return GeneratedKernel{s.str(), int(parts)};
}

} // namespace fractal::codegen
