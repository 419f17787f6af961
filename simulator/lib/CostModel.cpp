#include "CostModel.h"

#include "fractal/sim/OperandSlots.h"

#include <algorithm>

namespace fractal::sim::detail {

using isa::Opcode;
using isa::Space;

namespace {

const BufferSpec &bufferOf(const ChipConfig &c, Space s) {
  return c.buffer(bufferKindOf(s));
}

} // namespace

OpTiming pipeTiming(const ChipConfig &c, const DispatchedOp &op, const OpEffects &fx) {
  const isa::Instruction &inst = op.inst;
  OpTiming t;
  switch (inst.pipe()) {
  case isa::Pipe::M:
    t.busy = std::max<uint64_t>(1, fx.fractalCycles);
    t.latency = c.cube.mmadLatencyCycles;
    return t;
  case isa::Pipe::V: {
    if (inst.opcode == Opcode::Ub2Ub) {
      const BufferSpec &ub = c.buffer(BufferKind::UB);
      t.busy = std::max<uint64_t>(1, ceilDivCycles(fx.bytes, std::min(ub.readBytesPerCycle,
                                                                       ub.writeBytesPerCycle)));
      t.latency = c.vector.pipelineDelayCycles;
      return t;
    }
    const VectorTiming &vt = c.vectorTiming(*inst.info().vectorTiming);
    t.busy = std::max<uint64_t>(1, ceilDivCycles(fx.bytes, vt.bytesPerCycle));
    t.latency = vt.latencyCycles + c.vector.pipelineDelayCycles;
    return t;
  }
  case isa::Pipe::MTE1: {
    const BufferSpec &l1 = c.buffer(BufferKind::L1);
    const BufferSpec &dst = bufferOf(c, slot::dst.space(inst));
    t.busy = std::max<uint64_t>(
        1, ceilDivCycles(fx.bytes, std::min(l1.readBytesPerCycle, dst.writeBytesPerCycle)));
    t.latency = inst.opcode == Opcode::Load3d || inst.opcode == Opcode::Load3dC04 ? c.dma.load3dCycles
                                                                                  : c.dma.load2dCycles;
    return t;
  }
  case isa::Pipe::MTE2: {
    // GM -> L1/UB: issue, then the local write port (the GM side is added by the memory system).
    const BufferSpec &dst = c.buffer(fx.path == DataPath::GmToUb ? BufferKind::UB : BufferKind::L1);
    t.busy = c.dma.issueCycles + ceilDivCycles(fx.bytes, dst.writeBytesPerCycle);
    return t;
  }
  case isa::Pipe::MTE3: {
    const BufferSpec &ub = c.buffer(BufferKind::UB);
    t.busy = c.dma.issueCycles + ceilDivCycles(fx.bytes, ub.readBytesPerCycle);
    return t;
  }
  case isa::Pipe::FIX: {
    const BufferSpec &l0c = c.buffer(BufferKind::L0C);
    const uint64_t accBytes = static_cast<uint64_t>(slot::m.value(inst)) * slot::n.value(inst) * 4;
    uint64_t busy = ceilDivCycles(accBytes, l0c.readBytesPerCycle);
    if (fx.path == DataPath::L0CToUb)
      busy = std::max(busy, ceilDivCycles(fx.bytes, c.buffer(BufferKind::UB).writeBytesPerCycle));
    if (fx.path == DataPath::L0CToL1)
      busy = std::max(busy, ceilDivCycles(fx.bytes, c.buffer(BufferKind::L1).writeBytesPerCycle));
    t.busy = c.dma.issueCycles + busy;
    return t;
  }
  default: return t;
  }
}

} // namespace fractal::sim::detail
