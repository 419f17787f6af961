// Data movement by byte segments (KernelTemplates.h, SegmentCopyKernel). Register use: x3 output,
// x5/x6 the core's part, x8/x9 addresses, x10 UB copy buffer, x11 UB fill buffer, x16 fill word,
// x17.. the sources.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include <algorithm>
#include <sstream>

namespace fractal::codegen {

using emit::ceilDiv;

Expected<GeneratedKernel> generateSegmentCopy(const ChipConfig &config, const SegmentCopyKernel &k) {
  // Bytes per DMA piece: 32 KiB, or half of a smaller UB (a piece buffer beside the fill
  // buffer, whose vdup writes 256-byte repeats).
  const int64_t ubBytes = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t piece = std::min<int64_t>(32 * 1024, ubBytes / 2 / 256 * 256);
  if (piece < 256)
    return Error::badInput(k.name + ": UB overflow: the segment copy kernel needs 512 bytes of UB, the target has " +
                           std::to_string(ubBytes));
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
  // The DMA pieces: segments in runs of at most `piece` bytes.
  struct Piece {
    const SegmentCopyKernel::Segment *sg;
    int64_t done;
    int64_t piece; // the kernel's piece size
    // Stored as its whole blocks plus one block ending at its end (loaded on its own), so that
    // nothing is written past it: set on the last piece before another core's part.
    bool endAligned = false;
    int64_t bytes() const { return std::min(piece, sg->bytes - done); }
    int64_t blocks() const { return ceilDiv(bytes(), 32); }
    int64_t src() const { return sg->src + done; }
    int64_t dst() const { return sg->dst + done; }
    bool copies() const { return sg->src >= 0; }
    int64_t end() const { return dst() + (endAligned ? bytes() : blocks() * 32); } // past the last byte stored
  };
  std::vector<Piece> all;
  bool fills = false;
  for (const auto &sg : merged) {
    for (int64_t done = 0; done < sg.bytes; done += piece) all.push_back({&sg, done, piece});
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
  const int64_t slots = std::min<int64_t>(4, ubBytes / piece - (fills ? 1 : 0));
  const int64_t fillAt = slots * piece;
  // Stores write whole 32-byte blocks, spilling past an unaligned piece's end into the following
  // pieces' bytes (several, when they are small), which their later, in-order stores overwrite.
  // So a core's run may only start at a piece that no earlier piece's store reaches into: another
  // core's stores are not ordered with it. Where the piece before the wanted start is a copy of
  // 32 bytes or more and only it reaches across, it is stored end-aligned instead (PP-OCRv4 rec's
  // attention transposes: 960 pieces of 60 bytes, each spilling into the next, ran on one core).
  std::vector<int64_t> reach(all.size()); // the furthest byte written by pieces 0..i
  auto computeReach = [&] {
    for (size_t i = 0; i < all.size(); ++i) reach[i] = std::max(i ? reach[i - 1] : 0, all[i].end());
  };
  computeReach();
  auto startsClean = [&](size_t i) { return reach[i - 1] <= all[i].dst(); };
  auto canEndAlign = [&](size_t i) { // piece i - 1 stored end-aligned makes i a clean start
    const Piece &q = all[i - 1];
    return q.copies() && q.bytes() >= 32 && (q.blocks() + 1) * 32 <= piece && (i < 2 || reach[i - 2] <= all[i].dst());
  };
  const int64_t wanted = std::max<int64_t>(1, std::min<int64_t>(config.chip.cores, int64_t(all.size()) / 16));
  std::vector<size_t> starts{0};
  for (int64_t p = 1; p < wanted; ++p) {
    size_t at = std::max(size_t(int64_t(all.size()) * p / wanted), starts.back() + 1);
    while (at < all.size() && !startsClean(at)) {
      if (canEndAlign(at)) {
        all[at - 1].endAligned = true;
        computeReach();
        break;
      }
      ++at;
    }
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
    s << "  li x16, " << k.fillWord << "\n  vdup.s32 ub[x11], x16, repeat=" << piece / 256
      << "\n  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n";
  if (parts > 1) {
    s << "  mfsr x5, block_idx\n";
    for (int64_t p = 1; p < parts; ++p) s << "  li x6, " << p << "\n  beq x5, x6, part" << p << "\n";
  }
  // Whether piece j + 1's source follows piece j's as the next burst of one strided gm2ub: the
  // same source and length, and a source stride of whole blocks no shorter than the piece (the
  // gap in blocks within the instruction's 16-bit field).
  auto continuesBurst = [&](size_t j, int64_t stride) {
    const Piece &a = all[j], &b = all[j + 1];
    return a.copies() && b.copies() && a.sg->source == b.sg->source && a.blocks() == b.blocks() &&
           b.src() - a.src() == stride && stride % 32 == 0 && stride >= a.blocks() * 32 && stride / 32 - a.blocks() <= 65535;
  };
  for (int64_t p = 0; p < parts; ++p) {
    if (p > 0) s << "part" << p << ":\n";
    const size_t first = starts[size_t(p)], last = starts[size_t(p) + 1];
    for (int64_t slot = 0; slot < slots; ++slot) s << "  set_flag mte3, mte2, " << slot << "\n"; // every buffer free
    // Batches of consecutive pieces share a buffer (their loads at successive block offsets) and
    // one pair of flags: a flag after every small store would wait out its GM write each time.
    // A part is cut into about as many batches as there are buffers (32 to 128 pieces each):
    // PP-OCRv4 rec's 480 pieces of a core took 8,420 cycles in batches of 32, 6,656 in 128.
    const size_t batchPieces = size_t(std::clamp<int64_t>(ceilDiv(int64_t(last - first), slots), 32, 128));
    int64_t next = 0;
    for (size_t i = first; i < last;) {
      size_t end = i;
      int64_t used = 0;
      while (end < last && end - i < batchPieces) {
        const Piece &q = all[end];
        const int64_t bytes = q.copies() ? (q.blocks() + (q.endAligned ? 1 : 0)) * 32 : 0;
        if (end > i && used + bytes > piece) break;
        used += bytes;
        ++end;
      }
      const int64_t slot = next % slots;
      const bool copies = used > 0;
      // UB offsets: the pieces' blocks in order, then the end-aligned pieces' last blocks.
      std::vector<int64_t> at(end - i), tailAt(end - i);
      int64_t offset = slot * piece;
      for (size_t j = i; j < end; ++j)
        if (all[j].copies()) at[j - i] = offset, offset += all[j].blocks() * 32;
      for (size_t j = i; j < end; ++j)
        if (all[j].endAligned) tailAt[j - i] = offset, offset += 32;
      if (copies) {
        ++next;
        s << "  wait_flag mte3, mte2, " << slot << "\n";
        for (size_t j = i; j < end;) {
          const Piece &q = all[j];
          if (!q.copies()) { ++j; continue; }
          // The longest run of pieces from here that one strided load brings in.
          size_t runEnd = j + 1;
          const int64_t stride = runEnd < end ? all[runEnd].src() - q.src() : 0;
          while (runEnd < end && continuesBurst(runEnd - 1, stride)) ++runEnd;
          s << "  li x8, " << q.src() << "\n  add x8, x8, x" << 17 + q.sg->source << "\n  li x10, " << at[j - i]
            << "\n  gm2ub ub[x10], gm[x8], len=" << q.blocks();
          if (runEnd - j > 1) s << ", nburst=" << runEnd - j << ", src_gap=" << stride / 32 - q.blocks();
          s << "\n";
          j = runEnd;
        }
        for (size_t j = i; j < end; ++j)
          if (all[j].endAligned)
            s << "  li x8, " << all[j].src() + all[j].bytes() - 32 << "\n  add x8, x8, x" << 17 + all[j].sg->source
              << "\n  li x10, " << tailAt[j - i] << "\n  gm2ub ub[x10], gm[x8], len=1\n";
        s << "  set_flag mte2, mte3, " << slot << "\n  wait_flag mte2, mte3, " << slot << "\n";
      }
      for (size_t j = i; j < end; ++j) { // stores in piece order (each overwrites the previous spill)
        const Piece &q = all[j];
        s << "  li x9, " << q.dst() << "\n  add x9, x9, x3\n";
        if (!q.copies()) {
          s << "  ub2gm gm[x9], ub[x11], len=" << q.blocks() << "\n";
          continue;
        }
        const int64_t whole = q.endAligned ? q.bytes() / 32 : q.blocks();
        s << "  li x10, " << at[j - i] << "\n  ub2gm gm[x9], ub[x10], len=" << whole << "\n";
        if (q.endAligned)
          s << "  li x9, " << q.dst() + q.bytes() - 32 << "\n  add x9, x9, x3\n  li x10, " << tailAt[j - i]
            << "\n  ub2gm gm[x9], ub[x10], len=1\n";
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
