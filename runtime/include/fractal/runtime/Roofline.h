// Where a model's simulated time goes, against the roofline: each task's lower bound (its MACs at
// the chip's cube peak, its tensors moved once at DRAM bandwidth) next to what it took and what
// limited it (its busiest pipe), and for the whole model the launch overheads, the kernel cycles
// grouped by limiter and the tasks furthest above their bound. `fractal run` prints it in timing
// mode and writes it into --report; bench/model_bench reports the same bound.
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/package/Package.h"
#include "fractal/runtime/ModelProfile.h"

#include <string>
#include <vector>

namespace fractal::runtime {

struct TaskBound {
  double computeCycles = 0; // model MACs / (cube MACs per cycle x the chip's cores)
  double memoryCycles = 0;  // the task's tensors (inputs, outputs, weights) / DRAM bytes per cycle
  double cycles() const { return computeCycles > memoryCycles ? computeCycles : memoryCycles; }
  // The busiest pipe, or DRAM (what it moved at its bandwidth over the duration) when that is
  // busier; "latency and sync" when none is busier than 50%.
  std::string limitedBy;
  double busiest = 0;       // its busy ratio
  std::string busiestUnit;  // which one, by name (e.g. "L1 -> L0 loads (mte1)"), even below 50%
};

// A kernel task, or one part of a kernel sequence (when the run was traced), with its bound.
struct TimedWork {
  std::string name, opType;
  uint64_t cycles = 0;
  TaskBound bound;
};

struct WhereTimeGoes {
  double kernelCycles = 0;  // the kernels' simulated cycles, one after another
  double launchCycles = 0;  // runtime.kernel_launch_us per kernel task, in cycles
  double boundCycles = 0;   // the model's roofline: max(model MACs at peak, weights + inputs + outputs at DRAM bandwidth)
  // The kernels' own bounds added up (a traced sequence's parts'): each moving every tensor it
  // touches, intermediate feature maps included, through DRAM once. Above the model's bound by
  // what the intermediates cost; below the kernel cycles by what the kernels lose to their bounds.
  double sumOfKernelBounds = 0;
  // The busiest unit's own work added up, task by task (a traced sequence: part by part): what the
  // same instructions would take however well their pipes overlapped, since no part can end before
  // its busiest pipe (or DRAM) has done its work. Between the roofline (which counts only the cube
  // and DRAM) and the kernel cycles: img2col, FixPipe, vector and DMA bandwidths the roofline
  // leaves out. boundCycles / busiestWorkCycles is the best ratio to the roofline these kernels
  // could reach. Per unit, largest first.
  double busiestWorkCycles = 0;
  std::vector<std::pair<std::string, double>> busiestWork;
  // What the shared DRAM moved during the kernels, as cycles at its bandwidth; the L2's hits over
  // its lookups (lines).
  double dramBytes = 0, dramCycles = 0, l2HitRate = 0;
  // Per core, the kernel cycles spent waiting at cross-core barriers (TaskProfile).
  double barrierWaitCycles = 0;
  // Traced runs (TaskProfile::noPipe etc.): per core, the kernel cycles with none of the pipes
  // working, with two or more at once, and with one alone (per pipe label, largest first).
  bool pipesTraced = false;
  double noPipeCycles = 0, overlappingCycles = 0;
  std::vector<std::pair<std::string, double>> aloneCycles;
  std::vector<std::pair<std::string, double>> byLimiter; // kernel cycles per limiter, largest first
  // Kernel tasks, and a traced sequence's parts in place of the sequence: at most 5, largest gap first.
  std::vector<TimedWork> furthestAboveBound;
  std::vector<TaskBound> tasks;                           // per task (host tasks: empty)
};

// The model's roofline bound in cycles: `macs` at the chip's fp16 cube peak, or the package's
// weights, inputs and outputs moved once at DRAM bandwidth, whichever is longer.
double modelRooflineCycles(const pkg::Package &package, const ChipConfig &config, double macs);

TaskBound taskBound(const TaskProfile &task, const ChipConfig &config);
TaskBound segmentBound(const SegmentProfile &segment, const ChipConfig &config);
WhereTimeGoes whereTimeGoes(const ModelProfile &profile, const pkg::Package &package, const ChipConfig &config);
// A few lines for people: the split between launches and kernels, the ratio to the bound, the
// limiters, the tasks furthest above their bound.
std::string describe(const WhereTimeGoes &w, const ModelProfile &profile);

} // namespace fractal::runtime
