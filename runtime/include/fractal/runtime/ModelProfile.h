// Per-execution profile of a model (C++ only; `fractal run --profile` and --report use it): one
// entry per task with its simulated time and pipe utilization, in the spirit of msprof's
// op_summary.
#pragma once

#include "fractal/runtime/fractal_runtime.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fractal::runtime {

struct PipeUse {
  std::string pipe;     // "v", "m", "mte1", ...
  double ratio = 0;     // busy cycles / task cycles, averaged over the task's blocks
};

struct TraceEvent {       // one instruction slice, in model-relative cycles
  int core, pipe;
  uint64_t start, duration;
  int64_t pc;
};

// A kernel sequence's part (pkg::KernelSegment) within its task, from the trace: its cycles run
// from the previous part's last instruction to its own last; busy pipes from its instructions.
struct SegmentProfile {
  std::string name, opType;
  std::vector<std::string> onnxNodes;
  uint64_t startCycle = 0; // within the execution
  uint64_t cycles = 0;
  std::vector<PipeUse> pipes;
  uint64_t modelMacs = 0, tensorBytes = 0; // the part's, for its roofline bound
  uint32_t blockDim = 1; // the blocks that ran it (a part made for fewer runs on those only)
  uint64_t dramBytes = 0; // what DRAM moved for its GM transfers (incl. the dirty lines they evicted)
  uint64_t l2Hits = 0, l2Misses = 0;
};

struct TaskProfile {
  std::string name, opType;
  std::vector<std::string> onnxNodes;
  bool host = false;
  std::string hostReason;
  uint32_t blockDim = 0;
  uint64_t cycles = 0;       // simulated (0 for host ops and in functional mode)
  double deviceUs = 0;       // simulated duration incl. the launch overhead; host ops: wall time
  uint64_t startCycle = 0;   // within the execution
  uint64_t macs = 0;      // issued by the cube (incl. padding and depthwise zeros)
  uint64_t modelMacs = 0; // the ONNX ops' own (pkg::Task::modelMacs)
  uint64_t tensorBytes = 0; // the task's tensors (inputs, outputs, weights): what it must move at least once
  uint64_t dramBytes = 0;   // what the shared DRAM moved during the task (reads, write-throughs, write-backs)
  uint64_t l2Hits = 0, l2Misses = 0; // L2 lines the task's GM transfers found / did not find
  // Timing: the scalar unit's waits at cross-core barriers (a kernel sequence's blocks waiting
  // for each other between parts: loads spinning on flags in GM, or a hardware sync_all),
  // averaged over the cores that ran.
  uint64_t barrierWaitCycles = 0;
  std::vector<PipeUse> pipes;
  // Traced timing runs: how the pipes (the scalar unit aside) overlapped, as shares of the task's
  // cycles averaged over the cores that ran. `noPipe`: none of them working (all waiting on each
  // other's flags, on GM latency or on the scalar unit); `alone`: exactly that one working;
  // `overlapping`: two or more at once. The three add up to 1; untraced, all are empty/0.
  double noPipe = 0, overlapping = 0;
  std::vector<PipeUse> alone;
  std::vector<TraceEvent> trace; // only when tracing is on
  std::vector<SegmentProfile> segments; // a kernel sequence's parts: timing mode with tracing on
};

struct ModelProfile {
  std::vector<TaskProfile> tasks;
  uint64_t cycles = 0;     // sum over the tasks (they run one after another)
  double simulatedUs = 0;  // kernels' simulated time + launch overheads + host ops' wall time
  double wallSeconds = 0;  // host time the execution took
  double clockMhz = 0;
  // Input and output bytes copied between the dataset's buffers and the model's region: 0 when
  // every one ran in place (Model.cpp, placeInputsAndOutputs).
  uint64_t copiedIoBytes = 0;
};

// The profile of the model's last finished execution; false (and frtGetRecentErrMsg) if none.
bool lastModelProfile(frtModel model, ModelProfile &out);
// Collect instruction-level trace slices in later executions (off by default: costs memory).
void setModelTracing(frtModel model, bool on);

} // namespace fractal::runtime
