// Kernels in the npu dialect: the passes that finish them (plan memory, inject sync) and the
// emitter that writes them as Fractal assembly. A kernel is a func.func whose arguments are GM
// memrefs (the launch's argument block, in order), with attributes `npu.buffer_bytes` (the
// target's buffer sizes), `npu.block_dim` (how many blocks to launch) and `npu.node` (the ONNX
// node(s), for the debug map).
#pragma once

#include "fractal/compiler/Codegen/KernelTemplates.h"
#include "fractal/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>

namespace fractal::codegen {

// Canonicalises the kernel, plans its buffers and places its set/wait flags
// (fractal-npu-plan-memory, fractal-npu-inject-sync); errors (overflow, too many flags) carry
// the pass's diagnostic.
// `sync`: "flags" (from memory dependences) or "barrier-all".
Status finishNpuKernel(mlir::func::FuncOp kernel, const std::string &sync = "flags");

// The finished kernel as assembly: scalar code for `arith`/`scf`, one instruction per npu op.
// `header` is written first as `#` comments. Errors name the op that cannot be emitted.
Expected<std::string> emitNpuAssembly(mlir::func::FuncOp kernel, const std::string &header = "");

// The kernel as text (the `--compile-to=npu` view).
std::string printNpuKernel(mlir::func::FuncOp kernel);

} // namespace fractal::codegen
