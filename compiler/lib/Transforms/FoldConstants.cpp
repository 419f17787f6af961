// fractal-fold-constants: bounded evaluation of graph ops on constants (Passes.td).
#include "fractal/compiler/Dialect/Graph/Constants.h"
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace fractal {
#define GEN_PASS_DEF_FOLDCONSTANTS
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace g = fractal::graph;

llvm::ArrayRef<int64_t> shapeOf(mlir::Value v) {
  return llvm::cast<mlir::RankedTensorType>(v.getType()).getShape();
}

using fractal::graph::broadcastStrides;

// Walks `out` row-major and calls f(outputIndex, offsetA, offsetB), where each offset steps by
// its own per-dimension strides: broadcast strides for binary ops, permuted ones for transpose.
template <typename F>
void forEachStrided(llvm::ArrayRef<int64_t> out, const std::vector<int64_t> &sa,
                    const std::vector<int64_t> &sb, F f) {
  std::vector<int64_t> index(out.size(), 0);
  const int64_t total = mlir::ShapedType::getNumElements(out);
  int64_t offA = 0, offB = 0;
  for (int64_t i = 0; i < total; ++i) {
    f(i, offA, offB);
    for (size_t d = out.size(); d-- > 0;) { // odometer increment, carrying offsets along
      offA += sa[d];
      offB += sb[d];
      if (++index[d] < out[d])
        break;
      offA -= sa[d] * out[d];
      offB -= sb[d] * out[d];
      index[d] = 0;
    }
  }
}

std::optional<std::vector<float>> evaluate(mlir::Operation *op,
                                           const std::vector<std::vector<float>> &in) {
  auto binary = [&](auto fn) {
    llvm::ArrayRef<int64_t> shape = shapeOf(op->getResult(0));
    std::vector<float> out(mlir::ShapedType::getNumElements(shape));
    forEachStrided(shape, broadcastStrides(shapeOf(op->getOperand(0)), shape.size()),
                   broadcastStrides(shapeOf(op->getOperand(1)), shape.size()),
                   [&](int64_t i, int64_t a, int64_t b) { out[i] = fn(in[0][a], in[1][b]); });
    return std::optional<std::vector<float>>(std::move(out));
  };
  auto unary = [&](auto fn) {
    std::vector<float> out(in[0].size());
    std::transform(in[0].begin(), in[0].end(), out.begin(), fn);
    return std::optional<std::vector<float>>(std::move(out));
  };
  if (llvm::isa<g::AddOp>(op))
    return binary([](float a, float b) { return a + b; });
  if (llvm::isa<g::SubOp>(op))
    return binary([](float a, float b) { return a - b; });
  if (llvm::isa<g::MulOp>(op))
    return binary([](float a, float b) { return a * b; });
  if (llvm::isa<g::DivOp>(op))
    return binary([](float a, float b) { return a / b; });
  if (llvm::isa<g::MaxOp>(op))
    return binary([](float a, float b) { return std::max(a, b); });
  if (llvm::isa<g::MinOp>(op))
    return binary([](float a, float b) { return std::min(a, b); });
  if (llvm::isa<g::PowOp>(op))
    return binary([](float a, float b) { return std::pow(a, b); });
  if (llvm::isa<g::ReluOp>(op))
    return unary([](float x) { return x > 0.0f ? x : 0.0f; });
  if (llvm::isa<g::NegOp>(op))
    return unary([](float x) { return -x; });
  if (llvm::isa<g::AbsOp>(op))
    return unary([](float x) { return std::fabs(x); });
  if (llvm::isa<g::SqrtOp>(op))
    return unary([](float x) { return std::sqrt(x); });
  if (llvm::isa<g::ReciprocalOp>(op))
    return unary([](float x) { return 1.0f / x; });
  if (llvm::isa<g::ExpOp>(op))
    return unary([](float x) { return std::exp(x); });
  if (llvm::isa<g::LogOp>(op))
    return unary([](float x) { return std::log(x); });
  if (llvm::isa<g::ErfOp>(op))
    return unary([](float x) { return std::erf(x); });
  if (llvm::isa<g::SignOp>(op))
    return unary([](float x) { return x > 0 ? 1.0f : x < 0 ? -1.0f : x; }); // 0 and NaN stay
  if (auto rounding = llvm::dyn_cast<g::RoundingOp>(op)) {
    const llvm::StringRef mode = rounding.getMode();
    return unary([mode](float x) { return mode == "floor" ? std::floor(x) : mode == "ceil" ? std::ceil(x) : std::nearbyint(x); });
  }
  if (auto trig = llvm::dyn_cast<g::TrigonometricOp>(op)) {
    const llvm::StringRef f = trig.getFunction();
    return unary([f](float x) {
      return f == "sin" ? std::sin(x) : f == "cos" ? std::cos(x) : f == "tan" ? std::tan(x)
             : f == "asin" ? std::asin(x) : f == "acos" ? std::acos(x) : std::atan(x);
    });
  }
  if (llvm::isa<g::SigmoidOp>(op))
    return unary([](float x) { return 1.0f / (1.0f + std::exp(-x)); });
  if (auto clip = llvm::dyn_cast<g::ClipOp>(op)) {
    const float lo = clip.getMin().convertToFloat(), hi = clip.getMax().convertToFloat();
    return unary([&](float x) { return std::min(std::max(x, lo), hi); });
  }
  if (llvm::isa<g::ReshapeOp, g::CastOp>(op))
    return in[0]; // the same elements in the same order (a cast's already read as float32)
  if (auto transpose = llvm::dyn_cast<g::TransposeOp>(op)) {
    llvm::ArrayRef<int64_t> inShape = shapeOf(transpose.getInput());
    llvm::ArrayRef<int64_t> perm = transpose.getPerm();
    const size_t rank = inShape.size();
    // Input strides permuted into output order; walk the output row-major.
    std::vector<int64_t> inStrides(rank, 1), permuted(rank);
    for (size_t d = rank; d-- > 1;)
      inStrides[d - 1] = inStrides[d] * inShape[d];
    for (size_t d = 0; d < rank; ++d)
      permuted[d] = inStrides[perm[d]];
    std::vector<float> out(in[0].size());
    forEachStrided(shapeOf(transpose.getResult()), permuted, permuted,
                   [&](int64_t i, int64_t from, int64_t) { out[i] = in[0][from]; });
    return out;
  }
  if (auto slice = llvm::dyn_cast<g::SliceOp>(op)) { // output index i_d reads starts[d] + i_d * steps[d]
    llvm::ArrayRef<int64_t> inShape = shapeOf(slice.getInput()), outShape = shapeOf(slice.getResult());
    llvm::ArrayRef<int64_t> starts = slice.getStarts(), steps = slice.getSteps();
    const size_t rank = inShape.size();
    if (starts.size() != rank || steps.size() != rank || outShape.size() != rank) return std::nullopt;
    std::vector<int64_t> inStrides(rank, 1), stepped(rank);
    for (size_t d = rank; d-- > 1;)
      inStrides[d - 1] = inStrides[d] * inShape[d];
    int64_t base = 0;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t last = starts[d] + (outShape[d] - 1) * steps[d];
      if (outShape[d] > 0 && (starts[d] < 0 || starts[d] >= inShape[d] || last < 0 || last >= inShape[d]))
        return std::nullopt; // not the normalised ranges the importer writes: left to the kernel
      base += starts[d] * inStrides[d];
      stepped[d] = steps[d] * inStrides[d];
    }
    std::vector<float> out(size_t(mlir::ShapedType::getNumElements(outShape)));
    forEachStrided(outShape, stepped, stepped, [&](int64_t i, int64_t from, int64_t) { out[size_t(i)] = in[0][size_t(base + from)]; });
    return out;
  }
  return std::nullopt;
}

