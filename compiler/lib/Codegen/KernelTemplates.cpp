// Kernel generators (see KernelTemplates.h). Register conventions inside generated kernels:
//   x1 args, x2..x4 GM bases of the arguments, x5 chunk/block index, x6 block_dim, x7 chunk count,
//   x8..x11 addresses, x12..x14 UB buffers, x15/x16 scratch, x20.. scalars.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include "fractal/isa/Numerics.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace fractal::codegen {
namespace {

constexpr int64_t kRepeatBytes = 256; // one vector repeat
constexpr int64_t kBlockBytes = 32;   // DMA and vector block
constexpr int64_t kMaxRepeat = 255;
constexpr int64_t kFractalBytes = 512;

std::string replaceAll(std::string text, const std::string &from, const std::string &to) {
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

using emit::ceilDiv;
using emit::floatBits;
using emit::roundUp;

} // namespace

int64_t elementsPerRepeat(int inBytes, int outBytes) {
  return kRepeatBytes / std::max(inBytes, outBytes);
}

Expected<GeneratedKernel> generateElementwise(const ChipConfig &config,
                                              const ElementwiseKernel &k) {
  const int64_t perRepeat = elementsPerRepeat(k.inBytes, k.outBytes);
  const int64_t totalRepeats = ceilDiv(std::max<int64_t>(k.elements, 1), perRepeat);
  // UB holds two sets (double buffering) of two input chunks and one output chunk; a chunk is at
  // most 255 repeats (one vector instruction) so the body never needs an inner loop.
  const int64_t ubBytes = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t inRepeatBytes = perRepeat * k.inBytes, outRepeatBytes = perRepeat * k.outBytes;
  // The top kConstBuffers repeats of UB hold broadcast constants ({c0}..{c3}, filled by the
  // prologue), apart from the chunk buffers so that fused kernels keep {in1} for an operand.
  constexpr int64_t kConstBuffers = 4;
  const int64_t constBase = ubBytes - kConstBuffers * kRepeatBytes;
  int64_t chunkRepeats = std::min<int64_t>(kMaxRepeat, constBase / (2 * (2 * inRepeatBytes + outRepeatBytes)));
  if (chunkRepeats < 1)
    return Error::badInput(k.name + ": UB overflow: one repeat of the element-wise kernel needs " +
                           std::to_string(2 * (2 * inRepeatBytes + outRepeatBytes)) + " bytes, UB has " +
                           std::to_string(ubBytes));
  chunkRepeats = std::min(chunkRepeats, totalRepeats);
  const int64_t chunks = ceilDiv(totalRepeats, chunkRepeats);
  const int blockDim = int(std::min<int64_t>(config.chip.cores, chunks));
  const int64_t tailRepeats = totalRepeats - (chunks - 1) * chunkRepeats;
  const int64_t inChunkBytes = chunkRepeats * inRepeatBytes, outChunkBytes = chunkRepeats * outRepeatBytes;

  std::ostringstream s;
  s << "# " << k.name << ": element-wise over " << k.elements << " elements, " << chunks
    << " chunk(s) of " << chunkRepeats << " repeat(s), block_dim " << blockDim << "\n";
  s << ".node \"" << k.node << "\"\n.text\n";
  s << "  mfsr x1, args\n";
  for (int i = 0; i <= k.numInputs; ++i)
    s << "  ld x" << (2 + i) << ", gm[x1], offset=" << 8 * i << "\n";
  s << "  mfsr x5, block_idx\n  mfsr x6, block_dim\n  li x7, " << chunks << "\n";
  // Buffer set A in x12..x14, set B in x16..x18.
  const int64_t setBytes = 2 * inChunkBytes + outChunkBytes;
  s << "  li x12, 0\n  li x13, " << inChunkBytes << "\n  li x14, " << 2 * inChunkBytes << "\n";
  s << "  li x16, " << setBytes << "\n  li x17, " << setBytes + inChunkBytes << "\n  li x18, "
    << setBytes + 2 * inChunkBytes << "\n";
  for (size_t i = 0; i < k.scalars.size(); ++i)
    s << "  li x" << (20 + i) << ", "
      << (k.halfScalars ? uint32_t(isa::floatToHalf(k.scalars[i])) : floatBits(k.scalars[i])) << "   # "
      << k.scalars[i] << "\n";

  auto expand = [&](const std::string &line, int64_t repeats, int set = 0) {
    const int r = set ? 16 : 12;
    std::string text = replaceAll(line, "{in0}", "ub[x" + std::to_string(r) + "]");
    text = replaceAll(text, "{in1}", "ub[x" + std::to_string(r + 1) + "]");
    text = replaceAll(text, "{out}", "ub[x" + std::to_string(r + 2) + "]");
    text = replaceAll(text, "{rep}", std::to_string(repeats));
    for (size_t i = 0; i < k.scalars.size(); ++i)
      text = replaceAll(text, "{s" + std::to_string(i) + "}", "x" + std::to_string(20 + i));
    for (int i = 0; i < kConstBuffers; ++i)
      text = replaceAll(text, "{c" + std::to_string(i) + "}", "ub[x" + std::to_string(28 + i) + "]");
    return text;
  };
  if (k.scalars.size() > 8)
    return Error::internal(k.name + ": more than 8 scalars in one element-wise kernel");
  for (int i = 0; i < kConstBuffers; ++i) s << "  li x" << 28 + i << ", " << constBase + i * kRepeatBytes << "\n";
  for (const std::string &line : k.prologue) s << "  " << expand(line, 1) << "\n";

  // One chunk on buffer set p: MTE2 loads once V is done with the set's inputs (#2+p), V computes
  // once loaded (#p) and once MTE3 has stored the set's previous output (#4+p), MTE3 stores. While
  // V works on one set, MTE2 fills the other and MTE3 drains it.
  auto chunk = [&](int64_t repeats, int p) {
    const int r = p ? 16 : 12;
    s << "  muli x8, x5, " << inChunkBytes << "\n";
    s << "  muli x9, x5, " << outChunkBytes << "\n  add x11, x" << (2 + k.numInputs) << ", x9\n";
    s << "  wait_flag v, mte2, " << 2 + p << "\n";
    for (int i = 0; i < k.numInputs; ++i)
      s << "  add x10, x" << (2 + i) << ", x8\n  gm2ub ub[x" << (r + i) << "], gm[x10], len="
        << repeats * inRepeatBytes / kBlockBytes << "\n";
    s << "  set_flag mte2, v, " << p << "\n  wait_flag mte2, v, " << p << "\n  wait_flag mte3, v, " << 4 + p << "\n";
    for (const std::string &line : k.body) s << "  " << expand(line, repeats, p) << "\n";
    s << "  set_flag v, mte2, " << 2 + p << "\n  set_flag v, mte3, " << p << "\n  wait_flag v, mte3, " << p << "\n";
    s << "  ub2gm gm[x11], ub[x" << r + 2 << "], len=" << repeats * outRepeatBytes / kBlockBytes << "\n";
    s << "  set_flag mte3, v, " << 4 + p << "\n";
  };
  // Both sets start free; the loop alternates them (two chunks per turn), the last chunk may be
  // short and land on either set; at the end the "free" flags are consumed.
  s << "  set_flag v, mte2, 2\n  set_flag v, mte2, 3\n  set_flag mte3, v, 4\n  set_flag mte3, v, 5\n";
  const bool shortTail = tailRepeats != chunkRepeats;
  if (shortTail) s << "  li x15, " << chunks - 1 << "\n";
  s << "loop:\n  bge x5, x7, done\n";
  if (shortTail) s << "  beq x5, x15, tail0\n";
  chunk(chunkRepeats, 0);
  s << "  add x5, x5, x6\n  bge x5, x7, done\n";
  if (shortTail) s << "  beq x5, x15, tail1\n";
  chunk(chunkRepeats, 1);
  s << "  add x5, x5, x6\n  jmp loop\n";
  if (shortTail) {
    for (int p = 0; p < 2; ++p) {
      s << "tail" << p << ":\n";
      chunk(tailRepeats, p);
      s << "  jmp done\n";
    }
  }
  s << "done:\n  wait_flag v, mte2, 2\n  wait_flag v, mte2, 3\n  wait_flag mte3, v, 4\n  wait_flag mte3, v, 5\n  end\n";
  return GeneratedKernel{s.str(), blockDim};
}

Expected<GeneratedKernel> generateMatMul(const ChipConfig &config, const MatMulKernel &k) {
  const int64_t l1 = config.buffer(BufferKind::L1).sizeBytes;
  const int64_t l0a = config.buffer(BufferKind::L0A).sizeBytes;
  const int64_t l0b = config.buffer(BufferKind::L0B).sizeBytes;
  const int64_t l0c = config.buffer(BufferKind::L0C).sizeBytes;
  const int64_t mp = roundUp(k.m, 16), kp = roundUp(k.k, 16), np = roundUp(k.n, 16);
  const int64_t ldc = k.ldc ? k.ldc : k.n;
  const int outBytes = k.outHalf ? 2 : 4;

  // Double buffering everywhere: two L0C tiles, two L0A/L0B halves, two L1 slots for B (and for
  // A when the item's A panel does not stay in L1), so step s+1 loads while step s computes.
  const int64_t biasBytes = k.hasBias ? roundUp(np * 4, kFractalBytes) : 0;
  // M tiles up to 256 rows: each B tile loaded from GM then feeds twice the cube work, which keeps
  // two cores under the DRAM bandwidth of the edge chip.
  int64_t mt = std::min<int64_t>(mp, 256), nt = std::min<int64_t>(np, 128);
  // Narrow products (layout changes to NHWC16: few channels, many pixels): taller M tiles, so a
  // work item is more than one short step.
  if (np <= 32 && kp <= 32) mt = std::min<int64_t>(mp, 1024);
  // Few rows (layout changes to NCHW: one row per channel): wider N tiles instead, as far as L0C
  // (two tiles) and a 16-deep L0B half allow, so each step does more than a sliver of work.
  if (mt <= 64) nt = std::min({np, (l0c / (2 * mt * 4)) / 16 * 16, (l0b / 2 / (16 * 2)) / 16 * 16, int64_t(1024)});
  while (2 * mt * nt * 4 > l0c && (mt > 16 || nt > 16)) (mt >= nt ? mt : nt) -= 16;
  int64_t kt = std::min({kp, (l0a / 2 / (mt * 2)) / 16 * 16, (l0b / 2 / (nt * 2)) / 16 * 16, int64_t(4080)});
  // The A panel (mt rows x all of K) stays in L1 for the whole item when it fits in half of it.
  const int64_t panelBytes = roundUp(mt * kp * 2, kFractalBytes);
  const bool panel = biasBytes + panelBytes <= l1 / 2;
  // Per L1 slot: an A tile (unless the panel holds A) and a B tile, for a K step of kt.
  auto aSlotFor = [&](int64_t kt) { return panel ? 0 : roundUp(mt * kt * 2, kFractalBytes); };
  auto bSlotFor = [&](int64_t kt) { return roundUp(kt * nt * 2, kFractalBytes); };
  auto l1Need = [&](int64_t kt) { return biasBytes + (panel ? panelBytes : 0) + 2 * (aSlotFor(kt) + bSlotFor(kt)); };
  while (kt > 16 && l1Need(kt) > l1) kt -= 16;
  if (2 * mt * nt * 4 > l0c || kt < 16 || l1Need(kt) > l1)
    return Error::badInput(k.name + ": L0/L1 overflow: the smallest double-buffered matmul tile needs L0A " +
                           std::to_string(2 * mt * 16 * 2) + ", L0B " + std::to_string(2 * 16 * nt * 2) + ", L0C " +
                           std::to_string(2 * mt * nt * 4) + " bytes; the config has L0A " + std::to_string(l0a) +
                           ", L0B " + std::to_string(l0b) + ", L0C " + std::to_string(l0c) + ", L1 " + std::to_string(l1));
  const int64_t aSlotBytes = aSlotFor(kt), bSlotBytes = bSlotFor(kt);
  const int64_t l1Panel = biasBytes, l1Slots = biasBytes + (panel ? panelBytes : 0);
  auto l1A = [&](int p) { return l1Slots + p * (aSlotBytes + bSlotBytes); };
  auto l1B = [&](int p) { return l1A(p) + aSlotBytes; };
  const int64_t l0aHalf = l0a / 2, l0bHalf = l0b / 2, l0cHalf = l0c / 2;

  const int64_t mTiles = ceilDiv(k.m, mt), items = k.batch * mTiles;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  std::ostringstream s;
  s << "# " << k.name << ": " << k.batch << " x C[" << k.m << "," << k.n << "] = A[" << k.m << ","
    << k.k << "]" << (k.transA ? "^T" : "") << " x B[" << k.k << "," << k.n << "]"
    << (k.transB ? "^T" : "") << ", tiles " << mt << "x" << kt << "x" << nt << (panel ? ", A panel in L1" : "")
    << ", double-buffered; " << items << " work item(s) on " << blockDim << " block(s)\n";
  s << "# flags: mte2->mte1 #p slot p loaded; mte1->mte2 #2+p slot p free; mte1->m #p L0 half p loaded;\n"
    << "# m->mte1 #2+p L0 half p free; m->fix #q tile q done; fix->m #2+q L0C half q free (p, q = 0/1);\n"
    << "# mte1->mte2 #4 the A panel is free (read by the previous item).\n";
  s << ".node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  s << "  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n";
  int argC = 2;
  if (k.hasBias) {
    s << "  ld x4, gm[x1], offset=16\n  gm2l1 l1[x0], gm[x4], len=" << ceilDiv(np * 4, kBlockBytes) << "\n";
    argC = 3;
  }
  s << "  ld x5, gm[x1], offset=" << 8 * argC << "\n";
  s << "  li x20, " << floatBits(k.alpha) << "   # alpha " << k.alpha << "\n";
  s << "  mfsr x6, block_idx\n  mfsr x7, block_dim\n  li x14, " << items << "\n";

  // One work item: x16 = product index, x15 = first row of the M tile; bases in x17 (A), x18 (B),
  // x19 (C). `mc` rows (the last tile may be short).
  auto item = [&](int64_t mc) {
    s << "  muli x17, x16, " << k.strideA * 2 << "\n  add x17, x17, x2\n";
    s << "  muli x8, x15, " << (k.transA ? 2 : k.k * 2) << "\n  add x17, x17, x8\n";
    s << "  muli x18, x16, " << k.strideB * 2 << "\n  add x18, x18, x3\n";
    s << "  muli x19, x16, " << k.strideC * outBytes << "\n  add x19, x19, x5\n";
    s << "  muli x8, x15, " << ldc * outBytes << "\n  add x19, x19, x8\n";
    const int64_t mcp = roundUp(mc, 16);
    if (panel) { // the whole A panel, NZ (transA: NZ of A^T), once per item, after MTE1 has read
                 // the previous item's (#4); step 0's "loaded" flag, set by MTE2 after it, covers it
                 // too (one MTE2 queue, in order). Loading it slice by slice during the first N tile
                 // measured slower (that tile turns DMA-bound).
      s << "  wait_flag mte1, mte2, 4\n  li x9, " << l1Panel << "\n";
      if (!k.transA)
        s << "  gm2l1_nz.f16 l1[x9], gm[x17], rows=" << mc << ", cols=" << k.k << ", src_stride=" << k.k
          << ", dst_rows=" << mcp << "\n";
      else
        s << "  gm2l1_nz.f16 l1[x9], gm[x17], rows=" << k.k << ", cols=" << mc << ", src_stride=" << k.m
          << ", dst_rows=" << kp << "\n";
    }
    struct Step { int64_t n0, k0, nc, kc; };
    std::vector<Step> steps;
    for (int64_t n0 = 0; n0 < k.n; n0 += nt)
      for (int64_t k0 = 0; k0 < k.k; k0 += kt)
        steps.push_back({n0, k0, std::min(nt, k.n - n0), std::min(kt, k.k - k0)});
    int tile = 0;
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step &st = steps[i];
      const int p = int(i % 2), q = tile % 2;
      const bool firstK = st.k0 == 0, lastK = st.k0 + st.kc >= k.k;
      const int64_t ncp = roundUp(st.nc, 16), kcp = roundUp(st.kc, 16);
      s << "  # step " << i << ": n0=" << st.n0 << " k0=" << st.k0 << ", slot " << p << ", L0C " << q << "\n";
      // MTE2: this step's operands into slot p.
      s << "  wait_flag mte1, mte2, " << 2 + p << "\n";
      if (!panel) {
        if (!k.transA)
          s << "  li x8, " << st.k0 * 2 << "\n  add x8, x17, x8\n  li x9, " << l1A(p) << "\n  gm2l1_nz.f16 l1[x9], gm[x8], rows="
            << mc << ", cols=" << st.kc << ", src_stride=" << k.k << ", dst_rows=" << mcp << "\n";
        else
          s << "  li x8, " << st.k0 * k.m * 2 << "\n  add x8, x17, x8\n  li x9, " << l1A(p)
            << "\n  gm2l1_nz.f16 l1[x9], gm[x8], rows=" << st.kc << ", cols=" << mc << ", src_stride=" << k.m
            << ", dst_rows=" << kcp << "\n";
      }
      if (!k.transB)
        s << "  li x8, " << (st.k0 * k.n + st.n0) * 2 << "\n  add x8, x18, x8\n  li x9, " << l1B(p)
          << "\n  gm2l1_nz.f16 l1[x9], gm[x8], rows=" << st.kc << ", cols=" << st.nc << ", src_stride=" << k.n
          << ", dst_rows=" << kcp << "\n";
      else
        s << "  li x8, " << (st.n0 * k.k + st.k0) * 2 << "\n  add x8, x18, x8\n  li x9, " << l1B(p)
          << "\n  gm2l1_nz.f16 l1[x9], gm[x8], rows=" << st.nc << ", cols=" << st.kc << ", src_stride=" << k.k
          << ", dst_rows=" << ncp << "\n";
      s << "  set_flag mte2, mte1, " << p << "\n";
      // MTE1: slot p -> L0 half p.
      s << "  wait_flag mte2, mte1, " << p << "\n  wait_flag m, mte1, " << 2 + p << "\n";
      for (int64_t r = 0; r < mcp / 16; ++r) {
        s << "  li x9, " << p * l0aHalf + r * (kcp / 16) * kFractalBytes << "\n";
        if (panel && !k.transA) // NZ panel: fractal (r, kk) at (kk * mcp/16 + r)
          s << "  li x10, " << l1Panel + ((st.k0 / 16) * (mcp / 16) + r) * kFractalBytes
            << "\n  load2d l0a[x9], l1[x10], repeat=" << kcp / 16 << ", src_stride=" << mcp / 16 << "\n";
        else if (panel) // NZ of A^T with kp rows per column block: fractal (kk, r) at (r * kp/16 + kk)
          s << "  li x10, " << l1Panel + (r * (kp / 16) + st.k0 / 16) * kFractalBytes
            << "\n  load2d l0a[x9], l1[x10], repeat=" << kcp / 16 << ", src_stride=1, transpose=1\n";
        else if (!k.transA)
          s << "  li x10, " << l1A(p) + r * kFractalBytes << "\n  load2d l0a[x9], l1[x10], repeat=" << kcp / 16
            << ", src_stride=" << mcp / 16 << "\n";
        else
          s << "  li x10, " << l1A(p) + r * (kcp / 16) * kFractalBytes << "\n  load2d l0a[x9], l1[x10], repeat="
            << kcp / 16 << ", src_stride=1, transpose=1\n";
      }
      if (!k.transB) {
        for (int64_t r = 0; r < kcp / 16; ++r)
          s << "  li x9, " << p * l0bHalf + r * (ncp / 16) * kFractalBytes << "\n  li x10, " << l1B(p) + r * kFractalBytes
            << "\n  load2d l0b[x9], l1[x10], repeat=" << ncp / 16 << ", src_stride=" << kcp / 16 << ", transpose=1\n";
      } else {
        for (int64_t f = 0; f < (kcp / 16) * (ncp / 16); f += 255)
          s << "  li x9, " << p * l0bHalf + f * kFractalBytes << "\n  li x10, " << l1B(p) + f * kFractalBytes
            << "\n  load2d l0b[x9], l1[x10], repeat=" << std::min<int64_t>(255, (kcp / 16) * (ncp / 16) - f) << "\n";
      }
      s << "  set_flag mte1, mte2, " << 2 + p << "\n  set_flag mte1, m, " << p << "\n";
      // M: L0 half p into L0C half q.
      s << "  wait_flag mte1, m, " << p << "\n";
      if (firstK) s << "  wait_flag fix, m, " << 2 + q << "\n";
      s << "  li x9, " << p * l0aHalf << "\n  li x10, " << p * l0bHalf << "\n  li x12, " << q * l0cHalf << "\n";
      if (firstK && k.hasBias)
        s << "  li x11, " << st.n0 * 4 << "\n  mmad.f16 l0c[x12], l0a[x9], l0b[x10], m=" << mcp << ", k=" << kcp
          << ", n=" << ncp << ", init=1, bias=x11\n";
      else
        s << "  mmad.f16 l0c[x12], l0a[x9], l0b[x10], m=" << mcp << ", k=" << kcp << ", n=" << ncp
          << ", init=" << (firstK ? 1 : 0) << "\n";
      s << "  set_flag m, mte1, " << 2 + p << "\n";
      if (lastK) {
        // FIX: the finished tile out, while the cube fills the other L0C half.
        s << "  set_flag m, fix, " << q << "\n  wait_flag m, fix, " << q << "\n";
        s << "  li x8, " << st.n0 * outBytes << "\n  add x8, x19, x8\n";
        s << "  fixp.f32." << (k.outHalf ? "f16" : "f32") << " gm[x8], l0c[x12], m=" << mc << ", n=" << st.nc
          << ", src_rows=" << mcp << ", dst_stride=" << ldc << ", relu=" << (k.relu ? 1 : 0)
          << (k.alpha != 1.0f ? ", scale=x20" : "") << "\n";
        s << "  set_flag fix, m, " << 2 + q << "\n";
        ++tile;
      }
    }
    // No drain between items: the next item's first steps load while this one's last tiles are
    // still in the cube and FixPipe (the per-buffer flags order every hand-over); only the panel
    // waits until MTE1 is done with this item's.
    if (panel) s << "  set_flag mte1, mte2, 4\n";
  };

