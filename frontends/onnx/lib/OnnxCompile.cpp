#include "fractal/onnx/OnnxCompile.h"

#include "fractal/compiler/Codegen/BuildPackage.h"
#include "fractal/compiler/Codegen/KernelSequences.h"
#include "fractal/compiler/CompileReport.h"
#include "fractal/compiler/Transforms/Pipelines.h"
#include "fractal/onnx/OnnxCheck.h"
#include "fractal/onnx/OnnxImport.h"
#include "fractal/support/File.h"

#include "mlir/IR/OperationSupport.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

namespace fractal::onnx_frontend {

std::string renderModule(mlir::ModuleOp module, bool locations) {
  std::string text;
  llvm::raw_string_ostream os(text);
  mlir::OpPrintingFlags flags;
  flags.elideLargeResourceString(64); // weights stay in the package, not in IR dumps
  if (locations)
    flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
  module->print(os, flags);
  return text;
}

Status runGraphPhases(mlir::MLIRContext &context, mlir::OwningOpRef<mlir::ModuleOp> &module,
                      const std::string &input, const std::vector<InputShape> &shapes,
                      long lastPhase, const std::string &dumpIr) {
  Expected<mlir::OwningOpRef<mlir::ModuleOp>> imported = importOnnxModel(context, input, shapes);
  if (!imported)
    return imported.takeError();
  module = std::move(*imported);
  if (!dumpIr.empty())
    if (Status s = createDirectories(dumpIr); !s) return s;
  for (long phase = 0; phase <= lastPhase; ++phase) {
    mlir::PassManager pm(&context);
    fractal::addPhasePasses(pm, kCompilePhases[phase]); // none for "graph": the import ran
    // Passes emit their own diagnostics (at the ONNX node's location) before failing.
    if (mlir::failed(pm.run(*module)))
      return Error::badInput("fractal compile: phase '" + std::string(kCompilePhases[phase]) +
                             "' failed for " + input);
    if (!dumpIr.empty()) {
      char name[64];
      std::snprintf(name, sizeof name, "/%02ld-%s.mlir", phase + 1, kCompilePhases[phase]);
      if (Status s = writeFileAtomically(dumpIr + name, renderModule(*module, true)); !s)
        return s.error();
    }
  }
  return Status::success();
}

Status checkOnnxModelGraph(const std::string &input, const std::string &shapes) {
  Expected<std::vector<InputShape>> parsed = parseInputShapes(shapes);
  if (!parsed) return parsed.takeError();
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  return runGraphPhases(context, module, input, *parsed, long(std::size(kCompilePhases)) - 1, "");
}

Expected<pkg::Package> compileOnnxModel(const std::string &input, const std::string &shapes,
                                        const ChipConfig &config, const std::string &dumpIr,
                                        std::vector<std::string> *kernelAssembly,
                                        std::vector<std::string> *kernelNpu, bool kernelSequences,
                                        std::string *compileReport) {
  Expected<std::vector<InputShape>> parsed = parseInputShapes(shapes);
  if (!parsed)
    return parsed.takeError();
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  const long last = long(std::size(kCompilePhases)) - 1;
  if (Status s = runGraphPhases(context, module, input, *parsed, last, dumpIr); !s)
    return s.error();
  if (compileReport) *compileReport = compiler::compileReportJson(*module, input, kCompilePhases[last]);
  Expected<pkg::Package> package = compiler::buildPackage(
      *module, config, input, dumpIr.empty() ? "" : dumpIr + "/04-kernels", kernelAssembly, kernelNpu);
  if (!package || !kernelSequences || kernelAssembly || kernelNpu)
    return package;
  if (Status s = compiler::joinKernelSequences(*package, compiler::chooseKernelSequences(*package, config),
                                                  config.chip.crossCoreSyncCycles > 0); !s)
    return s.error();
  return package;
}

} // namespace fractal::onnx_frontend
