// Kernel lowering, memory planning and packaging: a placed graph-dialect module -> a model package.
//
// Each graph op becomes one task: a kernel generated for its shapes (KernelTemplates.h), a view of
// another tensor (Reshape, Flatten, Identity), or a host-fallback op when no NPU kernel handles that
// case yet (the task records why). Global memory is planned with reuse from the tasks' order.
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/package/Package.h"
#include "fractal/support/Error.h"

#include "mlir/IR/BuiltinOps.h"

namespace fractal::compiler {

// Everything in the package that depends on the model; `sourceModel` names it in the package and
// in errors. Ops no kernel and no host fallback handles are reported all at once (BadInput).
// `kernelDir` (optional) receives every generated kernel's assembly as NAME.s; `kernelAssembly`
// (optional) the same texts, one per package kernel in order (`--compile-to=kernel`); `kernelNpu`
// (optional) each kernel's npu dialect IR, empty for kernels generated directly as assembly
// (`--compile-to=npu`).
Expected<pkg::Package> buildPackage(mlir::ModuleOp module, const ChipConfig &config,
                                    const std::string &sourceModel, const std::string &kernelDir = "",
                                    std::vector<std::string> *kernelAssembly = nullptr,
                                    std::vector<std::string> *kernelNpu = nullptr);

} // namespace fractal::compiler
