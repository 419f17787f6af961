// Functional mode without SystemC: one AI core as a plain loop. The scalar unit runs ahead,
// dispatching into per-pipe in-order queues of the configured depth, until it must wait (a full
// queue, a wait_flag, a barrier or the end); then the pipes run their queues, each until it
// empties or reaches a wait_flag whose flag is not set, round after round until the scalar unit
// can go on. That is the order the SystemC engine runs in functional mode (every cost zero), with
// no events, no context switches and no global simulation context, so cores can run on host
// threads of their own: cores share only GM, and a correctly synchronised kernel gives each
// block its own GM bytes.
//
// The same faults as the SystemC engine, with the same messages: an instruction's fault, flag
// set twice, the per-core instruction watchdog, and a deadlock (every unit of the core waits on
// something that cannot happen; cores never wait on each other, so one core's deadlock is final).
// Race checking, traces and the RTL backend stay with the SystemC engine.
#pragma once

#include "EngineCommon.h"

#include "fractal/sim/Simulator.h"

#include <array>
#include <atomic>
#include <optional>
#include <vector>

namespace fractal::sim::detail {

class FunctionalCore {
public:
  FunctionalCore(const ChipConfig &config, int id);

  // What the cores of one run share. A fault on core c makes every core above c stop at its next
  // scalar instruction; cores below c go on (one of them may fault too), so the lowest core's
  // fault is reported, whichever thread gets there first.
  struct Run : RunSetup {
    std::atomic<int> lowestFaultedCore{1 << 30};
  };

  // Runs this core's blocks (id, id + numCores, ...) to the end or to a fault.
  std::optional<Fault> run(Run &run, CoreState &state, CoreStats &stats);

private:
  // A pipe's in-order queue as a ring; `current` marks the front entry as popped and executing
  // (a wait_flag that blocks keeps its place there without taking room from the scalar unit).
  struct Queue {
    OpRing ops;
    bool current = false; // ops.front() is executing (popped, as the scalar unit sees it)
    size_t waiting() const { return ops.size() - (current ? 1 : 0); }
    void pop() {
      ops.pop();
      current = false;
    }
  };

  struct Stop {}; // thrown once the run's fault is recorded (or a lower core faulted)

  void runOneBlock(int64_t block);
  bool runPipes(); // runs every pipe as far as it can; whether anything moved
  void drainPipes(UnitWait::Kind why, int64_t pc); // the scalar unit waits until every pipe is empty
  bool runPipe(int pipe);
  void setFlag(int pipe, const DispatchedOp &op);
  [[noreturn]] void fault(const FaultError &error, int pipe, const DispatchedOp *op);
  [[noreturn]] void deadlock();
  [[noreturn]] void stopOthers(); // records this core as faulted and unwinds its run

  const ChipConfig &config_;
  const int id_;
  Run *run_ = nullptr;
  CoreState *state_ = nullptr;
  CoreStats *stats_ = nullptr;
  int64_t block_ = -1;
  int64_t scalarPc_ = 0;
  uint64_t scalarSteps_ = 0;
  PipeWork pipeWork_; // the watchdog beside scalarSteps_
  std::array<Queue, kNumPipes> queues_;
  std::vector<uint8_t> flags_;
  UnitWaits waits_;
  std::optional<Fault> fault_;
};

} // namespace fractal::sim::detail
