// One AI core as a SystemC module: a scalar thread that fetches, executes scalar instructions and
// dispatches the rest into per-pipe in-order queues, and one thread per pipe (v, m, mte1, mte2,
// mte3, fix) that executes its queue. Simulated time counts core cycles (1 ns = 1 cycle).
//
// An instruction occupies its pipe for `busy` cycles and completes `latency` cycles later, so a
// pipe overlaps consecutive instructions; set_flag and barrier wait for completion. In functional
// mode every cost is zero: the same machinery gives the same results and the same deadlock and
// fault diagnostics, just without time.
#pragma once

#ifndef SC_INCLUDE_DYNAMIC_PROCESSES
#define SC_INCLUDE_DYNAMIC_PROCESSES
#endif

#include "MemorySystem.h"
#include "RaceDetector.h"
#include "EngineCommon.h"

#include "fractal/sim/Simulator.h"

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include <array>
#include <memory>
#include <optional>
#include <string>

namespace fractal::sim::detail {

// State shared by every core during one run.
struct RunContext : RunSetup {
  bool timed = true;
  TileBackend *backend = nullptr; // rtl mode
  bool checkRaces = false;
  bool trace = false;
  std::vector<TraceSlice> *traceOut = nullptr;
  std::optional<Fault> fault;
  int finishedCores = 0;
  sc_core::sc_time start;
  // sync_all: how many blocks have reached their n-th (index n - 1), and the event the last of
  // them notifies (the elaboration's: it outlives a run whose blocks never all arrive).
  std::vector<int64_t> syncArrivals;
  sc_core::sc_event *syncReached = nullptr;
};

class AiCore : public sc_core::sc_module {
public:
  tlm_utils::simple_initiator_socket<AiCore> gmSocket;

  AiCore(sc_core::sc_module_name name, const ChipConfig &config, int id);

  // Prepares a run; the core starts at the next delta cycle.
  void launch(RunContext *run, CoreState *state, CoreStats *stats);
  bool finished() const { return finished_; }
  // For deadlock and watchdog reports: what each unit of this core is waiting for.
  std::optional<Fault> describeBlocked() const;

private:
  static constexpr int kPipeThreads = kNumPipes - 1; // pipe indices 1..6

  struct Flag {
    bool set = false;
    sc_core::sc_time visibleAt;
  };

  // Thrown by fault() after sc_stop(): unwinds a thread to its entry function, which returns.
  struct StopThread {};
  void scalarThread();
  void scalarLoop();
  void pipeThread(int pipe);
  void pipeLoop(int pipe);
  void runBlocks();
  void runOneBlock(int64_t block);
  void executePipeOp(int pipe, const DispatchedOp &op);
  void setFlag(int pipe, const DispatchedOp &op);
  void waitFlag(int pipe, const DispatchedOp &op);
  void waitPipeIdle(int pipe);
  void waitDrained();
  void syncAll(int64_t pc);
  // Times fx's GM transfer through the L2 and DRAM: returns the occupancy, sets its latency, and
  // `memory`'s DRAM bytes and L2 lines (for the trace).
  uint64_t gmTransfer(const OpEffects &fx, uint64_t &latency, TraceSlice &memory);
  [[noreturn]] void fault(const FaultError &e, int pipe, const DispatchedOp *op);
  sc_core::sc_time cycles(uint64_t n) const;
  uint64_t now() const; // cycles since the run started

  const ChipConfig &config_;
  const int id_;
  RunContext *run_ = nullptr;
  CoreState *state_ = nullptr;
  CoreStats *stats_ = nullptr;
  bool finished_ = true;
  int64_t block_ = -1;

  std::array<OpRing, kNumPipes> queues_; // capacity core.pipe_queue_depth
  // Reused by every GM transfer (gmTransfer sets each field it reads): a payload allocates its
  // extension array when made, a thousand times a BlazeFace inference.
  tlm::tlm_generic_payload gmPayload_;
  std::array<sc_core::sc_event, kNumPipes> pushed_, popped_;
  std::array<bool, kNumPipes> executing_{};
  std::array<sc_core::sc_time, kNumPipes> lastCompletion_;
  sc_core::sc_event activity_; // a pipe finished something or went idle
  std::array<Flag, kNumFlags> flags_;
  sc_core::sc_event flagEvent_;
  sc_core::sc_event launchEvent_;
  bool launchPending_ = false;

  UnitWaits waits_; // what each unit (index 0 = scalar) is blocked on, for diagnostics

  uint64_t scalarSteps_ = 0;
  PipeWork pipeWork_; // functional mode's watchdog beside scalarSteps_
  std::vector<uint64_t> scalarLines_; // the scalar data cache's lines, most recently used first
  bool scalarCacheHit(uint64_t address);
  void scalarCacheDrop(uint64_t address); // dcci
  static constexpr uint64_t kNoSpin = ~0ull;
  uint64_t spinAddress_ = kNoSpin; // the address of the dcci just before, for flagSpinCycles
  std::unique_ptr<RaceDetector> races_; // created on the first run that checks races
  void checkAccesses(int pipe, const DispatchedOp &op, const std::vector<MemoryAccess> &accesses);
  int64_t scalarPc_ = 0; // where the scalar unit is, for watchdog reports
  // Cycles of the scalar unit's instructions not yet waited out: paid in one wait before it next
  // does something another unit can see (changesOnlyItsCore false: a dispatch, a flag, a barrier,
  // a GM access, the end), so every such action happens at the cycle it did with a wait after each
  // instruction, at far fewer SystemC context switches (BlazeFace front: 27,083 of its 40,000
  // scalar steps change only the core). Capped, so that an endless loop still lets time run out.
  uint64_t scalarOwedCycles_ = 0;
  static constexpr uint64_t kMaxOwedCycles = 1024;
  int64_t syncCount_ = 0; // sync_all instructions this core's block has passed
};

} // namespace fractal::sim::detail
