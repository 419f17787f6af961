// The compiler's passes (Passes.td) and their registration for fractal-opt.
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace fractal {

#define GEN_PASS_DECL
#include "fractal/compiler/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "fractal/compiler/Transforms/Passes.h.inc"

} // namespace fractal
