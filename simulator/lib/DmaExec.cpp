// DMA semantics: burst copies, ND->NZ, load2d, load3d (img2col). Layouts as in docs/isa.md.
#include "ExecUtil.h"

#include "fractal/isa/Numerics.h"

#include <cstring>

namespace fractal::sim::detail {

using isa::Opcode;
using isa::Space;

namespace {

constexpr uint64_t kBlock = 32;
constexpr uint64_t kFractal = 512;

DataPath pathOf(Opcode op, Space dst) {
  switch (op) {
  case Opcode::Gm2L1:
  case Opcode::Gm2L1Nz: return DataPath::GmToL1;
  case Opcode::Gm2Ub: return DataPath::GmToUb;
  case Opcode::Ub2Gm: return DataPath::UbToGm;
  case Opcode::Ub2Ub: return DataPath::UbToUb;
  default: return dst == Space::L0B ? DataPath::L1ToL0B : DataPath::L1ToL0A;
  }
}

void burstCopy(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  uint64_t nburst = operand(op, slot::nburst), len = operand(op, slot::len);
  uint64_t srcGap = operand(op, slot::src_gap), dstGap = operand(op, slot::dst_gap);
  uint64_t burstBytes = len * kBlock;
  uint64_t srcSpan = ((nburst - 1) * (len + srcGap) + len) * kBlock;
  uint64_t dstSpan = ((nburst - 1) * (len + dstGap) + len) * kBlock;
  const uint8_t *src = operandMemory(core, gm, op, slot::src, srcSpan, &fx, false);
  uint8_t *dst = operandMemory(core, gm, op, slot::dst, dstSpan, &fx, true);
  for (uint64_t b = 0; b < nburst; ++b)
    std::memmove(dst + b * (len + dstGap) * kBlock, src + b * (len + srcGap) * kBlock, burstBytes);
  fx.bytes = nburst * burstBytes;
  bool gmSrc = slot::src.space(op.inst) == Space::GM;
  bool gmDst = slot::dst.space(op.inst) == Space::GM;
  if (gmSrc || gmDst) {
    fx.gmAddress = op.address((gmSrc ? slot::src : slot::dst).index(op.inst));
    fx.gmRows = nburst;
    fx.gmRowBytes = burstBytes;
    fx.gmRowStride = (len + (gmSrc ? srcGap : dstGap)) * kBlock;
    fx.gmWrite = gmDst;
  }
}

void ndToNz(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  auto type = static_cast<isa::DataType>(operand(op, slot::type));
  uint64_t size = isa::dataTypeBytes(type), c0 = kBlock / size;
  uint64_t rows = operand(op, slot::rows), cols = operand(op, slot::cols);
  uint64_t stride = operand(op, slot::src_stride), dstRows = operand(op, slot::dst_rows);
  const bool planar = operand(op, slot::planar), fromF32 = operand(op, slot::from_f32);
  if (operand(op, slot::c04))
    c0 = 4; // small-channel blocks: 4 elements
  const uint64_t srcSize = fromF32 ? 4 : size;
  // Element (r, c) in GM: row r of column c, rows stride elements apart (ND), or columns stride
  // elements apart with consecutive rows (planar).
  const uint64_t rowStep = planar ? 1 : stride, colStep = planar ? stride : 1;
  const uint64_t rowBytes = c0 * size; // a column block's row in L1
  uint64_t colBlocks = ceilDiv(cols, c0);
  uint64_t srcSpan = ((rows - 1) * rowStep + (cols - 1) * colStep + 1) * srcSize;
  const uint8_t *src = operandMemory(core, gm, op, slot::src, srcSpan, &fx, false);
  uint8_t *dst = operandMemory(core, gm, op, slot::dst, colBlocks * dstRows * rowBytes, &fx, true);
  for (uint64_t cb = 0; cb < colBlocks; ++cb) {
    const uint64_t width = std::min(c0, cols - cb * c0);
    for (uint64_t r = 0; r < dstRows; ++r) {
      uint8_t *row = dst + (cb * dstRows + r) * rowBytes;
      if (r >= rows) {
        std::memset(row, 0, rowBytes);
        continue;
      }
      const uint8_t *from = src + (r * rowStep + cb * c0 * colStep) * srcSize;
      if (!planar && !fromF32) { // the row's elements are consecutive, as stored
        std::memcpy(row, from, width * size);
        std::memset(row + width * size, 0, rowBytes - width * size);
        continue;
      }
      std::memset(row, 0, rowBytes);
      if (fromF32) { // gathered, then converted in one call (a model's f32 input: every element)
        float values[kBlock / 2]; // width <= 16: from_f32 only converts to f16 (the encoder checks)
        for (uint64_t c = 0; c < width; ++c)
          std::memcpy(&values[c], from + c * colStep * 4, 4);
        isa::floatToHalfArray(values, reinterpret_cast<uint16_t *>(row), width);
        continue;
      }
      for (uint64_t c = 0; c < width; ++c)
        std::memcpy(row + c * size, from + c * colStep * srcSize, size);
    }
  }
  fx.bytes = colBlocks * dstRows * rowBytes;
  // What the memory system reads: per row (ND) or per plane (planar), one run of bytes.
  fx.gmAddress = op.address(slot::src.index(op.inst));
  fx.gmRows = planar ? cols : rows;
  fx.gmRowBytes = (planar ? rows : cols) * srcSize;
  fx.gmRowStride = stride * srcSize;
}

void load2d(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  uint64_t repeat = operand(op, slot::repeat), srcStride = operand(op, slot::src_stride);
  uint64_t dstGap = operand(op, slot::dst_gap);
  bool transpose = operand(op, slot::transpose);
  const uint8_t *src =
      operandMemory(core, gm, op, slot::src, ((repeat - 1) * srcStride + 1) * kFractal, &fx, false);
  uint8_t *dst = operandMemory(core, gm, op, slot::dst, ((repeat - 1) * (1 + dstGap) + 1) * kFractal,
                               &fx, true);
  for (uint64_t i = 0; i < repeat; ++i) {
    const uint8_t *s = src + i * srcStride * kFractal;
    uint8_t *d = dst + i * (1 + dstGap) * kFractal;
    if (!transpose) {
      std::memmove(d, s, kFractal);
      continue;
    }
    uint16_t tmp[256];
    std::memcpy(tmp, s, kFractal);
    auto *out = reinterpret_cast<uint16_t *>(d);
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 16; ++c)
        std::memcpy(out + c * 16 + r, tmp + r * 16 + c, 2);
  }
  fx.bytes = repeat * kFractal;
}

// An img2col's window: the feature map (setfmap's register, captured at dispatch), the kernel and
// the output size it gives.
struct Window {
  int64_t W, H, pl, pt, kh, kw, sh, sw, dh, dw, wo, ho;
};

Window windowOf(const DispatchedOp &op, const char *mnemonic) {
  Window w;
  w.W = op.fmap & 0xffff;
  w.H = (op.fmap >> 16) & 0xffff;
  w.pl = (op.fmap >> 32) & 0xff;
  const int64_t pr = (op.fmap >> 40) & 0xff, pb = (op.fmap >> 56) & 0xff;
  w.pt = (op.fmap >> 48) & 0xff;
  w.kh = operand(op, slot::kh);
  w.kw = operand(op, slot::kw);
  w.sh = operand(op, slot::sh);
  w.sw = operand(op, slot::sw);
  w.dh = operand(op, slot::dh);
  w.dw = operand(op, slot::dw);
  const int64_t spanW = w.W + w.pl + pr - w.dw * (w.kw - 1) - 1, spanH = w.H + w.pt + pb - w.dh * (w.kh - 1) - 1;
  if (w.W == 0 || w.H == 0 || spanW < 0 || spanH < 0)
    throw FaultError(FaultKind::BadOperand, std::string(mnemonic) + ": feature map " + std::to_string(w.H) + "x" +
                                                std::to_string(w.W) + " with these pads is smaller than the " +
                                                std::to_string(w.kh) + "x" + std::to_string(w.kw) +
                                                " (dilated) kernel; was setfmap run?");
  w.wo = spanW / w.sw + 1;
  w.ho = spanH / w.sh + 1;
  return w;
}

void load3d(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  auto type = static_cast<isa::DataType>(operand(op, slot::type));
  const int64_t size = isa::dataTypeBytes(type), c0 = kBlock / size;
  const Window win = windowOf(op, "load3d");
  const int64_t W = win.W, H = win.H, pl = win.pl, pt = win.pt, kh = win.kh, kw = win.kw, sh = win.sh,
                sw = win.sw, dh = win.dh, dw = win.dw, wo = win.wo, ho = win.ho;
  const int64_t c1 = operand(op, slot::c1), mcount = operand(op, slot::mcount);
  const int64_t kf = c1 * kh * kw;
  const uint8_t *src = operandMemory(core, gm, op, slot::src, c1 * H * W * kBlock, &fx, false);
  uint8_t *dst = operandMemory(core, gm, op, slot::dst, mcount * kf * kFractal, &fx, true);
  const int64_t start = static_cast<int64_t>(op.address(slot::xm.index(op.inst)));
  // Each (row-fractal, k-fractal) pair is 16 consecutive 32-byte rows of dst: written in order,
  // one pixel's window position after the other.
  for (int64_t f = 0; f < mcount; ++f) {
    int64_t top[16], left[16]; // the window's top-left input position per pixel; invalid: far out
    for (int64_t t = 0; t < 16; ++t) {
      const int64_t p = start + f * 16 + t;
      const bool valid = p >= 0 && p < ho * wo;
      top[t] = valid ? (p / wo) * sh - pt : -(int64_t(1) << 40);
      left[t] = valid ? (p % wo) * sw - pl : -(int64_t(1) << 40);
    }
    // Sixteen pixels of one output row at stride 1 read sixteen consecutive input blocks for
    // each window position: one 512-byte copy where all of them are inside the input.
    bool oneRow = true;
    for (int64_t t = 1; t < 16; ++t)
      oneRow = oneRow && top[t] == top[0] && left[t] == left[0] + t;
    uint8_t *out = dst + f * kf * 16 * kBlock;
    for (int64_t ci = 0; ci < c1; ++ci)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x) {
          const int64_t ih0 = top[0] + y * dh, iw0 = left[0] + x * dw;
          if (oneRow && ih0 >= 0 && ih0 < H && iw0 >= 0 && iw0 + 15 < W) {
            std::memcpy(out, src + ((ci * H + ih0) * W + iw0) * c0 * size, 16 * kBlock);
            out += 16 * kBlock;
            continue;
          }
          for (int64_t t = 0; t < 16; ++t, out += kBlock) {
            const int64_t ih = top[t] + y * dh, iw = left[t] + x * dw;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
              std::memcpy(out, src + ((ci * H + ih) * W + iw) * c0 * size, kBlock);
            else
              std::memset(out, 0, kBlock);
          }
        }
  }
  fx.bytes = mcount * kf * kFractal;
}

