// fractal-short-row-softmax: a softmax over short rows runs across the rows instead (Passes.td).
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace fractal {
#define GEN_PASS_DEF_SHORTROWSOFTMAX
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace g = fractal::graph;

// One vector repeat holds 64 f32 lanes: a row of at most that many fills one repeat or less, and
// the kernel's max, subtract, exp, sum and divide then each wait out their latency per row.
constexpr int64_t kShortRow = 64;
// The reduction kernel holds one slice (the normalised axis x everything after it) in UB, about
// 9 bytes a value with its scratch: transposed, that slice is the whole tensor, so only tensors
// of up to 16K values (144 KB, well inside the 256 KB UB of the edge chip) are turned.
constexpr int64_t kMaxElements = 16 * 1024;

struct SoftmaxAcrossRows : mlir::OpRewritePattern<g::SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;

  mlir::LogicalResult matchAndRewrite(g::SoftmaxOp op, mlir::PatternRewriter &rewriter) const override {
    auto type = llvm::dyn_cast<mlir::RankedTensorType>(op.getInput().getType());
    if (!type || !type.hasStaticShape() || !type.getElementType().isF32() || type.getRank() < 2)
      return rewriter.notifyMatchFailure(op, "not a static f32 tensor of rank 2 or more");
    const int64_t rank = type.getRank(), row = type.getDimSize(rank - 1), rows = type.getNumElements() / std::max<int64_t>(row, 1);
    if (op.getKind() == "hardmax" || op.getAxes() != llvm::ArrayRef<int64_t>{rank - 1} || row > kShortRow ||
        rows < kShortRow || type.getNumElements() > kMaxElements)
      return rewriter.notifyMatchFailure(op, "not a softmax over the last axis of at most 64 with 64 rows or more, "
                                             "16K values at most");
    // Rows of whole 32-byte blocks have a kernel of their own that keeps them as they are
    // (generateShortSoftmaxRows: each row's max and sum applied to chunks of rows at once).
    if (row % 8 == 0) return rewriter.notifyMatchFailure(op, "rows of whole 32-byte blocks stay rows");
    // The normalised axis first: the kernel then works on all rows at once, a row per lane.
    llvm::SmallVector<int64_t> perm = {rank - 1}, back, shape = {row};
    for (int64_t d = 0; d < rank - 1; ++d) perm.push_back(d), shape.push_back(type.getDimSize(d));
    for (int64_t d = 1; d < rank; ++d) back.push_back(d);
    back.push_back(0);
    auto moved = mlir::RankedTensorType::get(shape, type.getElementType());
    const mlir::Location loc = op.getLoc();
    mlir::Value x = rewriter.create<g::TransposeOp>(loc, moved, op.getInput(), rewriter.getDenseI64ArrayAttr(perm));
    x = rewriter.create<g::SoftmaxOp>(loc, moved, x, op.getKindAttr(), rewriter.getDenseI64ArrayAttr({0}));
    rewriter.replaceOpWithNewOp<g::TransposeOp>(op, type, x, rewriter.getDenseI64ArrayAttr(back));
    return mlir::success();
  }
};

struct ShortRowSoftmaxPass : fractal::impl::ShortRowSoftmaxBase<ShortRowSoftmaxPass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<SoftmaxAcrossRows>(&getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
