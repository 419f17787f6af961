// Whole-kernel synchronisation rewrites on assembled code.
//
// serializeSync is the `--sync=barrier-all` debug mode: every set_flag / wait_flag is dropped and a
// `barrier all` follows every instruction that runs on a pipe, so each transfer and computation
// finishes before the scalar unit dispatches the next one. The kernel then needs no flags to be
// correct: when a kernel computes something different with and without it, its flags are wrong.
// Branch offsets, code symbols and the debug map (instruction -> ONNX node) follow the moved code.
#pragma once

#include "fractal/isa/KernelBinary.h"

namespace fractal::isa {

// `newPc` (optional) receives where each old instruction landed (size: old count + 1, the last
// entry the end), for code ranges that refer to the kernel (a kernel sequence's segments).
Expected<KernelBinary> serializeSync(const KernelBinary &kernel, std::vector<size_t> *newPc = nullptr);

} // namespace fractal::isa
