// fractal-fold-batchnorm: BatchNormalization, and per-channel constant scales and shifts, folded
// into the producing convolution (Passes.td).
#include "fractal/compiler/Dialect/Graph/Constants.h"
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <algorithm>
#include <cmath>

namespace fractal {
#define GEN_PASS_DEF_FOLDBATCHNORM
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace g = fractal::graph;

// Replaces `folded` (the op after `conv` that was folded into it) with a convolution of conv's
// input and geometry, `weight` (nothing: conv's own) and `bias` as new f32 constants, then erases
// conv. The new op keeps both ONNX names, so diagnostics and the debug map still find both.
void replaceWithFoldedConv(mlir::PatternRewriter &rewriter, g::ConvOp conv, mlir::Operation *folded,
                           const std::vector<float> *weight, const std::vector<float> &bias) {
  auto bytes = [](const std::vector<float> &v) {
    return llvm::ArrayRef<char>(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(float));
  };
  mlir::Value w = conv.getWeight();
  if (weight)
    w = rewriter.create<g::ConstantOp>(conv.getWeight().getLoc(),
                                       g::makeConstantAttr(llvm::cast<mlir::RankedTensorType>(w.getType()),
                                                           bytes(*weight), "folded_weight"));
  auto biasType = mlir::RankedTensorType::get({int64_t(bias.size())}, rewriter.getF32Type());
  auto b = rewriter.create<g::ConstantOp>(folded->getLoc(), g::makeConstantAttr(biasType, bytes(bias), "folded_bias"));
  auto conv2 = rewriter.create<g::ConvOp>(
      rewriter.getFusedLoc({conv.getLoc(), folded->getLoc()}), folded->getResult(0).getType(), conv.getInput(), w,
      b.getResult(), /*residual=*/mlir::Value(), conv.getStridesAttr(), conv.getPadsAttr(), conv.getDilationsAttr(),
      conv.getGroupAttr(), /*clamp_min=*/nullptr, /*clamp_max=*/nullptr);
  rewriter.replaceOp(folded, conv2.getResult());
  rewriter.eraseOp(conv);
}

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
    replaceWithFoldedConv(rewriter, conv, bn, &newWeight, newBias);
    return mlir::success();
  }
};

// A constant that applies one value per output channel of an NCHW conv result: a single value,
// or shaped [..1, C, 1, 1]. Its values per channel, or nothing.
std::optional<std::vector<float>> perChannel(mlir::Value v, int64_t channels) {
  auto type = llvm::dyn_cast<mlir::RankedTensorType>(v.getType());
  std::optional<std::vector<float>> values = g::readF32Constant(v);
  if (!type || !values || std::any_of(values->begin(), values->end(), [](float x) { return !std::isfinite(x); }))
    return std::nullopt;
  if (values->size() == 1) return std::vector<float>(size_t(channels), values->front());
  auto shape = type.getShape();
  if (shape.size() < 3 || shape[shape.size() - 1] != 1 || shape[shape.size() - 2] != 1 ||
      shape[shape.size() - 3] != channels || int64_t(values->size()) != channels)
    return std::nullopt;
  return values;
}

// x * k and x + k with x a convolution's result (used only there, no clamp or residual, constant
// f32 weights) and k a per-channel constant: the scale goes into the weights and bias, the shift
// into the bias (PP-OCRv4's "learnable affine" after every conv). In double, rounded once.
template <typename ArithOp, bool Scale>
struct FoldAffineIntoConv : mlir::OpRewritePattern<ArithOp> {
  using mlir::OpRewritePattern<ArithOp>::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(ArithOp op, mlir::PatternRewriter &rewriter) const override {
    for (auto [mine, other] : {std::pair{op.getLhs(), op.getRhs()}, std::pair{op.getRhs(), op.getLhs()}}) {
      auto conv = mine.template getDefiningOp<g::ConvOp>();
      if (!conv || !conv->hasOneUse() || conv.getClampMinAttr() || conv.getClampMaxAttr() || conv.getResidual() ||
          op.getType() != conv.getType())
        continue;
      auto weightType = llvm::cast<mlir::RankedTensorType>(conv.getWeight().getType());
      const int64_t channels = weightType.getDimSize(0);
      std::optional<std::vector<float>> k = perChannel(other, channels);
      std::optional<std::vector<float>> weight = g::readF32Constant(conv.getWeight());
      std::optional<std::vector<float>> bias =
          conv.getBias() ? g::readF32Constant(conv.getBias()) : std::vector<float>(size_t(channels), 0.0f);
      if (!k || !weight || !bias || int64_t(bias->size()) != channels)
        continue;
      const int64_t per = int64_t(weight->size()) / channels;
      std::vector<float> newWeight = Scale ? *weight : std::vector<float>();
      std::vector<float> newBias(static_cast<size_t>(channels));
      for (int64_t c = 0; c < channels; ++c) {
        const double v = (*k)[size_t(c)];
        if (Scale)
          for (int64_t i = 0; i < per; ++i) newWeight[size_t(c * per + i)] = float(double((*weight)[size_t(c * per + i)]) * v);
        newBias[size_t(c)] = float(Scale ? double((*bias)[size_t(c)]) * v : double((*bias)[size_t(c)]) + v);
      }
      replaceWithFoldedConv(rewriter, conv, op, Scale ? &newWeight : nullptr, newBias);
      return mlir::success();
    }
    return rewriter.notifyMatchFailure(op, "not a single-use convolution and a per-channel constant");
  }
};

struct FoldBatchNormPass : fractal::impl::FoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<FoldIntoConv, FoldAffineIntoConv<g::MulOp, true>, FoldAffineIntoConv<g::AddOp, false>>(&getContext());
    // Constants the fold leaves unused are erased as dead code by the driver.
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
