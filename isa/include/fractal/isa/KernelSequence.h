// Several kernels as one program that runs them one after another (a kernel sequence).
//
// Launching a kernel costs the runtime ~20 us (runtime.kernel_launch_us); a model of many small
// kernels spends most of its time there. A sequence is launched once with block_dim 1: each part
// runs all of its blocks' work on one core (kernels loop over their items with stride block_dim),
// then a `barrier all` lets its last GM writes land before the next part starts. Between parts the
// registers, the vector mask and the feature-map register are put back to what a launch gives
// (zeros, all ones, zero), so every part sees the state it was compiled for.
//
// Each part keeps its own argument words and data section: `mfsr xN, args` is followed by
// `addi xN, xN, <the part's first argument byte>` and `mfsr xN, data_base` by `addi` of the
// part's data offset (parts' data are 512-byte aligned, as the loader aligns a kernel's data).
// An `end` inside a part becomes a jump to the part's end. Branch offsets, symbols (prefixed
// with the part's index) and the debug map (instruction -> ONNX node) follow the moved code.
#pragma once

#include "fractal/isa/KernelBinary.h"

namespace fractal::isa {

struct SequencePart {
  const KernelBinary *kernel = nullptr;
  uint64_t argsOffsetBytes = 0; // where this part's argument words start in the joint list
};

// Where each part's code landed: [entry, end). Started at `entry` and stopped on reaching `end`
// (the next part's register reset, or the final `end`), with the sequence's data base and
// arguments, a part runs as the kernel it was at any block_dim: functional simulation runs a
// sequence's parts that way, several cores at a time.
struct SequenceRange {
  uint32_t entry = 0, end = 0;
};

// The parts must be for one target; `source` names the result. `ranges` (optional) receives
// each part's code range.
Expected<KernelBinary> sequenceKernels(const std::vector<SequencePart> &parts, const std::string &source,
                                       std::vector<SequenceRange> *ranges = nullptr);

} // namespace fractal::isa
