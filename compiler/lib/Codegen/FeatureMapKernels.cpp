// Kernels over NHWC16 feature maps (KernelTemplates.h): channel concatenation and pooling. Both
// loop over work items at run time (x6 item, x7 block_dim, x14 item count), items split across
// blocks round-robin; each item ends with `barrier all`, so items never share a buffer in flight.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "fractal/isa/Numerics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace fractal::codegen {
namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// Fills `bytes` of UB at `address` with the f16 value in register `reg` (vdup, 255 repeats at most).
void fill(std::ostringstream &s, int64_t address, int64_t bytes, const char *reg) {
  for (int64_t off = 0; off < bytes; off += 255 * 256) {
    const int64_t repeats = std::min<int64_t>(255, ceilDiv(bytes - off, 256));
    s << "  li x8, " << address + off << "\n  vdup.f16 ub[x8], " << reg << ", repeat=" << repeats << "\n";
  }
}

// The work-item loop around `body`, which is emitted for full items and, when the last item is
// short (tail != full), once more for it. The body finds its item in x6.
template <typename Body>
void itemLoop(std::ostringstream &s, int64_t items, int64_t full, int64_t tail, Body body) {
  s << "  mfsr x6, block_idx\n  mfsr x7, block_dim\n  li x14, " << items << "\n";
  s << "loop:\n  bge x6, x14, done\n";
  if (tail != full) s << "  li x8, " << items - 1 << "\n  beq x6, x8, tail\n";
  if (items > 1 || tail == full) {
    body(full);
    s << "  barrier all\n  add x6, x6, x7\n  jmp loop\n";
  }
  if (tail != full) {
    s << "tail:\n";
    body(tail);
    s << "  barrier all\n  add x6, x6, x7\n  jmp loop\n";
  }
  s << "done:\n  end\n";
}

} // namespace

Expected<GeneratedKernel> generateChannelConcat(const ChipConfig &config, const ChannelConcatKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  int64_t maxSrc = 1, maxZero = 0;
  for (const auto &p : k.pieces) {
    if (p.arg >= 0) maxSrc = std::max(maxSrc, p.srcBlocks);
    else maxZero = std::max(maxZero, p.blocks);
  }
  // Half of UB for a chunk of one input, the rest for zeros; a DMA moves at most 65535 blocks.
  int64_t chunk = std::min<int64_t>({k.pixels, (ub / 2) / (maxSrc * 32), 65535 / maxSrc, 65535});
  if (maxZero) chunk = std::min<int64_t>(chunk, (ub / 2) / (maxZero * 32));
  if (chunk < 1)
    return Error::badInput(k.name + ": UB overflow: one pixel of the concatenation needs " +
                           std::to_string((maxSrc + maxZero) * 32) + " bytes");
  const int64_t items = ceilDiv(k.pixels, chunk), tail = k.pixels - (items - 1) * chunk;
  const int64_t zeroBase = ub / 2;
  std::ostringstream s;
  s << "# " << k.name << ": channel concat of " << k.pieces.size() << " piece(s) over " << k.pixels
    << " pixels, " << items << " chunk(s)\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  for (int i = 0; i <= k.numInputs; ++i) s << "  ld x" << 20 + i << ", gm[x1], offset=" << 8 * i << "\n";
  const std::string out = "x" + std::to_string(20 + k.numInputs);
  if (maxZero) {
    fill(s, zeroBase, roundUp(chunk * maxZero * 32, 256), "x0");
    s << "  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n";
  }
  itemLoop(s, items, chunk, tail, [&](int64_t pc) {
    s << "  muli x15, x6, " << chunk << "\n"; // first pixel
    for (const auto &p : k.pieces) {
      s << "  muli x9, x15, " << k.outBlocks * 32 << "\n  add x9, x9, " << out << "\n  li x8, " << p.dstBlock * 32
        << "\n  add x9, x9, x8\n";
      if (p.arg >= 0) {
        s << "  muli x8, x15, " << p.srcBlocks * 32 << "\n  add x8, x8, x" << 20 + p.arg << "\n";
        s << "  gm2ub ub[x0], gm[x8], len=" << pc * p.srcBlocks << "\n";
        s << "  set_flag mte2, mte3, 0\n  wait_flag mte2, mte3, 0\n";
        s << "  ub2gm gm[x9], ub[x0], nburst=" << pc << ", len=" << p.blocks << ", src_gap="
          << p.srcBlocks - p.blocks << ", dst_gap=" << k.outBlocks - p.blocks << "\n";
        s << "  set_flag mte3, mte2, 1\n  wait_flag mte3, mte2, 1\n";
      } else {
        s << "  li x8, " << zeroBase << "\n  ub2gm gm[x9], ub[x8], nburst=" << pc << ", len=" << p.blocks
          << ", dst_gap=" << k.outBlocks - p.blocks << "\n";
      }
    }
  });
  return GeneratedKernel{s.str(), int(std::min<int64_t>(config.chip.cores, items))};
}

