// Device faults. Instruction semantics throw a FaultError with the cause; the engine that ran the
// instruction adds where it happened (core, pipe, PC, the disassembled instruction) and stops the
// simulation. `fractal sim` reports it and exits with code 3.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace fractal::sim {

enum class FaultKind {
  OutOfBounds,     // local buffer access past its end
  Misaligned,      // address not aligned as the buffer requires
  GmAccess,        // GM access outside an allocation
  BadOperand,      // an operand combination the semantics reject (e.g. load3d output size 0)
  FlagSetTwice,    // set_flag on a flag that is already set
  Deadlock,        // every unfinished pipe waits on something that can never happen
  Watchdog,        // the cycle limit was reached
  BadBranch,       // branch target outside the program
  DataRace,        // two pipes touched the same bytes with no flag ordering them
  Trap,            // the kernel stopped itself (`trap`), e.g. on an index out of range
  Internal,        // a bug in the simulator itself (reported, never a crash)
};
const char *faultKindName(FaultKind kind); // "out-of-bounds", ...

struct FaultError : std::runtime_error {
  FaultError(FaultKind k, const std::string &cause) : std::runtime_error(cause), kind(k) {}
  FaultKind kind;
};

struct Fault {
  FaultKind kind;
  int core = -1;
  int block = -1;
  std::string pipe;        // "s", "v", "mte2", ... ("" when not tied to one pipe)
  int64_t pc = -1;         // instruction index (-1 when not tied to one instruction)
  std::string instruction; // disassembled
  std::string note;        // debug note (ONNX node) of that instruction, if any
  std::string cause;
  uint64_t cycle = 0;      // timing mode: when it happened

  // "core 0 (block 1), pipe mte2, pc 12 `gm2ub ub[x6], gm[x2], len=24`: <cause>"
  std::string message() const;
};

} // namespace fractal::sim
