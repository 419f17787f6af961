// fractal-placement: record each graph op's execution unit (see Passes.td).
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

namespace fractal {
#define GEN_PASS_DEF_PLACEMENT
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

// The element-wise ops whose int64 forms the package builder lowers to scalar-unit kernels
// (ScalarElementwiseKernel): arithmetic and comparisons by their first operand, Where by its values.
bool int64ElementWise(mlir::Operation *op) {
  namespace g = fractal::graph;
  mlir::Value decides;
  if (llvm::isa<g::AddOp, g::SubOp, g::MulOp, g::DivOp, g::MaxOp, g::MinOp, g::ModOp, g::CompareOp>(op))
    decides = op->getOperand(0);
  else if (llvm::isa<g::WhereOp>(op))
    decides = op->getOperand(1);
  return decides && llvm::cast<mlir::RankedTensorType>(decides.getType()).getElementType().isInteger(64);
}

struct PlacementPass : fractal::impl::PlacementBase<PlacementPass> {
  void runOnOperation() override {
    mlir::Builder b(&getContext());
    bool failed = false;
    getOperation().walk([&](mlir::Operation *op) {
      if (!llvm::isa<fractal::graph::GraphDialect>(op->getDialect()))
        return;
      auto placed = llvm::dyn_cast<fractal::graph::PlacedOpInterface>(op);
      if (!placed) {
        op->emitError("graph op has no placement");
        failed = true;
        return;
      }
      llvm::StringRef where = placed.getPlacement(), why = placed.getPlacementReason();
      if (int64ElementWise(op)) {
        where = "scalar";
        why = "int64: element by element on the scalar unit (the vector unit has no 64-bit integer lanes)";
      }
      op->setAttr(fractal::kPlacementAttr, b.getStringAttr(where));
      op->setAttr(fractal::kPlacementReasonAttr, b.getStringAttr(why));
      if (where == "scalar")
        ++numScalar;
      else if (where == "cube")
        ++numCube;
      else if (where == "vector")
        ++numVector;
      else if (where == "dma")
        ++numDma;
      else
        ++numHost;
    });
    if (failed)
      signalPassFailure();
  }
};

} // namespace
