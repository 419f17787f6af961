#include "fractal/compiler/Transforms/Pipelines.h"

#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"

namespace fractal {

bool addPhasePasses(mlir::OpPassManager &pm, llvm::StringRef phase) {
  if (phase == "optimize") {
    // Constants first (BatchNorm statistics computed from constants become constants; transposes
    // of weights disappear), then data movement, then BatchNorm: it folds only into a conv
    // without a clamp, so fusing the clamp afterwards picks up Conv -> BN -> Relu chains whole.
    // Folding a stride into channels and a short-row softmax's layout add data movement that the
    // next pass may merge.
    pm.addNestedPass<mlir::func::FuncOp>(createFoldConstants());
    pm.addNestedPass<mlir::func::FuncOp>(createStrideToChannels());
    pm.addNestedPass<mlir::func::FuncOp>(createShortRowSoftmax());
    pm.addNestedPass<mlir::func::FuncOp>(createFuseLayerNorm());
    pm.addNestedPass<mlir::func::FuncOp>(createCancelDataMovement());
    pm.addNestedPass<mlir::func::FuncOp>(createFoldBatchNorm());
    pm.addNestedPass<mlir::func::FuncOp>(createFuseEpilogue());
    pm.addNestedPass<mlir::func::FuncOp>(createFactorScale());
    return true;
  }
  if (phase == "placement") {
    pm.addNestedPass<mlir::func::FuncOp>(createPlacement());
    return true;
  }
  return phase == "graph";
}

void registerFractalPipelines() {
  // Only the multi-pass phase: "placement" is one pass, already registered under that name.
  mlir::PassPipelineRegistration<>(
      "fractal-optimize", "the passes of fractal compile's 'optimize' phase, in order",
      [](mlir::OpPassManager &pm) { addPhasePasses(pm, "optimize"); });
}

} // namespace fractal
