// fractal-placement: record each graph op's execution unit (see Passes.td).
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/PlacementReasons.h"
#include "fractal/compiler/Transforms/Passes.h"

namespace fractal {
#define GEN_PASS_DEF_PLACEMENT
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

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
      if (fractal::graph::scalarIntegerOperand(op)) {
        auto f64 = [](mlir::Value v) { return llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType().isF64(); };
        where = "scalar";
        why = llvm::isa<fractal::graph::CastOp>(op) && (f64(op->getOperand(0)) || f64(op->getResult(0)))
                  ? fractal::kFloat64CastReason
                  : fractal::kScalarIntegerReason;
      }
      if (auto topK = llvm::dyn_cast<fractal::graph::TopKOp>(op); topK && fractal::graph::topKAlongLastAxis(topK)) {
        where = "vector";
        why = fractal::kTopKVectorReason;
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
