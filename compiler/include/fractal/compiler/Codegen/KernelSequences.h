// Kernel sequences: consecutive small kernel tasks of a package joined into one launch.
//
// Every launch costs runtime.kernel_launch_us (20 us on A2: 13,600 cycles at the edge chip's
// 680 MHz). A model of many small kernels (BlazeFace: 20 kernels of 2-18k cycles) spends most of its
// time launching them. The edge chip (Ascend 310) has no cross-core synchronisation, so a
// sequence runs on one core (block_dim 1; isa/KernelSequence.h joins the code): worth it when
// what a kernel loses by running on one core instead of its block_dim cores is less than a launch.
//
// That loss is estimated from the kernel's own bound on one core: its MACs at one core's cube
// peak or its tensors at one core's bandwidth (its GM port, or the DRAM when that is less),
// times kWorkPerBound (kernels here take 1.5-3x their bound), times the
// share of the work the other cores did (1 - 1/cores). The runs are chosen to save the most: a
// run of n kernels saves n - 1 launches and loses what its kernels lose (dynamic programming
// over the task list; host tasks end a run).
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/package/Package.h"
#include "fractal/support/Error.h"

#include <utility>
#include <vector>

namespace fractal::compiler {

inline constexpr double kWorkPerBound = 2.0;

// Cycles a kernel task is estimated to lose on one core instead of its block_dim cores.
double singleCoreLoss(const pkg::Package &package, const pkg::Task &task, const ChipConfig &config);

// The runs of tasks [first, last] (task indices, last > first) to join, in order.
std::vector<std::pair<size_t, size_t>> chooseKernelSequences(const pkg::Package &package, const ChipConfig &config);

// Joins `runs` (as chooseKernelSequences gives them): one kernel and one task per run, named after
// its first and last tasks ("first .. last", or the name they share; op type "Sequence"), its ONNX nodes and MACs those of its parts, its
// arguments theirs one after another. Kernels no task launches any more are dropped. The memory
// plan stays as it is: the parts run in the order it was planned for.
Status joinKernelSequences(pkg::Package &package, const std::vector<std::pair<size_t, size_t>> &runs);

} // namespace fractal::compiler
