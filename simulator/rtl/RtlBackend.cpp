#include "RtlBackend.h"

#include "RtlCube.h"
#include "RtlVectorLane.h"

#include "fractal/isa/Isa.h"

#include <cstdlib>
#include <cstring>

namespace fractal::sim {

namespace {

using isa::DataType;
using isa::Opcode;

// The element address of a vector operand (docs/isa.md, "Vector instructions").
struct Strided {
  uint8_t *base;
  uint64_t size, blk, rep;
  uint8_t *at(uint64_t r, uint64_t e) const {
    uint64_t perBlock = 32 / size;
    return base + r * rep * 32 + (e / perBlock) * blk * 32 + (e % perBlock) * size;
  }
};

class RtlBackend : public TileBackend {
public:
  RtlBackend() {
    // Waveforms for debugging: FRACTAL_RTL_WAVES=cube.fst records every cube tile cycle.
    if (const char *path = std::getenv("FRACTAL_RTL_WAVES"); path && *path)
      cube_.traceTo(path);
  }
  const char *name() const override { return "rtl"; }

  bool execute(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &fx,
               uint64_t &tileCycles, uint64_t &modelCycles) override {
    if (op.inst.opcode == Opcode::Mmad)
      return mmad(core, op, fx, tileCycles, modelCycles);
    rtl::LaneOp laneOp;
    if (!laneOpOf(op.inst, laneOp))
      return false;
    (void)gm;
    return vector(core, op, laneOp, fx, tileCycles, modelCycles);
  }

private:
  bool mmad(CoreState &core, const DispatchedOp &op, OpEffects &fx, uint64_t &tileCycles,
            uint64_t &modelCycles) {
    const auto type = static_cast<DataType>(op.inst.operand("type"));
    rtl::MmadOperands m;
    m.int8 = type == DataType::S8;
    m.m = op.inst.operand("m");
    m.k = op.inst.operand("k");
    m.n = op.inst.operand("n");
    m.init = op.inst.operand("init");
    const uint64_t k0 = m.int8 ? 32 : 16;
    const uint64_t mf = (m.m + 15) / 16, kf = (m.k + k0 - 1) / k0, nf = (m.n + 15) / 16;
    fx.macs = m.m * m.n * m.k;
    fx.fractalCycles = mf * nf * kf;
    if (fx.fractalCycles == 0)
      return true;
    // Same bounds and alignment checks as the C++ model, through the core's buffers.
    m.a = core.local(op.inst.space("a"), op.address(op.inst.operandIndex("a")), mf * kf * 512, "a");
    m.b = core.local(op.inst.space("b"), op.address(op.inst.operandIndex("b")), kf * nf * 512, "b");
    m.c = core.local(op.inst.space("dst"), op.address(op.inst.operandIndex("dst")), nf * mf * 1024,
                     "dst");
    const size_t biasIdx = op.inst.operandIndex("bias");
    if (op.inst.values[biasIdx] != 0 && m.init)
      m.bias = core.local(isa::Space::L1, op.address(biasIdx), m.n * 4, "bias");
    tileCycles = cube_.mmad(m);
    modelCycles = fx.fractalCycles + rtl::RtlCube::kPipelineDepth - 1;
    return true;
  }

  static bool laneOpOf(const isa::Instruction &inst, rtl::LaneOp &out) {
    if (inst.opcode == Opcode::Vconv) {
      auto from = static_cast<DataType>(inst.operand("from"));
      auto to = static_cast<DataType>(inst.operand("to"));
      if (from == DataType::F16 && to == DataType::F32)
        out = rtl::LaneOp::F16ToF32;
      else if (from == DataType::F32 && to == DataType::F16)
        out = rtl::LaneOp::F32ToF16;
      else
        return false;
      return true;
    }
    switch (inst.opcode) {
    case Opcode::Vadd: out = rtl::LaneOp::Add; break;
    case Opcode::Vsub: out = rtl::LaneOp::Sub; break;
    case Opcode::Vmul: out = rtl::LaneOp::Mul; break;
    case Opcode::Vmax: out = rtl::LaneOp::Max; break;
    case Opcode::Vmin: out = rtl::LaneOp::Min; break;
    case Opcode::Vrelu: out = rtl::LaneOp::Relu; break;
    case Opcode::Vcmp: out = rtl::LaneOp::Cmp; break;
    case Opcode::Vsel: out = rtl::LaneOp::Sel; break;
    default: return false;
    }
    return static_cast<DataType>(inst.operand("type")) == DataType::F16; // the lane is fp16
  }

