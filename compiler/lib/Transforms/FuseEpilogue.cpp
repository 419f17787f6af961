// fractal-fuse-epilogue: a skip connection's Add, a Linear layer's bias Add, then Relu and Clip,
// folded into the cube's output stage (Passes.td).
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

// Narrows the clamp of `producer` (a conv, matmul, gemm or transposed conv, defining `product`)
// to [lo, hi] intersected with its own range, and makes it stand for `activation` too, which
// `input` (the product, or a view of it) replaces. `reluOnly`: the producer's kernel clamps only
// as ReLU ([0, inf)), so any other range stays a separate op.
template <typename MatrixOp>
mlir::LogicalResult fuseInto(mlir::Operation *activation, mlir::Value input, mlir::Value product, float lo, float hi,
                             mlir::PatternRewriter &rewriter, bool reluOnly = false) {
  auto producer = product.getDefiningOp<MatrixOp>();
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
  rewriter.replaceOp(activation, input);
  return mlir::success();
}

mlir::LogicalResult fuseAny(mlir::Operation *activation, mlir::Value input, float lo, float hi,
                            mlir::PatternRewriter &rewriter) {
  // Through a reshape only the activation reads (a view: clamping commutes with it), as a
  // batched Linear layer's gemm leaves its result.
  mlir::Value product = input;
  if (auto view = input.getDefiningOp<g::ReshapeOp>(); view && view->hasOneUse()) product = view.getInput();
  if (mlir::succeeded(fuseInto<g::ConvOp>(activation, input, product, lo, hi, rewriter)) ||
      mlir::succeeded(fuseInto<g::MatMulOp>(activation, input, product, lo, hi, rewriter)) ||
      mlir::succeeded(fuseInto<g::GemmOp>(activation, input, product, lo, hi, rewriter)) ||
      mlir::succeeded(fuseInto<g::ConvTransposeOp>(activation, input, product, lo, hi, rewriter, /*reluOnly=*/true)))
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

// Add(matmul(a, b), c) with b a [K, N] matrix and c a constant of N values along the last axis
// (a Linear layer as PyTorch exports it: MatMul then Add): a gemm whose C is the cube's bias, so
// the bias is added as the result leaves L0C instead of broadcast by DMA and added by the vector
// unit. A batched a ([..., M, K]) is viewed as [M', K] for the gemm and its result viewed back.
struct FuseBiasAdd : mlir::OpRewritePattern<g::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  mlir::LogicalResult matchAndRewrite(g::AddOp add, mlir::PatternRewriter &rewriter) const override {
    for (auto [mine, other] : {std::pair{add.getLhs(), add.getRhs()}, std::pair{add.getRhs(), add.getLhs()}}) {
      auto mm = mine.getDefiningOp<g::MatMulOp>();
      if (!mm || !mm->hasOneUse() || mm.getClampMinAttr() || mm.getClampMaxAttr() || add.getType() != mm.getType())
        continue;
      auto aType = llvm::dyn_cast<mlir::RankedTensorType>(mm.getLhs().getType());
      auto bType = llvm::dyn_cast<mlir::RankedTensorType>(mm.getRhs().getType());
      auto cType = llvm::dyn_cast<mlir::RankedTensorType>(other.getType());
      auto outType = llvm::cast<mlir::RankedTensorType>(mm.getType());
      if (!aType || !bType || !cType || aType.getRank() < 2 || bType.getRank() != 2 || !aType.hasStaticShape() ||
          !bType.hasStaticShape() || !cType.hasStaticShape() || cType.getRank() > outType.getRank())
        continue;
      const int64_t n = bType.getDimSize(1), k = aType.getDimSize(aType.getRank() - 1);
      const bool alongLastAxis = cType.getNumElements() == n && (cType.getRank() == 0 ? n == 1 : cType.getShape().back() == n);
      std::optional<std::vector<float>> bias = alongLastAxis ? g::readF32Constant(other) : std::nullopt;
      if (!bias) continue;
      const mlir::Location loc = rewriter.getFusedLoc({mm.getLoc(), add.getLoc()});
      const int64_t rows = aType.getNumElements() / k;
      mlir::Value a = mm.getLhs();
      if (aType.getRank() != 2)
        a = rewriter.create<g::ReshapeOp>(loc, mlir::RankedTensorType::get({rows, k}, aType.getElementType()), a);
      auto biasType = mlir::RankedTensorType::get({n}, rewriter.getF32Type());
      auto c = rewriter.create<g::ConstantOp>(
          other.getLoc(), g::makeConstantAttr(biasType,
                                              llvm::ArrayRef<char>(reinterpret_cast<const char *>(bias->data()), bias->size() * 4),
                                              "matmul_bias"));
      mlir::Value product = rewriter.create<g::GemmOp>(
          loc, mlir::RankedTensorType::get({rows, n}, outType.getElementType()), a, mm.getRhs(), c.getResult(),
          rewriter.getF32FloatAttr(1.0f), rewriter.getF32FloatAttr(1.0f), rewriter.getBoolAttr(false),
          rewriter.getBoolAttr(false), /*clamp_min=*/nullptr, /*clamp_max=*/nullptr);
      if (outType.getRank() != 2) product = rewriter.create<g::ReshapeOp>(loc, outType, product);
      rewriter.replaceOp(add, product);
      rewriter.eraseOp(mm);
      return mlir::success();
    }
    return rewriter.notifyMatchFailure(add, "no operand is a matmul by a [K, N] matrix (used only here, without "
                                            "clamp) with the other a constant of N values along the last axis");
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
    patterns.add<FuseResidualAdd, FuseBiasAdd, DropResidualZeroPadding, FuseRelu, FuseClip>(&getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
