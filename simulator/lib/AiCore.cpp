#include "AiCore.h"

#include "CostModel.h"

#include "fractal/isa/Disassembler.h"

#include <algorithm>

namespace fractal::sim::detail {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

AiCore::AiCore(sc_core::sc_module_name name, const ChipConfig &config, int id)
    : sc_module(name), gmSocket("gm"), config_(config), id_(id), pipeWork_(config) {
  for (OpRing &q : queues_)
    q.setCapacity(static_cast<size_t>(std::max<int64_t>(config.core.pipeQueueDepth, 1)));
  sc_core::sc_spawn_options scalarOptions;
  sc_core::sc_spawn([this] { scalarThread(); }, "scalar", &scalarOptions);
  for (int p = 1; p < kNumPipes; ++p) {
    std::string pipeName = std::string("pipe_") + pipeLabel(p);
    sc_core::sc_spawn([this, p] { pipeThread(p); }, pipeName.c_str());
  }
}

sc_time AiCore::cycles(uint64_t n) const {
  return run_ && run_->timed ? cyclesToTime(n) : SC_ZERO_TIME;
}

uint64_t AiCore::now() const {
  return timeToCycles(sc_core::sc_time_stamp() - run_->start);
}

void AiCore::launch(RunContext *run, CoreState *state, CoreStats *stats) {
  run_ = run;
  state_ = state;
  stats_ = stats;
  finished_ = run->blockDim <= id_; // cores without a block have nothing to do
  for (auto &q : queues_)
    q.clear();
  executing_.fill(false);
  lastCompletion_.fill(SC_ZERO_TIME);
  flags_.fill(Flag{});
  waits_.clearAll();
  scalarSteps_ = 0;
  pipeWork_.reset();
  state->fetch.forget();
  syncCount_ = 0;
  scalarLines_.clear();
  if (run->checkRaces) {
    if (!races_)
      races_ = std::make_unique<RaceDetector>(config_);
    races_->reset();
  }
  if (!finished_) {
    launchPending_ = true;
    launchEvent_.notify(SC_ZERO_TIME);
  }
}

[[noreturn]] void AiCore::fault(const FaultError &e, int pipe, const DispatchedOp *op) {
  if (!run_->fault)
    run_->fault = faultAt(e, id_, block_, pipe, op, *run_->kernel,
                          run_->timed ? now() + (pipe == 0 ? scalarOwedCycles_ : 0) : 0);
  sc_core::sc_stop();
  // Unwind this thread to its entry function, which returns: nothing stays parked on its stack.
  throw StopThread{};
}

// ---- scalar unit ----

void AiCore::scalarThread() {
  try {
    scalarLoop();
  } catch (const StopThread &) {
  }
}

void AiCore::scalarLoop() {
  for (;;) {
    // The flag, not only the event: a notification made before the very first sc_start is lost
    // in SystemC's initialization phase.
    while (!launchPending_)
      wait(launchEvent_);
    launchPending_ = false;
    runBlocks();
  }
}

void AiCore::runBlocks() {
  for (int64_t b = id_; b < run_->blockDim; b += run_->numCores) {
    block_ = b;
    runOneBlock(b);
    ++stats_->blocks;
  }
  stats_->finishCycle = run_->timed ? now() : 0;
  finished_ = true;
  ++run_->finishedCores;
}

void AiCore::runOneBlock(int64_t block) {
  state_->resetRegisters();
  LaunchInfo launch = run_->launch;
  launch.blockIdx = block;
  PipeStats &scalar = stats_->pipes[0];
  int64_t pc = 0;
  const uint64_t cpi = static_cast<uint64_t>(config_.core.scalarCyclesPerInstruction);
  ScalarStep step;
  scalarOwedCycles_ = 0;
  for (;;) {
    if (!run_->timed && ++scalarSteps_ > run_->instructionBudget) {
      DispatchedOp at;
      at.pc = pc;
      at.inst = run_->kernel->instructionAt(static_cast<size_t>(pc));
      fault(FaultError(FaultKind::Watchdog,
                       "watchdog: more than " + std::to_string(run_->instructionBudget) +
                           " scalar instructions (an endless loop?)"),
            0, &at);
    }
    scalarPc_ = pc;
    bool onlyThisCore = false; // the instruction at pc changes nothing another unit sees
    if (run_->timed) {
      onlyThisCore = pc >= 0 && static_cast<size_t>(pc) < run_->kernel->instructionCount() &&
                     changesOnlyItsCore(state_->fetch.fetch(*run_->kernel, pc));
      if (scalarOwedCycles_ && (!onlyThisCore || scalarOwedCycles_ >= kMaxOwedCycles)) {
        wait(cycles(scalarOwedCycles_));
        scalarOwedCycles_ = 0;
      }
    }
    try {
      stepScalar(*state_, *run_->gm, *run_->kernel, pc, launch, run_->timed ? now() + scalarOwedCycles_ : 0, step);
    } catch (const std::exception &e) {
      DispatchedOp at;
      at.pc = pc;
      const bool known = pc >= 0 && static_cast<size_t>(pc) < run_->kernel->instructionCount();
      if (known)
        at.inst = run_->kernel->instructionAt(size_t(pc));
      const auto *f = dynamic_cast<const FaultError *>(&e);
      fault(f ? *f : FaultError(FaultKind::Internal, std::string("simulator bug: ") + e.what()), 0,
            known ? &at : nullptr);
    }
    ++scalar.instructions;
    if (run_->checkRaces) {
      races_->scalarStep();
      step.op.clock = races_->scalarClock();
    }
    uint64_t cost = cpi;
    bool spinning = false;
    switch (step.kind) {
    case ScalarStep::Kind::Executed:
      if (step.branchTaken)
        cost += static_cast<uint64_t>(config_.core.branchTakenPenaltyCycles);
      if (step.gmAccess && !scalarCacheHit(step.gmAddress)) {
        cost += static_cast<uint64_t>(config_.core.scalarGmLatencyCycles);
        if (run_->timed)
          stats_->scalarGmCycles += static_cast<uint64_t>(config_.core.scalarGmLatencyCycles);
      }
      if (step.dcacheInvalidate)
        scalarCacheDrop(step.gmAddress);
      // The load right after a dcci of its address: a turn of a loop spinning on a flag.
      spinning = step.gmAccess && step.gmAddress == spinAddress_;
      if (step.gmAccess) {
        stats_->bytes[static_cast<int>(DataPath::ScalarGm)] += step.gmBytes;
      }
      break;
    case ScalarStep::Kind::Dispatch: {
      int p = pipeIndexOf(step.pipe);
      sc_time t0 = sc_core::sc_time_stamp();
      waits_.start(0, {UnitWait::QueueRoom, p}, pc, run_->timed ? now() : 0);
      while (queues_[p].size() >= static_cast<size_t>(config_.core.pipeQueueDepth))
        wait(popped_[p]);
      waits_.clear(0);
      if (run_->timed) {
        const uint64_t stalled = timeToCycles(sc_core::sc_time_stamp() - t0);
        stats_->queueFullStallCycles += stalled;
        // On the scalar lane, named after the instruction that found its pipe's queue full.
        if (run_->trace && stalled > 0)
          run_->traceOut->push_back({id_, 0, now() - stalled, stalled, pc});
      }
      queues_[p].push(step.op);
      pushed_[p].notify();
      break;
    }
    case ScalarStep::Kind::SetFlag: setFlag(0, step.op); break;
    case ScalarStep::Kind::WaitFlag: waitFlag(0, step.op); break;
    case ScalarStep::Kind::SyncAll: syncAll(pc); break;
    case ScalarStep::Kind::BarrierAll:
    case ScalarStep::Kind::End: {
      sc_time t0 = sc_core::sc_time_stamp();
      struct JoinAfterDrain {
        RaceDetector *races;
        ~JoinAfterDrain() {
          if (races)
            races->joinAllIntoScalar();
        }
      } join{run_->checkRaces ? races_.get() : nullptr};
      waits_.start(0, {step.kind == ScalarStep::Kind::End ? UnitWait::DrainAtEnd : UnitWait::DrainAtBarrier},
                   pc, run_->timed ? now() : 0);
      waitDrained();
      waits_.clear(0);
      if (run_->timed)
        stats_->barrierStallCycles +=
            timeToCycles(sc_core::sc_time_stamp() - t0);
      break;
    }
    }
    spinAddress_ = step.kind == ScalarStep::Kind::Executed && step.dcacheInvalidate ? step.gmAddress : kNoSpin;
    if (run_->timed) {
      (spinning ? stats_->flagSpinCycles : scalar.busyCycles) += cost;
      if (step.kind != ScalarStep::Kind::End)
        scalarOwedCycles_ += cost; // waited out before the next instruction another unit can see
      else
        wait(cycles(cost));
    }
    if (step.kind == ScalarStep::Kind::End)
      return;
    pc = step.nextPc;
  }
}

// A hardware barrier of all blocks (chip.cross_core_sync_cycles): this block's n-th sync_all
// waits for every block's n-th, then the sync's own latency. Blocks waiting for each other must
// all be running at once, one per core.
void AiCore::syncAll(int64_t pc) {
  DispatchedOp at;
  at.pc = pc;
  at.inst = run_->kernel->code.at(static_cast<size_t>(pc));
  if (config_.chip.crossCoreSyncCycles <= 0)
    fault(FaultError(FaultKind::BadOperand, "sync_all on a chip without hardware cross-core synchronisation "
                                            "(chip.cross_core_sync_cycles is 0 in config '" + config_.name + "')"),
          0, &at);
  if (run_->blockDim > run_->numCores)
    fault(FaultError(FaultKind::BadOperand, "sync_all with block_dim " + std::to_string(run_->blockDim) + " on " +
                                                std::to_string(run_->numCores) +
                                                " cores: blocks waiting for each other must all be running"),
          0, &at);
  const size_t n = static_cast<size_t>(syncCount_++);
  if (run_->syncArrivals.size() <= n) run_->syncArrivals.resize(n + 1, 0);
  if (++run_->syncArrivals[n] == run_->blockDim) run_->syncReached->notify(SC_ZERO_TIME);
  const uint64_t t0 = now();
  waits_.start(0, {UnitWait::CrossCoreSync, static_cast<int>(n + 1)}, pc, t0);
  while (run_->syncArrivals[n] < run_->blockDim) wait(*run_->syncReached);
  waits_.clear(0);
  wait(cycles(static_cast<uint64_t>(config_.chip.crossCoreSyncCycles)));
  stats_->syncWaitCycles += now() - t0;
}

// Whether the scalar data cache holds the line of `address` (it does afterwards: LRU, most
// recent first). Values always come from GM: the cache only times the access.
bool AiCore::scalarCacheHit(uint64_t address) {
  const uint64_t lines = static_cast<uint64_t>(config_.core.scalarDcacheLines);
  if (lines == 0) return false;
  const uint64_t line = address / static_cast<uint64_t>(config_.core.scalarDcacheLineBytes);
  auto it = std::find(scalarLines_.begin(), scalarLines_.end(), line);
  const bool hit = it != scalarLines_.end();
  if (hit) scalarLines_.erase(it);
  else if (scalarLines_.size() >= lines) scalarLines_.pop_back();
  scalarLines_.insert(scalarLines_.begin(), line);
  return hit;
}

void AiCore::scalarCacheDrop(uint64_t address) {
  if (scalarLines_.empty()) return;
  const uint64_t line = address / static_cast<uint64_t>(config_.core.scalarDcacheLineBytes);
  scalarLines_.erase(std::remove(scalarLines_.begin(), scalarLines_.end(), line), scalarLines_.end());
}

void AiCore::waitDrained() {
  for (;;) {
    bool busy = false;
    sc_time latest = SC_ZERO_TIME;
    for (int p = 1; p < kNumPipes; ++p) {
      busy = busy || !queues_[p].empty() || executing_[p];
      latest = std::max(latest, lastCompletion_[p]);
    }
    if (busy) {
      wait(activity_);
      continue;
    }
    if (latest > sc_core::sc_time_stamp()) {
      wait(latest - sc_core::sc_time_stamp());
      continue;
    }
    return;
  }
}

// ---- flags ----

void AiCore::setFlag(int pipe, const DispatchedOp &op) {
  waitPipeIdle(pipe);
  auto src = static_cast<isa::Pipe>(slot::src.value(op.inst));
  auto dst = static_cast<isa::Pipe>(slot::dst.value(op.inst));
  int64_t event = slot::event.value(op.inst);
  Flag &f = flags_[flagIndex(src, dst, event)];
  if (f.set)
    fault(flagSetTwice(src, dst, event), pipe, &op);
  f.set = true;
  if (run_->checkRaces)
    races_->setFlag(pipe, flagIndex(src, dst, event));
  sc_time latency = cycles(static_cast<uint64_t>(config_.core.syncLatencyCycles));
  f.visibleAt = sc_core::sc_time_stamp() + latency;
  flagEvent_.notify(latency);
}

void AiCore::waitFlag(int pipe, const DispatchedOp &op) {
  const int index = flagIndexOf(op.inst);
  Flag &f = flags_[index];
  sc_time t0 = sc_core::sc_time_stamp();
  waits_.start(pipe, {UnitWait::Flag, index}, op.pc, run_->timed ? now() : 0);
  while (!(f.set && f.visibleAt <= sc_core::sc_time_stamp())) {
    if (f.set)
      wait(f.visibleAt - sc_core::sc_time_stamp());
    else
      wait(flagEvent_);
  }
  waits_.clear(pipe);
  f.set = false;
  if (run_->checkRaces)
    races_->waitFlag(pipe, index);
  if (run_->timed) {
    const uint64_t waited =
        timeToCycles(sc_core::sc_time_stamp() - t0);
    stats_->pipes[pipe].flagWaitCycles += waited;
    if (run_->trace && waited > 0) // stalls are visible in the trace as wait_flag slices
      run_->traceOut->push_back({id_, pipe, now() - waited, waited, op.pc});
  }
}

void AiCore::waitPipeIdle(int pipe) {
  if (pipe > 0 && lastCompletion_[pipe] > sc_core::sc_time_stamp())
    wait(lastCompletion_[pipe] - sc_core::sc_time_stamp());
}

// ---- pipes ----

void AiCore::pipeThread(int pipe) {
  try {
    pipeLoop(pipe);
  } catch (const StopThread &) {
  }
}

void AiCore::pipeLoop(int pipe) {
  for (;;) {
    while (queues_[pipe].empty()) {
      activity_.notify();
      wait(pushed_[pipe]);
    }
    DispatchedOp op = queues_[pipe].front();
    queues_[pipe].pop();
    popped_[pipe].notify();
    executing_[pipe] = true;
    ++stats_->pipes[pipe].instructions;
    if (run_->checkRaces)
      races_->beginOp(pipe, op.clock);
    switch (op.inst.opcode) {
    case isa::Opcode::WaitFlag: waitFlag(pipe, op); break;
    case isa::Opcode::SetFlag: setFlag(pipe, op); break;
    case isa::Opcode::Barrier: waitPipeIdle(pipe); break;
    default: executePipeOp(pipe, op); break;
    }
    executing_[pipe] = false;
    activity_.notify();
  }
}

uint64_t AiCore::gmTransfer(const OpEffects &fx, uint64_t &latency, TraceSlice &memory) {
  tlm::tlm_generic_payload &trans = gmPayload_;
  static unsigned char noData; // timing-only transaction: the bytes were moved functionally
  trans.set_command(fx.gmWrite ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  trans.set_address(fx.gmAddress);
  trans.set_data_ptr(&noData);
  trans.set_data_length(static_cast<unsigned int>(fx.gmRowBytes));
  trans.set_streaming_width(static_cast<unsigned int>(fx.gmRowBytes));
  trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  GmTiming timing;
  timing.rows = fx.gmRows;
  timing.rowStride = fx.gmRowStride;
  // Cleared however b_transport ends: the payload outlives `timing`, and its destructor frees
  // every extension it still holds.
  struct Attached {
    tlm::tlm_generic_payload &trans;
    GmTiming &timing;
    Attached(tlm::tlm_generic_payload &p, GmTiming &t) : trans(p), timing(t) { trans.set_extension(&timing); }
    ~Attached() { trans.clear_extension(&timing); }
  } attached(trans, timing);
  sc_time delay = SC_ZERO_TIME;
  gmSocket->b_transport(trans, delay);
  latency = timing.latencyCycles;
  stats_->l2Hits += timing.lineHits;
  stats_->l2Misses += timing.lineMisses;
  memory.dramBytes = static_cast<uint32_t>(timing.dramBytes);
  memory.l2Hits = static_cast<uint32_t>(timing.lineHits);
  memory.l2Misses = static_cast<uint32_t>(timing.lineMisses);
  return timeToCycles(delay);
}

void AiCore::executePipeOp(int pipe, const DispatchedOp &op) {
  OpEffects fx;
  {
  // Scoped so that it is gone before this thread waits: a thread still waiting when another one
  // faults is never resumed, and must not own memory then.
  std::vector<MemoryAccess> accesses;
  if (run_->checkRaces)
    fx.accesses = &accesses;
  try {
    uint64_t tileCycles = 0, modelCycles = 0;
    if (run_->backend &&
        run_->backend->execute(*state_, *run_->gm, op, fx, tileCycles, modelCycles)) {
      ++stats_->rtlInstructions;
      stats_->rtlTileCycles += tileCycles;
      if (tileCycles != modelCycles)
        ++stats_->rtlCycleMismatches;
    } else {
      executeOp(*state_, *run_->gm, op, fx);
    }
  } catch (const FaultError &e) {
    fault(e, pipe, &op);
  } catch (const std::exception &e) {
    fault(FaultError(FaultKind::Internal, std::string("simulator bug: ") + e.what()), pipe, &op);
  }
  if (run_->checkRaces)
    checkAccesses(pipe, op, accesses);
  fx.accesses = nullptr;
  }
  stats_->macs += fx.macs;
  if (fx.path != DataPath::None)
    stats_->bytes[static_cast<int>(fx.path)] += fx.bytes;
  if (!run_->timed) {
    if (std::optional<FaultError> stop = pipeWork_.charge(pipe, fx, run_->instructionBudget))
      fault(*stop, pipe, &op);
    return;
  }
  OpTiming t;
  try {
    t = pipeTiming(config_, op, fx);
  } catch (const std::exception &e) {
    fault(FaultError(FaultKind::Internal, std::string("simulator bug: ") + e.what()), pipe, &op);
  }
  uint64_t busy = t.busy, latency = t.latency;
  TraceSlice slice{id_, pipe, 0, 0, op.pc};
  if (fx.gmBytes() > 0) {
    uint64_t gmLatency = 0;
    uint64_t dramTime = gmTransfer(fx, gmLatency, slice);
    int64_t portBw = fx.gmWrite ? config_.dma.gmWriteBytesPerCycle : config_.dma.gmReadBytesPerCycle;
    uint64_t port = ceilDivCycles(fx.gmBytes(), portBw);
    uint64_t withMemory = static_cast<uint64_t>(config_.dma.issueCycles) + std::max(port, dramTime);
    if (withMemory > busy) {
      stats_->pipes[pipe].memoryStallCycles += withMemory - busy;
      busy = withMemory;
    }
    latency += gmLatency;
  }
  const uint64_t start = now();
  stats_->pipes[pipe].busyCycles += busy;
  if (run_->trace) {
    slice.start = start;
    slice.duration = busy;
    run_->traceOut->push_back(slice);
  }
  wait(cycles(busy));
  lastCompletion_[pipe] = std::max(lastCompletion_[pipe], sc_core::sc_time_stamp() + cycles(latency));
}

void AiCore::checkAccesses(int pipe, const DispatchedOp &op,
                           const std::vector<MemoryAccess> &accesses) {
  for (const MemoryAccess &a : accesses) {
    std::optional<RaceDetector::Race> race = races_->access(pipe, op.pc, a);
    if (!race)
      continue;
    const isa::KernelBinary &kernel = *run_->kernel;
    std::string other = race->otherPc >= 0 && static_cast<size_t>(race->otherPc) < kernel.instructionCount()
                            ? isa::formatInstruction(kernel.instructionAt(size_t(race->otherPc)))
                            : "?";
    char range[64];
    std::snprintf(range, sizeof range, "[0x%llx, +%llu)", (unsigned long long)a.address,
                  (unsigned long long)a.length);
    fault(FaultError(FaultKind::DataRace,
                     std::string(a.write ? "writes " : "reads ") + isa::spaceName(a.space) + " " +
                         range + ", which " +
                         (race->otherPipe == 0 ? std::string("the scalar unit")
                                               : "pipe " + std::string(pipeLabel(race->otherPipe))) +
                         (race->otherWrote ? " wrote" : " read") + " at pc " +
                         std::to_string(race->otherPc) + " `" + other +
                         "` with no flag or barrier ordering the two"),
          pipe, &op);
  }
}

std::optional<Fault> AiCore::describeBlocked() const {
  if (finished_ || !run_ || !run_->kernel)
    return std::nullopt;
  std::array<size_t, kNumPipes> queued{};
  for (int p = 1; p < kNumPipes; ++p)
    queued[p] = queues_[p].size();
  return describeBlockedCore(id_, block_, *run_->kernel, scalarPc_, waits_, queued);
}

} // namespace fractal::sim::detail
