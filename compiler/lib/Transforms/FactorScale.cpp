// fractal-factor-scale: x + x * s -> x * (1 + s) for a small broadcast s (Passes.td).
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace fractal {
#define GEN_PASS_DEF_FACTORSCALE
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace g = fractal::graph;

struct FactorAddOfScaled : mlir::OpRewritePattern<g::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(g::AddOp add, mlir::PatternRewriter &rewriter) const override {
    for (auto [x, other] : {std::pair{add.getLhs(), add.getRhs()}, std::pair{add.getRhs(), add.getLhs()}}) {
      auto mul = other.getDefiningOp<g::MulOp>();
      if (!mul || !mul->hasOneUse() || x.getType() != add.getType())
        continue;
      mlir::Value s = mul.getLhs() == x ? mul.getRhs() : mul.getRhs() == x ? mul.getLhs() : mlir::Value();
      auto sType = s ? llvm::dyn_cast<mlir::RankedTensorType>(s.getType()) : mlir::RankedTensorType();
      auto xType = llvm::cast<mlir::RankedTensorType>(x.getType());
      if (!sType || !sType.getElementType().isF32() || sType.getNumElements() >= xType.getNumElements())
        continue;
      auto oneType = mlir::RankedTensorType::get({}, rewriter.getF32Type());
      auto one = rewriter.create<g::ConstantOp>(
          add.getLoc(), mlir::DenseElementsAttr::get(oneType, rewriter.getF32FloatAttr(1.0f)));
      auto scale = rewriter.create<g::AddOp>(mul.getLoc(), sType, s, one.getResult());
      auto product = rewriter.create<g::MulOp>(rewriter.getFusedLoc({mul.getLoc(), add.getLoc()}), add.getType(), x,
                                               scale.getResult());
      rewriter.replaceOp(add, product.getResult());
      rewriter.eraseOp(mul);
      return mlir::success();
    }
    return rewriter.notifyMatchFailure(add, "not x + x * s with a smaller broadcast s");
  }
};

struct FactorScalePass : fractal::impl::FactorScaleBase<FactorScalePass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<FactorAddOfScaled>(&getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
