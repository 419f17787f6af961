// Kernels over NHWC16 feature maps (KernelTemplates.h) still generated directly as assembly:
// channel concatenation and global average pooling (pooling, per-channel ops, nearest resize and
// the pixel shuffle go through the npu dialect: NpuFeatureMapKernels.cpp). They loop over work
// items at run time (x6 item, x7 block_dim, x14 item count), items split across blocks
// round-robin; each item ends with `barrier all`, so items never share a buffer in flight.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include "fractal/isa/Numerics.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <limits>
#include <sstream>

namespace fractal::codegen {
namespace {

using emit::ceilDiv;
using emit::fill32;
using emit::floatBits;
using emit::roundUp;

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

} // namespace fractal::codegen

namespace fractal::codegen {
namespace {

// Emits `instr` over `elements` contiguous elements of `size` bytes in chunks of 255 repeats;
// `operands(offsetBytes)` gives the operand list for a chunk starting that many bytes in.
template <typename Operands>
void contiguous(std::ostringstream &s, const std::string &instr, int64_t bytes, Operands operands) {
  for (int64_t off = 0; off < bytes; off += 255 * 256)
    s << "  " << operands(off) << "\n  " << instr << ", repeat=" << std::min<int64_t>(255, ceilDiv(bytes - off, 256))
      << "\n";
}

} // namespace

Expected<GeneratedKernel> generateGlobalAvgPool(const ChipConfig &config, const GlobalAvgPoolKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  // UB: chunk f16 (P*cp*2) | chunk f32 (P*cp*4) | accumulator f32 (cp*4, rounded) | out f16.
  const int64_t accBytes = roundUp(k.cp * 4, 256), outBytes = roundUp(k.cp * 2, 256);
  int64_t p = 1;
  while (p * 2 * k.cp * 6 + 2 * accBytes + outBytes <= ub && p * 2 <= std::max<int64_t>(k.pixels, 1) * 2 &&
         p * 2 * k.cp / 16 <= 65535 && p < 4096)
    p *= 2;
  if (p * k.cp * 6 + 2 * accBytes + outBytes > ub)
    return Error::badInput(k.name + ": UB overflow: global pooling of " + std::to_string(k.cp) + " channels needs " +
                           std::to_string(k.cp * 6 + 2 * accBytes + outBytes) + " bytes");
  const int64_t halfBase = 0, fBase = roundUp(p * k.cp * 2, 256), accBase = fBase + roundUp(p * k.cp * 4, 256);
  const int64_t outBase = accBase + accBytes;
  const int64_t chunks = ceilDiv(k.pixels, p), tail = k.pixels - (chunks - 1) * p;
  std::ostringstream s;
  s << "# " << k.name << ": global average pool of " << k.n << " x " << k.pixels << " pixels x " << k.cp
    << " channels, chunks of " << p << "\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  s << "  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n";
  s << "  li x21, " << floatBits(1.0f / float(k.pixels)) << "\n";
  // One chunk of `pc` pixels at pixel x17 of image x16: load, widen, zero the rest, tree-sum,
  // accumulate.
  auto chunk = [&](int64_t pc) {
    s << "  muli x8, x16, " << k.pixels * k.cp * 2 << "\n  add x8, x8, x2\n  muli x9, x17, " << k.cp * 2
      << "\n  add x8, x8, x9\n  gm2ub ub[x0], gm[x8], len=" << pc * k.cp / 16 << "\n";
    s << "  set_flag mte2, v, 0\n  wait_flag mte2, v, 0\n";
    for (int64_t off = 0; off < pc * k.cp * 2; off += 255 * 128) {
      const int64_t reps = std::min<int64_t>(255, ceilDiv(pc * k.cp * 2 - off, 128));
      s << "  li x8, " << fBase + off * 2 << "\n  li x9, " << halfBase + off
        << "\n  vconv.f16.f32 ub[x8], ub[x9], repeat=" << reps << ", src_rep=4\n";
    }
    if (pc < p) fill32(s, fBase + pc * k.cp * 4, (p - pc) * k.cp * 4);
    for (int64_t half = p / 2; half >= 1; half /= 2)
      contiguous(s, "vadd.f32 ub[x8], ub[x8], ub[x9]", half * k.cp * 4, [&](int64_t off) {
        return "li x8, " + std::to_string(fBase + off) + "\n  li x9, " + std::to_string(fBase + half * k.cp * 4 + off);
      });
    contiguous(s, "vadd.f32 ub[x8], ub[x8], ub[x9]", k.cp * 4, [&](int64_t off) {
      return "li x8, " + std::to_string(accBase + off) + "\n  li x9, " + std::to_string(fBase + off);
    });
    s << "  set_flag v, mte2, 1\n  wait_flag v, mte2, 1\n"; // the chunk buffer is free again
  };
  itemLoop(s, k.n, 1, 1, [&](int64_t) {
    s << "  mv x16, x6\n";
    fill32(s, accBase, accBytes);
    s << "  li x17, 0\n  li x18, " << chunks - 1 << "\n";
    if (chunks > 1) {
      s << "chunks:\n";
      chunk(p);
      s << "  addi x17, x17, " << p << "\n  addi x18, x18, -1\n  bne x18, x0, chunks\n";
    }
    chunk(tail);
    contiguous(s, "vmuls.f32 ub[x8], ub[x8], x21", k.cp * 4, [&](int64_t off) {
      return "li x8, " + std::to_string(accBase + off);
    });
    for (int64_t off = 0; off < k.cp * 4; off += 255 * 256)
      s << "  li x8, " << outBase + off / 2 << "\n  li x9, " << accBase + off
        << "\n  vconv.f32.f16 ub[x8], ub[x9], repeat=" << std::min<int64_t>(255, ceilDiv(k.cp * 4 - off, 256))
        << ", dst_rep=4\n";
    s << "  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n";
    s << "  muli x8, x16, " << k.cp * 2 << "\n  add x8, x8, x3\n  li x9, " << outBase << "\n  ub2gm gm[x8], ub[x9], len="
      << k.cp / 16 << "\n";
  });
  return GeneratedKernel{s.str(), 1};
}

} // namespace fractal::codegen
