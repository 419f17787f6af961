// fractal-cancel-data-movement: chained transposes/reshapes composed or removed, transposes moved
// below element-wise ops to where they are absorbed (Passes.td).
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace fractal {
#define GEN_PASS_DEF_CANCELDATAMOVEMENT
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace g = fractal::graph;

bool isIdentity(llvm::ArrayRef<int64_t> perm) {
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<int64_t>(i))
      return false;
  return true;
}

struct ComposeTransposes : mlir::OpRewritePattern<g::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(g::TransposeOp op,
                                      mlir::PatternRewriter &rewriter) const override {
    if (isIdentity(op.getPerm()) && op.getInput().getType() == op.getType()) {
      rewriter.replaceOp(op, op.getInput());
      return mlir::success();
    }
    auto inner = op.getInput().getDefiningOp<g::TransposeOp>();
    if (!inner)
      return mlir::failure();
    // out[i] = mid[q[i]] = in[p[q[i]]]
    llvm::ArrayRef<int64_t> p = inner.getPerm(), q = op.getPerm();
    llvm::SmallVector<int64_t> composed(q.size());
    for (size_t i = 0; i < q.size(); ++i)
      composed[i] = p[q[i]];
    auto loc = rewriter.getFusedLoc({inner.getLoc(), op.getLoc()});
    if (isIdentity(composed)) {
      rewriter.replaceOp(op, inner.getInput());
      return mlir::success();
    }
    rewriter.replaceOp(op, rewriter.create<g::TransposeOp>(loc, op.getType(), inner.getInput(),
                                                           rewriter.getDenseI64ArrayAttr(composed)));
    return mlir::success();
  }
};

struct ComposeReshapes : mlir::OpRewritePattern<g::ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(g::ReshapeOp op,
                                      mlir::PatternRewriter &rewriter) const override {
    mlir::Value source = op.getInput();
    mlir::Location loc = op.getLoc();
    if (auto inner = source.getDefiningOp<g::ReshapeOp>()) {
      source = inner.getInput();
      loc = rewriter.getFusedLoc({inner.getLoc(), op.getLoc()});
    } else if (source.getType() != op.getType()) {
      return mlir::failure();
    }
    if (source.getType() == op.getType()) {
      rewriter.replaceOp(op, source);
      return mlir::success();
    }
    rewriter.replaceOp(op, rewriter.create<g::ReshapeOp>(loc, op.getType(), source));
    return mlir::success();
  }
};

// An element-wise unary op with per-tensor parameters: the same values in any layout. Casts are
// left out: they change how many bytes a transpose on either side of them moves.
bool isLayoutFreeUnary(mlir::Operation *op) {
  return llvm::isa<g::ReluOp, g::SigmoidOp, g::NegOp, g::AbsOp, g::SqrtOp, g::ReciprocalOp, g::ExpOp, g::LogOp,
                   g::ActivationOp, g::ErfOp, g::SignOp, g::RoundingOp, g::TrigonometricOp, g::ClipOp,
                   g::HardSigmoidOp, g::FakeQuantOp>(op);
}

// Whether a transpose by `perm` of `v` would be absorbed where v's readers are: by another
// transpose (they compose, and cancel when inverse), by convolutions reading it as their input
// when it is NHWC -> NCHW (they read the NHWC tensor: BuildPackage's transpose()), or further
// down a chain of layout-free unary ops to one of those.
bool absorbedBelow(mlir::Value v, llvm::ArrayRef<int64_t> perm) {
  if (v.use_empty()) return false;
  for (mlir::OpOperand &use : v.getUses()) {
    mlir::Operation *user = use.getOwner();
    if (llvm::isa<g::ConvOp>(user) && use.getOperandNumber() == 0 && perm == llvm::ArrayRef<int64_t>{0, 3, 1, 2})
      continue;
    if (v.hasOneUse() && llvm::isa<g::TransposeOp>(user)) continue;
    if (v.hasOneUse() && isLayoutFreeUnary(user) && absorbedBelow(user->getResult(0), perm)) continue;
    return false;
  }
  return true;
}

// transpose -> layout-free unary op  =>  unary op -> transpose, when the moved transpose is then
// absorbed (absorbedBelow). A QuantizeLinear/DequantizeLinear pair between a TensorFlow model's
// input transpose and its first convolution (a quantized BlazeFace) left the transpose a kernel
// of its own.
struct SinkTransposeBelowUnary : mlir::RewritePattern {
  explicit SinkTransposeBelowUnary(mlir::MLIRContext *context)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/1, context) {}
  mlir::LogicalResult matchAndRewrite(mlir::Operation *op, mlir::PatternRewriter &rewriter) const override {
    if (!isLayoutFreeUnary(op)) return mlir::failure();
    auto transpose = op->getOperand(0).getDefiningOp<g::TransposeOp>();
    if (!transpose || !transpose->hasOneUse()) return mlir::failure();
    auto resultType = llvm::dyn_cast<mlir::RankedTensorType>(op->getResult(0).getType());
    auto sourceType = llvm::dyn_cast<mlir::RankedTensorType>(transpose.getInput().getType());
    if (!resultType || !sourceType || resultType.getElementType() != sourceType.getElementType() ||
        !absorbedBelow(op->getResult(0), transpose.getPerm()))
      return mlir::failure();
    mlir::Operation *moved = rewriter.clone(*op);
    rewriter.modifyOpInPlace(moved, [&] {
      moved->setOperand(0, transpose.getInput());
      moved->getResult(0).setType(mlir::RankedTensorType::get(sourceType.getShape(), resultType.getElementType()));
    });
    auto after = rewriter.create<g::TransposeOp>(transpose.getLoc(), resultType, moved->getResult(0),
                                                 rewriter.getDenseI64ArrayAttr(transpose.getPerm()));
    rewriter.replaceOp(op, after.getResult());
    rewriter.eraseOp(transpose);
    return mlir::success();
  }
};

struct CancelDataMovementPass : fractal::impl::CancelDataMovementBase<CancelDataMovementPass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<ComposeTransposes, ComposeReshapes, SinkTransposeBelowUnary>(&getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
