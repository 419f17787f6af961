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

// A convolution or transposed convolution whose output channels a per-channel scale and shift
// can be folded into: used only by the op being folded, no fused clamp (it runs before that op;
// scaling the weights would move it after) and no fused residual (it would be scaled too),
// constant f32 weights. Weight element i belongs to output channel (i / inner) % channels: Conv
// weights are [Cout, Cin/group, kh, kw], ConvTranspose weights [Cin, Cout, kh, kw] (group 1).
struct Foldable {
  mlir::Operation *op = nullptr;
  mlir::Value weight, bias;
  int64_t channels = 0, inner = 1;
  std::vector<float> weights, biases; // biases: zeros without a bias operand

  int64_t channelOf(size_t i) const { return (int64_t(i) / inner) % channels; }
};

std::optional<Foldable> foldable(mlir::Value v, const char *&why) {
  Foldable f;
  f.op = v.getDefiningOp();
  auto weightType = [](mlir::Value w) { return llvm::cast<mlir::RankedTensorType>(w.getType()); };
  if (auto conv = v.getDefiningOp<g::ConvOp>()) {
    if (conv.getClampMinAttr() || conv.getClampMaxAttr()) return why = "the convolution already has a fused clamp", std::nullopt;
    if (conv.getResidual()) return why = "the convolution already has a fused residual add", std::nullopt;
    f.weight = conv.getWeight();
    f.bias = conv.getBias();
    f.channels = weightType(f.weight).getDimSize(0);
    f.inner = weightType(f.weight).getNumElements() / std::max<int64_t>(f.channels, 1);
  } else if (auto convT = v.getDefiningOp<g::ConvTransposeOp>()) {
    if (convT.getClampMinAttr() || convT.getClampMaxAttr()) return why = "the convolution already has a fused clamp", std::nullopt;
    if (convT.getGroup() != 1 || weightType(convT.getWeight()).getRank() != 4)
      return why = "a grouped transposed convolution", std::nullopt;
    f.weight = convT.getWeight();
    f.bias = convT.getBias();
    f.channels = weightType(f.weight).getDimSize(1);
    f.inner = weightType(f.weight).getDimSize(2) * weightType(f.weight).getDimSize(3);
  } else {
    return why = "input is not a convolution", std::nullopt;
  }
  if (!f.op->hasOneUse()) return why = "the convolution has other users", std::nullopt;
  if (!weightType(f.weight).getElementType().isF32() || f.channels <= 0 || !weightType(f.weight).hasStaticShape())
    return why = "weights are not static f32", std::nullopt;
  std::optional<std::vector<float>> weights = g::readF32Constant(f.weight);
  std::optional<std::vector<float>> biases =
      f.bias ? g::readF32Constant(f.bias) : std::vector<float>(size_t(f.channels), 0.0f);
  if (!weights) return why = "weights are not constant", std::nullopt;
  if (!biases || int64_t(biases->size()) != f.channels) return why = "the bias is not a per-channel constant", std::nullopt;
  f.weights = std::move(*weights);
  f.biases = std::move(*biases);
  return f;
}

// Replaces `folded` (the op after f.op that was folded into it) with the same convolution of
// f.op's input and geometry, `weight` (nothing: its own) and `bias` as new f32 constants, then
// erases f.op. The new op keeps both ONNX names, so diagnostics and the debug map find both.
void replaceWithFolded(mlir::PatternRewriter &rewriter, const Foldable &f, mlir::Operation *folded,
                       const std::vector<float> *weight, const std::vector<float> &bias) {
  auto bytes = [](const std::vector<float> &v) {
    return llvm::ArrayRef<char>(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(float));
  };
  mlir::Value w = f.weight;
  if (weight)
    w = rewriter.create<g::ConstantOp>(f.weight.getLoc(),
                                       g::makeConstantAttr(llvm::cast<mlir::RankedTensorType>(w.getType()),
                                                           bytes(*weight), "folded_weight"));
  auto biasType = mlir::RankedTensorType::get({int64_t(bias.size())}, rewriter.getF32Type());
  auto b = rewriter.create<g::ConstantOp>(folded->getLoc(), g::makeConstantAttr(biasType, bytes(bias), "folded_bias"));
  const mlir::Location loc = rewriter.getFusedLoc({f.op->getLoc(), folded->getLoc()});
  const mlir::Type type = folded->getResult(0).getType();
  mlir::Value replacement;
  if (auto conv = llvm::dyn_cast<g::ConvOp>(f.op))
    replacement = rewriter.create<g::ConvOp>(loc, type, conv.getInput(), w, b.getResult(), /*residual=*/mlir::Value(),
                                             conv.getStridesAttr(), conv.getPadsAttr(), conv.getDilationsAttr(),
                                             conv.getGroupAttr(), /*clamp_min=*/nullptr, /*clamp_max=*/nullptr);
  else {
    auto convT = llvm::cast<g::ConvTransposeOp>(f.op);
    replacement = rewriter.create<g::ConvTransposeOp>(
        loc, type, convT.getInput(), w, b.getResult(), convT.getStridesAttr(), convT.getPadsAttr(),
        convT.getDilationsAttr(), convT.getOutputPaddingAttr(), convT.getGroupAttr(), /*clamp_min=*/nullptr,
        /*clamp_max=*/nullptr);
  }
  rewriter.replaceOp(folded, replacement);
  rewriter.eraseOp(f.op);
}

