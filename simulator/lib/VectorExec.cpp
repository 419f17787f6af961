// Vector unit semantics (docs/isa.md, "Vector instructions"): repeats of 8 blocks of 32 bytes,
// block and repeat strides, a 128-bit mask, fp16 computed in fp32 and rounded once. Each repeat
// reads all its sources before it writes its destination; repeats run in order.
#include "ExecUtil.h"

#include "fractal/isa/Numerics.h"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace fractal::sim::detail {

using isa::DataType;
using isa::Opcode;

namespace {

constexpr uint64_t kBlock = 32;
constexpr int kMaxElements = 128; // per repeat (fp16)

struct Operand {
  uint8_t *base = nullptr;
  uint64_t size = 0; // element size
  uint64_t blk = 1, rep = 8;
  uint8_t *element(uint64_t r, uint64_t e) const {
    uint64_t perBlock = kBlock / size;
    return base + r * rep * kBlock + (e / perBlock) * blk * kBlock + (e % perBlock) * size;
  }
};

// A vector operand's address and its block and repeat strides (`dst`, `dst_blk`, `dst_rep`).
struct VectorName {
  isa::OperandSlot &base, &blk, &rep;
};
const VectorName kDst{slot::dst, slot::dst_blk, slot::dst_rep};
const VectorName kSrc{slot::src, slot::src_blk, slot::src_rep};
const VectorName kSrc0{slot::src0, slot::src0_blk, slot::src0_rep};
const VectorName kSrc1{slot::src1, slot::src1_blk, slot::src1_rep};

// Resolves a UB operand with its strides from the instruction, after checking the whole span it
// touches for `repeat` repeats of `elements` elements of `size` bytes.
Operand vectorOperand(CoreState &core, const DispatchedOp &op, const VectorName &name, uint64_t size,
                      uint64_t elements, uint64_t repeat, OpEffects &fx) {
  Operand o;
  o.size = size;
  o.blk = static_cast<uint64_t>(name.blk.value(op.inst));
  o.rep = static_cast<uint64_t>(name.rep.value(op.inst));
  uint64_t blocks = ceilDiv(elements * size, kBlock);
  uint64_t span =
      repeat == 0 ? 0 : (repeat - 1) * o.rep * kBlock + (blocks - 1) * o.blk * kBlock + kBlock;
  size_t i = name.base.index(op.inst);
  o.base = core.local(op.inst.spaces[i], op.address(i), span, name.base.name());
  fx.touched(op.inst.spaces[i], op.address(i), span, &name == &kDst);
  return o;
}

bool enabled(const DispatchedOp &op, uint64_t e) {
  return e < 64 ? (op.maskLo >> e) & 1 : (op.maskHi >> (e - 64)) & 1;
}

// Element values are carried as double: exact for fp16, fp32 and int32.
double loadElement(const uint8_t *p, DataType t) {
  switch (t) {
  case DataType::F16: {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return isa::halfToFloat(h);
  }
  case DataType::F32: {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  case DataType::S32: {
    int32_t x;
    std::memcpy(&x, p, 4);
    return x;
  }
  case DataType::S8: return static_cast<int8_t>(*p);
  }
  return 0;
}

void loadRepeat(const Operand &o, uint64_t r, uint64_t n, DataType t, float *out) {
  if (t == DataType::F16 && o.blk == 1) {
    // Contiguous blocks: one F16C conversion per repeat.
    isa::halfToFloatArray(reinterpret_cast<const uint16_t *>(o.element(r, 0)), out, n);
    return;
  }
  if (t == DataType::F16 || t == DataType::F32) {
    // Strided blocks (feature-map kernels): a block's elements are contiguous, convert per block.
    const uint64_t perBlock = kBlock / o.size;
    for (uint64_t e = 0; e < n; e += perBlock) {
      const uint8_t *p = o.element(r, e);
      if (t == DataType::F16)
        isa::halfToFloatArray(reinterpret_cast<const uint16_t *>(p), out + e, perBlock);
      else
        std::memcpy(out + e, p, perBlock * 4);
    }
    return;
  }
  for (uint64_t e = 0; e < n; ++e)
    out[e] = static_cast<float>(loadElement(o.element(r, e), t));
}

void storeFloat(uint8_t *p, DataType t, float v) {
  if (t == DataType::F16) {
    uint16_t h = isa::floatToHalf(v);
    std::memcpy(p, &h, 2);
  } else {
    std::memcpy(p, &v, 4);
  }
}

void storeRepeat(const Operand &o, const DispatchedOp &op, uint64_t r, uint64_t n, DataType t,
                 const float *values) {
  const bool allEnabled = op.maskLo == ~0ull && (n <= 64 || op.maskHi == ~0ull);
  if (allEnabled && o.blk == 1 && t == DataType::F16) { // contiguous: one conversion
    isa::floatToHalfArray(values, reinterpret_cast<uint16_t *>(o.element(r, 0)), n);
    return;
  }
  if (allEnabled && (t == DataType::F16 || t == DataType::F32)) {
    // No masked lanes: convert or copy a whole block at a time.
    const uint64_t perBlock = kBlock / o.size;
    for (uint64_t e = 0; e < n; e += perBlock) {
      uint8_t *p = o.element(r, e);
      if (t == DataType::F16)
        isa::floatToHalfArray(values + e, reinterpret_cast<uint16_t *>(p), perBlock);
      else
        std::memcpy(p, values + e, perBlock * 4);
    }
    return;
  }
  for (uint64_t e = 0; e < n; ++e)
    if (enabled(op, e))
      storeFloat(o.element(r, e), t, values[e]);
}

uint64_t elementsPerRepeat(DataType t) { return 256 / isa::dataTypeBytes(t); }

float scalarOperand(const DispatchedOp &op, DataType t) {
  uint64_t raw = op.address(slot::xs.index(op.inst));
  if (t == DataType::F16)
    return isa::halfToFloat(static_cast<uint16_t>(raw));
  return isa::bitsToFloat(static_cast<uint32_t>(raw));
}

int32_t wrap(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

// Integer (s32) element-wise ops, exact and wrapping.
int32_t integerOp(Opcode code, int32_t a, int32_t b) {
  switch (code) {
  case Opcode::Vadd:
  case Opcode::Vadds: return wrap(int64_t(a) + b);
  case Opcode::Vsub: return wrap(int64_t(a) - b);
  case Opcode::Vmul:
  case Opcode::Vmuls: return wrap(int64_t(a) * b);
  case Opcode::Vmax:
  case Opcode::Vmaxs: return std::max(a, b);
  case Opcode::Vmin:
  case Opcode::Vmins: return std::min(a, b);
  case Opcode::Vabs: return a == INT32_MIN ? a : std::abs(a);
  case Opcode::Vrelu: return std::max(a, 0);
  case Opcode::Vmov: return a;
  default: throw FaultError(FaultKind::BadOperand, "no integer form of this vector op");
  }
}

float floatOp(Opcode code, float a, float b) {
  switch (code) {
  case Opcode::Vadd:
  case Opcode::Vadds: return a + b;
  case Opcode::Vsub: return a - b;
  case Opcode::Vmul:
  case Opcode::Vmuls: return a * b;
  case Opcode::Vdiv: return a / b;
  case Opcode::Vmax:
  case Opcode::Vmaxs: return isa::fractalMax(a, b);
  case Opcode::Vmin:
  case Opcode::Vmins: return isa::fractalMin(a, b);
  case Opcode::Vabs: return std::fabs(a);
  case Opcode::Vexp: return isa::fractalExp(a);
  case Opcode::Vln: return isa::fractalLog(a);
  case Opcode::Vsqrt: return std::sqrt(a);
  case Opcode::Vrsqrt: return 1.0f / std::sqrt(a);
  case Opcode::Vrec: return 1.0f / a;
  case Opcode::Vrelu: return isa::fractalMax(a, 0.0f);
  case Opcode::Vmov: return a;
  default: throw FaultError(FaultKind::BadOperand, "not an element-wise vector op");
  }
}

// floatOp over n lanes with the opcode switch outside the loops, so the common arithmetic
// vectorises.
void floatOpLanes(Opcode code, const float *a, const float *b, float *out, uint64_t n) {
  switch (code) {
  case Opcode::Vadd:
  case Opcode::Vadds:
    for (uint64_t e = 0; e < n; ++e) out[e] = a[e] + b[e];
    return;
  case Opcode::Vsub:
    for (uint64_t e = 0; e < n; ++e) out[e] = a[e] - b[e];
    return;
  case Opcode::Vmul:
  case Opcode::Vmuls:
    for (uint64_t e = 0; e < n; ++e) out[e] = a[e] * b[e];
    return;
  case Opcode::Vmax:
  case Opcode::Vmaxs:
    for (uint64_t e = 0; e < n; ++e) out[e] = isa::fractalMax(a[e], b[e]);
    return;
  case Opcode::Vmin:
  case Opcode::Vmins:
    for (uint64_t e = 0; e < n; ++e) out[e] = isa::fractalMin(a[e], b[e]);
    return;
  case Opcode::Vrelu:
    for (uint64_t e = 0; e < n; ++e) out[e] = isa::fractalMax(a[e], 0.0f);
    return;
  case Opcode::Vmov:
    std::copy(a, a + n, out);
    return;
  case Opcode::Vexp:
    isa::fractalExpArray(a, out, n);
    return;
  default:
    for (uint64_t e = 0; e < n; ++e) out[e] = floatOp(code, a[e], b[e]);
  }
}

bool compare(isa::CompareMode mode, double a, double b) {
  switch (mode) {
  case isa::CompareMode::EQ: return a == b;
  case isa::CompareMode::NE: return a != b;
  case isa::CompareMode::LT: return a < b;
  case isa::CompareMode::LE: return a <= b;
  case isa::CompareMode::GT: return a > b;
  case isa::CompareMode::GE: return a >= b;
  }
  return false;
}

// Pairwise tree over `n` (a power of two) values, every step in fp32.
float treeReduce(float *v, uint64_t n, Opcode code) {
  for (uint64_t width = n; width > 1; width /= 2)
    for (uint64_t i = 0; i < width / 2; ++i) {
      float a = v[2 * i], b = v[2 * i + 1];
      v[i] = code == Opcode::Vcadd || code == Opcode::Vcgadd   ? a + b
             : code == Opcode::Vcmax || code == Opcode::Vcgmax ? isa::fractalMax(a, b)
                                                               : isa::fractalMin(a, b);
    }
  return v[0];
}

float identity(Opcode code) {
  if (code == Opcode::Vcadd || code == Opcode::Vcgadd)
    return 0.0f;
  return code == Opcode::Vcmax || code == Opcode::Vcgmax ? -INFINITY : INFINITY;
}

void elementwise(CoreState &core, const DispatchedOp &op, DataType t, uint64_t repeat, OpEffects &fx) {
  const Opcode code = op.inst.opcode;
  const uint64_t size = isa::dataTypeBytes(t), n = elementsPerRepeat(t);
  const bool binary = slot::src1.in(op.inst);
  const bool scalar = slot::xs.in(op.inst);
  const VectorName &srcName = binary ? kSrc0 : kSrc;
  Operand dst = vectorOperand(core, op, kDst, size, n, repeat, fx);
  Operand src0 = vectorOperand(core, op, srcName, size, n, repeat, fx);
  Operand src1;
  if (binary) {
    src1 = vectorOperand(core, op, kSrc1, size, n, repeat, fx);
  }
  Operand sel;
  if (code == Opcode::Vsel)
    sel.base = core.local(isa::Space::UB, op.address(slot::sel.index(op.inst)),
                          repeat * n / 8, "sel");
  if (code == Opcode::Vsel)
    fx.touched(isa::Space::UB, op.address(slot::sel.index(op.inst)), repeat * n / 8, false);

  float a[kMaxElements], b[kMaxElements], out[kMaxElements];
  for (uint64_t r = 0; r < repeat; ++r) {
    if (t == DataType::S32) {
      int32_t ai[kMaxElements], bi[kMaxElements], oi[kMaxElements];
      int32_t s = scalar ? static_cast<int32_t>(op.address(slot::xs.index(op.inst))) : 0;
      for (uint64_t e = 0; e < n; ++e) {
        std::memcpy(&ai[e], src0.element(r, e), 4);
        bi[e] = s;
        if (binary)
          std::memcpy(&bi[e], src1.element(r, e), 4);
      }
      for (uint64_t e = 0; e < n; ++e)
        oi[e] = code == Opcode::Vsel ? ((sel.base[r * n / 8 + e / 8] >> (e % 8)) & 1 ? ai[e] : bi[e])
                                     : integerOp(code, ai[e], bi[e]);
      for (uint64_t e = 0; e < n; ++e)
        if (enabled(op, e))
          std::memcpy(dst.element(r, e), &oi[e], 4);
      continue;
    }
    loadRepeat(src0, r, n, t, a);
    if (binary)
      loadRepeat(src1, r, n, t, b);
    else if (scalar)
      std::fill(b, b + n, scalarOperand(op, t));
    if (code == Opcode::Vsel) {
      for (uint64_t e = 0; e < n; ++e)
        out[e] = (sel.base[r * n / 8 + e / 8] >> (e % 8)) & 1 ? a[e] : b[e];
    } else {
      floatOpLanes(code, a, b, out, n);
    }
    storeRepeat(dst, op, r, n, t, out);
  }
}

void vcompare(CoreState &core, const DispatchedOp &op, DataType t, uint64_t repeat, OpEffects &fx) {
  const uint64_t size = isa::dataTypeBytes(t), n = elementsPerRepeat(t);
  auto mode = static_cast<isa::CompareMode>(slot::cmp.value(op.inst));
  Operand src0 = vectorOperand(core, op, kSrc0, size, n, repeat, fx);
  Operand src1 = vectorOperand(core, op, kSrc1, size, n, repeat, fx);
  uint8_t *dst = core.local(isa::Space::UB, op.address(slot::dst.index(op.inst)),
                            repeat * n / 8, "dst");
  fx.touched(isa::Space::UB, op.address(slot::dst.index(op.inst)), repeat * n / 8, true);
  for (uint64_t r = 0; r < repeat; ++r) {
    uint8_t bits[kMaxElements / 8] = {};
    for (uint64_t e = 0; e < n; ++e)
      if (enabled(op, e) &&
          compare(mode, loadElement(src0.element(r, e), t), loadElement(src1.element(r, e), t)))
        bits[e / 8] |= static_cast<uint8_t>(1u << (e % 8));
    std::memcpy(dst + r * n / 8, bits, n / 8);
  }
}

void vconvert(CoreState &core, const DispatchedOp &op, uint64_t repeat, OpEffects &fx) {
  auto from = static_cast<DataType>(slot::from.value(op.inst));
  auto to = static_cast<DataType>(slot::to.value(op.inst));
  const uint64_t fs = isa::dataTypeBytes(from), ts = isa::dataTypeBytes(to);
  const uint64_t n = 256 / std::max(fs, ts);
  Operand dst = vectorOperand(core, op, kDst, ts, n, repeat, fx);
  Operand src = vectorOperand(core, op, kSrc, fs, n, repeat, fx);
  uint8_t tmp[kMaxElements * 4];
  for (uint64_t r = 0; r < repeat; ++r) {
    for (uint64_t e = 0; e < n; ++e) {
      double v = loadElement(src.element(r, e), from);
      uint8_t *out = tmp + e * ts;
      switch (to) {
      case DataType::F16: {
        // int32 -> fp16 goes through fp32 (two roundings), as docs/isa.md defines.
        uint16_t h = isa::floatToHalf(static_cast<float>(v));
        std::memcpy(out, &h, 2);
        break;
      }
      case DataType::F32: {
        float f = static_cast<float>(v);
        std::memcpy(out, &f, 4);
        break;
      }
      case DataType::S8: *reinterpret_cast<int8_t *>(out) = isa::floatToInt8Saturate(static_cast<float>(v)); break;
      case DataType::S32: {
        int32_t x = isa::floatToInt32Saturate(static_cast<float>(v));
        std::memcpy(out, &x, 4);
        break;
      }
      }
    }
    for (uint64_t e = 0; e < n; ++e)
      if (enabled(op, e))
        std::memcpy(dst.element(r, e), tmp + e * ts, ts);
  }
}

void vreduce(CoreState &core, const DispatchedOp &op, DataType t, uint64_t repeat, OpEffects &fx) {
  const Opcode code = op.inst.opcode;
  const uint64_t size = isa::dataTypeBytes(t), n = elementsPerRepeat(t);
  const bool perBlock = code == Opcode::Vcgadd || code == Opcode::Vcgmax || code == Opcode::Vcgmin;
  Operand src = vectorOperand(core, op, kSrc, size, n, repeat, fx);
  const uint64_t results = perBlock ? 8 : 1;
  uint8_t *dst = core.local(isa::Space::UB, op.address(slot::dst.index(op.inst)),
                            repeat * results * size, "dst");
  fx.touched(isa::Space::UB, op.address(slot::dst.index(op.inst)), repeat * results * size, true);
  float v[kMaxElements];
  for (uint64_t r = 0; r < repeat; ++r) {
    loadRepeat(src, r, n, t, v);
    for (uint64_t e = 0; e < n; ++e)
      if (!enabled(op, e))
        v[e] = identity(code);
    const uint64_t group = n / results;
    for (uint64_t g = 0; g < results; ++g)
      storeFloat(dst + (r * results + g) * size, t, treeReduce(v + g * group, group, code));
  }
}

void vduplicate(CoreState &core, const DispatchedOp &op, DataType t, uint64_t repeat, OpEffects &fx) {
  const uint64_t size = isa::dataTypeBytes(t), n = elementsPerRepeat(t);
  Operand dst = vectorOperand(core, op, kDst, size, n, repeat, fx);
  uint64_t raw = op.address(slot::xs.index(op.inst));
  for (uint64_t r = 0; r < repeat; ++r)
    for (uint64_t e = 0; e < n; ++e)
      if (enabled(op, e))
        std::memcpy(dst.element(r, e), &raw, size); // low bits, little-endian
}

} // namespace

void executeVector(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx) {
  (void)gm;
  const Opcode code = op.inst.opcode;
  const uint64_t repeat = slot::repeat.value(op.inst);
  fx.bytes = repeat * 256;
  if (code == Opcode::Vconv) {
    vconvert(core, op, repeat, fx);
    return;
  }
  const auto t = static_cast<DataType>(slot::type.value(op.inst));
  switch (code) {
  case Opcode::Vcmp: vcompare(core, op, t, repeat, fx); return;
  case Opcode::Vcadd:
  case Opcode::Vcmax:
  case Opcode::Vcmin:
  case Opcode::Vcgadd:
  case Opcode::Vcgmax:
  case Opcode::Vcgmin: vreduce(core, op, t, repeat, fx); return;
  case Opcode::Vdup: vduplicate(core, op, t, repeat, fx); return;
  default: elementwise(core, op, t, repeat, fx); return;
  }
}

} // namespace fractal::sim::detail

namespace fractal::sim {

const char *dataPathName(DataPath path) {
  switch (path) {
  case DataPath::GmToL1: return "gm->l1";
  case DataPath::GmToUb: return "gm->ub";
  case DataPath::UbToGm: return "ub->gm";
  case DataPath::UbToUb: return "ub->ub";
  case DataPath::L1ToL0A: return "l1->l0a";
  case DataPath::L1ToL0B: return "l1->l0b";
  case DataPath::L0CToGm: return "l0c->gm";
  case DataPath::L0CToUb: return "l0c->ub";
  case DataPath::L0CToL1: return "l0c->l1";
  case DataPath::ScalarGm: return "scalar<->gm";
  case DataPath::None: return "none";
  }
  return "?";
}

void executeOp(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &effects) {
  switch (op.inst.pipe()) {
  case isa::Pipe::M: detail::executeCube(core, gm, op, effects); return;
  case isa::Pipe::FIX: detail::executeFixPipe(core, gm, op, effects); return;
  case isa::Pipe::V:
    if (op.inst.opcode == isa::Opcode::Ub2Ub)
      detail::executeDma(core, gm, op, effects);
    else
      detail::executeVector(core, gm, op, effects);
    return;
  default: detail::executeDma(core, gm, op, effects); return;
  }
}

} // namespace fractal::sim