  // Items round-robin over the blocks; the last M tile of each product may be short. Every
  // buffer starts free (and the panel area); the "free" flags are consumed after the last item.
  const int64_t tailRows = k.m - (mTiles - 1) * mt;
  s << "  set_flag mte1, mte2, 2\n  set_flag mte1, mte2, 3\n  set_flag m, mte1, 2\n  set_flag m, mte1, 3\n"
    << "  set_flag fix, m, 2\n  set_flag fix, m, 3\n" << (panel ? "  set_flag mte1, mte2, 4\n" : "");
  s << "loop:\n  bge x6, x14, done\n";
  s << "  li x8, " << mTiles << "\n  div x16, x6, x8\n  rem x15, x6, x8\n";
  if (mTiles > 1) { // full tiles exist (a single short tile has only the tail path)
    if (tailRows != mt) s << "  li x9, " << mTiles - 1 << "\n  beq x15, x9, tail\n";
    s << "  muli x15, x15, " << mt << "\n";
    item(mt);
    s << "  add x6, x6, x7\n  jmp loop\n";
  }
  if (tailRows != mt || mTiles == 1) {
    s << "tail:\n  muli x15, x15, " << mt << "\n";
    item(tailRows);
    s << "  add x6, x6, x7\n  jmp loop\n";
  }
  s << "done:\n  wait_flag mte1, mte2, 2\n  wait_flag mte1, mte2, 3\n  wait_flag m, mte1, 2\n  wait_flag m, mte1, 3\n"
    << "  wait_flag fix, m, 2\n  wait_flag fix, m, 3\n" << (panel ? "  wait_flag mte1, mte2, 4\n" : "") << "  end\n";
  return GeneratedKernel{s.str(), blockDim};
}

} // namespace fractal::codegen
