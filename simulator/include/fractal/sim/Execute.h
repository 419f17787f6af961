// The functional semantics of every instruction, as docs/isa.md defines them. Both engines
// (functional and timing) call these; they differ only in when.
#pragma once

#include "fractal/isa/KernelBinary.h"
#include "fractal/sim/CoreState.h"
#include "fractal/sim/GlobalMemory.h"
#include "fractal/sim/OperandSlots.h"

#include <cstdint>
#include <vector>

namespace fractal::sim {

// Data paths counted in the report ("gm->l1", "l1->l0a", ...).
enum class DataPath { GmToL1, GmToUb, UbToGm, UbToUb, L1ToL0A, L1ToL0B, L0CToGm, L0CToUb, L0CToL1, ScalarGm, None };
constexpr int kNumDataPaths = 10;
const char *dataPathName(DataPath path);

// One span of memory an instruction read or wrote (for the data race detector).
struct MemoryAccess {
  isa::Space space;
  uint64_t address;
  uint64_t length;
  bool write;
};

// What one pipe instruction did, for counters and for the timing model.
struct OpEffects {
  // The spans it touched, when the run checks for data races (strided accesses are recorded as
  // their whole span: the check may see a conflict between interleaved disjoint accesses).
  std::vector<MemoryAccess> *accesses = nullptr;
  void touched(isa::Space space, uint64_t address, uint64_t length, bool write) {
    if (accesses && length)
      accesses->push_back({space, address, length, write});
  }
  DataPath path = DataPath::None;
  uint64_t bytes = 0;        // bytes moved along `path`
  uint64_t macs = 0;         // cube multiply-accumulates
  // GM traffic of a DMA/FixPipe, as `gmRows` rows of `gmRowBytes` bytes, `gmRowStride` apart.
  uint64_t gmAddress = 0;
  uint64_t gmRows = 0;
  uint64_t gmRowBytes = 0;
  uint64_t gmRowStride = 0;
  bool gmWrite = false;
  uint64_t gmBytes() const { return gmRows * gmRowBytes; }
  uint64_t fractalCycles = 0; // mmad: ceil(m/16)*ceil(n/16)*ceil(k/k0)
};

// Executes a non-scalar, non-sync instruction (DMA, cube, vector). Throws FaultError.
void executeOp(CoreState &core, GlobalMemory &gm, const DispatchedOp &op, OpEffects &effects);

struct LaunchInfo {
  int64_t blockIdx = 0;
  int64_t blockDim = 1;
  uint64_t dataBase = 0;
  uint64_t args = 0;
  // A segment of the kernel (a kernel sequence's part, package KernelSegment): each block starts
  // at entryPc and ends on reaching endPc. endPc 0: the whole kernel. Functional mode only.
  uint64_t entryPc = 0;
  uint64_t endPc = 0;
};

// What the scalar unit did with the instruction at `pc`.
struct ScalarStep {
  enum class Kind {
    Executed,   // a scalar instruction ran; continue at nextPc
    Dispatch,   // `op` goes into the queue of pipe `pipe`
    SetFlag,    // set_flag with src = s: the scalar unit sets the flag itself
    WaitFlag,   // wait_flag with dst = s: the scalar unit waits itself
    BarrierAll, // wait until every pipe has drained
    SyncAll,    // wait until every block of the launch has reached the same sync_all
    End,
  };
  Kind kind = Kind::Executed;
  int64_t nextPc = 0;
  bool branchTaken = false;
  bool gmAccess = false;     // scalar load/store (costs scalar_gm_latency_cycles on a cache miss)
  uint64_t gmAddress = 0;    // ... at this GM address
  uint32_t gmBytes = 0;      // ... of this width
  bool dcacheInvalidate = false; // dcci: the scalar data cache drops the line of gmAddress
  isa::Pipe pipe = isa::Pipe::S;
  DispatchedOp op;           // for Dispatch (and SetFlag/WaitFlag: the sync operands)
};

// Whether executing `inst` changes nothing but its core's registers, mask and feature-map state
// (register arithmetic, moves from special registers, branches): no GM access, no pipe queue, flag,
// barrier or end, and no fault but a branch out of the program. The timing engine runs such an
// instruction without first waiting out the scalar unit's earlier cycles (no other unit can tell).
bool changesOnlyItsCore(const isa::Instruction &inst);

// Executes or classifies the instruction at `pc` into `step` (reused from one instruction to the
// next: `op` is only written for what dispatches or syncs). `cycle` is what `mfsr cycle` reads.
void stepScalar(CoreState &core, GlobalMemory &gm, const isa::KernelBinary &kernel, int64_t pc,
                const LaunchInfo &launch, uint64_t cycle, ScalarStep &step);

// Flag identity (src pipe, dst pipe, event) packed into one index.
inline int flagIndex(isa::Pipe src, isa::Pipe dst, int64_t event) {
  return (static_cast<int>(src) * 16 + static_cast<int>(dst)) * isa::kNumEventIds +
         static_cast<int>(event);
}
constexpr int kNumFlags = 16 * 16 * isa::kNumEventIds;
// The flag a set_flag or wait_flag names.
inline int flagIndexOf(const isa::Instruction &inst) {
  return flagIndex(static_cast<isa::Pipe>(slot::src.value(inst)),
                   static_cast<isa::Pipe>(slot::dst.value(inst)), slot::event.value(inst));
}

} // namespace fractal::sim
