// fractal-stride-to-channels: a convolution with few input channels whose horizontal stride
// divides its kernel width becomes a stride-1 convolution over its input folded into channels
// (Passes.td).
#include "fractal/compiler/Dialect/Graph/Constants.h"
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace fractal {
#define GEN_PASS_DEF_STRIDETOCHANNELS
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace g = fractal::graph;

// The cube pads input channels to 16 per K step: below that, folding S columns into channels
// turns padding into work.
constexpr int64_t kFoldBelowChannels = 16;

struct FoldStrideIntoChannels : mlir::OpRewritePattern<g::ConvOp> {
  using OpRewritePattern::OpRewritePattern;

  mlir::LogicalResult matchAndRewrite(g::ConvOp conv, mlir::PatternRewriter &rewriter) const override {
    auto inType = llvm::dyn_cast<mlir::RankedTensorType>(conv.getInput().getType());
    auto wType = llvm::dyn_cast<mlir::RankedTensorType>(conv.getWeight().getType());
    auto outType = llvm::dyn_cast<mlir::RankedTensorType>(conv.getResult().getType());
    if (!inType || !wType || !outType || inType.getRank() != 4 || wType.getRank() != 4 || !inType.hasStaticShape() ||
        !wType.hasStaticShape() || !outType.hasStaticShape() || !wType.getElementType().isF32())
      return rewriter.notifyMatchFailure(conv, "not a static 2-D convolution with f32 weights");
    llvm::ArrayRef<int64_t> strides = conv.getStrides(), pads = conv.getPads(), dilations = conv.getDilations();
    const int64_t n = inType.getDimSize(0), c = inType.getDimSize(1), h = inType.getDimSize(2),
                  w = inType.getDimSize(3);
    const int64_t o = wType.getDimSize(0), kh = wType.getDimSize(2), kw = wType.getDimSize(3),
                  s = strides.size() == 2 ? strides[1] : 1, outW = outType.getDimSize(3);
    if (conv.getGroup() != 1 || s < 2 || kw % s != 0 || c >= kFoldBelowChannels || pads.size() != 4 || pads[1] != 0 ||
        pads[3] != 0 || dilations.size() != 2 || dilations[1] != 1 || wType.getDimSize(1) != c)
      return rewriter.notifyMatchFailure(conv, "group 1, stride dividing the kernel width, no padding or dilation "
                                               "across, fewer than 16 input channels: not all hold");
    std::optional<std::vector<float>> weights = g::readF32Constant(conv.getWeight());
    if (!weights) return rewriter.notifyMatchFailure(conv, "weights are not constant");

    // Only the columns the convolution reads: (outW - 1) * s + kw, a multiple of s.
    const mlir::Location loc = conv.getLoc();
    const mlir::Type element = inType.getElementType();
    const int64_t used = (outW - 1) * s + kw, cols = used / s;
    mlir::Value x = conv.getInput();
    if (used < w)
      x = rewriter.create<g::SliceOp>(loc, mlir::RankedTensorType::get({n, c, h, used}, element), x,
                                      rewriter.getDenseI64ArrayAttr({0, 0, 0, 0}),
                                      rewriter.getDenseI64ArrayAttr({n, c, h, used}),
                                      rewriter.getDenseI64ArrayAttr({1, 1, 1, 1}));
    // x[., ci, ., j * s + r] -> channel ci * s + r, column j.
    x = rewriter.create<g::ReshapeOp>(loc, mlir::RankedTensorType::get({n, c, h, cols, s}, element), x);
    x = rewriter.create<g::TransposeOp>(loc, mlir::RankedTensorType::get({n, c, s, h, cols}, element), x,
                                        rewriter.getDenseI64ArrayAttr({0, 1, 4, 2, 3}));
    x = rewriter.create<g::ReshapeOp>(loc, mlir::RankedTensorType::get({n, c * s, h, cols}, element), x);

    // w'[oi, ci * s + r, y, k] = w[oi, ci, y, k * s + r].
    const int64_t taps = kw / s;
    std::vector<float> folded(weights->size());
    for (int64_t oi = 0; oi < o; ++oi)
      for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t r = 0; r < s; ++r)
          for (int64_t y = 0; y < kh; ++y)
            for (int64_t k = 0; k < taps; ++k)
              folded[size_t(((oi * c * s + ci * s + r) * kh + y) * taps + k)] =
                  (*weights)[size_t(((oi * c + ci) * kh + y) * kw + k * s + r)];
    auto foldedType = mlir::RankedTensorType::get({o, c * s, kh, taps}, rewriter.getF32Type());
    auto weight = rewriter.create<g::ConstantOp>(
        conv.getWeight().getLoc(),
        g::makeConstantAttr(foldedType,
                            llvm::ArrayRef<char>(reinterpret_cast<const char *>(folded.data()), folded.size() * 4),
                            "stride_folded_weight"));
    rewriter.replaceOpWithNewOp<g::ConvOp>(conv, outType, x, weight.getResult(), conv.getBias(), conv.getResidual(),
                                           rewriter.getDenseI64ArrayAttr({strides[0], 1}), conv.getPadsAttr(),
                                           conv.getDilationsAttr(), conv.getGroupAttr(), conv.getClampMinAttr(),
                                           conv.getClampMaxAttr());
    return mlir::success();
  }
};

struct StrideToChannelsPass : fractal::impl::StrideToChannelsBase<StrideToChannelsPass> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&getContext());
    patterns.add<FoldStrideIntoChannels>(&getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
