// Internal helpers shared by the instruction semantics files.
#pragma once

#include "fractal/sim/Execute.h"
#include "fractal/sim/Fault.h"
#include "fractal/sim/OperandSlots.h"

#include <string>

namespace fractal::sim::detail {

// GM bytes of [address, address + length), or a GmAccess fault naming the operand.
inline uint8_t *gmSpan(GlobalMemory &gm, uint64_t address, uint64_t length, const char *what) {
  std::string why;
  uint8_t *p = gm.resolve(address, length, &why);
  if (!p)
    throw FaultError(FaultKind::GmAccess, std::string(what) + ": " + why);
  return p;
}

// Memory of a Mem operand: GM or a local buffer, bounds- and alignment-checked for `length` bytes.
// Records the span in `fx` for the race detector; `write` says which way the data goes.
inline uint8_t *operandMemory(CoreState &core, GlobalMemory &gm, const DispatchedOp &op,
                              const isa::OperandSlot &slot, uint64_t length, OpEffects *fx = nullptr,
                              bool write = false) {
  size_t i = slot.index(op.inst);
  isa::Space space = op.inst.spaces[i];
  if (fx)
    fx->touched(space, op.address(i), length, write);
  if (space == isa::Space::GM)
    return gmSpan(gm, op.address(i), length, slot.name());
  return core.local(space, op.address(i), length, slot.name());
}

inline int64_t operand(const DispatchedOp &op, const isa::OperandSlot &slot) { return slot.value(op.inst); }

void executeDma(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &effects);
void executeCube(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &effects);
void executeFixPipe(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &effects);
void executeVector(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &effects);

inline uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

} // namespace fractal::sim::detail
