// The compile driver: ONNX file -> graph phases -> model package. Shared by `fractal compile`,
// `fractal run model.onnx` and the end-to-end tests, so all compile a model the same way.
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/package/Package.h"
#include "fractal/support/Error.h"

#include <string>

#ifdef FRACTAL_HAS_MLIR
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#endif

namespace fractal::onnx_frontend {

struct InputShape;

// The graph phases in order; --compile-to stops after one, --dump-ir writes each as NN-name.mlir.
// "graph" is the import itself; every later phase is a pass pipeline (compiler Pipelines.h).
inline constexpr const char *kCompilePhases[] = {"graph", "optimize", "placement"};
// The phases after them, which --compile-to can also stop after: "npu" (the kernels lowered
// through the npu dialect, as that IR after memory planning and sync injection), "kernel"
// (every generated kernel's assembly, with its tiling comments) and "isa" (the package's machine
// code, each instruction with its encoding and ONNX node).
inline constexpr const char *kCodegenPhases[] = {"npu", "kernel", "isa"};

// The whole compile. `shapes` as --input-shape; `dumpIr` ("" for none) receives every phase's IR;
// `kernelAssembly` (optional) every kernel's generated assembly, one per package kernel;
// `kernelNpu` (optional) likewise its npu dialect IR ("" when generated directly as assembly).
// With `kernelSequences`, consecutive small kernels are joined into one launch each
// (compiler/Codegen/KernelSequences.h); not when a listing is asked for, which shows the kernels
// as generated. `compileReport` (optional) receives the compile report (`--report`) of the
// graph after placement: every op with its ONNX nodes, unit and reason.
Expected<pkg::Package> compileOnnxModel(const std::string &input, const std::string &shapes,
                                        const ChipConfig &config, const std::string &dumpIr,
                                        std::vector<std::string> *kernelAssembly = nullptr,
                                        std::vector<std::string> *kernelNpu = nullptr,
                                        bool kernelSequences = true, std::string *compileReport = nullptr);

// The graph phases alone (import, support check, optimization, placement), which no chip config
// changes: `fractal sweep` runs them once, so that a model that cannot compile anywhere stops it
// before its first point, while a point whose config is too small for some kernel is a row.
Status checkOnnxModelGraph(const std::string &input, const std::string &shapes);

#ifdef FRACTAL_HAS_MLIR
// Imports `input` and runs phases 0..lastPhase (indices into kCompilePhases).
Status runGraphPhases(mlir::MLIRContext &context, mlir::OwningOpRef<mlir::ModuleOp> &module,
                      const std::string &input, const std::vector<InputShape> &shapes,
                      long lastPhase, const std::string &dumpIr);
// The module as text; weights elided; with `locations`, ONNX node names as locations.
std::string renderModule(mlir::ModuleOp module, bool locations);
#endif

} // namespace fractal::onnx_frontend
