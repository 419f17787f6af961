// Kernel sequences: consecutive kernel tasks of a package joined into one launch.
//
// Every launch costs runtime.kernel_launch_us (20 us on A2: 13,600 cycles at the edge chip's
// 680 MHz). A model of many small kernels (BlazeFace: 20 kernels of 2-18k cycles) spends most of its
// time launching them. A sequence is launched once on as many cores as its widest part; between
// parts a cross-core barrier in GM (isa/KernelSequence.h: the edge chip, Ascend 310, has no
// inter-core synchronisation) takes the place of the launch boundary. That barrier costs a few
// scalar GM round trips per round (barrierCycles), far less than a launch on both configs, so every
// run of consecutive kernel tasks is joined; host tasks end a run, and so does the loader's limit
// on a launch's arguments (pkg::kMaxLaunchArguments). The code's size does not: a runtime keeps it
// encoded and the simulator's cores decode what they fetch (sim::FetchCache).
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/package/Package.h"
#include "fractal/support/Error.h"

#include <utility>
#include <vector>

namespace fractal::compiler {

// Cycles one cross-core barrier of `blockDim` blocks takes when they arrive together: per round a
// flag store and a flag load, each a scalar data cache miss, and the loop's instructions; on a
// chip with hardware cross-core synchronisation, chip.cross_core_sync_cycles.
double barrierCycles(const ChipConfig &config, int64_t blockDim);

// The runs of tasks [first, last] (task indices, last > first) to join, in order.
std::vector<std::pair<size_t, size_t>> chooseKernelSequences(const pkg::Package &package, const ChipConfig &config);

// Joins `runs` (as chooseKernelSequences gives them): one kernel and one task per run, named after
// its first and last tasks ("first .. last", or the name they share; op type "Sequence"), its ONNX nodes and MACs those of its parts, its
// arguments theirs one after another. Kernels no task launches any more are dropped. The memory
// plan stays as it is: the parts run in the order it was planned for. With `hardwareSync` (the
// chip's chip.cross_core_sync_cycles > 0) the barriers between parts are `sync_all`s.
Status joinKernelSequences(pkg::Package &package, const std::vector<std::pair<size_t, size_t>> &runs,
                           bool hardwareSync = false);

} // namespace fractal::compiler
