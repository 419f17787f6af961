// DMA semantics: burst copies, ND->NZ, load2d, load3d (img2col). Layouts as in docs/isa.md.
#include "ExecUtil.h"

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
  uint64_t colBlocks = ceilDiv(cols, c0);
  uint64_t srcSpan = ((rows - 1) * stride + cols) * size;
  const uint8_t *src = operandMemory(core, gm, op, slot::src, srcSpan, &fx, false);
  uint8_t *dst = operandMemory(core, gm, op, slot::dst, colBlocks * dstRows * kBlock, &fx, true);
  for (uint64_t cb = 0; cb < colBlocks; ++cb) {
    uint64_t width = std::min(c0, cols - cb * c0) * size;
    for (uint64_t r = 0; r < dstRows; ++r) {
      uint8_t *row = dst + (cb * dstRows + r) * kBlock;
      if (r < rows) {
        std::memcpy(row, src + (r * stride + cb * c0) * size, width);
        std::memset(row + width, 0, kBlock - width);
      } else {
        std::memset(row, 0, kBlock);
      }
    }
  }
  fx.bytes = colBlocks * dstRows * kBlock;
  fx.gmAddress = op.address(slot::src.index(op.inst));
  fx.gmRows = rows;
  fx.gmRowBytes = cols * size;
  fx.gmRowStride = stride * size;
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

void load3d(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  auto type = static_cast<isa::DataType>(operand(op, slot::type));
  const int64_t size = isa::dataTypeBytes(type), c0 = kBlock / size;
  const int64_t W = op.fmap & 0xffff, H = (op.fmap >> 16) & 0xffff;
  const int64_t pl = (op.fmap >> 32) & 0xff, pr = (op.fmap >> 40) & 0xff;
  const int64_t pt = (op.fmap >> 48) & 0xff, pb = (op.fmap >> 56) & 0xff;
  const int64_t kh = operand(op, slot::kh), kw = operand(op, slot::kw), sh = operand(op, slot::sh),
                sw = operand(op, slot::sw), dh = operand(op, slot::dh), dw = operand(op, slot::dw),
                c1 = operand(op, slot::c1), mcount = operand(op, slot::mcount);
  const int64_t wo = (W + pl + pr - dw * (kw - 1) - 1) / sw + 1;
  const int64_t ho = (H + pt + pb - dh * (kh - 1) - 1) / sh + 1;
  if (W == 0 || H == 0 || W + pl + pr - dw * (kw - 1) - 1 < 0 ||
      H + pt + pb - dh * (kh - 1) - 1 < 0)
    throw FaultError(FaultKind::BadOperand,
                     "load3d: feature map " + std::to_string(H) + "x" + std::to_string(W) +
                         " with these pads is smaller than the " + std::to_string(kh) + "x" +
                         std::to_string(kw) + " (dilated) kernel; was setfmap run?");
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
    uint8_t *out = dst + f * kf * 16 * kBlock;
    for (int64_t ci = 0; ci < c1; ++ci)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          for (int64_t t = 0; t < 16; ++t, out += kBlock) {
            const int64_t ih = top[t] + y * dh, iw = left[t] + x * dw;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
              std::memcpy(out, src + ((ci * H + ih) * W + iw) * c0 * size, kBlock);
            else
              std::memset(out, 0, kBlock);
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
  default: throw FaultError(FaultKind::BadOperand, "not a DMA instruction");
  }
}

} // namespace fractal::sim::detail
