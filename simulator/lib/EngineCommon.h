// What both engines (the SystemC core and the functional core) share: the run's setup, what the
// units of one AI core (index 0 = the scalar unit, 1..6 = the pipes) are blocked on, and the fault
// reports made from it, so that a deadlock, a watchdog stop or an instruction fault reads the same
// in every mode.
#pragma once

#include "fractal/sim/Execute.h"
#include "fractal/sim/Simulator.h"

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fractal::sim::detail {

// One kernel launch as every core sees it.
struct RunSetup {
  const isa::KernelBinary *kernel = nullptr;
  GlobalMemory *gm = nullptr;
  LaunchInfo launch;
  int64_t blockDim = 1;
  int numCores = 1;
  uint64_t instructionBudget = 0; // functional-mode watchdog, per core
};

// A pipe's queue of dispatched instructions: a ring whose capacity is set once (the scalar unit
// waits for room, so it never needs to grow). A std::deque allocated and freed a 512-byte node
// every few instructions: 2% of a timing run's time in malloc and free.
class OpRing {
public:
  void setCapacity(size_t capacity) {
    slots_.assign(capacity, DispatchedOp{});
    clear();
  }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  DispatchedOp &front() { return slots_[head_]; }
  void push(const DispatchedOp &op) {
    if (count_ == slots_.size())
      throw std::logic_error("pipe queue pushed beyond its capacity");
    slots_[(head_ + count_) % slots_.size()] = op;
    ++count_;
  }
  void pop() {
    head_ = (head_ + 1) % slots_.size();
    --count_;
  }
  void clear() { head_ = count_ = 0; }

private:
  std::vector<DispatchedOp> slots_;
  size_t head_ = 0, count_ = 0;
};

// Kept as data (a unit starts waiting at every dispatch) and put into words only for a report.
struct UnitWait {
  enum Kind { None, QueueRoom, DrainAtEnd, DrainAtBarrier, Flag, CrossCoreSync } kind = None;
  int index = 0; // QueueRoom: the pipe; Flag: flagIndex(); CrossCoreSync: the sync_all's number (from 1)
};

struct UnitWaits {
  std::array<UnitWait, kNumPipes> what{};
  std::array<int64_t, kNumPipes> pc{};
  std::array<uint64_t, kNumPipes> since{}; // cycle

  void start(int unit, UnitWait wait, int64_t atPc, uint64_t cycle) {
    what[unit] = wait;
    pc[unit] = atPc;
    since[unit] = cycle;
  }
  void clear(int unit) { what[unit] = {}; }
  void clearAll() { what.fill(UnitWait{}); }
};

// The watchdog of functional mode, which keeps no time: besides the scalar instructions, each
// pipe's work in the cycles it takes at least in timing mode (cube fractals; bytes at the vector
// unit's fastest rate, or a transfer's at the chip's widest port), so that a loop of long vector
// instructions stops about as soon as in timing mode (the scalar count alone let one run for
// minutes of host time).
class PipeWork {
public:
  explicit PipeWork(const ChipConfig &config);
  void reset() { work_.fill(0); }
  // Counts `fx` to `pipe`; the watchdog's message once the pipe's work passes `budget` cycles.
  std::optional<FaultError> charge(int pipe, const OpEffects &fx, uint64_t budget);

private:
  std::array<uint64_t, kNumPipes> work_{};
  std::array<uint64_t, kNumPipes> bytesPerCycle_{};
};

// "room in the v queue", "flag mte2->mte1 #0", ...
std::string describeWait(const UnitWait &wait);

// Where a blocked core stands, as a Fault without a kind (the caller says deadlock or watchdog):
// the first blocked unit names pipe, pc and instruction; the cause lists every blocked unit and
// what it waits for. `scalarPc` is where a scalar unit that is not waiting is running; `queued[p]`
// counts the instructions waiting behind pipe p's current one.
Fault describeBlockedCore(int core, int64_t block, const isa::KernelBinary &kernel, int64_t scalarPc,
                          const UnitWaits &waits, const std::array<size_t, kNumPipes> &queued);

// set_flag on a flag that is set already.
FaultError flagSetTwice(isa::Pipe src, isa::Pipe dst, int64_t event);

// A fault raised by the instruction `op` (nullptr: not tied to one) on `pipe` of `core`.
Fault faultAt(const FaultError &error, int core, int64_t block, int pipe, const DispatchedOp *op,
              const isa::KernelBinary &kernel, uint64_t cycle);

} // namespace fractal::sim::detail
