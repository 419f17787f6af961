// fractal-fold-batchnorm: BatchNormalization folded into the producing convolution (Passes.td).
#include "fractal/compiler/Dialect/Graph/Constants.h"
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace fractal {
#define GEN_PASS_DEF_FOLDBATCHNORM
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace g = fractal::graph;

struct FoldIntoConv : mlir::OpRewritePattern<g::BatchNormOp> {
  using OpRewritePattern::OpRewritePattern;

  mlir::LogicalResult matchAndRewrite(g::BatchNormOp bn,
                                      mlir::PatternRewriter &rewriter) const override {
    auto conv = bn.getInput().getDefiningOp<g::ConvOp>();
    if (!conv || !conv->hasOneUse())
      return rewriter.notifyMatchFailure(bn, "input is not a convolution used only here");
    // A fused clamp runs before the batch_norm; scaling the weights would move it after.
    if (conv.getClampMin() || conv.getClampMax())
      return rewriter.notifyMatchFailure(bn, "the convolution already has a fused clamp");
    if (conv.getResidual()) // scaling the weights would scale the residual too
      return rewriter.notifyMatchFailure(bn, "the convolution already has a fused residual add");
    auto weightType = llvm::cast<mlir::RankedTensorType>(conv.getWeight().getType());
    const int64_t channels = weightType.getDimSize(0);
    if (!weightType.getElementType().isF32() || channels <= 0)
      return rewriter.notifyMatchFailure(bn, "weights are not static f32");
    std::optional<std::vector<float>> weight = g::readF32Constant(conv.getWeight());
    std::optional<std::vector<float>> scale = g::readF32Constant(bn.getScale());
    std::optional<std::vector<float>> shift = g::readF32Constant(bn.getBias());
    std::optional<std::vector<float>> mean = g::readF32Constant(bn.getMean());
    std::optional<std::vector<float>> variance = g::readF32Constant(bn.getVariance());
    std::optional<std::vector<float>> bias =
        conv.getBias() ? g::readF32Constant(conv.getBias()) : std::vector<float>(channels, 0.0f);
    for (const auto *stats : {&scale, &shift, &mean, &variance, &bias})
      if (!*stats || static_cast<int64_t>((*stats)->size()) != channels)
        return rewriter.notifyMatchFailure(bn, "statistics or bias are not per-channel constants");
    if (!weight)
      return rewriter.notifyMatchFailure(bn, "weights are not constant");

    const int64_t perChannel = static_cast<int64_t>(weight->size()) / channels;
    const double epsilon = bn.getEpsilon().convertToDouble();
    std::vector<float> newWeight(weight->size()), newBias(channels);
    for (int64_t c = 0; c < channels; ++c) {
      const double s = double((*scale)[c]) / std::sqrt(double((*variance)[c]) + epsilon);
      for (int64_t i = 0; i < perChannel; ++i)
        newWeight[c * perChannel + i] = static_cast<float>(double((*weight)[c * perChannel + i]) * s);
      newBias[c] = static_cast<float>((double((*bias)[c]) - double((*mean)[c])) * s +
                                      double((*shift)[c]));
    }

    auto bytes = [](const std::vector<float> &v) {
      return llvm::ArrayRef<char>(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(float));
    };
    auto biasType = mlir::RankedTensorType::get({channels}, rewriter.getF32Type());
    mlir::ElementsAttr weightAttr = g::makeConstantAttr(weightType, bytes(newWeight), "folded_weight");
    mlir::ElementsAttr biasAttr = g::makeConstantAttr(biasType, bytes(newBias), "folded_bias");
    auto weightOp = rewriter.create<g::ConstantOp>(conv.getWeight().getLoc(), weightAttr);
    auto biasOp = rewriter.create<g::ConstantOp>(bn.getLoc(), biasAttr);
    // The folded op keeps both ONNX names, so diagnostics and the debug map still find the BN.
    auto loc = rewriter.getFusedLoc({conv.getLoc(), bn.getLoc()});
    auto folded = rewriter.create<g::ConvOp>(
        loc, bn.getType(), conv.getInput(), weightOp.getResult(), biasOp.getResult(), /*residual=*/mlir::Value(),
        conv.getStridesAttr(), conv.getPadsAttr(), conv.getDilationsAttr(), conv.getGroupAttr(),
        /*clamp_min=*/nullptr, /*clamp_max=*/nullptr);
    rewriter.replaceOp(bn, folded.getResult());
    rewriter.eraseOp(conv);
    return mlir::success();
  }
};

struct FoldBatchNormPass : fractal::impl::FoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<FoldIntoConv>(&getContext());
    // Constants the fold leaves unused are erased as dead code by the driver.
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
