// The pass pipelines of `fractal compile`'s phases, defined once: the driver runs them phase by
// phase, fractal-opt registers them (`--fractal-optimize`) so lit tests and users can run the
// very same sequence on any IR.
#pragma once

#include "mlir/Pass/PassManager.h"

namespace fractal {

// Appends the passes of `phase` ("optimize" or "placement"; "graph" is the import itself and
// has none). Returns false for a phase it does not know.
bool addPhasePasses(mlir::OpPassManager &pm, llvm::StringRef phase);

// Registers the optimize phase's pipeline with MLIR's pass registry as `fractal-optimize`.
void registerFractalPipelines();

} // namespace fractal
