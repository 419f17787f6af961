// fractal-fuse-layer-norm: layer normalisation written out as its arithmetic becomes one
// graph.layer_norm (Passes.td).
#include "fractal/compiler/Dialect/Graph/Constants.h"
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace fractal {
#define GEN_PASS_DEF_FUSELAYERNORM
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace g = fractal::graph;

// The operand of a commutative binary op that is not `known`, or null when neither is.
mlir::Value otherOperand(mlir::Operation *op, mlir::Value known) {
  if (op->getOperand(0) == known) return op->getOperand(1);
  if (op->getOperand(1) == known) return op->getOperand(0);
  return {};
}

// A mean over the trailing axes from `axis` on, keeping them: its input, else null.
mlir::Value trailingMean(mlir::Value v, int64_t &axis) {
  auto mean = v.getDefiningOp<g::ReduceOp>();
  if (!mean || mean.getKind() != "mean" || !mean.getKeepdims()) return {};
  const int64_t rank = llvm::cast<mlir::RankedTensorType>(mean.getInput().getType()).getRank();
  llvm::ArrayRef<int64_t> axes = mean.getAxes();
  if (axes.empty() || axes.back() != rank - 1) return {};
  for (size_t i = 1; i < axes.size(); ++i)
    if (axes[i] != axes[i - 1] + 1) return {};
  axis = axes.front();
  return mean.getInput();
}

// One value per normalised element (shape: the normalised dims, after leading 1s): a scale or bias.
bool perNormalisedElement(mlir::Value v, llvm::ArrayRef<int64_t> normalised) {
  auto type = llvm::dyn_cast<mlir::RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || !type.getElementType().isF32()) return false;
  llvm::ArrayRef<int64_t> shape = type.getShape();
  while (!shape.empty() && shape.size() > normalised.size() && shape.front() == 1) shape = shape.drop_front();
  return shape == normalised;
}

// (x - mean(x)) / sqrt(mean((x - mean(x))^2) + epsilon) * scale [+ bias], the means over trailing
// axes, as exporters that predate ONNX's LayerNormalization (opset 17) write it; rooted at the
// last Add (or Mul). Every intermediate must be read only inside the pattern.
struct LayerNormFromArithmetic : mlir::RewritePattern {
  explicit LayerNormFromArithmetic(mlir::MLIRContext *context) : RewritePattern(MatchAnyOpTypeTag(), 1, context) {}