Expected<GeneratedKernel> generatePool(const ChipConfig &config, const PoolKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t cb = k.cp / 16;                       // blocks per pixel
  const int64_t wo8 = roundUp(k.wo, 8);               // whole repeats of 8 pixels
  const int64_t wp = std::max(k.w + k.pl + k.pr, (wo8 - 1) * k.sw + k.kw); // padded row, with overrun
  const int64_t rowBytes = wp * k.cp * 2, outBase = k.kh * rowBytes, need = outBase + wo8 * k.cp * 2;
  if (need > ub)
    return Error::badInput(k.name + ": UB overflow: a pooling row needs " + std::to_string(need) +
                           " bytes (window rows " + std::to_string(k.kh) + " x " + std::to_string(wp) +
                           " pixels x " + std::to_string(k.cp) + " channels), UB has " + std::to_string(ub));
  // Windows reaching past the map (pads, or ceil_mode's extra outputs) read the fill value.
  const bool padded = k.pt || k.pl || k.pb || k.pr || (k.ho - 1) * k.sh + k.kh > k.h + k.pt ||
                      (k.wo - 1) * k.sw + k.kw > k.w + k.pl;
  const int64_t items = k.n * k.ho;
  std::ostringstream s;
  s << "# " << k.name << ": " << (k.max ? "max" : "average") << " pool " << k.kh << "x" << k.kw << " s" << k.sh
    << "x" << k.sw << " on NHWC16 " << k.n << "x" << k.h << "x" << k.w << "x" << k.cp << " -> " << k.ho << "x"
    << k.wo << ", one output row per item\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  s << "  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n";
  const uint16_t padValue = k.max ? isa::floatToHalf(-std::numeric_limits<float>::infinity()) : 0;
  s << "  li x21, " << padValue << "\n  li x22, " << isa::floatToHalf(1.0f / float(k.kh * k.kw)) << "\n";
  s << "  li x23, " << k.h << "\n";
  // Strided operands: 8 output pixels per repeat; if a repeat's stride does not fit 8 bits, one
  // instruction per 8-pixel group.
  const bool wide = 8 * k.sw * cb > 255 || 8 * cb > 255;
  itemLoop(s, items, 1, 1, [&](int64_t) {
    s << "  li x8, " << k.ho << "\n  div x16, x6, x8\n  rem x15, x6, x8\n"; // image, output row
    if (padded) {
      fill(s, 0, outBase, "x21");
      s << "  set_flag v, mte2, 0\n  wait_flag v, mte2, 0\n";
    }
    for (int64_t y = 0; y < k.kh; ++y) {
      // Input row ih = oh * sh - pt + y, loaded only when inside the map.
      s << "  muli x9, x15, " << k.sh << "\n  addi x9, x9, " << y - k.pt << "\n";
      s << "  blt x9, x0, skip" << y << "\n  bge x9, x23, skip" << y << "\n";
      s << "  muli x10, x16, " << k.h << "\n  add x10, x10, x9\n  muli x10, x10, " << k.w * k.cp * 2
        << "\n  add x10, x10, x2\n  li x11, " << y * rowBytes + k.pl * k.cp * 2 << "\n";
      s << "  gm2ub ub[x11], gm[x10], len=" << k.w * cb << "\n";
      s << "skip" << y << ":\n";
    }
    s << "  set_flag mte2, v, 0\n  wait_flag mte2, v, 0\n";
    for (int64_t c = 0; c < cb; ++c)
      for (int64_t y = 0; y < k.kh; ++y)
        for (int64_t x = 0; x < k.kw; ++x) {
          const bool first = y == 0 && x == 0;
          const int64_t src = y * rowBytes + (x * cb + c) * 32, dst = outBase + c * 32;
          auto emit = [&](int64_t srcAddr, int64_t dstAddr, int64_t repeats, bool strided) {
            s << "  li x8, " << dstAddr << "\n  li x9, " << srcAddr << "\n";
            const std::string strides = strided ? ", dst_blk=" + std::to_string(cb) + ", dst_rep=" +
                                                      std::to_string(8 * cb) + ", src_blk=" + std::to_string(k.sw * cb) +
                                                      ", src_rep=" + std::to_string(8 * k.sw * cb)
                                                : ", dst_blk=" + std::to_string(cb) + ", src_blk=" +
                                                      std::to_string(k.sw * cb);
            if (first)
              s << "  vadds.f16 ub[x8], ub[x9], x0, repeat=" << repeats << strides << "\n";
            else {
              const std::string binStrides = strided
                  ? ", dst_blk=" + std::to_string(cb) + ", dst_rep=" + std::to_string(8 * cb) + ", src0_blk=" +
                        std::to_string(cb) + ", src0_rep=" + std::to_string(8 * cb) + ", src1_blk=" +
                        std::to_string(k.sw * cb) + ", src1_rep=" + std::to_string(8 * k.sw * cb)
                  : ", dst_blk=" + std::to_string(cb) + ", src0_blk=" + std::to_string(cb) + ", src1_blk=" +
                        std::to_string(k.sw * cb);
              s << "  " << (k.max ? "vmax" : "vadd") << ".f16 ub[x8], ub[x8], ub[x9], repeat=" << repeats
                << binStrides << "\n";
            }
          };
          if (!wide) {
            for (int64_t g = 0; g < wo8 / 8; g += 255)
              emit(src + g * 8 * k.sw * cb * 32, dst + g * 8 * cb * 32, std::min<int64_t>(255, wo8 / 8 - g), true);
          } else {
            for (int64_t g = 0; g < wo8 / 8; ++g)
              emit(src + g * 8 * k.sw * cb * 32, dst + g * 8 * cb * 32, 1, false);
          }
        }
    if (!k.max)
      for (int64_t c = 0; c < cb; ++c)
        for (int64_t g = 0; g < wo8 / 8; ++g)
          s << "  li x8, " << outBase + (g * 8 * cb + c) * 32 << "\n  vmuls.f16 ub[x8], ub[x8], x22, dst_blk=" << cb
            << ", src_blk=" << cb << "\n";
    s << "  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n";
    s << "  muli x10, x6, " << k.wo * k.cp * 2 << "\n  add x10, x10, x3\n  li x11, " << outBase << "\n";
    s << "  ub2gm gm[x10], ub[x11], len=" << k.wo * cb << "\n";
  });
  return GeneratedKernel{s.str(), int(std::min<int64_t>(config.chip.cores, items))};
}

} // namespace fractal::codegen
