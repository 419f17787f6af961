// The compile report (`fractal compile --report FILE.json` on the graph phases): every graph op
// with the ONNX nodes it stands for (several after fusion), its unit and the reason.
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace fractal::compiler {

// The ONNX node names behind a location: one for an imported op, several for a fused one.
std::vector<std::string> onnxNodeNames(mlir::Location loc);

// JSON (schema "fractal.compile/1") for `module` after `phase`.
std::string compileReportJson(mlir::ModuleOp module, const std::string &model,
                              const std::string &phase);

} // namespace fractal::compiler
