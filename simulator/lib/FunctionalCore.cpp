#include "FunctionalCore.h"

namespace fractal::sim::detail {

FunctionalCore::FunctionalCore(const ChipConfig &config, int id)
    : config_(config), id_(id), pipeWork_(config), flags_(kNumFlags, 0) {
  // One slot more than the depth: the executing entry stays at the front of its ring.
  const size_t depth = static_cast<size_t>(std::max<int64_t>(config.core.pipeQueueDepth, 1));
  for (Queue &q : queues_)
    q.ops.setCapacity(depth + 1);
}

std::optional<Fault> FunctionalCore::run(Run &run, CoreState &state, CoreStats &stats) {
  run_ = &run;
  state_ = &state;
  stats_ = &stats;
  fault_.reset();
  for (Queue &q : queues_) {
    q.ops.clear();
    q.current = false;
  }
  std::fill(flags_.begin(), flags_.end(), 0);
  waits_.clearAll();
  scalarSteps_ = 0;
  pipeWork_.reset();
  state.fetch.forget();
  block_ = -1;
  try {
    for (int64_t b = id_; b < run.blockDim; b += run.numCores) {
      block_ = b;
      runOneBlock(b);
      ++stats.blocks;
    }
  } catch (const Stop &) {
  }
  stats.finishCycle = 0;
  return fault_;
}

void FunctionalCore::runOneBlock(int64_t block) {
  state_->resetRegisters();
  LaunchInfo launch = run_->launch;
  launch.blockIdx = block;
  const isa::KernelBinary &kernel = *run_->kernel;
  PipeStats &scalar = stats_->pipes[0];
  const size_t depth = static_cast<size_t>(config_.core.pipeQueueDepth);
  int64_t pc = int64_t(launch.entryPc);
  const int64_t endPc = launch.endPc ? int64_t(launch.endPc) : -1;
  ScalarStep step;
  for (;;) {
    if (run_->lowestFaultedCore.load(std::memory_order_relaxed) < id_)
      throw Stop{};
    scalarPc_ = pc;
    if (pc == endPc) { // the segment's end: as `end` there
      drainPipes(UnitWait::DrainAtEnd, pc);
      return;
    }
    if (++scalarSteps_ > run_->instructionBudget) {
      DispatchedOp at;
      at.pc = pc;
      at.inst = kernel.instructionAt(static_cast<size_t>(pc));
      fault(FaultError(FaultKind::Watchdog, "watchdog: more than " +
                                                std::to_string(run_->instructionBudget) +
                                                " scalar instructions (an endless loop?)"),
            0, &at);
    }
    try {
      stepScalar(*state_, *run_->gm, kernel, pc, launch, 0, step);
    } catch (const std::exception &e) {
      DispatchedOp at;
      at.pc = pc;
      const bool known = pc >= 0 && static_cast<size_t>(pc) < kernel.instructionCount();
      if (known)
        at.inst = kernel.instructionAt(size_t(pc));
      const auto *f = dynamic_cast<const FaultError *>(&e);
      fault(f ? *f : FaultError(FaultKind::Internal, std::string("simulator bug: ") + e.what()), 0,
            known ? &at : nullptr);
    }
    ++scalar.instructions;
    switch (step.kind) {
    case ScalarStep::Kind::Executed:
      if (step.gmAccess)
        stats_->bytes[static_cast<int>(DataPath::ScalarGm)] += step.gmBytes;
      break;
    case ScalarStep::Kind::Dispatch: {
      const int p = pipeIndexOf(step.pipe);
      Queue &q = queues_[p];
      if (q.waiting() >= depth) {
        waits_.start(0, {UnitWait::QueueRoom, p}, pc, 0);
        while (q.waiting() >= depth)
          if (!runPipes())
            deadlock();
        waits_.clear(0);
      }
      q.ops.push(step.op);
      break;
    }
    case ScalarStep::Kind::SetFlag:
      setFlag(0, step.op);
      break;
    case ScalarStep::Kind::WaitFlag: {
      const int index = flagIndexOf(step.op.inst);
      if (!flags_[index]) {
        waits_.start(0, {UnitWait::Flag, index}, step.op.pc, 0);
        while (!flags_[index])
          if (!runPipes())
            deadlock();
        waits_.clear(0);
      }
      flags_[index] = 0;
      break;
    }
    case ScalarStep::Kind::SyncAll: { // blocks run one after another here: none would ever arrive
      DispatchedOp at;
      at.pc = pc;
      at.inst = kernel.instructionAt(static_cast<size_t>(pc));
      fault(FaultError(FaultKind::BadOperand, "sync_all: blocks that wait for each other run only in timing or rtl "
                                              "mode (the functional engine runs them one after another)"),
            0, &at);
    }
    case ScalarStep::Kind::BarrierAll:
    case ScalarStep::Kind::End:
      drainPipes(step.kind == ScalarStep::Kind::End ? UnitWait::DrainAtEnd : UnitWait::DrainAtBarrier, pc);
      break;
    }
    if (step.kind == ScalarStep::Kind::End)
      return;
    pc = step.nextPc;
  }
}

void FunctionalCore::drainPipes(UnitWait::Kind why, int64_t pc) {
  auto drained = [&] {
    for (int p = 1; p < kNumPipes; ++p)
      if (!queues_[p].ops.empty())
        return false;
    return true;
  };
  if (drained())
    return;
  waits_.start(0, {why}, pc, 0);
  while (!drained())
    if (!runPipes())
      deadlock();
  waits_.clear(0);
}

bool FunctionalCore::runPipes() {
  bool any = false;
  for (;;) {
    bool moved = false;
    for (int p = 1; p < kNumPipes; ++p)
      moved = runPipe(p) || moved;
    if (!moved)
      return any;
    any = true;
  }
}

bool FunctionalCore::runPipe(int pipe) {
  Queue &q = queues_[pipe];
  bool moved = false;
  while (!q.ops.empty()) {
    DispatchedOp &op = q.ops.front();
    if (!q.current) { // popped: its slot is free for the scalar unit
      q.current = true;
      ++stats_->pipes[pipe].instructions;
      moved = true;
    }
    switch (op.inst.opcode) {
    case isa::Opcode::WaitFlag: {
      const int index = flagIndexOf(op.inst);
      if (!flags_[index]) {
        waits_.start(pipe, {UnitWait::Flag, index}, op.pc, 0);
        return moved;
      }
      waits_.clear(pipe);
      flags_[index] = 0;
      break;
    }
    case isa::Opcode::SetFlag:
      setFlag(pipe, op);
      break;
    case isa::Opcode::Barrier: break; // nothing is in flight in functional mode
    default: {
      OpEffects fx;
      try {
        executeOp(*state_, *run_->gm, op, fx);
      } catch (const FaultError &e) {
        fault(e, pipe, &op);
      } catch (const std::exception &e) {
        fault(FaultError(FaultKind::Internal, std::string("simulator bug: ") + e.what()), pipe, &op);
      }
      stats_->macs += fx.macs;
      if (fx.path != DataPath::None)
        stats_->bytes[static_cast<int>(fx.path)] += fx.bytes;
      if (std::optional<FaultError> stop = pipeWork_.charge(pipe, fx, run_->instructionBudget))
        fault(*stop, pipe, &op);
      break;
    }
    }
    q.pop();
    moved = true;
  }
  return moved;
}

void FunctionalCore::setFlag(int pipe, const DispatchedOp &op) {
  const auto src = static_cast<isa::Pipe>(slot::src.value(op.inst));
  const auto dst = static_cast<isa::Pipe>(slot::dst.value(op.inst));
  const int64_t event = slot::event.value(op.inst);
  uint8_t &flag = flags_[flagIndex(src, dst, event)];
  if (flag)
    fault(flagSetTwice(src, dst, event), pipe, &op);
  flag = 1;
}

void FunctionalCore::fault(const FaultError &error, int pipe, const DispatchedOp *op) {
  fault_ = faultAt(error, id_, block_, pipe, op, *run_->kernel, 0);
  stopOthers();
}

void FunctionalCore::deadlock() {
  std::array<size_t, kNumPipes> queued{};
  for (int p = 1; p < kNumPipes; ++p)
    queued[p] = queues_[p].waiting();
  Fault f = describeBlockedCore(id_, block_, *run_->kernel, scalarPc_, waits_, queued);
  f.kind = FaultKind::Deadlock;
  f.cause = "every unfinished unit is blocked: " + f.cause;
  fault_ = f;
  stopOthers();
}

void FunctionalCore::stopOthers() {
  int lowest = run_->lowestFaultedCore.load();
  while (id_ < lowest && !run_->lowestFaultedCore.compare_exchange_weak(lowest, id_)) {
  }
  throw Stop{};
}

} // namespace fractal::sim::detail