  Strided operand(CoreState &core, const DispatchedOp &op, const std::string &name,
                  uint64_t size, uint64_t elements, uint64_t repeat, bool strided) {
    uint64_t blk = strided ? op.inst.operand((name + "_blk").c_str()) : 1;
    uint64_t rep = strided ? op.inst.operand((name + "_rep").c_str()) : elements * size / 32;
    uint64_t blocks = (elements * size + 31) / 32;
    uint64_t span = (repeat - 1) * rep * 32 + (blocks - 1) * blk * 32 + 32;
    size_t i = op.inst.operandIndex(name.c_str());
    return {core.local(op.inst.spaces[i], op.address(i), span, name.c_str()), size, blk, rep};
  }

  bool vector(CoreState &core, const DispatchedOp &op, rtl::LaneOp laneOp, OpEffects &fx,
              uint64_t &tileCycles, uint64_t &modelCycles) {
    const uint64_t repeat = op.inst.operand("repeat");
    fx.bytes = repeat * 256;
    if (repeat == 0)
      return true;
    const bool convert = laneOp == rtl::LaneOp::F16ToF32 || laneOp == rtl::LaneOp::F32ToF16;
    const uint64_t n = convert ? 64 : 128;
    const uint64_t srcSize = laneOp == rtl::LaneOp::F32ToF16 ? 4 : 2;
    const uint64_t dstSize = laneOp == rtl::LaneOp::F16ToF32 ? 4 : 2;
    const bool binary = laneOp != rtl::LaneOp::Relu && !convert;
    const std::string srcName = binary ? "src0" : "src";
    Strided src0 = operand(core, op, srcName, srcSize, n, repeat, true), src1{};
    if (binary)
      src1 = operand(core, op, "src1", srcSize, n, repeat, true);
    uint8_t *packed = nullptr; // vcmp's destination bitmask, vsel's selector
    Strided dst{};
    if (laneOp == rtl::LaneOp::Cmp)
      packed = core.local(isa::Space::UB, op.address(op.inst.operandIndex("dst")), repeat * n / 8, "dst");
    else
      dst = operand(core, op, "dst", dstSize, n, repeat, true);
    if (laneOp == rtl::LaneOp::Sel)
      packed = core.local(isa::Space::UB, op.address(op.inst.operandIndex("sel")), repeat * n / 8, "sel");

    std::vector<rtl::LaneRepeat> in(repeat);
    for (uint64_t r = 0; r < repeat; ++r) {
      rtl::LaneRepeat &lr = in[r];
      lr.mask = {op.maskLo, op.maskHi};
      for (uint64_t e = 0; e < n; ++e) {
        std::memcpy(&lr.src0[e * srcSize], src0.at(r, e), srcSize);
        if (binary)
          std::memcpy(&lr.src1[e * srcSize], src1.at(r, e), srcSize);
        if (laneOp == rtl::LaneOp::Sel && ((packed[r * n / 8 + e / 8] >> (e % 8)) & 1))
          lr.sel[e / 64] |= 1ull << (e % 64);
      }
    }
    std::vector<rtl::LaneResult> out;
    tileCycles = lane_.run(laneOp, static_cast<int>(laneOp == rtl::LaneOp::Cmp ? op.inst.operand("cmp") : 0), in, out);
    for (uint64_t r = 0; r < repeat; ++r) {
      const rtl::LaneResult &res = out[r];
      if (laneOp == rtl::LaneOp::Cmp) {
        for (uint64_t byte = 0; byte < n / 8; ++byte)
          packed[r * n / 8 + byte] = static_cast<uint8_t>(res.bits[byte / 8] >> (8 * (byte % 8)));
        continue;
      }
      for (uint64_t e = 0; e < n; ++e)
        if ((res.enable[e / 64] >> (e % 64)) & 1)
          std::memcpy(dst.at(r, e), &res.dst[e * dstSize], dstSize);
    }
    const VectorTimingClass cls = *op.inst.info().vectorTiming;
    modelCycles = (repeat * 256 + core.config().vectorTiming(cls).bytesPerCycle - 1) /
                      core.config().vectorTiming(cls).bytesPerCycle +
                  core.config().vectorTiming(cls).latencyCycles - 1;
    return true;
  }

  rtl::RtlCube cube_;
  rtl::RtlVectorLane lane_;
};

} // namespace

std::unique_ptr<TileBackend> makeRtlBackend() { return std::make_unique<RtlBackend>(); }

} // namespace fractal::sim