// img2col of a C04 map: K runs over (tap, 4 channels), each fractal row 16 of those elements
// (4 taps), zero past the last tap.
void load3dC04(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  constexpr int64_t size = 2, c0 = kBlock / size, c4 = 4; // f16
  const Window win = windowOf(op, "load3d_c04");
  const int64_t W = win.W, H = win.H, pl = win.pl, pt = win.pt, kh = win.kh, kw = win.kw, sh = win.sh,
                sw = win.sw, dh = win.dh, dw = win.dw, wo = win.wo, ho = win.ho;
  const int64_t mcount = operand(op, slot::mcount);
  const int64_t taps = kh * kw, kf = (taps * c4 + c0 - 1) / c0;
  const uint8_t *src = operandMemory(core, gm, op, slot::src, H * W * c4 * size, &fx, false);
  uint8_t *dst = operandMemory(core, gm, op, slot::dst, mcount * kf * kFractal, &fx, true);
  const int64_t start = static_cast<int64_t>(op.address(slot::xm.index(op.inst)));
  for (int64_t f = 0; f < mcount; ++f) {
    uint8_t *out = dst + f * kf * 16 * kBlock;
    for (int64_t j = 0; j < kf; ++j)
      for (int64_t t = 0; t < 16; ++t, out += kBlock) {
        const int64_t p = start + f * 16 + t;
        const bool valid = p >= 0 && p < ho * wo;
        const int64_t top = (p / wo) * sh - pt, left = (p % wo) * sw - pl;
        for (int64_t q = 0; q < c0 / c4; ++q) { // the fractal row's taps
          const int64_t tap = j * (c0 / c4) + q, y = tap / kw, x = tap % kw;
          const int64_t ih = top + y * dh, iw = left + x * dw;
          uint8_t *to = out + q * c4 * size;
          if (valid && tap < taps && ih >= 0 && ih < H && iw >= 0 && iw < W)
            std::memcpy(to, src + (ih * W + iw) * c4 * size, c4 * size);
          else
            std::memset(to, 0, c4 * size);
        }
      }
  }
  fx.bytes = mcount * kf * kFractal;
}

} // namespace

void executeDma(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  Opcode code = op.inst.opcode;
  fx.path = pathOf(code, op.inst.spaces[0]);
  switch (code) {
  case Opcode::Gm2L1:
  case Opcode::Gm2Ub:
  case Opcode::Ub2Gm:
  case Opcode::Ub2Ub: burstCopy(core, gm, op, fx); return;
  case Opcode::Gm2L1Nz: ndToNz(core, gm, op, fx); return;
  case Opcode::Load2d: load2d(core, gm, op, fx); return;
  case Opcode::Load3d:
    fx.path = DataPath::L1ToL0A;
    load3d(core, gm, op, fx);
    return;
  case Opcode::Load3dC04:
    fx.path = DataPath::L1ToL0A;
    load3dC04(core, gm, op, fx);
    return;
  default: throw FaultError(FaultKind::BadOperand, "not a DMA instruction");
  }
}

} // namespace fractal::sim::detail
