// fractal-factor-scale: x + x * s -> x * (1 + s) for a small broadcast s, and chains of scalar
// multiplications and divisions by constants merged into one multiplication (Passes.td).
#include "fractal/compiler/Dialect/Graph/Constants.h"
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

// op = y * c, c * y or y / c with c a one-element f32 constant: (y, the factor y is scaled by).
std::optional<std::pair<mlir::Value, double>> scalarScale(mlir::Operation *op) {
  auto scalar = [](mlir::Value v) -> std::optional<double> {
    auto type = llvm::dyn_cast<mlir::RankedTensorType>(v.getType());
    if (!type || type.getNumElements() != 1) return std::nullopt;
    std::optional<std::vector<float>> value = fractal::graph::readF32Constant(v);
    if (!value || value->size() != 1) return std::nullopt;
    return double((*value)[0]);
  };
  if (auto mul = llvm::dyn_cast_or_null<g::MulOp>(op)) {
    if (std::optional<double> c = scalar(mul.getRhs())) return std::make_pair(mul.getLhs(), *c);
    if (std::optional<double> c = scalar(mul.getLhs())) return std::make_pair(mul.getRhs(), *c);
  }
  if (auto div = llvm::dyn_cast_or_null<g::DivOp>(op))
    if (std::optional<double> c = scalar(div.getRhs()); c && *c != 0.0) return std::make_pair(div.getLhs(), 1.0 / *c);
  return std::nullopt;
}

// (y op1 c) op2 d with op1, op2 each a multiplication or division by a one-element constant ->
// y * k, k computed in double and rounded once to f32: hardswish's "/ 6" and the learnable
// scale after it (PP-OCRv4's LCNet) become one vector multiplication instead of a division
// (a slow vector op) and a multiplication in every such epilogue. (The result differs from the
// two roundings by at most an ulp or so of f32.)
struct MergeScalarScales : mlir::RewritePattern {
  explicit MergeScalarScales(mlir::MLIRContext *context) : RewritePattern(MatchAnyOpTypeTag(), 1, context) {}
  mlir::LogicalResult matchAndRewrite(mlir::Operation *op, mlir::PatternRewriter &rewriter) const override {
    std::optional<std::pair<mlir::Value, double>> outer = scalarScale(op);
    if (!outer) return mlir::failure();
    mlir::Operation *innerOp = outer->first.getDefiningOp();
    std::optional<std::pair<mlir::Value, double>> inner = scalarScale(innerOp);
    if (!inner || !innerOp->hasOneUse() || inner->first.getType() != op->getResult(0).getType())
      return rewriter.notifyMatchFailure(op, "not a scalar scale of a scalar scale of a same-shaped tensor");
    auto scalarType = mlir::RankedTensorType::get({}, rewriter.getF32Type());
    auto k = rewriter.create<g::ConstantOp>(
        op->getLoc(), mlir::DenseElementsAttr::get(scalarType, rewriter.getF32FloatAttr(float(inner->second * outer->second))));
    auto product = rewriter.create<g::MulOp>(rewriter.getFusedLoc({innerOp->getLoc(), op->getLoc()}),
                                             op->getResult(0).getType(), inner->first, k.getResult());
    rewriter.replaceOp(op, product.getResult());
    rewriter.eraseOp(innerOp);
    return mlir::success();
  }
};

struct FactorScalePass : fractal::impl::FactorScaleBase<FactorScalePass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<FactorAddOfScaled, MergeScalarScales>(&getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
