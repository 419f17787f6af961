#include "EngineCommon.h"

#include "fractal/isa/Disassembler.h"

#include <algorithm>

namespace fractal::sim::detail {

PipeWork::PipeWork(const ChipConfig &config) {
  int64_t vector = 1, port = std::max<int64_t>({1, config.dma.gmReadBytesPerCycle, config.dma.gmWriteBytesPerCycle});
  for (const VectorTiming &t : config.vector.timing)
    vector = std::max(vector, t.bytesPerCycle);
  for (const BufferSpec &b : config.buffers)
    port = std::max({port, b.readBytesPerCycle, b.writeBytesPerCycle});
  bytesPerCycle_.fill(uint64_t(port));
  bytesPerCycle_[size_t(pipeIndexOf(isa::Pipe::V))] = uint64_t(vector);
}

std::optional<FaultError> PipeWork::charge(int pipe, const OpEffects &fx, uint64_t budget) {
  work_[size_t(pipe)] += fx.fractalCycles + fx.bytes / bytesPerCycle_[size_t(pipe)];
  if (work_[size_t(pipe)] <= budget) return std::nullopt;
  return FaultError(FaultKind::Watchdog, "watchdog: more than " + std::to_string(budget) + " cycles of work for pipe " +
                                             pipeLabel(pipe) + " (an endless loop?)");
}

std::string describeWait(const UnitWait &wait) {
  switch (wait.kind) {
  case UnitWait::None: break;
  case UnitWait::QueueRoom: return std::string("room in the ") + pipeLabel(wait.index) + " queue";
  case UnitWait::DrainAtEnd: return "the pipes to drain at end";
  case UnitWait::DrainAtBarrier: return "every pipe to drain (barrier all)";
  case UnitWait::CrossCoreSync: return "every block to reach sync_all #" + std::to_string(wait.index);
  case UnitWait::Flag: { // the inverse of flagIndex
    const int event = wait.index % isa::kNumEventIds, pair = wait.index / isa::kNumEventIds;
    return std::string("flag ") + isa::pipeName(static_cast<isa::Pipe>(pair / 16)) + "->" +
           isa::pipeName(static_cast<isa::Pipe>(pair % 16)) + " #" + std::to_string(event);
  }
  }
  return "";
}

Fault describeBlockedCore(int core, int64_t block, const isa::KernelBinary &kernel, int64_t scalarPc,
                          const UnitWaits &waits, const std::array<size_t, kNumPipes> &queued) {
  Fault f;
  f.core = core;
  f.block = static_cast<int>(block);
  const size_t size = kernel.instructionCount();
  std::string cause;
  bool first = true;
  if (!waits.what[0].kind && scalarPc >= 0 && static_cast<size_t>(scalarPc) < size) {
    // Not waiting: the scalar unit is busy (a watchdog stop in an endless loop).
    f.pipe = "s";
    f.pc = scalarPc;
    f.instruction = isa::formatInstruction(kernel.instructionAt(size_t(scalarPc)));
    cause = "the scalar unit is running at pc " + std::to_string(scalarPc) + " `" + f.instruction + "`";
    first = false;
  }
  for (int p = 0; p < kNumPipes; ++p) {
    if (!waits.what[p].kind)
      continue;
    const int64_t pc = waits.pc[p];
    const bool known = pc >= 0 && static_cast<size_t>(pc) < size;
    std::string text = known ? isa::formatInstruction(kernel.instructionAt(size_t(pc))) : "?";
    if (first) {
      f.pipe = pipeLabel(p);
      f.pc = pc;
      f.instruction = text;
      if (known)
        f.note = kernel.noteOf(size_t(pc));
    }
    cause += std::string(first ? "" : "; ") +
             (p == 0 ? "the scalar unit" : "pipe " + std::string(pipeLabel(p))) + " at pc " +
             std::to_string(pc) + " `" + text + "` waits for " + describeWait(waits.what[p]);
    if (p > 0 && queued[p] > 0)
      cause += " (" + std::to_string(queued[p]) + " more queued behind it)";
    f.cycle = std::max(f.cycle, waits.since[p]); // when the last unit got stuck
    first = false;
  }
  for (int p = 1; p < kNumPipes; ++p)
    if (queued[p] > 0 && !waits.what[p].kind)
      cause += "; pipe " + std::string(pipeLabel(p)) + " holds " + std::to_string(queued[p]) +
               " queued instruction(s)";
  f.cause = cause;
  return f;
}

FaultError flagSetTwice(isa::Pipe src, isa::Pipe dst, int64_t event) {
  return FaultError(FaultKind::FlagSetTwice, std::string("flag ") + isa::pipeName(src) + "->" +
                                                 isa::pipeName(dst) + " #" + std::to_string(event) +
                                                 " is set again before anyone waited on it");
}

Fault faultAt(const FaultError &error, int core, int64_t block, int pipe, const DispatchedOp *op,
              const isa::KernelBinary &kernel, uint64_t cycle) {
  Fault f;
  f.kind = error.kind;
  f.core = core;
  f.block = static_cast<int>(block);
  f.pipe = pipeLabel(pipe);
  f.cause = error.what();
  f.cycle = cycle;
  if (op) {
    f.pc = op->pc;
    f.instruction = isa::formatInstruction(op->inst);
    if (op->pc >= 0)
      f.note = kernel.noteOf(size_t(op->pc));
  }
  return f;
}

} // namespace fractal::sim::detail
