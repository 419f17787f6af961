// fractal-fuse-epilogue: a skip connection's Add, then Relu and Clip, folded into the cube's output
// stage (Passes.td).
#include "fractal/compiler/Dialect/Graph/Constants.h"
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fractal {
#define GEN_PASS_DEF_FUSEEPILOGUE
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace g = fractal::graph;

// Narrows the clamp of `producer` (a conv, matmul, gemm or transposed conv) to [lo, hi]
// intersected with its own range, and makes it stand for `activation` too. `reluOnly`: the
// producer's kernel clamps only as ReLU ([0, inf)), so any other range stays a separate op.
template <typename MatrixOp>
mlir::LogicalResult fuseInto(mlir::Operation *activation, mlir::Value input, float lo, float hi,
                             mlir::PatternRewriter &rewriter, bool reluOnly = false) {
  auto producer = input.getDefiningOp<MatrixOp>();
  if (!producer || !producer->hasOneUse())
    return mlir::failure();
  if (auto min = producer.getClampMinAttr())
    lo = std::max(lo, static_cast<float>(min.getValueAsDouble()));
  if (auto max = producer.getClampMaxAttr())
    hi = std::min(hi, static_cast<float>(max.getValueAsDouble()));
  if (lo > hi) // disjoint ranges (Clip(5, 6) after Clip(0, 1)): every output is hi; leave as is
    return mlir::failure();
  if (reluOnly && !(lo == 0.0f && hi == std::numeric_limits<float>::infinity()))
    return mlir::failure();
  rewriter.modifyOpInPlace(producer, [&] {
    if (lo != -std::numeric_limits<float>::infinity())
      producer.setClampMinAttr(rewriter.getF32FloatAttr(lo));
    if (hi != std::numeric_limits<float>::infinity())
      producer.setClampMaxAttr(rewriter.getF32FloatAttr(hi));
    // The fused op answers to both ONNX nodes (diagnostics, debug map, profile).
    producer->setLoc(rewriter.getFusedLoc({producer->getLoc(), activation->getLoc()}));
  });
  rewriter.replaceOp(activation, producer->getResults());
  return mlir::success();
}

mlir::LogicalResult fuseAny(mlir::Operation *activation, mlir::Value input, float lo, float hi,
                            mlir::PatternRewriter &rewriter) {
  if (mlir::succeeded(fuseInto<g::ConvOp>(activation, input, lo, hi, rewriter)) ||
      mlir::succeeded(fuseInto<g::MatMulOp>(activation, input, lo, hi, rewriter)) ||
      mlir::succeeded(fuseInto<g::GemmOp>(activation, input, lo, hi, rewriter)) ||
      mlir::succeeded(fuseInto<g::ConvTransposeOp>(activation, input, lo, hi, rewriter, /*reluOnly=*/true)))
    return mlir::success();
  return rewriter.notifyMatchFailure(activation, "input is not a matrix product used only here");
}

struct FuseRelu : mlir::OpRewritePattern<g::ReluOp> {
  using OpRewritePattern::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(g::ReluOp op, mlir::PatternRewriter &rewriter) const override {
    return fuseAny(op, op.getInput(), 0.0f, std::numeric_limits<float>::infinity(), rewriter);
  }
};

struct FuseClip : mlir::OpRewritePattern<g::ClipOp> {
  using OpRewritePattern::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(g::ClipOp op, mlir::PatternRewriter &rewriter) const override {
    return fuseAny(op, op.getInput(), op.getMin().convertToFloat(), op.getMax().convertToFloat(),
                   rewriter);
  }
};

// Add(conv, r) with r of the same type as the convolution's result (a residual / skip
// connection): the convolution takes r as its residual operand. Only while the convolution has
// no clamp (a fused Relu applies before this Add) and no residual yet. The new convolution is
// created where the Add is, so that r (which may be defined after the convolution) dominates it.
struct FuseResidualAdd : mlir::OpRewritePattern<g::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(g::AddOp add, mlir::PatternRewriter &rewriter) const override {
    for (auto [mine, other] : {std::pair{add.getLhs(), add.getRhs()}, std::pair{add.getRhs(), add.getLhs()}}) {
      auto conv = mine.getDefiningOp<g::ConvOp>();
      if (!conv || !conv->hasOneUse() || conv.getResidual() || conv.getClampMinAttr() || conv.getClampMaxAttr() ||
          other == mine || other.getType() != conv.getType() || add.getType() != conv.getType())
        continue;
      auto fused = rewriter.create<g::ConvOp>(
          rewriter.getFusedLoc({conv.getLoc(), add.getLoc()}), conv.getType(), conv.getInput(), conv.getWeight(),
          conv.getBias(), other, conv.getStridesAttr(), conv.getPadsAttr(), conv.getDilationsAttr(),
          conv.getGroupAttr(), /*clamp_min=*/nullptr, /*clamp_max=*/nullptr);
      rewriter.replaceOp(add, fused.getResult());
      rewriter.eraseOp(conv);
      return mlir::success();
    }
    return rewriter.notifyMatchFailure(add, "no operand is a convolution (used only here, without clamp or "
                                            "residual) of the Add's type");
  }
};

// residual(concat(x, zeros) on channels) -> residual(x): a channel padding only the residual
// reads (BlazeFace's blocks widen the skip path this way) need not be materialised, since the
// residual's missing channels read as zero.
struct DropResidualZeroPadding : mlir::OpRewritePattern<g::ConvOp> {
  using OpRewritePattern::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(g::ConvOp conv, mlir::PatternRewriter &rewriter) const override {
    auto concat = conv.getResidual() ? conv.getResidual().getDefiningOp<g::ConcatOp>() : g::ConcatOp();
    if (!concat || !concat->hasOneUse() || concat.getAxis() != 1 || concat.getInputs().size() != 2)
      return rewriter.notifyMatchFailure(conv, "residual is not a two-input channel concat used only here");
    std::optional<std::vector<float>> pad = g::readF32Constant(concat.getInputs()[1]);
    if (!pad || std::any_of(pad->begin(), pad->end(), [](float v) { return v != 0.0f || std::signbit(v); }))
      return rewriter.notifyMatchFailure(conv, "the concat's second input is not a constant of +0");
    rewriter.modifyOpInPlace(conv, [&] {
      conv.getResidualMutable().assign(concat.getInputs()[0]);
      conv->setLoc(rewriter.getFusedLoc({conv->getLoc(), concat->getLoc()}));
    });
    rewriter.eraseOp(concat);
    return mlir::success();
  }
};

struct FuseEpiloguePass : fractal::impl::FuseEpilogueBase<FuseEpiloguePass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<FuseResidualAdd, DropResidualZeroPadding, FuseRelu, FuseClip>(&getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
