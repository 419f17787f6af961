// The compiler's passes (Passes.td) and their registration for fractal-opt.
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace fractal {

// The attributes fractal-placement writes and later phases (and the compile report) read.
inline constexpr llvm::StringLiteral kPlacementAttr = "fractal.placement";
inline constexpr llvm::StringLiteral kPlacementReasonAttr = "fractal.placement_reason";

#define GEN_PASS_DECL
#include "fractal/compiler/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "fractal/compiler/Transforms/Passes.h.inc"

} // namespace fractal