struct FoldIntoConv : mlir::OpRewritePattern<g::BatchNormOp> {
  using OpRewritePattern::OpRewritePattern;

  mlir::LogicalResult matchAndRewrite(g::BatchNormOp bn,
                                      mlir::PatternRewriter &rewriter) const override {
    const char *why = "";
    std::optional<Foldable> f = foldable(bn.getInput(), why);
    if (!f) return rewriter.notifyMatchFailure(bn, why);
    const int64_t channels = f->channels;
    std::optional<std::vector<float>> scale = g::readF32Constant(bn.getScale());
    std::optional<std::vector<float>> shift = g::readF32Constant(bn.getBias());
    std::optional<std::vector<float>> mean = g::readF32Constant(bn.getMean());
    std::optional<std::vector<float>> variance = g::readF32Constant(bn.getVariance());
    for (const auto *stats : {&scale, &shift, &mean, &variance})
      if (!*stats || static_cast<int64_t>((*stats)->size()) != channels)
        return rewriter.notifyMatchFailure(bn, "statistics are not per-channel constants");

    const double epsilon = bn.getEpsilon().convertToDouble();
    std::vector<double> s(static_cast<size_t>(channels));
    std::vector<float> newWeight(f->weights.size()), newBias(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
      s[size_t(c)] = double((*scale)[c]) / std::sqrt(double((*variance)[c]) + epsilon);
      newBias[size_t(c)] = static_cast<float>((double(f->biases[size_t(c)]) - double((*mean)[c])) * s[size_t(c)] +
                                              double((*shift)[c]));
    }
    for (size_t i = 0; i < f->weights.size(); ++i)
      newWeight[i] = static_cast<float>(double(f->weights[i]) * s[size_t(f->channelOf(i))]);
    replaceWithFolded(rewriter, *f, bn, &newWeight, newBias);
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

// x * k and x + k with x a (transposed) convolution's result (see Foldable) and k a per-channel
// constant: the scale goes into the weights and bias, the shift into the bias (PP-OCRv4's
// "learnable affine" after every conv, and the bias Add after each of its transposed
// convolutions). In double, rounded once.
template <typename ArithOp, bool Scale>
struct FoldAffineIntoConv : mlir::OpRewritePattern<ArithOp> {
  using mlir::OpRewritePattern<ArithOp>::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(ArithOp op, mlir::PatternRewriter &rewriter) const override {
    for (auto [mine, other] : {std::pair{op.getLhs(), op.getRhs()}, std::pair{op.getRhs(), op.getLhs()}}) {
      const char *why = "";
      std::optional<Foldable> f = foldable(mine, why);
      if (!f || op.getType() != mine.getType()) continue;
      std::optional<std::vector<float>> k = perChannel(other, f->channels);
      if (!k) continue;
      std::vector<float> newWeight = Scale ? f->weights : std::vector<float>();
      std::vector<float> newBias(static_cast<size_t>(f->channels));
      for (int64_t c = 0; c < f->channels; ++c) {
        const double v = (*k)[size_t(c)], b = f->biases[size_t(c)];
        newBias[size_t(c)] = float(Scale ? b * v : b + v);
      }
      if (Scale)
        for (size_t i = 0; i < newWeight.size(); ++i)
          newWeight[i] = float(double(f->weights[i]) * double((*k)[size_t(f->channelOf(i))]));
      replaceWithFolded(rewriter, *f, op, Scale ? &newWeight : nullptr, newBias);
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