// A constant integer tensor's values (through reshapes) as float32, as a cast rounds them (to nearest even): a
// quantized model's int8 weights through their DequantizeLinear become float32 weights here.
std::optional<std::vector<float>> integersAsFloats(mlir::Value v) {
  while (auto reshape = v.getDefiningOp<g::ReshapeOp>()) v = reshape->getOperand(0); // same order
  auto constant = v.getDefiningOp<g::ConstantOp>();
  mlir::Type t = llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType();
  if (!constant || !t.isInteger() || t.isInteger(1)) return std::nullopt;
  std::optional<std::vector<char>> bytes = g::readConstantBytes(constant.getValue());
  const size_t width = t.getIntOrFloatBitWidth() / 8;
  if (!bytes || bytes->size() % width) return std::nullopt;
  std::vector<float> out;
  for (size_t at = 0; at < bytes->size(); at += width) {
    uint64_t raw = 0;
    std::memcpy(&raw, bytes->data() + at, width); // little-endian
    const int unused = int(64 - 8 * width);
    if (t.isUnsignedInteger()) out.push_back(float(raw));
    else out.push_back(float(unused ? int64_t(raw << unused) >> unused : int64_t(raw)));
  }
  return out;
}

struct FoldConstantsPass : fractal::impl::FoldConstantsBase<FoldConstantsPass> {
  using FoldConstantsBase::FoldConstantsBase;

  void runOnOperation() override {
    int64_t spent = 0;
    // Ops are visited in order, so a chain of constant ops folds front to back in one walk.
    getOperation().walk([&](mlir::Operation *op) {
      if (!llvm::isa<g::GraphDialect>(op->getDialect()) || llvm::isa<g::ConstantOp>(op) ||
          op->getNumResults() != 1)
        return;
      auto type = llvm::dyn_cast<mlir::RankedTensorType>(op->getResult(0).getType());
      if (!type || !type.getElementType().isF32() || type.getNumElements() > maxElements)
        return;
      std::vector<std::vector<float>> inputs;
      int64_t work = type.getNumElements();
      for (mlir::Value operand : op->getOperands()) {
        std::optional<std::vector<float>> values =
            llvm::isa<g::CastOp>(op) ? integersAsFloats(operand) : std::nullopt;
        if (!values) values = g::readF32Constant(operand);
        if (!values)
          return;
        work += static_cast<int64_t>(values->size());
        inputs.push_back(std::move(*values));
      }
      if (spent + work > budget)
        return;
      std::optional<std::vector<float>> result = evaluate(op, inputs);
      if (!result)
        return;
      spent += work;
      mlir::OpBuilder b(op);
      mlir::ElementsAttr attr = g::makeConstantAttr(
          type, llvm::ArrayRef<char>(reinterpret_cast<const char *>(result->data()),
                                     result->size() * sizeof(float)),
          "folded_constant");
      auto folded = b.create<g::ConstantOp>(op->getLoc(), attr);
      op->getResult(0).replaceAllUsesWith(folded.getResult());
      op->erase();
    });
    // Constants nobody reads any more (the folded ops' inputs, and reshapes of them, which a
    // folded cast looked through) go too: a reshape's constant after the reshape.
    std::vector<mlir::Operation *> candidates;
    getOperation().walk([&](mlir::Operation *op) {
      if (llvm::isa<g::ConstantOp, g::ReshapeOp>(op)) candidates.push_back(op);
    });
    for (auto it = candidates.rbegin(); it != candidates.rend(); ++it)
      if ((*it)->use_empty()) (*it)->erase();
  }
};

} // namespace
