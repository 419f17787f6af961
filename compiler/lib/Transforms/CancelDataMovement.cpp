// fractal-cancel-data-movement: chained transposes/reshapes composed or removed (Passes.td).
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

struct CancelDataMovementPass : fractal::impl::CancelDataMovementBase<CancelDataMovementPass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<ComposeTransposes, ComposeReshapes>(&getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