  mlir::LogicalResult matchAndRewrite(mlir::Operation *root, mlir::PatternRewriter &rewriter) const override {
    if (!llvm::isa<g::AddOp, g::MulOp>(root)) return mlir::failure();
    auto rootType = llvm::dyn_cast<mlir::RankedTensorType>(root->getResult(0).getType());
    if (!rootType || !rootType.hasStaticShape() || !rootType.getElementType().isF32())
      return rewriter.notifyMatchFailure(root, "not a static f32 tensor");
    llvm::SmallVector<mlir::Operation *> chain{root};
    auto readOnlyBy = [](mlir::Value v, mlir::Operation *user) {
      return llvm::all_of(v.getUsers(), [&](mlir::Operation *u) { return u == user; });
    };
    // [+ bias] and * scale: try each operand as the normalised product.
    g::MulOp scaled;
    mlir::Value bias, scale;
    if (auto add = llvm::dyn_cast<g::AddOp>(root)) {
      for (mlir::Value v : {add.getLhs(), add.getRhs()})
        if (auto mul = v.getDefiningOp<g::MulOp>(); mul && readOnlyBy(v, root) && !scaled) scaled = mul, bias = otherOperand(root, v);
      if (!scaled) return rewriter.notifyMatchFailure(root, "no scaled product under the add");
      chain.push_back(scaled);
    } else {
      scaled = llvm::cast<g::MulOp>(root);
    }
    g::DivOp normalised;
    for (mlir::Value v : {scaled.getLhs(), scaled.getRhs()})
      if (auto div = v.getDefiningOp<g::DivOp>(); div && readOnlyBy(v, scaled) && !normalised) normalised = div, scale = otherOperand(scaled, v);
    if (!normalised) return rewriter.notifyMatchFailure(root, "no division under the scale");
    chain.push_back(normalised);
    // (x - mean(x)) / sqrt(variance + epsilon)
    auto centred = normalised.getLhs().getDefiningOp<g::SubOp>();
    auto root2 = normalised.getRhs().getDefiningOp<g::SqrtOp>();
    if (!centred || !root2 || !readOnlyBy(root2.getResult(), normalised))
      return rewriter.notifyMatchFailure(root, "not a centred value over a square root");
    auto plusEps = root2.getInput().getDefiningOp<g::AddOp>();
    if (!plusEps || !readOnlyBy(plusEps.getResult(), root2)) return rewriter.notifyMatchFailure(root, "no epsilon");
    std::optional<float> epsilon;
    mlir::Value variance;
    for (mlir::Value v : {plusEps.getLhs(), plusEps.getRhs()}) {
      auto type = llvm::dyn_cast<mlir::RankedTensorType>(v.getType());
      if (!type || type.getNumElements() != 1) continue;
      if (std::optional<std::vector<float>> c = g::readF32Constant(v); c && c->size() == 1) epsilon = (*c)[0], variance = otherOperand(plusEps, v);
    }
    if (!epsilon || !variance || !readOnlyBy(variance, plusEps)) return rewriter.notifyMatchFailure(root, "no constant epsilon");
    int64_t axis = -1, varianceAxis = -1;
    mlir::Value squares = trailingMean(variance, varianceAxis);
    auto square = squares ? squares.getDefiningOp<g::MulOp>() : g::MulOp();
    if (!square || square.getLhs() != centred.getResult() || square.getRhs() != centred.getResult() ||
        !readOnlyBy(squares, variance.getDefiningOp()))
      return rewriter.notifyMatchFailure(root, "the variance is not the mean of the centred value squared");
    mlir::Value x = centred.getLhs();
    mlir::Value meanOf = trailingMean(centred.getRhs(), axis);
    if (meanOf != x || axis != varianceAxis || !readOnlyBy(centred.getRhs(), centred))
      return rewriter.notifyMatchFailure(root, "not x minus its mean over the same axes");
    // The centred value feeds only the square and the division.
    for (mlir::Operation *u : centred.getResult().getUsers())
      if (u != square && u != normalised) return rewriter.notifyMatchFailure(root, "the centred value is read elsewhere");
    auto xType = llvm::cast<mlir::RankedTensorType>(x.getType());
    if (xType != rootType) return rewriter.notifyMatchFailure(root, "the result is broadcast beyond x's shape");
    llvm::ArrayRef<int64_t> normalisedDims = xType.getShape().drop_front(axis);
    if (!perNormalisedElement(scale, normalisedDims) || (bias && !perNormalisedElement(bias, normalisedDims)))
      return rewriter.notifyMatchFailure(root, "scale or bias is not one value per normalised element");
    chain.append({centred, root2, plusEps, variance.getDefiningOp(), square, centred.getRhs().getDefiningOp()});

    llvm::SmallVector<int64_t> stats;
    for (int64_t d = 0; d < xType.getRank(); ++d) stats.push_back(d >= axis ? 1 : xType.getDimSize(d));
    auto statsType = mlir::RankedTensorType::get(stats, xType.getElementType());
    llvm::SmallVector<mlir::Location> locs;
    for (mlir::Operation *op : llvm::reverse(chain)) locs.push_back(op->getLoc());
    auto ln = rewriter.create<g::LayerNormOp>(rewriter.getFusedLoc(locs), mlir::TypeRange{xType, statsType, statsType}, x,
                                              scale, bias, rewriter.getI64IntegerAttr(axis),
                                              rewriter.getF32FloatAttr(*epsilon));
    rewriter.replaceOp(root, ln.getResult());
    return mlir::success();
  }
};

struct FuseLayerNormPass : fractal::impl::FuseLayerNormBase<FuseLayerNormPass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<LayerNormFromArithmetic>(&getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
