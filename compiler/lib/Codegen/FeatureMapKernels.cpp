// Kernels over NHWC16 feature maps (KernelTemplates.h) still generated directly as assembly:
// channel concatenation, global average pooling, per-channel ops, nearest resize (pooling and
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

Expected<GeneratedKernel> generateChannelOp(const ChipConfig &config, const ChannelOpKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes, cb = k.cp / 16;
  if (8 * cb > 255)
    return Error::badInput(k.name + ": " + std::to_string(k.cp) + " channels exceed the vector unit's repeat stride "
                           "(at most 496 channels for a per-channel operation)");
  const int64_t vecBytes = roundUp(k.cp * 2, 32) * int64_t(k.steps.size());
  int64_t p = std::min<int64_t>({k.pixels, (ub - vecBytes) / (2 * k.cp * 2) / 8 * 8, 65535 / cb, 255 * 8 * 255});
  if (p < 1)
    return Error::badInput(k.name + ": UB overflow: a per-channel operation on " + std::to_string(k.cp) +
                           " channels needs " + std::to_string(vecBytes + 32 * k.cp) + " bytes");
  const int64_t chunks = ceilDiv(k.pixels, p), tail = k.pixels - (chunks - 1) * p;
  const int64_t xBase = vecBytes, oBase = xBase + roundUp(p * k.cp * 2, 256);
  const int numArgs = 2 + int(k.steps.size());
  std::ostringstream s;
  s << "# " << k.name << ": per-channel ops on " << k.n << " x " << k.pixels << " pixels x " << k.cp
    << " channels, chunks of " << p << "\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  for (int i = 0; i < numArgs; ++i) s << "  ld x" << 20 + i << ", gm[x1], offset=" << 8 * i << "\n";
  const int64_t items = k.n * chunks;
  // Items are (image, chunk); the last chunk of every image may be short, so the body takes the
  // chunk's pixel count from the item at run time by branching to one of two copies.
  s << "  mfsr x6, block_idx\n  mfsr x7, block_dim\n  li x14, " << items << "\n";
  s << "loop:\n  bge x6, x14, done\n  li x8, " << chunks << "\n  div x16, x6, x8\n  rem x17, x6, x8\n";
  if (tail != p) s << "  li x8, " << chunks - 1 << "\n  beq x17, x8, short\n";
  auto body = [&](int64_t pc) {
    const int64_t p8 = roundUp(pc, 8);
    for (size_t i = 0; i < k.steps.size(); ++i) {
      s << "  li x8, 0\n";
      if (k.steps[i].perImage) s << "  muli x8, x16, " << k.cp * 2 << "\n";
      s << "  add x8, x8, x" << 21 + i << "\n  li x9, " << roundUp(k.cp * 2, 32) * int64_t(i)
        << "\n  gm2ub ub[x9], gm[x8], len=" << cb << "\n";
    }
    s << "  muli x8, x16, " << k.pixels * k.cp * 2 << "\n  muli x9, x17, " << p * k.cp * 2
      << "\n  add x8, x8, x9\n  add x10, x8, x" << 21 + k.steps.size() << "\n  add x8, x8, x20\n";
    s << "  li x9, " << xBase << "\n  gm2ub ub[x9], gm[x8], len=" << pc * cb << "\n";
    s << "  set_flag mte2, v, 0\n  wait_flag mte2, v, 0\n";
    for (size_t i = 0; i < k.steps.size(); ++i)
      for (int64_t c = 0; c < cb; ++c)
        for (int64_t g = 0; g < p8 / 8; g += 255) {
          const int64_t src = (i == 0 ? xBase : oBase) + (g * 8 * cb + c) * 32, dst = oBase + (g * 8 * cb + c) * 32;
          const int64_t vec = roundUp(k.cp * 2, 32) * int64_t(i) + c * 32;
          const std::string px = ", dst_blk=" + std::to_string(cb) + ", dst_rep=" + std::to_string(8 * cb);
          s << "  li x8, " << dst << "\n  li x9, " << src << "\n  li x11, " << vec << "\n";
          const std::string x = ", src" + std::string(k.steps[i].vectorFirst ? "1" : "0") + "_blk=" + std::to_string(cb) +
                                ", src" + (k.steps[i].vectorFirst ? "1" : "0") + "_rep=" + std::to_string(8 * cb);
          const std::string v = ", src" + std::string(k.steps[i].vectorFirst ? "0" : "1") + "_blk=0, src" +
                                (k.steps[i].vectorFirst ? "0" : "1") + "_rep=0";
          s << "  " << k.steps[i].instr << " ub[x8], " << (k.steps[i].vectorFirst ? "ub[x11], ub[x9]" : "ub[x9], ub[x11]")
            << ", repeat=" << std::min<int64_t>(255, p8 / 8 - g) << px << x << v << "\n";
        }
    s << "  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n";
    s << "  li x9, " << oBase << "\n  ub2gm gm[x10], ub[x9], len=" << pc * cb << "\n";
    s << "  barrier all\n  add x6, x6, x7\n  jmp loop\n";
  };
  body(p);
  if (tail != p) {
    s << "short:\n";
    body(tail);
  }
  s << "done:\n  end\n";
  return GeneratedKernel{s.str(), int(std::min<int64_t>(config.chip.cores, items))};
}

Expected<GeneratedKernel> generateResizeNearest(const ChipConfig &config, const ResizeNearestKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes, cb = k.cp / 16;
  const int64_t rowBytes = k.w * k.cp * 2;
  if (rowBytes > ub)
    return Error::badInput(k.name + ": UB overflow: one input row needs " + std::to_string(rowBytes) + " bytes");
  const int64_t items = k.n * k.h, wo = k.w * k.fx;
  std::ostringstream s;
  s << "# " << k.name << ": nearest upsampling x" << k.fy << " x" << k.fx << " of NHWC16 " << k.n << "x" << k.h << "x"
    << k.w << "x" << k.cp << "\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  s << "  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n";
  itemLoop(s, items, 1, 1, [&](int64_t) {
    // Item = (image, input row) = input row index over all images.
    s << "  muli x8, x6, " << rowBytes << "\n  add x8, x8, x2\n  gm2ub ub[x0], gm[x8], len=" << k.w * cb << "\n";
    s << "  set_flag mte2, mte3, 0\n  wait_flag mte2, mte3, 0\n";
    for (int64_t dy = 0; dy < k.fy; ++dy)
      for (int64_t dx = 0; dx < k.fx; ++dx) {
        // Output row oh = ih * fy + dy of the same image: (item * fy + dy) rows in.
        s << "  muli x9, x6, " << k.fy * wo * k.cp * 2 << "\n  li x10, " << (dy * wo + dx) * k.cp * 2
          << "\n  add x9, x9, x10\n  add x9, x9, x3\n";
        s << "  ub2gm gm[x9], ub[x0], nburst=" << k.w << ", len=" << cb << ", dst_gap=" << (k.fx - 1) * cb << "\n";
      }
  });
  return GeneratedKernel{s.str(), int(std::min<int64_t>(config.chip.cores, items))};
}

} // namespace fractal::codegen
