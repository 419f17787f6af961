// ONNX -> graph dialect. The support check has already validated the model and ONNX shape inference
// has typed every value, so each node becomes one graph op with its inferred result type; the
// importer's own work is making implicit ONNX semantics explicit (auto_pad, defaults, constant
// inputs that are really attributes, shape computations on static shapes).
#include "fractal/onnx/OnnxImport.h"
#include "fractal/onnx/OnnxTensor.h"

#include "Einsum.h"
#include "NodeAttributes.h"
#include "TfIdf.h"
#include "TreeEnsemble.h"
#include "OnnxModel.h"
#include "OpSupport.h"

#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Dialect/Graph/Constants.h"
#include "fractal/isa/Numerics.h"
#include "fractal/support/File.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/Dialect/Traits.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cfloat>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <numeric>

namespace fractal::onnx_frontend {

using namespace mlir;
namespace g = fractal::graph;

void loadImportDialects(MLIRContext &context) {
  context.loadDialect<g::GraphDialect, func::FuncDialect>();
}

namespace {

struct ImportError {
  std::string message;
};

// Builders for ops composed at one location (recurrent layers, GridSample): results shaped from
// their operands (numpy broadcasting for binary ops), of element type `et` unless an operand
// gives it.
struct Composer {
  OpBuilder &b;
  Location loc;
  Type et;

  static SmallVector<int64_t> shapeOf(Value v) {
    return SmallVector<int64_t>(llvm::cast<RankedTensorType>(v.getType()).getShape());
  }
  static Type elementOf(Value v) { return llvm::cast<RankedTensorType>(v.getType()).getElementType(); }
  RankedTensorType typed(ArrayRef<int64_t> shape, Type t = {}) const { return RankedTensorType::get(shape, t ? t : et); }
  RankedTensorType broadcast(Value x, Value y, Type t) const {
    SmallVector<int64_t> shape;
    OpTrait::util::getBroadcastedShape(shapeOf(x), shapeOf(y), shape);
    return typed(shape, t);
  }
  // A rank-0 constant of element type `et`.
  Value constant(double v) const {
    auto type = RankedTensorType::get({}, et);
    return b.create<g::ConstantOp>(loc, DenseElementsAttr::get(type, b.getFloatAttr(et, v)));
  }
  // A float32 constant of `shape` holding `values` (a table computed here), named for IR dumps.
  Value floats(ArrayRef<int64_t> shape, const std::vector<float> &values, const std::string &name) const {
    return b.create<g::ConstantOp>(
        loc, g::makeConstantAttr(typed(shape, b.getF32Type()),
                                 ArrayRef<char>(reinterpret_cast<const char *>(values.data()), values.size() * 4), name));
  }
  // A 1-D int32 constant (gather indices computed here), named for IR dumps.
  Value int32s(const std::vector<int32_t> &values, const std::string &name) const {
    return b.create<g::ConstantOp>(
        loc, g::makeConstantAttr(typed({int64_t(values.size())}, b.getIntegerType(32)),
                                 ArrayRef<char>(reinterpret_cast<const char *>(values.data()), values.size() * 4), name));
  }
  Value reshape(Value v, ArrayRef<int64_t> shape) const { return b.create<g::ReshapeOp>(loc, typed(shape, elementOf(v)), v); }
  // Result axis i is v's axis perm[i].
  Value transpose(Value v, ArrayRef<int64_t> perm) const {
    SmallVector<int64_t> shape;
    for (int64_t p : perm) shape.push_back(shapeOf(v)[size_t(p)]);
    return b.create<g::TransposeOp>(loc, typed(shape, elementOf(v)), v, b.getDenseI64ArrayAttr(perm));
  }
  // v[starts[i] .. ends[i]) along every axis.
  Value slice(Value v, ArrayRef<int64_t> starts, ArrayRef<int64_t> ends) const {
    SmallVector<int64_t> shape, steps(starts.size(), 1);
    for (size_t i = 0; i < starts.size(); ++i) shape.push_back(ends[i] - starts[i]);
    return b.create<g::SliceOp>(loc, typed(shape, elementOf(v)), v, b.getDenseI64ArrayAttr(starts),
                                b.getDenseI64ArrayAttr(ends), b.getDenseI64ArrayAttr(steps));
  }
  Value concat(ArrayRef<Value> parts, int64_t axis) const {
    if (parts.size() == 1) return parts.front();
    SmallVector<int64_t> shape = shapeOf(parts.front());
    shape[size_t(axis)] = 0;
    for (Value v : parts) shape[size_t(axis)] += shapeOf(v)[size_t(axis)];
    return b.create<g::ConcatOp>(loc, typed(shape, elementOf(parts.front())), parts, b.getI64IntegerAttr(axis));
  }
  template <typename Op> Value binary(Value x, Value y) const {
    return b.create<Op>(loc, broadcast(x, y, elementOf(x)), x, y);
  }
  Value add(Value x, Value y) const { return binary<g::AddOp>(x, y); }
  Value sub(Value x, Value y) const { return binary<g::SubOp>(x, y); }
  Value mul(Value x, Value y) const { return binary<g::MulOp>(x, y); }
  Value div(Value x, Value y) const { return binary<g::DivOp>(x, y); }
  Value compare(const char *kind, Value x, Value y) const {
    return b.create<g::CompareOp>(loc, broadcast(x, y, b.getI1Type()), x, y, b.getStringAttr(kind));
  }
  Value logicalAnd(Value x, Value y) const {
    return b.create<g::LogicalOp>(loc, broadcast(x, y, b.getI1Type()), x, y, b.getStringAttr("and"));
  }
  // The rows of `table` ([rows, C]) at the float32 row indices `at` (integers, exact below 2^24),
  // gathered by DMA: [elements of at, C].
  Value gatherRows(Value table, Value at) const {
    const int64_t m = llvm::cast<RankedTensorType>(at.getType()).getNumElements();
    Value index = cast(reshape(at, {m}), b.getIntegerType(32));
    return b.create<g::GatherOp>(loc, typed({m, shapeOf(table)[1]}, elementOf(table)), table, index, b.getI64IntegerAttr(0),
                                 b.getBoolAttr(false));
  }
  Value where(Value condition, Value x, Value y) const {
    return b.create<g::WhereOp>(loc, broadcast(condition, x, elementOf(x)), condition, x, y);
  }
  Value rounding(const char *mode, Value v) const { return b.create<g::RoundingOp>(loc, v.getType(), v, b.getStringAttr(mode)); }
  Value abs(Value v) const { return b.create<g::AbsOp>(loc, v.getType(), v); }
  Value clip(Value v, float lo, float hi) const {
    return b.create<g::ClipOp>(loc, v.getType(), v, b.getF32FloatAttr(lo), b.getF32FloatAttr(hi));
  }
  Value cast(Value v, Type to) const { return b.create<g::CastOp>(loc, typed(shapeOf(v), to), v); }
};

class Importer {
public:
  Importer(MLIRContext &ctx, const onnx::ModelProto &model, const std::string &path)
      : ctx_(ctx), model_(model), path_(path), b_(&ctx) {}

  OwningOpRef<ModuleOp> run() {
    const onnx::GraphProto &graph = model_.graph();
    for (const auto &v : graph.value_info())
      recordType(v);
    for (const auto &v : graph.output())
      recordType(v);
    for (const auto &v : graph.input())
      recordType(v);
    for (const auto &t : graph.initializer())
      initializers_[t.name()] = &t;
    for (const auto &o : model_.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx")
        opset_ = o.version();

    OwningOpRef<ModuleOp> module = ModuleOp::create(FileLineColLoc::get(&ctx_, path_, 0, 0));
    SmallVector<Type> inputTypes, outputTypes;
    std::vector<std::string> inputNames;
    for (const auto &in : graph.input())
      if (!initializers_.count(in.name())) {
        inputTypes.push_back(declaredTypeOf(in.name(), "graph input"));
        inputNames.push_back(in.name());
      }
    // The outputs of NonZero, Compress, Unique and NonMaxSuppression have no static shape: their
    // types are the bounds the nodes get (NoneType until then).
    std::set<std::string> dataDependent;
    for (const auto &n : graph.node())
      if (detail::hasDataDependentExtent(n.op_type()))
        for (const std::string &o : n.output()) dataDependent.insert(o);
    for (const auto &out : graph.output())
      outputTypes.push_back(dataDependent.count(out.name()) ? Type(b_.getNoneType()) : Type(declaredTypeOf(out.name(), "graph output")));
    b_.setInsertionPointToEnd(module->getBody());
    auto func = b_.create<func::FuncOp>(module->getLoc(), "main",
                                        b_.getFunctionType(inputTypes, outputTypes));
    Block *entry = func.addEntryBlock();
    b_.setInsertionPointToStart(entry);
    for (size_t i = 0; i < inputNames.size(); ++i) {
      Value arg = entry->getArgument(i);
      auto declared = llvm::cast<RankedTensorType>(arg.getType());
      values_[inputNames[i]] = declared == computed(declared)
                                   ? arg
                                   : Value(b_.create<g::CastOp>(NameLoc::get(b_.getStringAttr(inputNames[i])),
                                                                computed(declared), arg));
      func.setArgAttr(i, "onnx.name", b_.getStringAttr(inputNames[i]));
    }
    for (int index : topologicalOrder())
      importNode(graph.node(index), index);
    SmallVector<Value> results;
    for (const auto &out : graph.output()) {
      func.setResultAttr(results.size(), "onnx.name", b_.getStringAttr(out.name()));
      Value v = value(out.name(), "graph output");
      Type &declared = outputTypes[results.size()];
      if (llvm::isa<NoneType>(declared)) declared = v.getType();
      if (v.getType() != declared)
        v = b_.create<g::CastOp>(NameLoc::get(b_.getStringAttr(out.name())), declared, v);
      results.push_back(v);
    }
    func.setFunctionType(b_.getFunctionType(inputTypes, outputTypes));
    b_.create<func::ReturnOp>(module->getLoc(), results);
    return module;
  }

private:
  // Element-wise ops of one input: ONNX name -> graph op (with its one string attribute, for
  // the families that share an op: rounding modes, trigonometric functions).
  using MakeUnary = std::function<Operation *(OpBuilder &, Location, Type, Value)>;
  template <typename Op> static MakeUnary plain() {
    return [](OpBuilder &b, Location l, Type t, Value v) -> Operation * { return b.create<Op>(l, t, v); };
  }
  template <typename Op> static MakeUnary with(const char *attr) {
    return [attr](OpBuilder &b, Location l, Type t, Value v) -> Operation * {
      return b.create<Op>(l, t, v, b.getStringAttr(attr));
    };
  }
  static const std::map<std::string, MakeUnary> &unaryOps() {
    static const std::map<std::string, MakeUnary> kUnary = {
        {"Relu", plain<g::ReluOp>()},           {"Sigmoid", plain<g::SigmoidOp>()},
        {"Neg", plain<g::NegOp>()},             {"Abs", plain<g::AbsOp>()},
        {"Sqrt", plain<g::SqrtOp>()},           {"Reciprocal", plain<g::ReciprocalOp>()},
        {"Exp", plain<g::ExpOp>()},             {"Log", plain<g::LogOp>()},
        {"Erf", plain<g::ErfOp>()},             {"Sign", plain<g::SignOp>()},
        {"Floor", with<g::RoundingOp>("floor")}, {"Ceil", with<g::RoundingOp>("ceil")},
        {"Round", with<g::RoundingOp>("round")}, {"Sin", with<g::TrigonometricOp>("sin")},
        {"Cos", with<g::TrigonometricOp>("cos")}, {"Tan", with<g::TrigonometricOp>("tan")},
        {"Asin", with<g::TrigonometricOp>("asin")}, {"Acos", with<g::TrigonometricOp>("acos")},
        {"Atan", with<g::TrigonometricOp>("atan")},
    };
    return kUnary;
  }
  static bool isUnary(const std::string &op) { return unaryOps().count(op) > 0; }
  Operation *createUnary(const std::string &op, Location loc, Type type, Value x) {
    return unaryOps().at(op)(b_, loc, type, x);
  }

  // ---- types and values ----
  Type elementType(int t) {
    switch (t) {
    case 1: return b_.getF32Type();
    case 10: return b_.getF16Type();
    case 11: return b_.getF64Type();
    case 7: return b_.getI64Type();
    case 6: return b_.getI32Type();
    case 3: return b_.getIntegerType(8);
    case 2: return b_.getIntegerType(8, /*isSigned=*/false);
    case 5: return b_.getIntegerType(16);
    case 4: return b_.getIntegerType(16, /*isSigned=*/false);
    case 12: return b_.getIntegerType(32, /*isSigned=*/false);
    case 13: return b_.getIntegerType(64, /*isSigned=*/false);
    case 9: return b_.getI1Type();
    default: throw ImportError{"element type " + std::to_string(t) + " has no MLIR equivalent"};
    }
  }
  void recordType(const onnx::ValueInfoProto &v) {
    if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape())
      return;
    const auto &t = v.type().tensor_type();
    SmallVector<int64_t> dims;
    for (const auto &d : t.shape().dim()) {
      if (!d.has_dim_value())
        return; // not static: left for the error at its use
      dims.push_back(d.dim_value());
    }
    types_[v.name()] = RankedTensorType::get(dims, elementType(t.elem_type()));
  }
  // Float16 tensors are computed in float32 inside the graph: values declared float16 get float32
  // types, graph inputs are widened on entry and outputs narrowed on exit, float16 constants are
  // widened at import, and a Cast to float16 rounds (to float16 and back). The kernels then need
  // no float16 forms (the vector unit computes in float32; convolutions and matmuls round their
  // operands to float16 on the cube as for float32 models), and a float16 model gets every
  // operator a float32 one has, at least as precise as computing in float16.
  // Float64 the same way, narrowed instead of widened: the NPU has no float64 arithmetic (nor
  // has Ascend's), so a float64 model is computed in float32 (constants rounded to nearest at
  // import, inputs on entry; outputs widened exactly on exit) and its results differ from a
  // float64 computation by float32 rounding. The check's report says so.
  static RankedTensorType computed(RankedTensorType t) {
    const Type e = t.getElementType();
    return e.isF16() || e.isF64() ? RankedTensorType::get(t.getShape(), Float32Type::get(t.getContext())) : t;
  }
  RankedTensorType typeOf(const std::string &name, const std::string &what) { return computed(declaredTypeOf(name, what)); }
  // The type the model declares (float16 stays float16): the graph's inputs and outputs.
  RankedTensorType declaredTypeOf(const std::string &name, const std::string &what) {
    auto it = types_.find(name);
    if (it != types_.end())
      return it->second;
    if (auto init = initializers_.find(name); init != initializers_.end())
      return RankedTensorType::get(SmallVector<int64_t>(init->second->dims().begin(),
                                                        init->second->dims().end()),
                                   elementType(init->second->data_type()));
    throw ImportError{what + " '" + name + "' has no static shape after shape inference"};
  }
  Value value(const std::string &name, const std::string &user) {
    if (auto it = values_.find(name); it != values_.end())
      return it->second;
    if (auto init = initializers_.find(name); init != initializers_.end()) {
      Value v = constant(*init->second, NameLoc::get(b_.getStringAttr(name)));
      values_[name] = v;
      return v;
    }
    throw ImportError{user + ": no value named '" + name + "'"};
  }

  // The raw little-endian bytes of a tensor, whichever field ONNX stored them in.
  std::vector<char> tensorBytes(const onnx::TensorProto &t) {
    std::optional<std::vector<char>> bytes = tensorData(t);
    if (!bytes)
      throw ImportError{"tensor '" + t.name() + "' has an unsupported element type"};
    return std::move(*bytes);
  }

  // Small tensors inline; anything larger as a dense_resource blob (never a giant attribute).
  Value constant(const onnx::TensorProto &t, Location loc) {
    SmallVector<int64_t> dims(t.dims().begin(), t.dims().end());
    auto type = RankedTensorType::get(dims, elementType(t.data_type()));
    std::vector<char> bytes = tensorBytes(t);
    if (type.getElementType().isF16()) { // float16 values as float32 (exactly)
      std::vector<char> wide(bytes.size() * 2);
      isa::halfToFloatArray(reinterpret_cast<const uint16_t *>(bytes.data()), reinterpret_cast<float *>(wide.data()),
                            bytes.size() / 2);
      bytes = std::move(wide);
    } else if (type.getElementType().isF64()) { // float64 values as float32, rounded to nearest
      std::vector<char> narrow(bytes.size() / 2);
      for (size_t i = 0; i < narrow.size() / 4; ++i) {
        double d;
        std::memcpy(&d, bytes.data() + 8 * i, 8);
        const float f = float(d);
        std::memcpy(narrow.data() + 4 * i, &f, 4);
      }
      bytes = std::move(narrow);
    }
    type = computed(type);
    ElementsAttr attr = g::makeConstantAttr(type, bytes,
                                            t.name().empty() ? "onnx_constant" : t.name());
    if (!attr)
      throw ImportError{"constant '" + t.name() + "' does not match its type"};
    return b_.create<g::ConstantOp>(loc, attr);
  }

  // Element-wise operators written with other graph ops (as ONNX's function bodies define them):
  // hyperbolic functions and their inverses from exp, log and sqrt; Celu from Elu's pieces;
  // ThresholdedRelu, Shrink, IsInf and IsNaN from comparisons and selections.
  Value composite(const onnx::NodeProto &n, Location loc, Value x, RankedTensorType type) {
    const std::string &op = n.op_type();
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    Type f = xt.getElementType();
    auto c = [&](double v) { return scalar(v, f, loc); };
    auto add = [&](Value a, Value b) { return Value(b_.create<g::AddOp>(loc, xt, a, b)); };
    auto sub = [&](Value a, Value b) { return Value(b_.create<g::SubOp>(loc, xt, a, b)); };
    auto mul = [&](Value a, Value b) { return Value(b_.create<g::MulOp>(loc, xt, a, b)); };
    auto exp = [&](Value a) { return Value(b_.create<g::ExpOp>(loc, xt, a)); };
    auto log = [&](Value a) { return Value(b_.create<g::LogOp>(loc, xt, a)); };
    auto bools = RankedTensorType::get(xt.getShape(), b_.getI1Type());
    auto compare = [&](const char *kind, Value a, Value b) {
      return Value(b_.create<g::CompareOp>(loc, bools, a, b, b_.getStringAttr(kind)));
    };
    auto where = [&](Value cond, Value a, Value b) { return Value(b_.create<g::WhereOp>(loc, xt, cond, a, b)); };
    if (op == "Sinh" || op == "Cosh") { // (e^x -+ e^-x) / 2
      Value e = exp(x), inverse = exp(b_.create<g::NegOp>(loc, xt, x));
      return mul(op == "Sinh" ? sub(e, inverse) : add(e, inverse), c(0.5));
    }
    if (op == "Asinh" || op == "Acosh") // ln(x + sqrt(x^2 +- 1))
      return log(add(x, b_.create<g::SqrtOp>(loc, xt, add(mul(x, x), c(op == "Asinh" ? 1.0 : -1.0)))));
    if (op == "Atanh") // ln((1 + x) / (1 - x)) / 2
      return mul(log(b_.create<g::DivOp>(loc, xt, add(c(1.0), x), sub(c(1.0), x))), c(0.5));
    if (op == "Celu") { // max(0, x) + min(0, alpha (exp(x / alpha) - 1))
      const double alpha = floatAttr(n, "alpha", 1.0f);
      Value negative = mul(sub(exp(mul(x, c(1.0 / alpha))), c(1.0)), c(alpha));
      return add(b_.create<g::ReluOp>(loc, xt, x), b_.create<g::MinOp>(loc, xt, negative, c(0.0)));
    }
    if (op == "ThresholdedRelu") return where(compare("gt", x, c(floatAttr(n, "alpha", 1.0f))), x, c(0.0));
    if (op == "Shrink") { // x < -lambd: x + bias; x > lambd: x - bias; else 0
      const double lambd = floatAttr(n, "lambd", 0.5f), bias = floatAttr(n, "bias", 0.0f);
      Value high = where(compare("gt", x, c(lambd)), sub(x, c(bias)), c(0.0));
      return where(compare("lt", x, c(-lambd)), add(x, c(bias)), high);
    }
    if (op == "IsNaN") return b_.create<g::NotOp>(loc, type, compare("eq", x, x));
    // IsInf: x == +inf and/or x == -inf, as the attributes ask.
    const bool positive = intAttr(n, "detect_positive", 1) != 0, negative = intAttr(n, "detect_negative", 1) != 0;
    const double inf = std::numeric_limits<double>::infinity();
    if (positive || negative) return compare("eq", positive && negative ? Value(b_.create<g::AbsOp>(loc, xt, x)) : x,
                                              c(negative && !positive ? -inf : inf));
    return compare("gt", b_.create<g::AbsOp>(loc, xt, x), c(inf)); // detects nothing: all false
  }

  // x ** y for a constant exponent y that detail::powerExponent accepts (the check refused the
  // others): small integer powers as products, halves as square roots, else exp(y * log x).
  Value power(const std::string &name, Location loc, Value x, const onnx::TensorProto &exponent, RankedTensorType type) {
    std::variant<double, std::string> accepted = detail::powerExponent(exponent);
    if (auto *why = std::get_if<std::string>(&accepted))
      throw ImportError{"node '" + name + "' (Pow): " + *why};
    const double y = std::get<double>(accepted);
    auto inverse = [&](Value v) { return Value(b_.create<g::ReciprocalOp>(loc, type, v)); };
    if (y == std::trunc(y)) {
      Value p = x;
      if (std::fabs(y) >= 2) p = b_.create<g::MulOp>(loc, type, x, x);
      if (std::fabs(y) == 3) p = b_.create<g::MulOp>(loc, type, p, x);
      if (std::fabs(y) == 4) p = b_.create<g::MulOp>(loc, type, p, p);
      return y < 0 ? inverse(p) : p;
    }
    if (std::fabs(y) == 0.5) {
      Value root = b_.create<g::SqrtOp>(loc, type, x);
      return y < 0 ? inverse(root) : root;
    }
    Value logX = b_.create<g::LogOp>(loc, type, x);
    Value scaled = b_.create<g::MulOp>(loc, type, logX, scalar(y, type.getElementType(), loc));
    return b_.create<g::ExpOp>(loc, type, scaled);
  }

  // How a Resize (or Upsample) samples, with ONNX's defaults; `scales` has one entry per axis
  // when the model gives scales (the coordinate rules use them), else none (output / input).
  struct ResizeModes {
    std::string mode = "nearest", ctm = "half_pixel", nearestMode = "round_prefer_floor";
    float cubicA = -0.75f;
    bool excludeOutside = false;
    std::vector<float> scales;
    // tf_crop_and_resize: the region of interest (starts, then ends, as fractions of each axis)
    // and the value of samples outside the input.
    std::vector<float> roi;
    float extrapolation = 0;
  };
  ResizeModes resizeModes(const onnx::NodeProto &n) {
    ResizeModes m;
    m.mode = stringAttr(n, "mode", m.mode);
    m.ctm = stringAttr(n, "coordinate_transformation_mode", m.ctm);
    m.nearestMode = stringAttr(n, "nearest_mode", m.nearestMode);
    m.cubicA = floatAttr(n, "cubic_coeff_a", m.cubicA);
    m.excludeOutside = intAttr(n, "exclude_outside", 0) != 0;
    m.extrapolation = floatAttr(n, "extrapolation_value", 0.0f);
    return m;
  }
  std::vector<float> floatsOf(const onnx::TensorProto &t) {
    std::optional<std::vector<float>> values = tensorFloats(t);
    if (!values) throw ImportError{"constant '" + t.name() + "' must be float32"};
    return std::move(*values);
  }

  // A resize: the resize kernel's when it takes it (nearest, asymmetric, floor, integer factors
  // on H and W of a 4-D f32 tensor, N and C kept), else by interpolation matrices, below.
  Value resize(Location loc, Value x, RankedTensorType type, const ResizeModes &m) {
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    const bool matrices = xt.getRank() == 4 && xt.getElementType().isF32() && xt.getDimSize(0) == type.getDimSize(0) &&
                          xt.getDimSize(1) == type.getDimSize(1);
    const bool kernel = m.mode == "nearest" && m.nearestMode == "floor" && m.ctm == "asymmetric" && xt.getRank() == 4 &&
                        type.getDimSize(2) % xt.getDimSize(2) == 0 && type.getDimSize(3) % xt.getDimSize(3) == 0;
    if (m.ctm == "tf_crop_and_resize" && !matrices)
      throw ImportError{"coordinate_transformation_mode tf_crop_and_resize is supported on H and W of a 4-D float32 "
                        "tensor (N and C kept)"};
    if (kernel || !matrices) // (without either, code generation names what it lacks)
      return b_.create<g::ResizeOp>(loc, type, x, b_.getStringAttr(m.mode), b_.getStringAttr(m.ctm), b_.getStringAttr(m.nearestMode));
    return resizeByMatrices(loc, x, type, m);
  }

  // Resize of H and W as two matrix products on the cube, y = Rh . x . Rw^T, with the
  // interpolation weights of ONNX's Resize (nearest in every rounding mode, linear, cubic; every
  // accepted coordinate transformation) as constant matrices: any scale, up or down. The H product
  // runs on the transposed tensor (x^T . Rh^T) so both are the matmul kernel's [.., M, K] x [K, N].
  // An axis whose matrix is the identity is skipped.
  Value resizeByMatrices(Location loc, Value x, RankedTensorType type, const ResizeModes &modes) {
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    const std::string &mode = modes.mode, &ctm = modes.ctm, &nearestMode = modes.nearestMode;
    const double cubicA = modes.cubicA;
    const bool excludeOutside = modes.excludeOutside;
    const std::vector<float> &scales = modes.scales;
    // weights[o * in + i]: how much input i contributes to output o along `axis`; `outside[o]`:
    // output o samples outside the input (tf_crop_and_resize), its row all zeros.
    auto axisMatrix = [&](int64_t axis, int64_t in, int64_t out, double scale, std::vector<bool> &outside) {
      std::vector<float> m(size_t(in * out), 0.0f);
      outside.assign(size_t(out), false);
      auto at = [&](int64_t o, int64_t i, double w) { m[size_t(o * in + std::clamp<int64_t>(i, 0, in - 1))] += float(w); };
      for (int64_t o = 0; o < out; ++o) {
        double x0;
        // tf_crop_and_resize: the region of interest [start, end] of the axis, in input pixels.
        // align_corners divides by the scaled length, not the rounded output size (ONNX's
        // reference: a 0.6 scale of 4 columns spans 2.4, not 2).
        if (ctm == "tf_crop_and_resize") {
          const double start = modes.roi[size_t(axis)], end = modes.roi[size_t(axis + xt.getRank())];
          x0 = out > 1 ? start * double(in - 1) + double(o) * (end - start) * double(in - 1) / double(out - 1)
                       : 0.5 * (start + end) * double(in - 1);
          if (x0 < 0 || x0 > double(in - 1)) {
            outside[size_t(o)] = true;
            continue;
          }
        } else if (ctm == "align_corners") x0 = in * scale == 1.0 ? 0.0 : double(o) * double(in - 1) / (double(in) * scale - 1.0);
        else if (ctm == "asymmetric") x0 = double(o) / scale;
        else if (ctm == "pytorch_half_pixel") x0 = out > 1 ? (double(o) + 0.5) / scale - 0.5 : 0.0;
        else if (ctm == "tf_half_pixel_for_nn") x0 = (double(o) + 0.5) / scale;
        else x0 = (double(o) + 0.5) / scale - 0.5; // half_pixel
        if (mode == "nearest") {
          const double f = std::floor(x0), frac = x0 - f;
          int64_t i = nearestMode == "floor" ? int64_t(f) : nearestMode == "ceil" ? int64_t(std::ceil(x0))
                      : frac == 0.5 ? (nearestMode == "round_prefer_ceil" ? int64_t(f) + 1 : int64_t(f))
                                    : int64_t(std::round(x0));
          at(o, i, 1.0);
        } else if (mode == "linear") {
          const double c = std::clamp(x0, 0.0, double(in - 1)), f = std::floor(c);
          at(o, int64_t(f), 1.0 - (c - f));
          if (c > f) at(o, int64_t(f) + 1, c - f);
        } else { // cubic: Keys' kernel with coefficient A on the 4 nearest inputs, edges repeated
          const double f = std::floor(x0), t = x0 - f;
          auto weight = [&](double d) {
            d = std::fabs(d);
            if (d <= 1) return ((cubicA + 2) * d - (cubicA + 3)) * d * d + 1;
            if (d < 2) return ((cubicA * d - 5 * cubicA) * d + 8 * cubicA) * d - 4 * cubicA;
            return 0.0;
          };
          // exclude_outside: taps off the tensor weigh nothing, the others are renormalised.
          double inside = 0;
          for (int64_t k = -1; k <= 2; ++k)
            if (!excludeOutside || (f + double(k) >= 0 && f + double(k) <= double(in - 1))) inside += weight(double(k) - t);
          for (int64_t k = -1; k <= 2; ++k)
            if (!excludeOutside || (f + double(k) >= 0 && f + double(k) <= double(in - 1)))
              at(o, int64_t(f) + k, weight(double(k) - t) / (excludeOutside ? inside : 1.0));
        }
      }
      return m;
    };
    auto isIdentity = [](const std::vector<float> &m, int64_t in, int64_t out) {
      if (in != out) return false;
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i)
          if (m[size_t(o * in + i)] != (o == i ? 1.0f : 0.0f)) return false;
      return true;
    };
    // v [.., K] . M^T where M is [out, K]: the constant operand is M^T, [K, out].
    auto product = [&](Value v, const std::vector<float> &m, int64_t in, int64_t out, const char *what) {
      std::vector<float> mt(size_t(in * out));
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) mt[size_t(i * out + o)] = m[size_t(o * in + i)];
      Value c = Composer{b_, loc, {}}.floats({in, out}, mt, what);
      auto vt = llvm::cast<RankedTensorType>(v.getType());
      SmallVector<int64_t> shape(vt.getShape());
      shape.back() = out;
      return Value(b_.create<g::MatMulOp>(loc, RankedTensorType::get(shape, vt.getElementType()), v, c, nullptr, nullptr));
    };
    const int64_t h = xt.getDimSize(2), w = xt.getDimSize(3), ho = type.getDimSize(2), wo = type.getDimSize(3);
    const double sh = scales.size() == 4 ? scales[2] : double(ho) / double(h), sw = scales.size() == 4 ? scales[3] : double(wo) / double(w);
    std::vector<bool> outH, outW;
    const std::vector<float> rh = axisMatrix(2, h, ho, sh, outH), rw = axisMatrix(3, w, wo, sw, outW);
    Value v = x;
    if (!isIdentity(rw, w, wo)) v = product(v, rw, w, wo, "resize_columns");
    if (!isIdentity(rh, h, ho)) v = transposed(loc, product(transposed(loc, v, {0, 1, 3, 2}), rh, h, ho, "resize_rows"), {0, 1, 3, 2});
    // Samples outside the input are 0 (their rows are): plus the extrapolation value there.
    std::vector<float> extrapolated(size_t(ho * wo), 0.0f);
    bool anyOutside = false;
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j)
        if (outH[size_t(i)] || outW[size_t(j)]) {
          extrapolated[size_t(i * wo + j)] = modes.extrapolation;
          anyOutside = anyOutside || modes.extrapolation != 0.0f;
        }
    if (anyOutside) {
      Composer ops{b_, loc, b_.getF32Type()};
      v = ops.add(v, ops.floats({ho, wo}, extrapolated, "resize_extrapolated"));
    }
    if (v == x) return b_.create<g::ReshapeOp>(loc, type, x); // a resize to the same size: a view
    return v;
  }

  // Whether the transposed-convolution kernel takes this ConvTranspose: 2-D, one group, a square
  // kernel as large as its stride, no pads, output padding or dilation (PP-OCRv4's upsampling).
  bool convTransposeHasKernel(const onnx::NodeProto &n) {
    const onnx::TensorProto *w = constantInput(n.input(1));
    if (!w || w->dims_size() != 4 || w->dims(2) != w->dims(3) || intAttr(n, "group", 1) != 1 || attr(n, "output_shape") ||
        stringAttr(n, "auto_pad", "NOTSET") != "NOTSET")
      return !w; // run-time weights: nothing else takes them either (code generation says so)
    const std::vector<int64_t> strides = ints(n, "strides", {1, 1});
    bool simple = strides.size() == 2 && strides[0] == w->dims(2) && strides[1] == w->dims(3);
    for (int64_t v : ints(n, "pads", {})) simple &= v == 0;
    for (int64_t v : ints(n, "output_padding", {})) simple &= v == 0;
    for (int64_t v : ints(n, "dilations", {})) simple &= v == 1;
    return simple;
  }

  // Any other ConvTranspose with constant f32 weights (1-D as 2-D with a height of 1; 3-D by
  // volumetricConv) as the convolution it is: the input spread out by the stride (zeros between
  // its pixels: a reshape to [N, C, H, 1, W, 1], a pad to [.., sh, .., sw], a reshape back; one
  // more axis pair in 3-D), convolved with the weights flipped in space and in/out channels
  // swapped per group, padded by dilation * (k - 1) - pad on each side (the end also by
  // output_padding); negative amounts crop the result instead. ONNX's inferred output size fixes
  // the end: total padding = stride * (in - 1) + output_padding + dilation * (k - 1) + 1 - out,
  // split by auto_pad (SAME_UPPER: the larger half at the end; output_shape or SAME_LOWER: at the
  // start), or the pads attribute as given.
  Value convTransposeAsConv(const onnx::NodeProto &n, const std::string &name, Location loc, Value x, Value bias,
                            RankedTensorType type) {
    const onnx::TensorProto *wp = constantInput(n.input(1));
    if (!wp || wp->data_type() != 1)
      throw ImportError{"node '" + name + "' (ConvTranspose): only constant float32 weights are supported"};
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    const bool oneD = xt.getRank() == 3;
    const size_t S = oneD ? 2 : size_t(xt.getRank() - 2); // spatial axes, 1-D widened to 2
    auto widen = [&](std::vector<int64_t> v, int64_t unit) {
      if (oneD) v.insert(v.begin(), unit);
      return v;
    };
    const std::vector<float> w = floatsOf(*wp);
    const int64_t cin = wp->dims(0), coutPerGroup = wp->dims(1);
    const int64_t group = intAttr(n, "group", 1), cinPerGroup = cin / group, cout = coutPerGroup * group;
    const Type et = xt.getElementType();
    std::vector<int64_t> k, in, out; // per spatial axis
    for (size_t a = 0; a < S; ++a) {
      const bool unit = oneD && a == 0;
      k.push_back(unit ? 1 : wp->dims(int(a + 2 - (oneD ? 1 : 0))));
      in.push_back(unit ? 1 : xt.getDimSize(int64_t(a + 2 - (oneD ? 1 : 0))));
      out.push_back(unit ? 1 : type.getDimSize(int64_t(a + 2 - (oneD ? 1 : 0))));
    }
    const size_t spatialAttr = oneD ? 1 : S;
    const std::vector<int64_t> strides = widen(ints(n, "strides", std::vector<int64_t>(spatialAttr, 1)), 1);
    const std::vector<int64_t> dilations = widen(ints(n, "dilations", std::vector<int64_t>(spatialAttr, 1)), 1);
    const std::vector<int64_t> outputPadding = widen(ints(n, "output_padding", std::vector<int64_t>(spatialAttr, 0)), 0);
    std::vector<int64_t> padAttr = ints(n, "pads", {});
    if (oneD && padAttr.size() == 2) padAttr = {0, padAttr[0], 0, padAttr[1]};
    const std::string autoPad = stringAttr(n, "auto_pad", "NOTSET");
    const int64_t nImages = xt.getDimSize(0);
    std::vector<int64_t> before(S), after(S); // the convolution's pads over the spread input (may be negative)
    for (size_t a = 0; a < S; ++a) {
      const int64_t reach = dilations[a] * (k[a] - 1);
      int64_t pb;
      if (autoPad == "NOTSET" && !attr(n, "output_shape")) {
        pb = padAttr.empty() ? 0 : padAttr[a];
      } else {
        const int64_t total = strides[a] * (in[a] - 1) + outputPadding[a] + reach + 1 - out[a];
        // Halves rounded down as ONNX's reference does (Python's //): a negative total (an
        // output_shape one past the full output) goes to the end, like output padding.
        const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
        pb = autoPad == "SAME_UPPER" ? half : total - half;
      }
      before[a] = reach - pb;
      // The spread input is in * stride long (stride - 1 zeros after its last pixel too).
      after[a] = out[a] - (in[a] * strides[a] + before[a] - reach);
    }
    auto typed = [&](ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, et); };
    auto shapeWith = [&](ArrayRef<int64_t> spatial) {
      SmallVector<int64_t> shape{nImages, cin};
      shape.append(spatial.begin(), spatial.end());
      return shape;
    };
    // Spread out by the stride: [N, C, in0, 1, in1, 1, ..] padded to [N, C, in0, s0, in1, s1, ..].
    Value v = oneD ? Value(b_.create<g::ReshapeOp>(loc, typed(shapeWith(in)), x)) : x;
    std::vector<int64_t> spreadSize(S);
    for (size_t a = 0; a < S; ++a) spreadSize[a] = in[a] * strides[a];
    if (spreadSize != in) {
      SmallVector<int64_t> pairs{nImages, cin}, padded{nImages, cin}, padAmounts(2 + 2 * S, 0), padEnds(2 + 2 * S, 0);
      for (size_t a = 0; a < S; ++a) {
        pairs.append({in[a], 1});
        padded.append({in[a], strides[a]});
        padEnds[3 + 2 * a] = strides[a] - 1;
      }
      padAmounts.append(padEnds.begin(), padEnds.end());
      Value spread = b_.create<g::PadOp>(loc, typed(padded), b_.create<g::ReshapeOp>(loc, typed(pairs), v),
                                         b_.getDenseI64ArrayAttr(padAmounts), b_.getF32FloatAttr(0.0f),
                                         b_.getStringAttr("constant"));
      v = b_.create<g::ReshapeOp>(loc, typed(shapeWith(spreadSize)), spread);
    }
    // Weights [Cin, Cout/g, k..] -> [Cout, Cin/g, k..], flipped in every spatial axis.
    int64_t taps = 1;
    for (int64_t e : k) taps *= e;
    std::vector<float> flipped(w.size());
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int64_t co = 0; co < coutPerGroup; ++co)
        for (int64_t t = 0; t < taps; ++t) {
          // Every coordinate of a row-major tap index mirrored is the flat index mirrored.
          const int64_t mirrored = taps - 1 - t;
          const int64_t to = (ci / cinPerGroup) * coutPerGroup + co;
          flipped[size_t((to * cinPerGroup + ci % cinPerGroup) * taps + mirrored)] = w[size_t((ci * coutPerGroup + co) * taps + t)];
        }
    SmallVector<int64_t> weightShape{cout, cinPerGroup};
    weightShape.append(k.begin(), k.end());
    Value weights = Composer{b_, loc, {}}.floats(weightShape, flipped, n.input(1) + "/as_conv");
    std::vector<int64_t> convPads(2 * S), convOut{nImages, cout}, ones(S, 1);
    bool cropped = false;
    for (size_t a = 0; a < S; ++a) {
      convPads[a] = std::max<int64_t>(0, before[a]);
      convPads[S + a] = std::max<int64_t>(0, after[a]);
      convOut.push_back(spreadSize[a] + convPads[a] + convPads[S + a] - dilations[a] * (k[a] - 1));
      cropped |= convOut.back() != out[a];
    }
    Value y = S == 3 ? volumetricConv(loc, typed(convOut), v, weights, bias, ones, convPads, dilations, group)
                     : Value(b_.create<g::ConvOp>(loc, typed(convOut), v, weights, bias, Value(),
                                                  b_.getDenseI64ArrayAttr(ones), b_.getDenseI64ArrayAttr(convPads),
                                                  b_.getDenseI64ArrayAttr(dilations), b_.getI64IntegerAttr(group),
                                                  nullptr, nullptr));
    if (cropped) { // negative pads: crop
      SmallVector<int64_t> starts{0, 0}, ends{nImages, cout}, steps(2 + S, 1), cropShape{nImages, cout};
      for (size_t a = 0; a < S; ++a) {
        starts.push_back(std::max<int64_t>(0, -before[a]));
        ends.push_back(starts.back() + out[a]);
        cropShape.push_back(out[a]);
      }
      y = b_.create<g::SliceOp>(loc, typed(cropShape), y, b_.getDenseI64ArrayAttr(starts), b_.getDenseI64ArrayAttr(ends),
                                b_.getDenseI64ArrayAttr(steps));
    }
    return oneD ? Value(b_.create<g::ReshapeOp>(loc, type, y)) : y;
  }

  // A 2-D average pool ([N, C, H, W] -> `type`) as the kernel computes it: the sum over the whole
  // window (padding counted as zeros) divided by the window's area. Where ONNX divides by less,
  // a constant [Ho, Wo] map rescales: excluding padding (count_include_pad=0, ONNX's default)
  // it counts the window's input pixels; with ceil_mode the last windows, which may run past the
  // padded input, count only what lies inside it (padding included or not). Those windows get end
  // padding so the kernel sees whole windows; `type`'s Ho/Wo come from ONNX's shape inference.
  Value averagePool(Location loc, RankedTensorType type, Value x, std::vector<int64_t> kernel,
                    std::vector<int64_t> strides, std::vector<int64_t> pads, bool countIncludePad) {
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    if (xt.getRank() != 4 || !type.getElementType().isF32()) // no kernel either way: code generation says so
      return b_.create<g::AvgPoolOp>(loc, type, x, b_.getDenseI64ArrayAttr(kernel), b_.getDenseI64ArrayAttr(strides),
                                     b_.getDenseI64ArrayAttr(pads), b_.getBoolAttr(false), b_.getBoolAttr(countIncludePad));
    std::vector<std::vector<double>> counts(2);
    bool whole = true;
    for (int a = 0; a < 2; ++a) {
      const int64_t size = xt.getDimSize(2 + a), outSize = type.getDimSize(2 + a);
      const int64_t begin = pads[size_t(a)], end = pads[size_t(a) + 2], k = kernel[size_t(a)], s = strides[size_t(a)];
      // The last window's end past the padded input: padded further for the kernel.
      pads[size_t(a) + 2] += std::max<int64_t>(0, (outSize - 1) * s + k - (size + begin + end));
      for (int64_t o = 0; o < outSize; ++o) {
        const int64_t from = o * s - begin, to = from + k; // window in input coordinates
        const int64_t lo = countIncludePad ? -begin : 0, hi = countIncludePad ? size + end : size;
        const int64_t inside = std::max<int64_t>(0, std::min(to, hi) - std::max(from, lo));
        counts[size_t(a)].push_back(double(inside));
        whole &= inside == k;
      }
    }
    Value sum = b_.create<g::AvgPoolOp>(loc, type, x, b_.getDenseI64ArrayAttr(kernel), b_.getDenseI64ArrayAttr(strides),
                                        b_.getDenseI64ArrayAttr(pads), b_.getBoolAttr(false), b_.getBoolAttr(true));
    if (whole) return sum;
    const int64_t ho = type.getDimSize(2), wo = type.getDimSize(3);
    std::vector<float> scale;
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j) {
        const double inside = counts[0][size_t(i)] * counts[1][size_t(j)];
        scale.push_back(inside > 0 ? float(double(kernel[0] * kernel[1]) / inside) : 0.0f);
      }
    Value factors = Composer{b_, loc, {}}.floats({ho, wo}, scale, "avg_pool_divisors");
    return b_.create<g::MulOp>(loc, type, sum, factors);
  }

  static std::string shapeText(RankedTensorType t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.getRank(); ++i) s += (i ? "x" : "") + std::to_string(t.getDimSize(i));
    return s + "]";
  }

  // The values of an 8-bit integer type (uint8 or int8).
  static std::pair<float, float> eightBitRange(Type integer) {
    return integer.isSignlessInteger(8) ? std::pair<float, float>(-128.0f, 127.0f) : std::pair<float, float>(0.0f, 255.0f);
  }
  // The values of a uint8 or int8 constant (a zero point, quantized weights); nullopt for none or
  // another type.
  static std::optional<std::vector<double>> eightBitValues(const onnx::TensorProto *t) {
    const bool isSigned = t && t->data_type() == onnx::TensorProto::INT8;
    std::optional<std::vector<char>> bytes =
        t && (isSigned || t->data_type() == onnx::TensorProto::UINT8) ? tensorData(*t) : std::nullopt;
    if (!bytes) return std::nullopt;
    std::vector<double> out;
    for (char c : *bytes) out.push_back(isSigned ? double(int8_t(c)) : double(uint8_t(c)));
    return out;
  }
  // A 1-D per-channel parameter of more than one value viewed as [C, 1, ...] (`trailing` ones), so
  // that it broadcasts along the axis that many dims from the end.
  Value alongAxis(Location loc, Value v, int64_t trailing) {
    auto t = llvm::cast<RankedTensorType>(v.getType());
    if (t.getRank() != 1 || t.getDimSize(0) == 1 || trailing <= 0) return v;
    SmallVector<int64_t> shape(size_t(trailing + 1), 1);
    shape[0] = t.getDimSize(0);
    return b_.create<g::ReshapeOp>(loc, RankedTensorType::get(shape, t.getElementType()), v);
  }

  // ONNX's linear quantization of float32 x into `type` (uint8 or int8): saturate(round half to
  // even(x / scale) + zero), `zero` a float32 zero point (or null), all broadcasting onto x.
  Value quantize(Location loc, Value x, Value scale, Value zero, RankedTensorType type) {
    return b_.create<g::CastOp>(loc, type, quantizedFloats(loc, x, scale, zero, type.getElementType(), false));
  }
  // The same before the cast: float32 integers in the range of `integer` (uint8 or int8).
  // `multiplier` (QLinear requantization): x * scale instead of x / scale.
  Value quantizedFloats(Location loc, Value x, Value scale, Value zero, Type integer, bool multiplier) {
    auto f32 = RankedTensorType::get(llvm::cast<RankedTensorType>(x.getType()).getShape(), b_.getF32Type());
    const auto [lo, hi] = eightBitRange(integer);
    Value q = multiplier ? Value(b_.create<g::MulOp>(loc, f32, x, scale)) : Value(b_.create<g::DivOp>(loc, f32, x, scale));
    q = b_.create<g::RoundingOp>(loc, f32, q, b_.getStringAttr("round"));
    if (zero) q = b_.create<g::AddOp>(loc, f32, q, zero);
    return b_.create<g::ClipOp>(loc, f32, q, b_.getF32FloatAttr(lo), b_.getF32FloatAttr(hi));
  }

  // The float32 integers that quantize() narrowed into `v`, or null when `v` is not its result:
  // a cast of a Clip within the 8-bit type's range of a rounded value (plus a zero point).
  Value quantizedAsFloat(Value v) {
    auto narrow = v.getDefiningOp<g::CastOp>();
    auto clip = narrow ? narrow.getInput().getDefiningOp<g::ClipOp>() : g::ClipOp();
    if (!clip) return {};
    Value rounded = clip.getInput();
    if (auto add = rounded.getDefiningOp<g::AddOp>()) rounded = add.getLhs();
    auto round = rounded.getDefiningOp<g::RoundingOp>();
    const auto [lo, hi] = eightBitRange(llvm::cast<RankedTensorType>(v.getType()).getElementType());
    const bool eightBits = llvm::cast<RankedTensorType>(v.getType()).getElementType().isInteger(8);
    if (!round || !eightBits || clip.getMin().convertToFloat() < lo || clip.getMax().convertToFloat() > hi) return {};
    return clip.getResult();
  }

  // A reduction (axes sorted, distinct, non-negative) to `type`. The reduce kernel takes axes
  // that are adjacent once size-1 axes are ignored; others are moved behind the kept axes first
  // (a transpose), reduced as the trailing axes, and reshaped to `type` (keepdims' size-1 axes).
  Value reduce(Location loc, Value x, const char *kind, const std::vector<int64_t> &axes, bool keepdims,
               RankedTensorType type) {
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    const int64_t rank = xt.getRank();
    auto reduced = [&](int64_t d) { return std::binary_search(axes.begin(), axes.end(), d); };
    std::vector<bool> runs; // reduced or not, for each axis larger than 1, in order
    for (int64_t d = 0; d < rank; ++d)
      if (xt.getDimSize(d) != 1) runs.push_back(reduced(d));
    const auto first = std::find(runs.begin(), runs.end(), true);
    const bool adjacent = std::find(std::find(first, runs.end(), false), runs.end(), true) == runs.end();
    if (adjacent)
      return b_.create<g::ReduceOp>(loc, type, x, b_.getStringAttr(kind), b_.getDenseI64ArrayAttr(axes), b_.getBoolAttr(keepdims));
    std::vector<int64_t> perm, trailing;
    SmallVector<int64_t> kept;
    for (int64_t d = 0; d < rank; ++d)
      if (!reduced(d)) {
        perm.push_back(d);
        kept.push_back(xt.getDimSize(d));
      }
    for (int64_t d : axes) {
      trailing.push_back(int64_t(perm.size()));
      perm.push_back(d);
    }
    std::sort(trailing.begin(), trailing.end());
    Value r = b_.create<g::ReduceOp>(loc, RankedTensorType::get(kept, type.getElementType()), transposed(loc, x, perm),
                                     b_.getStringAttr(kind), b_.getDenseI64ArrayAttr(trailing), b_.getBoolAttr(false));
    return b_.create<g::ReshapeOp>(loc, type, r);
  }

  // ReduceProd: |product| = exp(sum of ln|x|) (a zero gives ln 0 = -inf, so 0), its sign -1 when
  // the count of negative elements is odd: 1 - 4 (c/2 - floor(c/2)).
  Value reduceProduct(Location loc, Value x, const std::vector<int64_t> &axes, bool keepdims, RankedTensorType type) {
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    auto c = [&](double v) { return scalar(v, type.getElementType(), loc); };
    Value logs = b_.create<g::LogOp>(loc, xt, b_.create<g::AbsOp>(loc, xt, x));
    Value magnitude = b_.create<g::ExpOp>(loc, type, reduce(loc, logs, "sum", axes, keepdims, type));
    Value negative = b_.create<g::CompareOp>(loc, RankedTensorType::get(xt.getShape(), b_.getI1Type()), x, c(0.0),
                                             b_.getStringAttr("lt"));
    Value count = reduce(loc, b_.create<g::CastOp>(loc, xt, negative), "sum", axes, keepdims, type);
    Value half = b_.create<g::MulOp>(loc, type, count, c(0.5));
    Value odd = b_.create<g::SubOp>(loc, type, half, b_.create<g::RoundingOp>(loc, type, half, b_.getStringAttr("floor")));
    Value sign = b_.create<g::AddOp>(loc, type, b_.create<g::MulOp>(loc, type, odd, c(-4.0)), c(1.0));
    return b_.create<g::MulOp>(loc, type, magnitude, sign);
  }

  // MaxPool on [N, C, H, W], dilated windows too (the pooling kernel has none). When the stride is a
  // multiple of the dilation on both axes, every window reads one sub-grid of the input (the pixels
  // at r, r + d, ... with r set by the pads): that sub-grid, then an undilated pool of it. Else,
  // for windows of up to 16 taps, the maximum of the taps' strided slices of the input padded with
  // -inf. Anything else stays a dilated max_pool, which code generation reports.
  Value maxPool(Location loc, RankedTensorType type, Value x, const std::vector<int64_t> &kernel,
                const std::vector<int64_t> &strides, const std::vector<int64_t> &pads, bool ceil,
                const std::vector<int64_t> &dilations) {
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    auto attr = [&](const std::vector<int64_t> &v) { return b_.getDenseI64ArrayAttr(v); };
    auto plain = [&] {
      return Value(b_.create<g::MaxPoolOp>(loc, type, x, attr(kernel), attr(strides), attr(pads), b_.getBoolAttr(ceil),
                                           attr(dilations)));
    };
    if (xt.getRank() != 4 || kernel.size() != 2 || (dilations[0] == 1 && dilations[1] == 1)) return plain();
    const int64_t outH = type.getDimSize(2), outW = type.getDimSize(3);
    const std::vector<int64_t> out = {outH, outW}, size = {xt.getDimSize(2), xt.getDimSize(3)};
    auto typed = [&](ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, xt.getElementType()); };
    if (strides[0] % dilations[0] == 0 && strides[1] % dilations[1] == 0) {
      std::vector<int64_t> first(2), count(2), begin(2), end(2), step(2);
      for (int a = 0; a < 2; ++a) {
        const int64_t d = dilations[size_t(a)], p = pads[size_t(a)];
        first[size_t(a)] = (d - p % d) % d;
        count[size_t(a)] = std::max<int64_t>(0, (size[size_t(a)] - first[size_t(a)] + d - 1) / d);
        begin[size_t(a)] = (p + first[size_t(a)]) / d;
        step[size_t(a)] = strides[size_t(a)] / d;
        end[size_t(a)] = std::max<int64_t>(0, (out[size_t(a)] - 1) * step[size_t(a)] + kernel[size_t(a)] -
                                                  count[size_t(a)] - begin[size_t(a)]);
      }
      if (count[0] < 1 || count[1] < 1) return plain();
      // The sub-grid: the input from (first[0], first[1]) on (whole rows: a slice of few runs), every
      // d-th pixel of that picked by a 1x1 max pool of stride d (DMA moves whole pixels of a feature
      // map; a slice with element steps would be a run per element).
      Value grid = x;
      if (first[0] || first[1])
        grid = b_.create<g::SliceOp>(loc, typed({xt.getDimSize(0), xt.getDimSize(1), size[0] - first[0], size[1] - first[1]}),
                                     x, attr({0, 0, first[0], first[1]}),
                                     attr({xt.getDimSize(0), xt.getDimSize(1), size[0], size[1]}), attr({1, 1, 1, 1}));
      grid = b_.create<g::MaxPoolOp>(loc, typed({xt.getDimSize(0), xt.getDimSize(1), count[0], count[1]}), grid,
                                     attr({1, 1}), attr({dilations[0], dilations[1]}), attr({0, 0, 0, 0}),
                                     b_.getBoolAttr(false), attr({1, 1}));
      return b_.create<g::MaxPoolOp>(loc, type, grid, attr(kernel), attr(step), attr({begin[0], begin[1], end[0], end[1]}),
                                     b_.getBoolAttr(false), attr({1, 1}));
    }
    if (kernel[0] * kernel[1] > 16) return plain();
    Value result;
    for (Value tap : poolingTaps(loc, type, x, kernel, strides, pads, dilations))
      result = result ? Value(b_.create<g::MaxOp>(loc, type, result, tap)) : tap;
    return result;
  }

  // The input values under each tap of a 2-D pooling window, in the window's row-major order:
  // tap (i, j) is [N, C, Ho, Wo], its value at (y, x) the input at (y*sh + i*dh - pt,
  // x*sw + j*dw - pl), -inf outside the input (a -inf pad, as far as the last window reaches).
  std::vector<Value> poolingTaps(Location loc, RankedTensorType type, Value x, const std::vector<int64_t> &kernel,
                                 const std::vector<int64_t> &strides, const std::vector<int64_t> &pads,
                                 const std::vector<int64_t> &dilations) {
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    auto attr = [&](const std::vector<int64_t> &v) { return b_.getDenseI64ArrayAttr(v); };
    const int64_t outH = type.getDimSize(2), outW = type.getDimSize(3);
    const std::vector<int64_t> out = {outH, outW}, size = {xt.getDimSize(2), xt.getDimSize(3)};
    std::vector<int64_t> padEnd(2);
    for (int a = 0; a < 2; ++a) // the last window's last tap inside the padded input
      padEnd[size_t(a)] = std::max<int64_t>(pads[size_t(a) + 2], (out[size_t(a)] - 1) * strides[size_t(a)] +
                                                                      (kernel[size_t(a)] - 1) * dilations[size_t(a)] + 1 -
                                                                      size[size_t(a)] - pads[size_t(a)]);
    const int64_t ph = size[0] + pads[0] + padEnd[0], pw = size[1] + pads[1] + padEnd[1];
    Value padded = x;
    if (ph != size[0] || pw != size[1])
      padded = b_.create<g::PadOp>(loc, RankedTensorType::get({xt.getDimSize(0), xt.getDimSize(1), ph, pw}, xt.getElementType()),
                                   x, attr({0, 0, pads[0], pads[1], 0, 0, padEnd[0], padEnd[1]}),
                                   b_.getF32FloatAttr(-std::numeric_limits<float>::infinity()), b_.getStringAttr("constant"));
    std::vector<Value> taps;
    for (int64_t i = 0; i < kernel[0]; ++i)
      for (int64_t j = 0; j < kernel[1]; ++j) {
        const int64_t top = i * dilations[0], left = j * dilations[1];
        taps.push_back(b_.create<g::SliceOp>(loc, type, padded, attr({0, 0, top, left}),
                                             attr({xt.getDimSize(0), xt.getDimSize(1), top + (outH - 1) * strides[0] + 1,
                                                   left + (outW - 1) * strides[1] + 1}),
                                             attr({1, 1, strides[0], strides[1]})));
      }
    return taps;
  }

  // MaxPool with its Indices output (2-D, float32): the maximum of the window's taps in float32
  // (exact; the pooling kernel works in float16), and for each output the flat input index
  // (((n*C + c)*H + h)*W + w; storage_order 1: w*H + h within the plane) of the first tap in
  // the window's row-major order holding it, as ONNX Runtime picks among equal values: a Where
  // per tap, from the last tap back to the first. Indices are computed in float32 (exact: the
  // support check keeps the tensor under 2^24 elements), then cast to int64.
  void importMaxPoolWithIndices(const onnx::NodeProto &n, Location loc, const std::vector<int64_t> &kernel,
                                const std::vector<int64_t> &strides, const std::vector<int64_t> &pads,
                                const std::vector<int64_t> &dilations) {
    Value x = value(n.input(0), "node '" + n.name() + "'");
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    auto type = typeOf(n.output(0), "output of node '" + n.name() + "'");
    Composer ops{b_, loc, b_.getF32Type()};
    const int64_t batch = xt.getDimSize(0), channels = xt.getDimSize(1), h = xt.getDimSize(2), w = xt.getDimSize(3);
    const int64_t outH = type.getDimSize(2), outW = type.getDimSize(3);
    const bool columnMajor = intAttr(n, "storage_order", 0) != 0;
    const std::vector<Value> taps = poolingTaps(loc, type, x, kernel, strides, pads, dilations);
    Value values;
    for (Value tap : taps) values = values ? Value(b_.create<g::MaxOp>(loc, type, values, tap)) : tap;
    Value index;
    for (size_t t = taps.size(); t-- > 0;) {
      const int64_t i = int64_t(t) / kernel[1], j = int64_t(t) % kernel[1];
      std::vector<float> at(size_t(outH * outW));
      for (int64_t y = 0; y < outH; ++y)
        for (int64_t xo = 0; xo < outW; ++xo) {
          const int64_t row = y * strides[0] + i * dilations[0] - pads[0], col = xo * strides[1] + j * dilations[1] - pads[1];
          at[size_t(y * outW + xo)] = float(columnMajor ? col * h + row : row * w + col);
        }
      Value tapIndex = ops.floats({1, 1, outH, outW}, at, n.name() + "_tap" + std::to_string(t));
      index = index ? ops.where(ops.compare("eq", taps[t], values), tapIndex, index) : tapIndex;
    }
    std::vector<float> planes(size_t(batch * channels));
    for (size_t p = 0; p < planes.size(); ++p) planes[p] = float(int64_t(p) * h * w);
    index = ops.add(index, ops.floats({batch, channels, 1, 1}, planes, n.name() + "_planes"));
    values_[n.output(0)] = values;
    values_[n.output(1)] = ops.cast(index, b_.getIntegerType(64));
  }

  // v with its axes permuted: result axis i is v's axis perm[i].
  Value transposed(Location loc, Value v, ArrayRef<int64_t> perm) { return Composer{b_, loc, {}}.transpose(v, perm); }

  // A TfIdfVectorizer of token ids, composed as TfIdf.h says: [tokens] -> [columns] or [rows,
  // tokens] -> [rows, columns]. The comparisons are in the tokens' type; an n-gram with a token an
  // int32 input cannot hold never matches (its column stays 0). Counts are exact in float32.
  Value tfIdf(Location loc, const onnx::NodeProto &n, const std::string &name, Value x) {
    auto parsed = detail::readTfIdf(n);
    if (auto *why = std::get_if<std::string>(&parsed)) throw ImportError{"node '" + name + "': " + *why};
    const detail::TfIdfTables &t = std::get<detail::TfIdfTables>(parsed);
    const Composer ops{b_, loc, b_.getF32Type()};
    const SmallVector<int64_t> xs = Composer::shapeOf(x);
    const int64_t rows = xs.size() == 2 ? xs[0] : 1, tokens = xs.back();
    Value ids = ops.reshape(x, {rows, tokens});
    const Type token = Composer::elementOf(x);
    const bool narrow = token.isInteger(32);
    auto tokenConstant = [&](const std::vector<int64_t> &values, const std::string &what) -> Value {
      std::vector<char> bytes(values.size() * (narrow ? 4 : 8));
      for (size_t i = 0; i < values.size(); ++i) {
        if (narrow) reinterpret_cast<int32_t *>(bytes.data())[i] = int32_t(values[i]);
        else reinterpret_cast<int64_t *>(bytes.data())[i] = values[i];
      }
      return b_.create<g::ConstantOp>(
          loc, g::makeConstantAttr(RankedTensorType::get({int64_t(values.size())}, token), bytes, what));
    };
    std::vector<Value> counted;                       // [rows, n-grams of one length] each
    std::vector<int32_t> source(size_t(t.outputs), -1); // per column: its count among the counted
    int32_t placed = 0;
    for (int64_t len = t.minGram; len <= std::min<int64_t>(t.maxGram, int64_t(t.grams.size())); ++len) {
      const auto &grams = t.grams[size_t(len - 1)];
      std::vector<size_t> kept; // the n-grams the tokens' type can hold
      for (size_t i = 0; i < grams.size(); ++i)
        if (!narrow || std::all_of(grams[i].begin(), grams[i].end(), [](int64_t v) { return v == int64_t(int32_t(v)); }))
          kept.push_back(i);
      const int64_t pool = int64_t(kept.size());
      std::vector<Value> kth; // the n-grams' k-th tokens, one constant per k for every distance
      for (int64_t k = 0; pool > 0 && k < len; ++k) {
        std::vector<int64_t> tokensAt;
        for (size_t i : kept) tokensAt.push_back(grams[i][size_t(k)]);
        kth.push_back(tokenConstant(tokensAt, name + "/pool" + std::to_string(len) + "_" + std::to_string(k)));
      }
      Value sum;
      for (int64_t d = 1; pool > 0 && d <= (len == 1 ? 1 : t.maxSkip + 1); ++d) {
        const int64_t starts = tokens - (len - 1) * d;
        if (starts < 1) break;
        Value match;
        for (int64_t k = 0; k < len; ++k) {
          Value at = ops.reshape(ops.slice(ids, {0, k * d}, {rows, k * d + starts}), {rows, starts, 1});
          Value same = ops.compare("eq", at, kth[size_t(k)]);
          match = match ? ops.logicalAnd(match, same) : same;
        }
        Value matches = b_.create<g::ReduceOp>(loc, ops.typed({rows, pool}), ops.cast(match, b_.getF32Type()),
                                               b_.getStringAttr("sum"), b_.getDenseI64ArrayAttr({1}), b_.getBoolAttr(false));
        sum = sum ? ops.add(sum, matches) : matches;
      }
      if (!sum) continue;
      counted.push_back(sum);
      for (size_t j = 0; j < kept.size(); ++j) source[size_t(t.columns[size_t(len - 1)][kept[j]])] = placed + int32_t(j);
      placed += int32_t(pool);
    }
    // A last column of zeros for the columns no counted n-gram has.
    counted.push_back(ops.floats({rows, 1}, std::vector<float>(size_t(rows), 0.0f), name + "/uncounted"));
    for (int32_t &s : source)
      if (s < 0) s = placed;
    Value all = counted.size() == 1 ? counted[0] : ops.concat(counted, 1);
    Value y = b_.create<g::GatherOp>(loc, ops.typed({rows, t.outputs}), all, ops.int32s(source, name + "/columns"),
                                     b_.getI64IntegerAttr(1), b_.getBoolAttr(false));
    if (t.mode == "IDF") y = ops.cast(ops.compare("gt", y, ops.constant(0.0)), b_.getF32Type());
    if (t.mode != "TF" && !t.weights.empty())
      y = ops.mul(y, ops.floats({t.outputs}, t.weights, name + "/weights"));
    return xs.size() == 2 ? y : ops.reshape(y, {t.outputs});
  }

  // An ai.onnx.ml TreeEnsembleRegressor's or TreeEnsembleClassifier's scores, composed as
  // TreeEnsemble.h says: the branches' features
  // gathered [N, trees * branches] and compared with their thresholds (1 or 0; only the
  // comparisons the modes use; GTE, GT and NEQ as 1 minus LT, LE and EQ), a NaN feature's decision
  // replaced by missing_value_tracks_true, then per tree [N, branches] x turns [branches, leaves]
  // on the cube (exact: 0, 1 and +-1 in float16, sums in float32), compared with each leaf's true
  // turns (the leaf reached: 1), times the leaves' weights, summed over trees and leaves (averaged
  // with AVERAGE): the scores [rows, targets or classes] before the base values. `t` gets the
  // tables; with `carried`, also how many reached leaves list a weight per target [rows, targets].
  Value treeEnsemble(Location loc, const onnx::NodeProto &n, Value x, detail::TreeTables &t, Value *carried = nullptr) {
    Composer ops{b_, loc, b_.getF32Type()};
    if (!ops.elementOf(x).isF32()) x = ops.cast(x, b_.getF32Type());
    const int64_t rows = ops.shapeOf(x)[0];
    auto parsed = detail::readTreeEnsemble(n, ops.shapeOf(x)[1]);
    if (auto *why = std::get_if<std::string>(&parsed)) throw ImportError{*why};
    t = std::move(std::get<detail::TreeTables>(parsed));
    const int64_t T = t.trees, B = t.branches, L = t.leaves, K = t.targets;
    Value index = ops.int32s(t.feature, "tree_features");
    Value features = b_.create<g::GatherOp>(loc, ops.typed({rows, T * B}), x, index, b_.getI64IntegerAttr(1),
                                            b_.getBoolAttr(false));
    Value thresholds = ops.floats({T * B}, t.threshold, "tree_thresholds");
    auto decided = [&](const char *kind) { return ops.cast(ops.compare(kind, features, thresholds), b_.getF32Type()); };
    // decision = bias + sum over comparisons of weight * comparison, per branch.
    std::map<std::string, std::vector<float>> weightOf;
    std::vector<float> bias(t.mode.size(), 0.0f);
    static const std::map<std::string, std::pair<const char *, float>> kModes = {
        {"LEQ", {"le", 1}}, {"LT", {"lt", 1}}, {"EQ", {"eq", 1}}, {"GT", {"le", -1}}, {"GTE", {"lt", -1}}, {"NEQ", {"eq", -1}}};
    bool negated = false, nanTrue = false;
    for (size_t i = 0; i < t.mode.size(); ++i) {
      const auto &[kind, weight] = kModes.at(t.mode[i]);
      auto &w = weightOf[kind];
      w.resize(t.mode.size(), 0.0f);
      w[i] = weight;
      bias[i] = weight < 0 ? 1.0f : 0.0f;
      negated |= weight < 0;
      nanTrue |= t.nanTakesTrue[i] != 0;
    }
    Value decision;
    if (weightOf.size() == 1 && !negated) {
      decision = decided(weightOf.begin()->first.c_str());
    } else {
      decision = ops.floats({T * B}, bias, "tree_decision_bias");
      for (const auto &[kind, w] : weightOf)
        decision = ops.add(decision, ops.mul(decided(kind.c_str()), ops.floats({T * B}, w, "tree_decision_weights")));
    }
    if (negated || nanTrue) { // NaN compares false; its decision is missing_value_tracks_true
      Value isNumber = ops.cast(ops.compare("eq", features, features), b_.getF32Type());
      Value nanDecision = ops.floats({T * B}, t.nanTakesTrue, "tree_nan_decisions");
      decision = ops.add(nanDecision, ops.mul(isNumber, ops.sub(decision, nanDecision)));
    }
    Value perTree = ops.transpose(ops.reshape(decision, {rows, T, B}), {1, 0, 2});
    Value agreed = b_.create<g::MatMulOp>(loc, ops.typed({T, rows, L}), perTree, ops.floats({T, B, L}, t.turns, "tree_turns"),
                                          nullptr, nullptr);
    Value reached = ops.cast(ops.compare("eq", agreed, ops.floats({T, 1, L}, t.trueTurns, "tree_leaf_true_turns")),
                             b_.getF32Type());
    Value weighted = ops.mul(ops.reshape(reached, {T, rows, L, 1}), ops.floats({T, 1, L, K}, t.weights, "tree_leaf_weights"));
    Value y = reduce(loc, weighted, "sum", {0, 2}, false, ops.typed({rows, K}));
    if (carried) {
      Value listed = ops.mul(ops.reshape(reached, {T, rows, L, 1}), ops.floats({T, 1, L, K}, t.carries, "tree_leaf_carries"));
      *carried = reduce(loc, listed, "sum", {0, 2}, false, ops.typed({rows, K}));
    }
    if (t.average) y = ops.mul(y, ops.constant(1.0 / double(T)));
    return y;
  }

  // A classifier's helpers (TreeEnsembleClassifier, LinearClassifier): an int64 label constant;
  // the label of each row's first highest score (ONNX Runtime's arg max); the scores through
  // post_transform NONE, SOFTMAX or LOGISTIC (the check refused the others).
  Value labelConstant(Location loc, int64_t label) {
    return b_.create<g::ConstantOp>(loc, g::makeConstantAttr(RankedTensorType::get({}, b_.getI64Type()),
                                                             ArrayRef<char>(reinterpret_cast<const char *>(&label), 8),
                                                             "class_label"));
  }
  Value labelOfBest(Location loc, Value scores, const std::vector<int64_t> &labels) {
    const int64_t rows = Composer::shapeOf(scores)[0];
    Value best = b_.create<g::ArgReduceOp>(loc, RankedTensorType::get({rows}, b_.getI64Type()), scores,
                                           b_.getStringAttr("max"), b_.getI64IntegerAttr(1), b_.getBoolAttr(false),
                                           b_.getBoolAttr(false));
    Value table = b_.create<g::ConstantOp>(
        loc, g::makeConstantAttr(RankedTensorType::get({int64_t(labels.size())}, b_.getI64Type()),
                                 ArrayRef<char>(reinterpret_cast<const char *>(labels.data()), labels.size() * 8),
                                 "class_labels"));
    return b_.create<g::GatherOp>(loc, RankedTensorType::get({rows}, b_.getI64Type()), table, best, b_.getI64IntegerAttr(0),
                                  b_.getBoolAttr(false));
  }
  Value postTransformed(Location loc, Value scores, const std::string &post) {
    if (post == "SOFTMAX")
      return b_.create<g::SoftmaxOp>(loc, scores.getType(), scores, b_.getStringAttr("softmax"), b_.getDenseI64ArrayAttr({1}));
    if (post == "LOGISTIC") return b_.create<g::SigmoidOp>(loc, scores.getType(), scores);
    return scores;
  }

  // A two-class TreeEnsembleClassifier as ONNX Runtime (1.30) scores one, row by row, from the
  // classes' sums s0, s1 and whether a reached leaf weighs each (h0, h1). Base values: two with
  // h1 make s1 = base1 + s0 and s0 = -s1 (ONNX Runtime's own formula), else add to the sums; one
  // adds to s0. The row keeps two scores when h1 (always with two base values), else one: v = s0
  // if h0, else 0. The label: p (s1 with two scores and h1, else v) above 0.5 when every weight
  // is for one class and none is negative, above 0 otherwise; the first label else the second
  // (0 and 1 when both classes are weighed). The scores: two (a class without weight: 0) through
  // post_transform; one as [1 - v, v] in the non-negative case, else [-v, v] (LOGISTIC: of each).
  void twoClassEnsemble(Location loc, const onnx::NodeProto &n, Value sums, Value carried, const detail::TreeTables &t) {
    Composer ops{b_, loc, b_.getF32Type()};
    const int64_t rows = ops.shapeOf(sums)[0];
    auto column = [&](Value v, int64_t c) { return ops.slice(v, {0, c}, {rows, c + 1}); };
    Value s0 = column(sums, 0), s1 = column(sums, 1), zero = ops.constant(0.0);
    Value h0 = ops.compare("gt", column(carried, 0), zero), h1 = ops.compare("gt", column(carried, 1), zero);
    if (t.baseValues == 2) {
      Value base0 = ops.constant(t.base[0]), base1 = ops.constant(t.base[1]);
      Value combined = ops.add(base1, s0);
      s1 = ops.where(h1, combined, ops.add(s1, base1));
      s0 = ops.where(h1, ops.sub(zero, combined), ops.add(s0, base0));
    } else if (t.baseValues == 1) {
      s0 = ops.add(s0, ops.constant(t.base[0]));
    }
    Value v0 = ops.where(h0, s0, zero), v1 = ops.where(h1, s1, zero);
    Value p = ops.where(h1, s1, v0);
    const bool nonNegative = t.oneClassWeighed && t.weightsNonNegative;
    Value positive = ops.compare("gt", p, ops.constant(nonNegative ? 0.5 : 0.0));
    const std::vector<int64_t> labels = t.oneClassWeighed ? t.labels : std::vector<int64_t>{0, 1};
    Value y = ops.where(positive, labelConstant(loc, labels[1]), labelConstant(loc, labels[0]));
    values_[n.output(0)] = ops.reshape(y, {rows});
    if (n.output_size() < 2 || n.output(1).empty()) return;
    const std::string post = stringAttr(n, "post_transform", "NONE");
    Value two = postTransformed(loc, ops.concat({v0, v1}, 1), post);
    Value one = nonNegative ? ops.concat({ops.sub(ops.constant(1.0), v0), v0}, 1) : ops.concat({ops.sub(zero, v0), v0}, 1);
    if (!nonNegative && post == "LOGISTIC") one = b_.create<g::SigmoidOp>(loc, one.getType(), one);
    // (Two base values keep both scores in every row.)
    values_[n.output(1)] = t.baseValues == 2 ? two : ops.where(h1, two, one);
  }

  // ai.onnx.ml's Scaler ((x - offset) * scale), LinearRegressor (x times each target's
  // coefficients summed over the features on the vector unit, in float32 as ONNX Runtime; plus
  // the intercepts), Binarizer (1 where x > threshold, else 0) and Normalizer (each row divided by
  // its MAX, L1 or L2 norm where that is not 0). The check has validated the attributes' sizes
  // (mlOperatorProblem).
  Value mlOperator(Location loc, const onnx::NodeProto &n, Value x) {
    Composer ops{b_, loc, b_.getF32Type()};
    if (n.op_type() == "Binarizer") {
      Composer same{b_, loc, ops.elementOf(x)};
      return same.where(same.compare("gt", x, same.constant(floatAttr(n, "threshold", 0.0f))), same.constant(1.0),
                        same.constant(0.0));
    }
    if (!ops.elementOf(x).isF32()) x = ops.cast(x, b_.getF32Type());
    if (n.op_type() == "Normalizer") { // per row (a vector is one row), as ONNX Runtime: a norm of 0 leaves it
      const std::string norm = stringAttr(n, "norm", "MAX");
      const int64_t axis = int64_t(ops.shapeOf(x).size()) - 1;
      SmallVector<int64_t> kept = ops.shapeOf(x);
      kept[size_t(axis)] = 1;
      Value by = norm == "MAX"  ? reduce(loc, x, "max", {axis}, true, ops.typed(kept))
                 : norm == "L1" ? reduce(loc, ops.abs(x), "sum", {axis}, true, ops.typed(kept))
                                : b_.create<g::SqrtOp>(loc, ops.typed(kept),
                                                       reduce(loc, ops.mul(x, x), "sum", {axis}, true, ops.typed(kept)));
      return ops.where(ops.compare("eq", by, ops.constant(0.0)), x, ops.div(x, by));
    }
    if (n.op_type() == "Scaler") {
      auto perFeature = [&](const char *name) {
        const std::vector<float> v = detail::floatsOf(n, name);
        return ops.floats({int64_t(v.size())}, v, std::string("scaler_") + name);
      };
      return ops.mul(ops.sub(x, perFeature("offset")), perFeature("scale"));
    }
    const int64_t targets = std::max<int64_t>(1, intAttr(n, "targets", 1));
    return linearScores(loc, n, x, targets);
  }

  // A linear model's scores [rows, targets]: x times each target's coefficients, summed over the
  // features on the vector unit (float32), plus the intercepts.
  Value linearScores(Location loc, const onnx::NodeProto &n, Value x, int64_t targets) {
    Composer ops{b_, loc, b_.getF32Type()};
    const int64_t rows = ops.shapeOf(x)[0], features = ops.shapeOf(x)[1];
    Value products = ops.mul(ops.reshape(x, {rows, 1, features}),
                             ops.floats({1, targets, features}, detail::floatsOf(n, "coefficients"), "linear_coefficients"));
    Value y = reduce(loc, products, "sum", {2}, false, ops.typed({rows, targets}));
    const std::vector<float> intercepts = detail::floatsOf(n, "intercepts");
    return intercepts.empty() ? y : ops.add(y, ops.floats({targets}, intercepts, "linear_intercepts"));
  }

  // ai.onnx.ml's LinearClassifier as ONNX Runtime computes it: the classes are the intercepts'
  // count (the check matched the coefficients and labels to it). Several: the label is the first
  // highest score's, the scores through post_transform. One: the label is the second's when the
  // score s is above 0, else the first's; the scores [1 - v, v] with v = s, or its logistic.
  void linearClassifier(Location loc, const onnx::NodeProto &n, Value x) {
    Composer ops{b_, loc, b_.getF32Type()};
    if (!ops.elementOf(x).isF32()) x = ops.cast(x, b_.getF32Type());
    const auto *labelList = attr(n, "classlabels_ints");
    const std::vector<int64_t> labels(labelList->ints().begin(), labelList->ints().end());
    const int64_t classes = attr(n, "intercepts")->floats_size(), rows = ops.shapeOf(x)[0];
    Value s = linearScores(loc, n, x, classes);
    const std::string post = stringAttr(n, "post_transform", "NONE");
    Value label, scores;
    if (classes == 1) { // (SOFTMAX of one score: the score itself, as ONNX Runtime)
      label = ops.reshape(ops.where(ops.compare("gt", s, ops.constant(0.0)), labelConstant(loc, labels[1]),
                                    labelConstant(loc, labels[0])),
                          {rows});
      Value v = post == "LOGISTIC" ? postTransformed(loc, s, post) : s;
      scores = ops.concat({ops.sub(ops.constant(1.0), v), v}, 1);
    } else {
      label = labelOfBest(loc, s, labels);
      scores = postTransformed(loc, s, post);
    }
    values_[n.output(0)] = label;
    if (n.output_size() > 1 && !n.output(1).empty()) values_[n.output(1)] = scores;
  }

  // The determinants of x's [..., M, M] matrices (M <= kMaxDetOrder, as the check requires) by
  // cofactor expansion along the first row, recursively: every entry sliced out once ([..., 1,
  // 1]), the products and alternating sums element-wise over the batch.
  Value determinant(Location loc, Value x, RankedTensorType type) {
    Composer ops{b_, loc, type.getElementType()};
    const SmallVector<int64_t> shape = Composer::shapeOf(x);
    const size_t rank = shape.size();
    const int64_t m = shape.back();
    if (rank < 2 || shape[rank - 2] != m || m < 1 || m > detail::kMaxDetOrder)
      throw ImportError{"Det needs square matrices of order 1 to " + std::to_string(detail::kMaxDetOrder)};
    std::map<std::pair<int64_t, int64_t>, Value> entries;
    auto entry = [&](int64_t i, int64_t j) {
      Value &e = entries[{i, j}];
      if (!e) {
        SmallVector<int64_t> starts(rank, 0), ends(shape);
        starts[rank - 2] = i, ends[rank - 2] = i + 1;
        starts[rank - 1] = j, ends[rank - 1] = j + 1;
        e = ops.slice(x, starts, ends);
      }
      return e;
    };
    // The determinant of the submatrix of the rows from `first` on (as many as `cols`) and the
    // columns `cols`.
    std::function<Value(int64_t, const std::vector<int64_t> &)> minor = [&](int64_t first,
                                                                           const std::vector<int64_t> &cols) {
      if (cols.size() == 1) return entry(first, cols[0]);
      Value sum;
      for (size_t k = 0; k < cols.size(); ++k) {
        std::vector<int64_t> rest = cols;
        rest.erase(rest.begin() + long(k));
        Value term = ops.mul(entry(first, cols[k]), minor(first + 1, rest));
        sum = !sum ? term : k % 2 ? ops.sub(sum, term) : ops.add(sum, term);
      }
      return sum;
    };
    std::vector<int64_t> columns(static_cast<size_t>(m));
    std::iota(columns.begin(), columns.end(), int64_t(0));
    return ops.reshape(minor(0, columns), type.getShape());
  }

  // Einsum (Einsum.h reads the equation). Per operand: a repeated label's diagonal (the operand
  // times an identity mask over the two axes, summed over the second), and the labels that neither
  // the other operand nor the result has, summed. Then one operand is transposed to the result's
  // order; two are multiplied over the labels both have: a batched MatMul [batch, left,
  // contracted] x [batch, contracted, right] on the cube when some are not in the result, else a
  // broadcast Mul (outer and element-wise products), transposed to the result's order. Three or more
  // operands: pairwise, from the left.
  Value einsum(Location loc, const std::string &equation, std::vector<Value> xs, RankedTensorType type) {
    std::vector<std::vector<int64_t>> shapes;
    for (Value x : xs) {
      ArrayRef<int64_t> s = llvm::cast<RankedTensorType>(x.getType()).getShape();
      shapes.emplace_back(s.begin(), s.end());
    }
    auto parsed = detail::parseEinsum(equation, shapes);
    if (auto *why = std::get_if<std::string>(&parsed)) throw ImportError{*why};
    detail::EinsumLabels e = std::move(std::get<detail::EinsumLabels>(parsed));
    // Three or more operands: contracted pairwise from the left, each intermediate keeping the
    // labels a later operand or the result still needs (in the order they first appear).
    while (e.operands.size() > 2) {
      std::string needed = e.result, kept;
      for (size_t k = 2; k < e.operands.size(); ++k) needed += e.operands[k];
      for (char c : e.operands[0] + e.operands[1])
        if (needed.find(c) != std::string::npos && kept.find(c) == std::string::npos) kept += c;
      SmallVector<int64_t> shape;
      for (char c : kept) shape.push_back(e.sizes[c]);
      Value joined = einsumOfTwo(loc, detail::EinsumLabels{{e.operands[0], e.operands[1]}, kept, e.sizes}, {xs[0], xs[1]},
                                 RankedTensorType::get(shape, type.getElementType()));
      xs.erase(xs.begin());
      xs[0] = joined;
      e.operands.erase(e.operands.begin());
      e.operands[0] = kept;
    }
    return einsumOfTwo(loc, std::move(e), xs, type);
  }

  // Einsum of one or two operands, labelled.
  Value einsumOfTwo(Location loc, detail::EinsumLabels e, std::vector<Value> xs, RankedTensorType type) {
    Composer ops{b_, loc, type.getElementType()};
    auto dims = [&](const std::string &labels) {
      SmallVector<int64_t> d;
      for (char c : labels) d.push_back(e.sizes[c]);
      return d;
    };
    auto product = [&](const std::string &labels) {
      int64_t n = 1;
      for (char c : labels) n *= e.sizes[c];
      return n;
    };
    auto has = [](const std::string &labels, char c) { return labels.find(c) != std::string::npos; };
    // x (labelled `from`) with its axes in the order of `to` (a permutation of `from`).
    auto permuted = [&](Value x, const std::string &from, const std::string &to) {
      SmallVector<int64_t> perm;
      for (char c : to) perm.push_back(int64_t(from.find(c)));
      bool identity = true;
      for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == int64_t(i);
      return identity ? x : ops.transpose(x, perm);
    };
    auto summed = [&](Value x, std::string &labels, const std::vector<int64_t> &axes) {
      std::string kept;
      for (size_t d = 0; d < labels.size(); ++d)
        if (!std::count(axes.begin(), axes.end(), int64_t(d))) kept += labels[d];
      labels = kept;
      return reduce(loc, x, "sum", axes, false, ops.typed(dims(kept)));
    };
    for (size_t k = 0; k < xs.size(); ++k) {
      std::string &l = e.operands[k];
      for (size_t p = 0; p < l.size(); ++p) {
        const size_t q = l.find(l[p], p + 1);
        if (q == std::string::npos) continue;
        const int64_t n = e.sizes[l[p]];
        SmallVector<int64_t> maskShape(l.size(), 1);
        maskShape[p] = maskShape[q] = n;
        std::vector<float> eye(size_t(n * n), 0.0f);
        for (int64_t i = 0; i < n; ++i) eye[size_t(i * n + i)] = 1.0f;
        xs[k] = summed(ops.mul(xs[k], ops.floats(maskShape, eye, "einsum_diagonal")), l, {int64_t(q)});
        --p; // the same label may repeat again
      }
      std::vector<int64_t> alone;
      for (size_t d = 0; d < l.size(); ++d)
        if (!has(e.result, l[d]) && (xs.size() == 1 || !has(e.operands[1 - k], l[d]))) alone.push_back(int64_t(d));
      if (!alone.empty()) xs[k] = summed(xs[k], l, alone);
    }
    if (xs.size() == 1) return permuted(xs[0], e.operands[0], e.result);
    const std::string &a = e.operands[0], &b = e.operands[1];
    std::string batch, left, right, contracted;
    for (char c : e.result) (has(a, c) && has(b, c) ? batch : has(a, c) ? left : right) += c;
    for (char c : a)
      if (has(b, c) && !has(e.result, c)) contracted += c;
    Value result;
    if (contracted.empty()) {
      SmallVector<int64_t> sa = dims(batch + left), sb = dims(batch);
      sa.append(right.size(), 1);
      sb.append(left.size(), 1);
      sb.append(dims(right));
      result = ops.mul(ops.reshape(permuted(xs[0], a, batch + left), sa), ops.reshape(permuted(xs[1], b, batch + right), sb));
    } else {
      SmallVector<int64_t> sa, sb, so;
      if (!batch.empty()) sa = sb = so = {product(batch)};
      sa.append({product(left), product(contracted)});
      sb.append({product(contracted), product(right)});
      so.append({product(left), product(right)});
      Value m = b_.create<g::MatMulOp>(loc, ops.typed(so), ops.reshape(permuted(xs[0], a, batch + left + contracted), sa),
                                       ops.reshape(permuted(xs[1], b, batch + contracted + right), sb), nullptr, nullptr);
      result = ops.reshape(m, dims(batch + left + right));
    }
    return permuted(result, batch + left + right, e.result);
  }

  // A rank-0 constant of a float element type (a scale, a zero for a comparison).
  Value scalar(double v, Type elementType, Location loc) { return Composer{b_, loc, elementType}.constant(v); }

  // Integers or floats of a constant input (an initializer or a Constant node), for attributes.
  const onnx::TensorProto *constantInput(const std::string &name) {
    if (auto it = initializers_.find(name); it != initializers_.end())
      return it->second;
    if (auto it = constantNodes_.find(name); it != constantNodes_.end())
      return it->second;
    return nullptr;
  }
  // A node's output computed here (shape arithmetic, generated tables): a tensor of ONNX `type`
  // kept as a constant node, so later shape arithmetic can read it too.
  Value computedConstant(const std::string &name, int type, const std::vector<int64_t> &dims, std::string raw,
                         Location loc) {
    owned_.emplace_back();
    onnx::TensorProto &t = owned_.back();
    t.set_name(name);
    t.set_data_type(type);
    for (int64_t d : dims) t.add_dims(d);
    t.set_raw_data(std::move(raw));
    constantNodes_[name] = &t;
    return constant(t, loc);
  }
  template <typename T> static std::string rawBytes(const std::vector<T> &values) {
    return std::string(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(T));
  }

  std::vector<int64_t> intsOf(const onnx::TensorProto &t) {
    std::optional<std::vector<int64_t>> values = tensorInts(t);
    if (!values) throw ImportError{"constant '" + t.name() + "' must be int64 or int32"};
    return std::move(*values);
  }
  float floatOf(const onnx::TensorProto &t) {
    std::vector<char> bytes = tensorBytes(t);
    if (t.data_type() == 1 && bytes.size() >= 4) {
      float f;
      std::memcpy(&f, bytes.data(), 4);
      return f;
    }
    throw ImportError{"constant '" + t.name() + "' must be a float scalar"};
  }

  // ---- attributes ----
  const onnx::AttributeProto *attr(const onnx::NodeProto &n, const char *name) { return detail::attribute(n, name); }
  std::vector<int64_t> ints(const onnx::NodeProto &n, const char *name, std::vector<int64_t> def) {
    const auto *a = attr(n, name);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
  }
  int64_t intAttr(const onnx::NodeProto &n, const char *name, int64_t def) {
    const auto *a = attr(n, name);
    return a ? a->i() : def;
  }
  float floatAttr(const onnx::NodeProto &n, const char *name, float def) {
    const auto *a = attr(n, name);
    return a ? a->f() : def;
  }
  std::string stringAttr(const onnx::NodeProto &n, const char *name, const std::string &def) {
    const auto *a = attr(n, name);
    return a ? a->s() : def;
  }

  // Explicit pads (ONNX order: all begins, then all ends) from pads or auto_pad.
  std::vector<int64_t> resolvePads(const onnx::NodeProto &n, RankedTensorType input,
                                   const std::vector<int64_t> &kernel,
                                   const std::vector<int64_t> &strides,
                                   const std::vector<int64_t> &dilations) {
    const size_t spatial = kernel.size();
    const std::string autoPad = stringAttr(n, "auto_pad", "NOTSET");
    if (autoPad == "NOTSET")
      return ints(n, "pads", std::vector<int64_t>(2 * spatial, 0));
    std::vector<int64_t> pads(2 * spatial, 0);
    if (autoPad == "VALID")
      return pads;
    for (size_t i = 0; i < spatial; ++i) {
      const int64_t in = input.getDimSize(2 + i);
      const int64_t out = (in + strides[i] - 1) / strides[i];
      const int64_t total =
          std::max<int64_t>(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in);
      const int64_t small = total / 2;
      pads[i] = autoPad == "SAME_UPPER" ? small : total - small;
      pads[spatial + i] = total - pads[i];
    }
    return pads;
  }

  // MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv (8-bit operands, 2-D convolutions):
  // (a - a_zero) and (b - b_zero) as float32 integers, multiplied on the cube, whose fp16 operands
  // hold every 8-bit difference exactly (|d| <= 255) and whose fp32 accumulation is exact while
  // every partial sum stays below 2^24. That bound is checked here: per output column (channel)
  // from the weights when they and their zero points are constants, else from K and the types'
  // ranges; a product that could exceed it is refused (the int8 cube arithmetic, mmad.s8, that
  // would take it is not implemented). The exact int32 result is cast (Integer ops) or, with
  // QLinearConv's int32 bias added, requantized: saturate(round(acc * a_scale * b_scale / y_scale)
  // + y_zero), as ONNX Runtime computes it.
  void importIntegerProduct(const onnx::NodeProto &n, const std::string &name, Location loc) {
    const std::string &op = n.op_type();
    const bool qlinear = op.rfind("QLinear", 0) == 0, conv = op.find("Conv") != std::string::npos;
    const int bSlot = qlinear ? 3 : 1, aZeroSlot = 2, bZeroSlot = qlinear ? 5 : 3;
    auto has = [&](int i) { return n.input_size() > i && !n.input(i).empty(); };
    auto in = [&](int i) { return value(n.input(i), "node '" + name + "'"); };
    auto f32 = [&](ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, b_.getF32Type()); };
    auto shapeOf = [](Value v) { return llvm::cast<RankedTensorType>(v.getType()).getShape(); };
    auto asFloat = [&](Value v) { return Value(b_.create<g::CastOp>(loc, f32(shapeOf(v)), v)); };
    Value a = in(0), b = in(bSlot);
    const int64_t bRank = int64_t(shapeOf(b).size());
    // Zero points: A's per row (MatMulInteger) or one; B's per column, or per output channel.
    auto centered = [&](Value v, int zeroSlot, int64_t trailing) {
      Value x = asFloat(v);
      if (!has(zeroSlot)) return x;
      Value zero = asFloat(alongAxis(loc, in(zeroSlot), trailing));
      return Value(b_.create<g::SubOp>(loc, f32(shapeOf(x)), x, zero));
    };
    Value ac = centered(a, aZeroSlot, conv ? 0 : 1), bc = centered(b, bZeroSlot, conv ? bRank - 1 : 0);

    // The exactness bound: max |a - a_zero| times, per output, the sum over K of |b - b_zero|.
    auto range = [&](Value v) { return eightBitRange(llvm::cast<RankedTensorType>(v.getType()).getElementType()); };
    auto constants = [&](int slot) { return eightBitValues(has(slot) ? constantInput(n.input(slot)) : nullptr); };
    auto [aLo, aHi] = range(a);
    auto [bLo, bHi] = range(b);
    double aMax = double(aHi - aLo), bound = 0;
    if (std::optional<std::vector<double>> za = constants(aZeroSlot); za && !za->empty()) {
      aMax = 0;
      for (double z : *za) aMax = std::max({aMax, std::fabs(aLo - z), std::fabs(aHi - z)});
    }
    std::optional<std::vector<double>> w = constants(bSlot), zb = has(bZeroSlot) ? constants(bZeroSlot) : std::vector<double>{0};
    const auto bs = shapeOf(b);
    const int64_t outputs = conv ? bs[0] : bs.back(), k = conv ? bs[1] * bs[2] * bs[3] : bs[bs.size() - 2];
    if (w && zb && !zb->empty() && int64_t(w->size()) % (outputs * k) == 0) {
      for (size_t at = 0; at < w->size(); at += size_t(outputs * k)) // each matrix of a batch
        for (int64_t o = 0; o < outputs; ++o) {
          const double z = (*zb)[zb->size() == 1 ? 0 : size_t(o)];
          double sum = 0;
          for (int64_t i = 0; i < k; ++i)
            sum += std::fabs((*w)[at + size_t(conv ? o * k + i : i * outputs + o)] - z);
          bound = std::max(bound, aMax * sum);
        }
    } else {
      bound = double(k) * aMax * double(bHi - bLo);
    }
    if (bound >= double(1 << 24))
      throw ImportError{"node '" + name + "' (" + op + ") is not supported: its sums of products can reach " +
                        std::to_string(int64_t(bound)) + ", past 2^24, where the fp16 cube's float32 accumulation stops "
                        "being exact (8-bit integer products on the cube, mmad.s8, are not implemented yet)"};

    RankedTensorType outType = typeOf(n.output(0), "output of node '" + name + "'");
    if (!conv) {
      Value acc = b_.create<g::MatMulOp>(loc, f32(outType.getShape()), ac, bc, nullptr, nullptr); // f32 out
      if (!qlinear) {
        values_[n.output(0)] = b_.create<g::CastOp>(loc, outType, acc);
        return;
      }
      Value scale = b_.create<g::MulOp>(loc, f32(shapeOf(in(4))), in(1), in(4)); // b_scale: one or per column
      scale = b_.create<g::DivOp>(loc, f32(shapeOf(scale)), scale, in(6));
      values_[n.output(0)] = b_.create<g::CastOp>(
          loc, outType, quantizedFloats(loc, acc, scale, has(7) ? asFloat(in(7)) : Value(), outType.getElementType(), true));
      return;
    }
    // A convolution's accumulators leave the cube as float32 only into an NHWC tensor (FixPipe
    // converts; its NHWC16 feature maps are fp16, exact only to 2048): so the result is taken as
    // NHWC (the compiler fuses the transpose into the convolution's output), requantized there
    // (per-channel parameters along the last axis) and turned back to NCHW before the cast. The
    // code generator refuses the convolution (`fractal.exact_f32`) if it cannot keep that form.
    const int64_t cout = bs[0];
    if (cout > 16 && cout % 16)
      throw ImportError{"node '" + name + "' (" + op + ") is not supported: " + std::to_string(cout) +
                        " output channels (the exact float32 output form takes up to 16 or a multiple of 16)"};
    auto wt = llvm::cast<RankedTensorType>(b.getType());
    std::vector<int64_t> kernel(wt.getShape().begin() + 2, wt.getShape().end());
    auto strides = ints(n, "strides", std::vector<int64_t>(kernel.size(), 1));
    auto dilations = ints(n, "dilations", std::vector<int64_t>(kernel.size(), 1));
    auto pads = resolvePads(n, llvm::cast<RankedTensorType>(a.getType()), kernel, strides, dilations);
    // Padding is the zero point (a zero difference): the centered input is padded, not the 8-bit one.
    auto convolution = b_.create<g::ConvOp>(loc, f32(outType.getShape()), ac, bc, Value(), Value(),
                                            b_.getDenseI64ArrayAttr(strides), b_.getDenseI64ArrayAttr(pads),
                                            b_.getDenseI64ArrayAttr(dilations),
                                            b_.getI64IntegerAttr(intAttr(n, "group", 1)), nullptr, nullptr);
    convolution->setAttr("fractal.exact_f32", b_.getUnitAttr());
    const auto o = outType.getShape();
    const SmallVector<int64_t> nhwcShape{o[0], o[2], o[3], o[1]};
    Value acc = b_.create<g::TransposeOp>(loc, f32(nhwcShape), convolution.getResult(), b_.getDenseI64ArrayAttr({0, 2, 3, 1}));
    auto toNchw = [&](Value v) {
      auto t = llvm::cast<RankedTensorType>(v.getType());
      return Value(b_.create<g::TransposeOp>(loc, RankedTensorType::get(o, t.getElementType()), v,
                                             b_.getDenseI64ArrayAttr({0, 3, 1, 2})));
    };
    if (!qlinear) { // int32 in NHWC, then turned: no float32 NCHW tensor the two transposes would cancel into
      values_[n.output(0)] = toNchw(b_.create<g::CastOp>(loc, RankedTensorType::get(nhwcShape, outType.getElementType()), acc));
      return;
    }
    if (has(8)) // the int32 bias, one per output channel, in the accumulator's scale
      acc = b_.create<g::AddOp>(loc, f32(nhwcShape), acc, asFloat(in(8)));
    Value scale = b_.create<g::MulOp>(loc, f32(shapeOf(in(4))), in(1), in(4)); // w_scale: one or per channel
    scale = b_.create<g::DivOp>(loc, f32(shapeOf(scale)), scale, in(6));
    Value q = quantizedFloats(loc, acc, scale, has(7) ? asFloat(in(7)) : Value(), outType.getElementType(), true);
    values_[n.output(0)] = b_.create<g::CastOp>(loc, outType, toNchw(q));
  }

  // ---- recurrent layers ----
  // LSTM, GRU and RNN unrolled over their static sequence, per direction: the input projection of
  // every step at once ([seq * batch, I] x [I, gates * H], one product on the cube), then at each
  // step the recurrent product ([batch, H] x [H, gates * H]) and the gates' element-wise math on
  // the vector unit. With constant weights (an exported model) the transposes and bias sums fold.
  // 3-D convolution and pooling on the 2-D kernels. Pooling is separable: the 2-D pool over
  // (H, W) of [N, C*D, H, W], then over (D, 1) of [N, C, D, Ho*Wo] (a box's maximum, and its
  // sum and element count, combine axis by axis). A convolution stacks, for each output depth,
  // the kd input slices its kernel reads as channels, [N*Do, C*kd, H, W] (channel c*kd + i, so
  // a group's channels stay together), and convolves that in 2-D with the weights viewed as
  // [Co, C/group*kd, kh, kw]; the result [N*Do, Co, Ho, Wo] is transposed back to [N, Co, Do, Ho, Wo].
  void importVolumetric(const onnx::NodeProto &n, const std::string &name, Location loc) {
    const std::string &op = n.op_type();
    Value x = value(n.input(0), "node '" + name + "'");
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    auto o = typeOf(n.output(0), "output of node '" + name + "'");
    Type et = xt.getElementType();
    auto typed = [&](ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, et); };
    auto reshape = [&](Value v, ArrayRef<int64_t> shape) { return Value(b_.create<g::ReshapeOp>(loc, typed(shape), v)); };
    auto attr3 = [&](const char *key, int64_t def) { return ints(n, key, std::vector<int64_t>(3, def)); };
    const int64_t batch = xt.getDimSize(0), c = xt.getDimSize(1), d = xt.getDimSize(2), h = xt.getDimSize(3),
                  w = xt.getDimSize(4);
    const int64_t dOut = o.getDimSize(2), hOut = o.getDimSize(3), wOut = o.getDimSize(4);
    Value weights = op == "Conv" ? value(n.input(1), "node '" + name + "'") : Value();
    std::vector<int64_t> kernel = ints(n, "kernel_shape", {});
    if (weights) {
      auto wt = llvm::cast<RankedTensorType>(weights.getType());
      kernel.assign(wt.getShape().begin() + 2, wt.getShape().end());
    }
    const std::vector<int64_t> strides = attr3("strides", 1), dilations = attr3("dilations", 1);
    const std::vector<int64_t> pads = resolvePads(n, xt, kernel, strides, dilations); // d, h, w begins; then ends
    if (op != "Conv") {
      auto pool = [&](Value v, RankedTensorType type, std::vector<int64_t> k, std::vector<int64_t> s,
                      std::vector<int64_t> p, std::vector<int64_t> dil) -> Value {
        if (op == "MaxPool")
          return maxPool(loc, type, v, k, s, p, intAttr(n, "ceil_mode", 0) != 0, dil);
        return averagePool(loc, type, v, k, s, p, intAttr(n, "count_include_pad", 0) != 0);
      };
      Value planes = pool(reshape(x, {batch, c * d, h, w}), typed({batch, c * d, hOut, wOut}), {kernel[1], kernel[2]},
                          {strides[1], strides[2]}, {pads[1], pads[2], pads[4], pads[5]}, {dilations[1], dilations[2]});
      Value depth = pool(reshape(planes, {batch, c, d, hOut * wOut}), typed({batch, c, dOut, hOut * wOut}), {kernel[0], 1},
                         {strides[0], 1}, {pads[0], 0, pads[3], 0}, {dilations[0], 1});
      values_[n.output(0)] = reshape(depth, o.getShape());
      return;
    }
    Value bias = n.input_size() > 2 && !n.input(2).empty() ? value(n.input(2), "node '" + name + "'") : Value();
    values_[n.output(0)] = volumetricConv(loc, o, x, weights, bias, strides, pads, dilations, intAttr(n, "group", 1));
  }

  // The 3-D convolution of x [N, C, D, H, W] by weights [Co, C/group, kd, kh, kw] into `type`
  // [N, Co, Do, Ho, Wo] as importVolumetric describes; pads: the d, h, w begins, then the ends.
  Value volumetricConv(Location loc, RankedTensorType type, Value x, Value weights, Value bias,
                       const std::vector<int64_t> &strides, const std::vector<int64_t> &pads,
                       const std::vector<int64_t> &dilations, int64_t group) {
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    auto wt = llvm::cast<RankedTensorType>(weights.getType());
    Type et = xt.getElementType();
    auto typed = [&](ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, et); };
    auto reshape = [&](Value v, ArrayRef<int64_t> shape) { return Value(b_.create<g::ReshapeOp>(loc, typed(shape), v)); };
    auto i64s = [&](const std::vector<int64_t> &v) { return b_.getDenseI64ArrayAttr(v); };
    const int64_t batch = xt.getDimSize(0), c = xt.getDimSize(1), d = xt.getDimSize(2), h = xt.getDimSize(3),
                  w = xt.getDimSize(4);
    const int64_t co = type.getDimSize(1), dOut = type.getDimSize(2), hOut = type.getDimSize(3), wOut = type.getDimSize(4);
    const int64_t kd = wt.getDimSize(2);
    Value padded = x;
    const int64_t dPadded = d + pads[0] + pads[3];
    if (pads[0] || pads[3])
      padded = b_.create<g::PadOp>(loc, typed({batch, c, dPadded, h, w}), x, i64s({0, 0, pads[0], 0, 0, 0, 0, pads[3], 0, 0}),
                                   b_.getF32FloatAttr(0.0f), b_.getStringAttr("constant"));
    SmallVector<Value> slices; // slice i: the input depths kernel depth i reads, [N, C, 1, Do, H, W]
    for (int64_t i = 0; i < kd; ++i) {
      const int64_t first = i * dilations[0];
      Value s = b_.create<g::SliceOp>(loc, typed({batch, c, dOut, h, w}), padded, i64s({0, 0, first, 0, 0}),
                                      i64s({batch, c, first + (dOut - 1) * strides[0] + 1, h, w}),
                                      i64s({1, 1, strides[0], 1, 1}));
      slices.push_back(reshape(s, {batch, c, 1, dOut, h, w}));
    }
    Value stacked = slices.size() == 1 ? slices.front()
                                       : Value(b_.create<g::ConcatOp>(loc, typed({batch, c, kd, dOut, h, w}), slices,
                                                                      b_.getI64IntegerAttr(2)));
    Value planes = reshape(transposed(loc, stacked, {0, 3, 1, 2, 4, 5}), {batch * dOut, c * kd, h, w});
    Value flatWeights = reshape(weights, {co, wt.getDimSize(1) * kd, wt.getDimSize(3), wt.getDimSize(4)});
    Value y = b_.create<g::ConvOp>(loc, typed({batch * dOut, co, hOut, wOut}), planes, flatWeights, bias, /*residual=*/Value(),
                                   i64s({strides[1], strides[2]}), i64s({pads[1], pads[2], pads[4], pads[5]}),
                                   i64s({dilations[1], dilations[2]}), b_.getI64IntegerAttr(group),
                                   /*clamp_min=*/nullptr, /*clamp_max=*/nullptr);
    return transposed(loc, reshape(y, {batch, dOut, co, hOut, wOut}), {0, 2, 1, 3, 4});
  }

  // ONNX's gate orders: LSTM i, o, f, c; GRU z, r, h; RNN one. The support check has refused what
  // this does not do (activations other than Sigmoid / Tanh / Relu, input_forget, run-time or
  // short sequence_lens).
  // GridSample (2-D), as ONNX Runtime computes it, from a gather and element-wise ops: the image
  // as a table of N*H*W pixel rows of C channels; each of the M = N*Ho*Wo output points has taps
  // (nearest 1, bilinear 4, bicubic 16) at integer pixel coordinates, which the padding mode makes
  // valid (zeros: clamped, the value then replaced by 0 where the tap was outside; border: clamped;
  // reflection: reflected into [x_min, x_max] as x_min + r - |r - fmod(|x - x_min|, 2r)|, r the
  // range, then clamped), a row index n*H*W + y*W + x (exact in float32 below 2^24, gathered
  // with int32 indices), and the tap rows weighted and summed in ONNX Runtime's order; the
  // [M, C] result goes back to NCHW by a transpose.
  void importGridSample(const onnx::NodeProto &n, const std::string &name, Location loc) {
    const std::string what = "node '" + name + "' (GridSample)";
    Value image = value(n.input(0), "node '" + name + "'"), grid = value(n.input(1), "node '" + name + "'");
    const Composer ops{b_, loc, b_.getF32Type()};
    const SmallVector<int64_t> xs = Composer::shapeOf(image), gs = Composer::shapeOf(grid);
    if (xs.size() != 4 || gs.size() != 4 || gs[3] != 2 || gs[0] != xs[0])
      throw ImportError{what + ": only 2-D sampling (a 4-D input and an [N, H_out, W_out, 2] grid) is supported"};
    const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], M = N * gs[1] * gs[2];
    if (N * H * W >= (int64_t(1) << 24))
      throw ImportError{what + ": " + std::to_string(N * H * W) + " input pixels; the row indices are exact in float32 "
                        "below 2^24"};
    std::string mode = stringAttr(n, "mode", "bilinear"), padding = stringAttr(n, "padding_mode", "zeros");
    if (mode == "linear") mode = "bilinear";
    if (mode == "cubic") mode = "bicubic";
    const bool align = intAttr(n, "align_corners", 0) != 0;
    auto c = [&](double v) { return ops.constant(v); };
    Value table = ops.reshape(ops.transpose(image, {0, 2, 3, 1}), {N * H * W, C});
    Value points = ops.reshape(grid, {M, 2});
    std::vector<float> firstRow(static_cast<size_t>(M));
    for (int64_t i = 0; i < M; ++i) firstRow[size_t(i)] = float(i / (M / N) * H * W);
    Value imageBase = ops.floats({M, 1}, firstRow, name + "/image_rows");
    // The pixel coordinate along x (grid column 0, length W) or y (column 1, length H): [M, 1].
    auto coordinate = [&](int64_t column, int64_t length) {
      Value g1 = ops.add(ops.slice(points, {0, column}, {M, column + 1}), c(1.0));
      return align ? ops.mul(ops.mul(g1, c(0.5)), c(double(length - 1)))
                   : ops.mul(ops.sub(ops.mul(g1, c(double(length))), c(1.0)), c(0.5));
    };
    // An integer-valued coordinate made valid along an axis of `length`; with zeros padding,
    // `inside` gathers whether it was.
    auto valid = [&](Value v, int64_t length, Value &inside) {
      const double last = double(length - 1);
      if (padding == "zeros") {
        Value in = ops.compare("le", ops.abs(ops.sub(v, c(last / 2))), c(last / 2)); // 0 <= v <= last
        inside = inside ? ops.logicalAnd(inside, in) : in;
      } else if (padding == "reflection") {
        const double low = align ? 0.0 : -0.5, range = align ? last : double(length);
        if (range == 0) return c(0.0);
        Value distance = ops.abs(ops.sub(v, c(low)));
        Value t = b_.create<g::ModOp>(loc, distance.getType(), distance, c(2 * range), b_.getBoolAttr(true));
        v = ops.sub(c(low + range), ops.abs(ops.sub(c(range), t)));
      }
      return ops.clip(v, 0.0f, float(last));
    };
    // The [M, C] rows at integer-valued coordinates (x, y).
    auto tap = [&](Value x, Value y) {
      Value inside;
      x = valid(x, W, inside);
      y = valid(y, H, inside);
      Value rows = ops.gatherRows(table, ops.add(ops.add(ops.mul(y, c(double(W))), x), imageBase));
      return inside ? ops.where(inside, rows, c(0.0)) : rows;
    };
    Value x = coordinate(0, W), y = coordinate(1, H), result;
    if (mode == "nearest") {
      result = tap(ops.rounding("round", x), ops.rounding("round", y)); // half to even, as nearbyint
    } else if (mode == "bilinear") {
      Value x1 = ops.rounding("floor", x), y1 = ops.rounding("floor", y);
      Value x2 = ops.add(x1, c(1.0)), y2 = ops.add(y1, c(1.0));
      Value dx1 = ops.sub(x, x1), dx2 = ops.sub(x2, x), dy1 = ops.sub(y, y1), dy2 = ops.sub(y2, y);
      auto across = [&](Value row) { return ops.add(ops.mul(dx2, tap(x1, row)), ops.mul(dx1, tap(x2, row))); };
      result = ops.add(ops.mul(dy2, across(y1)), ops.mul(dy1, across(y2)));
    } else if (mode == "bicubic") {
      // Keys' cubic convolution (A = -0.75) at the distance t from the tap before.
      auto coefficients = [&](Value t) {
        const double a = -0.75;
        auto outer = [&](Value d) { // ((A d - 5A) d + 8A) d - 4A
          return ops.sub(ops.mul(ops.add(ops.mul(ops.sub(ops.mul(d, c(a)), c(5 * a)), d), c(8 * a)), d), c(4 * a));
        };
        auto inner = [&](Value d) { // ((A + 2) d - (A + 3)) d d + 1
          return ops.add(ops.mul(ops.mul(ops.sub(ops.mul(d, c(a + 2)), c(a + 3)), d), d), c(1.0));
        };
        return std::array<Value, 4>{outer(ops.add(t, c(1.0))), inner(t), inner(ops.sub(c(1.0), t)),
                                    outer(ops.sub(c(2.0), t))};
      };
      Value fx = ops.rounding("floor", x), fy = ops.rounding("floor", y);
      const std::array<Value, 4> cx = coefficients(ops.sub(x, fx)), cy = coefficients(ops.sub(y, fy));
      for (int h = 0; h < 4; ++h) {
        Value yh = ops.add(fy, c(h - 1)), v;
        for (int w = 0; w < 4; ++w) {
          Value term = ops.mul(cx[size_t(w)], tap(ops.add(fx, c(w - 1)), yh));
          v = v ? ops.add(v, term) : term;
        }
        Value term = ops.mul(cy[size_t(h)], v);
        result = result ? ops.add(result, term) : term;
      }
    } else {
      throw ImportError{what + ": mode '" + mode + "' is not one of bilinear, nearest, bicubic"};
    }
    values_[n.output(0)] =
        ops.reshape(ops.transpose(ops.reshape(result, {N, M / N, C}), {0, 2, 1}), {N, C, gs[1], gs[2]});
  }

  // RoiAlign as ONNX Runtime computes it, from a gather and element-wise ops like GridSample: each
  // region's output bin averages (or takes the max of) sampling_ratio x sampling_ratio bilinear
  // samples. A sample's y is (start + ph * bin) + ((iy + 0.5) * bin) / ratio, from the region's
  // run-time corners, one row [R, PH * ratio] per axis; outside [-1, H] (or [-1, W]) it counts as 0,
  // else it is clamped into [0, H - 1] and its four taps are the rows n*H*W + y*W + x of the image
  // as a [N*H*W, C] table (exact in float32 below 2^24), weighted as ONNX Runtime orders them.
  // sampling_ratio 0 (a ratio from each region's size) is refused by the support check.
  void importRoiAlign(const onnx::NodeProto &n, const std::string &name, Location loc) {
    const std::string what = "node '" + name + "' (RoiAlign)";
    Value image = value(n.input(0), "node '" + name + "'"), rois = value(n.input(1), "node '" + name + "'");
    Value batch = value(n.input(2), "node '" + name + "'");
    const Composer ops{b_, loc, b_.getF32Type()};
    const SmallVector<int64_t> xs = Composer::shapeOf(image), rs = Composer::shapeOf(rois);
    if (xs.size() != 4 || rs.size() != 2 || rs[1] != 4 || Composer::shapeOf(batch) != SmallVector<int64_t>{rs[0]})
      throw ImportError{what + ": expects a 4-D input, [R, 4] regions and [R] batch indices"};
    const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], R = rs[0];
    if (N * H * W >= (int64_t(1) << 24))
      throw ImportError{what + ": " + std::to_string(N * H * W) + " input pixels; the row indices are exact in float32 "
                        "below 2^24"};
    const int64_t PH = intAttr(n, "output_height", 1), PW = intAttr(n, "output_width", 1);
    const int64_t ratio = intAttr(n, "sampling_ratio", 0);
    if (PH < 1 || PW < 1 || ratio < 1)
      throw ImportError{what + ": output_height, output_width and sampling_ratio must be positive"};
    const bool halfPixel = stringAttr(n, "coordinate_transformation_mode", opset_ >= 16 ? "half_pixel" : "output_half_pixel") ==
                           "half_pixel";
    const bool max = stringAttr(n, "mode", "avg") == "max";
    const float scale = floatAttr(n, "spatial_scale", 1.0f);
    auto c = [&](double v) { return ops.constant(v); };
    Value table = ops.reshape(ops.transpose(image, {0, 2, 3, 1}), {N * H * W, C});
    // Per axis (x: corner column 0, y: 1; `bins` output bins over `length` pixels): the samples'
    // valid flags, low and high taps and the weight of the high tap, each [R, bins * ratio].
    struct Axis {
      Value inside, low, high, fraction;
    };
    auto axis = [&](int64_t column, int64_t bins, int64_t length) {
      const double offset = halfPixel ? 0.5 : 0.0;
      Value start = ops.sub(ops.mul(ops.slice(rois, {0, column}, {R, column + 1}), c(scale)), c(offset));
      Value end = ops.sub(ops.mul(ops.slice(rois, {0, column + 2}, {R, column + 3}), c(scale)), c(offset));
      Value extent = ops.sub(end, start);
      if (!halfPixel) extent = ops.clip(extent, 1.0f, std::numeric_limits<float>::max()); // malformed regions: 1 pixel
      Value bin = ops.div(extent, c(double(bins)));
      std::vector<float> index(size_t(bins * ratio)), step(size_t(bins * ratio));
      for (int64_t p = 0; p < bins; ++p)
        for (int64_t i = 0; i < ratio; ++i) {
          index[size_t(p * ratio + i)] = float(p);
          step[size_t(p * ratio + i)] = float(i) + 0.5f;
        }
      Value at = ops.add(ops.add(start, ops.mul(bin, ops.floats({bins * ratio}, index, name + "/bin"))),
                         ops.div(ops.mul(ops.floats({bins * ratio}, step, name + "/sample"), bin), c(double(ratio))));
      Value inside = ops.logicalAnd(ops.compare("ge", at, c(-1.0)), ops.compare("le", at, c(double(length))));
      Value clamped = ops.clip(at, 0.0f, float(length - 1));
      Value low = ops.rounding("floor", clamped);
      return Axis{inside, low, ops.clip(ops.add(low, c(1.0)), 0.0f, float(length - 1)), ops.sub(clamped, low)};
    };
    const Axis y = axis(1, PH, H), x = axis(0, PW, W);
    // Samples ordered [R, PH, PW, ratio (y), ratio (x)]: a bin's samples adjacent, for the reduction.
    const int64_t M = R * PH * PW * ratio * ratio;
    auto rowsOf = [&](Value v) { return ops.reshape(v, {R, PH, 1, ratio, 1}); };
    auto columnsOf = [&](Value v) { return ops.reshape(v, {R, 1, PW, 1, ratio}); };
    Value base = ops.reshape(ops.mul(ops.cast(batch, b_.getF32Type()), c(double(H * W))), {R, 1, 1, 1, 1});
    Value inside = ops.logicalAnd(rowsOf(y.inside), columnsOf(x.inside));
    // The [M, C] rows of one tap, weighted (0 for a sample outside the image).
    auto tap = [&](Value yTap, Value yWeight, Value xTap, Value xWeight) {
      Value rows = ops.gatherRows(table, ops.add(ops.add(base, ops.mul(rowsOf(yTap), c(double(W)))), columnsOf(xTap)));
      Value weight = ops.where(inside, ops.mul(rowsOf(yWeight), columnsOf(xWeight)), c(0.0));
      return ops.mul(ops.reshape(weight, {M, 1}), rows);
    };
    Value hy = ops.sub(c(1.0), y.fraction), hx = ops.sub(c(1.0), x.fraction);
    const std::array<Value, 4> taps = {tap(y.low, hy, x.low, hx), tap(y.low, hy, x.high, x.fraction),
                                       tap(y.high, y.fraction, x.low, hx), tap(y.high, y.fraction, x.high, x.fraction)};
    Value samples = taps[0];
    for (size_t t = 1; t < taps.size(); ++t)
      samples = max ? ops.binary<g::MaxOp>(samples, taps[t]) : ops.add(samples, taps[t]);
    // Each bin's samples reduced, then NCHW.
    Value bins = b_.create<g::ReduceOp>(loc, ops.typed({R, PH, PW, C}), ops.reshape(samples, {R, PH, PW, ratio * ratio, C}),
                                        b_.getStringAttr(max ? "max" : "sum"), b_.getDenseI64ArrayAttr({3}),
                                        b_.getBoolAttr(false));
    if (!max) bins = ops.div(bins, c(double(ratio * ratio)));
    values_[n.output(0)] = ops.transpose(bins, {0, 3, 1, 2});
  }

  // DFT (opset 17) as a matrix product on the cube: the signal's `length` samples along the axis
  // (real, or complex as [re, im]) become a row, multiplied by a constant [c * length, 2 * bins]
  // matrix of cos and sin (exp(-+2 pi i j k / length), 1/length for the inverse), whose result
  // columns are the bins' real then imaginary parts; a transpose interleaves them as ONNX's
  // [..., bins, 2]. onesided keeps bins 0..length/2; dft_length cuts or zero-pads the signal. The
  // cube multiplies in fp16: about 3 significant digits.
  Value spectrum(const Composer &ops, Value rows, int64_t length, int64_t components, bool inverse, bool onesided,
                 const std::string &name) {
    const int64_t count = Composer::shapeOf(rows)[0], bins = onesided ? length / 2 + 1 : length;
    const double sign = inverse ? 1.0 : -1.0, scale = inverse ? 1.0 / double(length) : 1.0;
    std::vector<float> w(size_t(components * length * 2 * bins));
    for (int64_t part = 0; part < components; ++part) // rows: the real parts, then the imaginary
      for (int64_t j = 0; j < length; ++j)
        for (int64_t k = 0; k < bins; ++k) {
          const double theta = 2.0 * M_PI * double((j * k) % length) / double(length);
          const double cs = std::cos(theta) * scale, sn = sign * std::sin(theta) * scale;
          float *row = w.data() + (part * length + j) * 2 * bins;
          // (re + i im)(cos + i sn) = re cos - im sn + i (im cos + re sn)
          row[k] = float(part == 0 ? cs : -sn);
          row[bins + k] = float(part == 0 ? sn : cs);
        }
    Value matrix = ops.floats({components * length, 2 * bins}, w, name + "/dft");
    Value product = b_.create<g::MatMulOp>(ops.loc, ops.typed({count, 2 * bins}), rows, matrix, nullptr, nullptr);
    return ops.transpose(ops.reshape(product, {count, 2, bins}), {0, 2, 1}); // [count, bins, 2]
  }

  void importDft(const onnx::NodeProto &n, const std::string &name, Location loc,
                 const std::function<const onnx::TensorProto &(int, const char *)> &needConstant) {
    auto hasInput = [&](int i) { return n.input_size() > i && !n.input(i).empty(); };
    Value x = value(n.input(0), "node '" + name + "'");
    const Composer ops{b_, loc, b_.getF32Type()};
    SmallVector<int64_t> xs = Composer::shapeOf(x);
    const int64_t rank = int64_t(xs.size()), components = xs.back();
    const std::string what = "node '" + name + "' (DFT)";
    if (rank < 3 || (components != 1 && components != 2))
      throw ImportError{what + ": the signal must be [batch, ..., samples, 1 or 2]"};
    int64_t axis = intAttr(n, "axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 1 || axis > rank - 2) throw ImportError{what + ": axis " + std::to_string(axis) + " is not a signal axis"};
    // The transform's axis next to the components: [outer..., samples, components].
    SmallVector<int64_t> perm;
    for (int64_t d = 0; d < rank - 1; ++d)
      if (d != axis) perm.push_back(d);
    perm.push_back(axis);
    perm.push_back(rank - 1);
    Value moved = ops.transpose(x, perm);
    int64_t length = xs[size_t(axis)];
    if (hasInput(1)) { // dft_length: the signal cut or zero-padded to it
      const int64_t wanted = intsOf(needConstant(1, "dft_length input")).at(0);
      if (wanted < 1) throw ImportError{what + ": dft_length must be at least 1"};
      SmallVector<int64_t> ms = Composer::shapeOf(moved), starts(ms.size(), 0), ends(ms.begin(), ms.end());
      if (wanted < length) {
        ends[ms.size() - 2] = wanted;
        moved = ops.slice(moved, starts, ends);
      } else if (wanted > length) {
        SmallVector<int64_t> pads(2 * ms.size(), 0), padded(ms.begin(), ms.end());
        pads[ms.size() + ms.size() - 2] = wanted - length;
        padded[ms.size() - 2] = wanted;
        moved = b_.create<g::PadOp>(loc, ops.typed(padded), moved, b_.getDenseI64ArrayAttr(pads), b_.getF32FloatAttr(0.0f),
                                    b_.getStringAttr("constant"));
      }
      length = wanted;
    }
    SmallVector<int64_t> ms = Composer::shapeOf(moved);
    int64_t count = 1;
    for (size_t d = 0; d + 2 < ms.size(); ++d) count *= ms[d];
    Value rows = ops.reshape(ops.transpose(ops.reshape(moved, {count, length, components}), {0, 2, 1}),
                             {count, components * length});
    Value y = spectrum(ops, rows, length, components, intAttr(n, "inverse", 0) != 0, intAttr(n, "onesided", 0) != 0, name);
    SmallVector<int64_t> ys(ms.begin(), ms.end() - 2);
    ys.push_back(Composer::shapeOf(y)[1]);
    ys.push_back(2);
    SmallVector<int64_t> back(static_cast<size_t>(rank)); // the inverse of perm
    for (int64_t d = 0; d < rank; ++d) back[size_t(perm[size_t(d)])] = d;
    values_[n.output(0)] = ops.transpose(ops.reshape(y, ys), back);
  }

  // STFT (opset 17): each batch entry's frames (frame_length samples every frame_step) gathered
  // by DMA into rows, multiplied by the window on the vector unit, then one DFT of all rows on the
  // cube (spectrum): [batch, frames, bins, 2]. frame_step and frame_length are compile-time
  // constants (the frame count and the DFT matrix follow from them); the window may be a run-time
  // input. Without frame_length the window's length is the frame's.
  void importStft(const onnx::NodeProto &n, const std::string &name, Location loc,
                  const std::function<const onnx::TensorProto &(int, const char *)> &needConstant) {
    auto hasInput = [&](int i) { return n.input_size() > i && !n.input(i).empty(); };
    const std::string what = "node '" + name + "' (STFT)";
    Value x = value(n.input(0), what);
    const Composer ops{b_, loc, b_.getF32Type()};
    // The check has checked the operands (typeStftOutputs): [batch, samples, 1 or 2], a frame
    // length within the signal (the window's when frame_length is not given), a real signal when
    // onesided.
    const SmallVector<int64_t> xs = Composer::shapeOf(x);
    const int64_t batch = xs[0], samples = xs[1], components = xs[2];
    const int64_t step = intsOf(needConstant(1, "frame_step input")).at(0);
    Value window = hasInput(2) ? value(n.input(2), what) : Value();
    const int64_t length =
        hasInput(3) ? intsOf(needConstant(3, "frame_length input")).at(0) : Composer::shapeOf(window).back();
    const bool onesided = intAttr(n, "onesided", 1) != 0;
    const int64_t frames = (samples - length) / step + 1, count = batch * frames;
    std::vector<int32_t> at;
    for (int64_t f = 0; f < frames; ++f)
      for (int64_t j = 0; j < length; ++j) at.push_back(int32_t(f * step + j));
    Value framed = b_.create<g::GatherOp>(loc, ops.typed({batch, frames * length, components}), x,
                                          ops.int32s(at, name + "/frames"), b_.getI64IntegerAttr(1), b_.getBoolAttr(false));
    // [count, components, length]: each frame's real then imaginary samples, as spectrum wants.
    Value rows = ops.transpose(ops.reshape(framed, {count, length, components}), {0, 2, 1});
    if (window) rows = ops.mul(rows, window);
    Value y = spectrum(ops, ops.reshape(rows, {count, components * length}), length, components, /*inverse=*/false,
                       onesided, name);
    values_[n.output(0)] = ops.reshape(y, {batch, frames, Composer::shapeOf(y)[1], 2});
  }

  void importRecurrent(const onnx::NodeProto &n, const std::string &name, Location loc) {
    const std::string &op = n.op_type();
    const int64_t gates = op == "LSTM" ? 4 : op == "GRU" ? 3 : 1;
    auto hasInput = [&](int i) { return n.input_size() > i && !n.input(i).empty(); };
    auto in = [&](int i) { return value(n.input(i), "node '" + name + "'"); };
    Type et = llvm::cast<RankedTensorType>(in(0).getType()).getElementType();
    const Composer ops{b_, loc, et};
    auto shapeOf = &Composer::shapeOf;
    auto matmul = [&](Value a, Value b) {
      return Value(b_.create<g::MatMulOp>(loc, ops.typed({shapeOf(a)[0], shapeOf(b)[1]}), a, b, nullptr, nullptr));
    };
    const float clip = floatAttr(n, "clip", 0.0f);
    auto activate = [&](const std::string &kind, Value v) {
      if (clip > 0) v = ops.clip(v, -clip, clip);
      if (kind == "Tanh")
        return Value(b_.create<g::ActivationOp>(loc, v.getType(), v, b_.getStringAttr("tanh"), b_.getF32FloatAttr(0),
                                                b_.getF32FloatAttr(0)));
      return Value(createUnary(kind, loc, v.getType(), v)->getResult(0)); // Sigmoid, Relu
    };

    const bool batchFirst = intAttr(n, "layout", 0) != 0;
    Value x = batchFirst ? ops.transpose(in(0), {1, 0, 2}) : in(0); // [seq, batch, I]
    const SmallVector<int64_t> xs = shapeOf(x), rs = shapeOf(in(2));
    const int64_t seq = xs[0], batch = xs[1], inputs = xs[2], hidden = rs[2], gh = gates * hidden;
    const std::string direction = stringAttr(n, "direction", "forward");
    const int64_t directions = direction == "bidirectional" ? 2 : 1;
    std::vector<std::string> acts;
    if (const auto *a = attr(n, "activations")) acts.assign(a->strings().begin(), a->strings().end());
    const std::vector<std::string> defaults = op == "LSTM"  ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                              : op == "GRU" ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                            : std::vector<std::string>{"Tanh"};
    const bool resetAfter = op == "GRU" && intAttr(n, "linear_before_reset", 0) != 0;
    Value xRows = ops.reshape(x, {seq * batch, inputs});
    // initial_h / initial_c as [directions, batch, H] (layout 1 gives [batch, directions, H]).
    auto states = [&](int i) {
      if (!hasInput(i)) return Value();
      return batchFirst ? ops.transpose(in(i), {1, 0, 2}) : in(i);
    };
    const Value initialH = states(5), initialC = op == "LSTM" ? states(6) : Value();

    SmallVector<Value> ys, finalH, finalC;
    for (int64_t d = 0; d < directions; ++d) {
      auto act = [&](size_t i) {
        const size_t at = size_t(d) * defaults.size() + i;
        return at < acts.size() ? acts[at] : defaults[i];
      };
      // This direction's [rows, cols] matrix of a [directions, rows, cols] operand, transposed.
      auto weightsT = [&](Value w, int64_t cols) {
        return ops.transpose(ops.reshape(ops.slice(w, {d, 0, 0}, {d + 1, gh, cols}), {gh, cols}), {1, 0});
      };
      auto perDirection = [&](int i, int64_t from, int64_t to) { // [directions, k] operand -> [to - from]
        return ops.reshape(ops.slice(in(i), {d, from}, {d + 1, to}), {to - from});
      };
      auto state = [&](Value all) { // this direction's [batch, H] of initial_h / initial_c
        return all ? ops.reshape(ops.slice(all, {d, 0, 0}, {d + 1, batch, hidden}), {batch, hidden}) : Value();
      };
      Value xw = matmul(xRows, weightsT(in(1), inputs)), rT = weightsT(in(2), hidden);
      Value recurrentBias; // added to the recurrent product: GRU's h-gate bias when reset comes after it
      if (hasInput(3)) {
        Value wb = perDirection(3, 0, gh), rb = perDirection(3, gh, 2 * gh);
        if (resetAfter) {
          recurrentBias = rb;
          xw = ops.add(xw, wb);
        } else {
          xw = ops.add(xw, ops.add(wb, rb));
        }
      }
      Value h = state(initialH), c = state(initialC);
      Value pi, po, pf;
      if (op == "LSTM" && hasInput(7)) {
        pi = perDirection(7, 0, hidden);
        po = perDirection(7, hidden, 2 * hidden);
        pf = perDirection(7, 2 * hidden, 3 * hidden);
      }
      const bool reverse = direction == "reverse" || d == 1;
      SmallVector<Value> hs(static_cast<size_t>(seq), Value());
      for (int64_t step = 0; step < seq; ++step) {
        const int64_t t = reverse ? seq - 1 - step : step;
        Value pre = ops.slice(xw, {t * batch, 0}, {(t + 1) * batch, gh}); // [batch, gates * H]
        // h . R^T plus GRU's recurrent bias; before the first step without an initial h, that
        // bias alone ([1, gates * H], broadcast) or nothing.
        Value hr = h ? matmul(h, rT) : Value();
        if (recurrentBias) hr = hr ? ops.add(hr, recurrentBias) : ops.reshape(recurrentBias, {1, gh});
        auto gate = [&](Value v, int64_t k) { return ops.slice(v, {0, k * hidden}, {shapeOf(v)[0], (k + 1) * hidden}); };
        if (op == "LSTM") {
          Value z = hr ? ops.add(pre, hr) : pre;
          Value i = gate(z, 0), o = gate(z, 1), f = gate(z, 2), g = gate(z, 3);
          if (pi && c) i = ops.add(i, ops.mul(pi, c));
          if (pf && c) f = ops.add(f, ops.mul(pf, c));
          i = activate(act(0), i);
          g = activate(act(1), g);
          c = c ? ops.add(ops.mul(activate(act(0), f), c), ops.mul(i, g)) : ops.mul(i, g);
          if (po) o = ops.add(o, ops.mul(po, c));
          h = ops.mul(activate(act(0), o), activate(act(2), c));
        } else if (op == "GRU") {
          Value zr = ops.slice(pre, {0, 0}, {batch, 2 * hidden});
          if (hr) zr = ops.add(zr, ops.slice(hr, {0, 0}, {shapeOf(hr)[0], 2 * hidden}));
          Value z = activate(act(0), gate(zr, 0)), r = activate(act(0), gate(zr, 1));
          Value hh = gate(pre, 2);
          if (resetAfter && hr) // r . (h R_h^T + Rb_h)
            hh = ops.add(hh, ops.mul(r, gate(hr, 2)));
          else if (h) // (r . h) R_h^T
            hh = ops.add(hh, matmul(ops.mul(r, h), ops.slice(rT, {0, 2 * hidden}, {hidden, 3 * hidden})));
          hh = activate(act(1), hh);
          h = h ? ops.add(hh, ops.mul(z, ops.sub(h, hh))) : ops.sub(hh, ops.mul(z, hh)); // (1 - z) hh + z h
        } else {
          h = activate(act(0), hr ? ops.add(pre, hr) : pre);
        }
        hs[size_t(t)] = ops.reshape(h, {1, 1, batch, hidden});
      }
      ys.push_back(ops.concat(hs, 0)); // [seq, 1, batch, H]
      finalH.push_back(ops.reshape(h, {1, batch, hidden}));
      if (c) finalC.push_back(ops.reshape(c, {1, batch, hidden}));
    }
    // Y [seq, directions, batch, H] (layout 1: [batch, seq, directions, H]); Y_h and Y_c
    // [directions, batch, H] (layout 1: [batch, directions, H]).
    auto bindOutput = [&](int i, Value v, ArrayRef<int64_t> batchFirstPerm) {
      if (n.output_size() <= i || n.output(i).empty()) return;
      values_[n.output(i)] = batchFirst ? ops.transpose(v, batchFirstPerm) : v;
    };
    bindOutput(0, ops.concat(ys, 1), {2, 0, 1, 3});
    bindOutput(1, ops.concat(finalH, 0), {1, 0, 2});
    if (op == "LSTM") bindOutput(2, ops.concat(finalC, 0), {1, 0, 2});
  }

  // ---- nodes ----
  std::vector<int> topologicalOrder() {
    const auto &nodes = model_.graph().node();
    std::map<std::string, int> producer;
    for (int i = 0; i < nodes.size(); ++i)
      for (const auto &o : nodes[i].output())
        producer[o] = i;
    std::vector<int> order, state(nodes.size(), 0);
    std::function<void(int)> visit = [&](int i) {
      if (state[i])
        return;
      state[i] = 1;
      for (const auto &in : nodes[i].input())
        if (auto it = producer.find(in); it != producer.end())
          visit(it->second);
      order.push_back(i);
    };
    for (int i = 0; i < nodes.size(); ++i)
      visit(i);
    return order;
  }

  // Compress's and Unique's input along its `axis` attribute (negative from the end), or without
  // one flattened, along axis 0.
  std::pair<Value, int64_t> axisOrFlattened(const onnx::NodeProto &n, const std::string &name, Location loc) {
    Value x = value(n.input(0), "node '" + name + "'");
    auto xt = llvm::cast<RankedTensorType>(x.getType());
    const onnx::AttributeProto *a = detail::attribute(n, "axis");
    if (!a)
      return {xt.getRank() == 1 ? x
                                : Value(b_.create<g::ReshapeOp>(
                                      loc, RankedTensorType::get({xt.getNumElements()}, xt.getElementType()), x)),
              0};
    const int64_t axis = a->i() < 0 ? a->i() + xt.getRank() : a->i();
    if (axis < 0 || axis >= xt.getRank())
      throw ImportError{"node '" + name + "' (" + n.op_type() + "): axis " + std::to_string(a->i()) +
                        " is outside the input's rank " + std::to_string(xt.getRank())};
    return {x, axis};
  }

  // The types of NonZero's, Compress's, Unique's or NonMaxSuppression's results: their bounds
  // (detail::dataDependentBounds, with which the support check typed them for shape inference).
  std::vector<std::vector<int64_t>> dataDependentBounds(const onnx::NodeProto &n, const std::string &name) {
    auto shapeOf = [&](const std::string &v) -> std::optional<std::vector<int64_t>> {
      ArrayRef<int64_t> shape = llvm::cast<RankedTensorType>(value(v, "node '" + name + "'").getType()).getShape();
      return std::vector<int64_t>(shape.begin(), shape.end());
    };
    auto constantInts = [&](const std::string &v) -> std::optional<std::vector<int64_t>> {
      const onnx::TensorProto *t = constantInput(v);
      return t ? std::optional<std::vector<int64_t>>(intsOf(*t)) : std::nullopt;
    };
    std::optional<std::vector<std::vector<int64_t>>> bounds = detail::dataDependentBounds(n, shapeOf, constantInts);
    if (!bounds)
      throw ImportError{"node '" + name + "' (" + n.op_type() + "): its inputs' shapes bound none of its results"};
    return std::move(*bounds);
  }

  void importNode(const onnx::NodeProto &n, int index) {
    const std::string name = n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
    Location loc = NameLoc::get(b_.getStringAttr(name));
    const std::string &op = n.op_type();
    auto in = [&](int i) { return value(n.input(i), "node '" + name + "'"); };
    auto hasInput = [&](int i) { return n.input_size() > i && !n.input(i).empty(); };
    auto out = [&](int i = 0) { return typeOf(n.output(i), "output of node '" + name + "'"); };
    auto i64s = [&](const std::vector<int64_t> &v) { return b_.getDenseI64ArrayAttr(v); };
    auto bind = [&](Value v) { values_[n.output(0)] = v; };
    auto needConstant = [&](int i, const char *what) -> const onnx::TensorProto & {
      const onnx::TensorProto *t = hasInput(i) ? constantInput(n.input(i)) : nullptr;
      if (!t)
        throw ImportError{"node '" + name + "' (" + op + "): its " + what +
                          " must be a constant (an initializer or a Constant node)"};
      return *t;
    };

    // 1-D convolution and pooling run as 2-D with a height of 1 (the kernels are 2-D): the
    // input, the weights and the result get a unit axis before the last, the attributes a unit
    // (or zero-pad) first entry.
    auto xRank = [&] { return llvm::cast<RankedTensorType>(in(0).getType()).getRank(); };
    if ((op == "Conv" || op == "MaxPool" || op == "AveragePool") && xRank() == 5) {
      importVolumetric(n, name, loc);
    } else if ((op == "Conv" || op == "MaxPool" || op == "AveragePool") && xRank() == 3) {
      auto heightOne = [&](Value v) {
        auto t = llvm::cast<RankedTensorType>(v.getType());
        SmallVector<int64_t> shape(t.getShape());
        shape.insert(shape.end() - 1, 1);
        return Value(b_.create<g::ReshapeOp>(loc, RankedTensorType::get(shape, t.getElementType()), v));
      };
      auto unitFirst = [&](const char *attrName, std::vector<int64_t> def) {
        std::vector<int64_t> v = ints(n, attrName, def);
        v.insert(v.begin(), 1);
        return v;
      };
      Value x = heightOne(in(0));
      auto o = out();
      auto result2d = RankedTensorType::get({o.getDimSize(0), o.getDimSize(1), 1, o.getDimSize(2)}, o.getElementType());
      std::vector<int64_t> kernel = op == "Conv" ? std::vector<int64_t>{1, llvm::cast<RankedTensorType>(in(1).getType()).getDimSize(2)}
                                                 : unitFirst("kernel_shape", {});
      std::vector<int64_t> strides = unitFirst("strides", {1}), dilations = unitFirst("dilations", {1});
      // resolvePads reads the 1-D attributes of the node: pads of the width only, then widened.
      auto x1 = llvm::cast<RankedTensorType>(in(0).getType());
      std::vector<int64_t> pads1 = resolvePads(n, x1, {kernel[1]}, {strides[1]}, {dilations[1]});
      std::vector<int64_t> pads = {0, pads1.at(0), 0, pads1.at(1)};
      Value r;
      if (op == "Conv")
        r = b_.create<g::ConvOp>(loc, result2d, x, heightOne(in(1)), hasInput(2) ? in(2) : Value(), Value(), i64s(strides),
                                 i64s(pads), i64s(dilations), b_.getI64IntegerAttr(intAttr(n, "group", 1)), nullptr, nullptr);
      else if (op == "MaxPool")
        r = maxPool(loc, result2d, x, kernel, strides, pads, intAttr(n, "ceil_mode", 0) != 0, dilations);
      else
        r = averagePool(loc, result2d, x, kernel, strides, pads, intAttr(n, "count_include_pad", 0) != 0);
      bind(b_.create<g::ReshapeOp>(loc, o, r));
    } else if (op == "BatchNormalization" && intAttr(n, "training_mode", 0) != 0) {
      // Training mode: x normalised by the batch's own statistics, per channel over every other
      // axis (the population variance, from the centred values), as ONNX's reference orders it,
      // s (x - mean) / sqrt(var + epsilon) + bias; the running mean and variance outputs blend
      // the given ones with them: given * momentum + batch's * (1 - momentum).
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      if (xt.getRank() < 2)
        throw ImportError{"node '" + name + "' (BatchNormalization): the input needs a channel axis (rank >= 2)"};
      const Composer ops{b_, loc, xt.getElementType()};
      const int64_t channels = xt.getDimSize(1);
      SmallVector<int64_t> channel(size_t(xt.getRank()), 1);
      channel[1] = channels;
      std::vector<int64_t> axes;
      for (int64_t d = 0; d < xt.getRank(); ++d)
        if (d != 1) axes.push_back(d);
      auto perChannel = [&](Value v) { return ops.reshape(v, channel); };
      Value mean = reduce(loc, in(0), "mean", axes, true, ops.typed(channel));
      Value centred = ops.sub(in(0), mean);
      Value var = reduce(loc, ops.mul(centred, centred), "mean", axes, true, ops.typed(channel));
      Value variance = ops.add(var, ops.constant(floatAttr(n, "epsilon", 1e-5f)));
      Value spread = b_.create<g::SqrtOp>(loc, variance.getType(), variance);
      values_[n.output(0)] = ops.add(ops.div(ops.mul(perChannel(in(1)), centred), spread), perChannel(in(2)));
      const double momentum = floatAttr(n, "momentum", 0.9f);
      auto blend = [&](int output, int given, Value batch) {
        if (n.output_size() <= output || n.output(output).empty()) return;
        values_[n.output(output)] = ops.add(ops.mul(in(given), ops.constant(momentum)),
                                            ops.mul(ops.reshape(batch, {channels}), ops.constant(1.0 - momentum)));
      };
      blend(1, 3, mean);
      blend(2, 4, var);
    } else if (op == "BatchNormalization" &&
               !(constantInput(n.input(1)) && constantInput(n.input(2)) && constantInput(n.input(3)) &&
                 constantInput(n.input(4)))) {
      // Statistics known only at run time: (x - mean) * scale / sqrt(var + epsilon) + bias as
      // element-wise ops, the per-channel operands as [C, 1, ..] that broadcast (the batch norm
      // kernel and the fold into a convolution take constants).
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      if (xt.getRank() < 2)
        throw ImportError{"node '" + name + "' (BatchNormalization): the input needs a channel axis (rank >= 2)"};
      SmallVector<int64_t> channel(size_t(xt.getRank() - 1), 1);
      channel[0] = xt.getDimSize(1);
      auto channelType = RankedTensorType::get(channel, xt.getElementType());
      auto perChannel = [&](int i) { return Value(b_.create<g::ReshapeOp>(loc, channelType, in(i))); };
      Value spread = b_.create<g::AddOp>(loc, channelType, perChannel(4),
                                         scalar(floatAttr(n, "epsilon", 1e-5f), xt.getElementType(), loc));
      Value factor = b_.create<g::DivOp>(loc, channelType, perChannel(1), b_.create<g::SqrtOp>(loc, channelType, spread));
      Value centred = b_.create<g::SubOp>(loc, xt, in(0), perChannel(3));
      bind(b_.create<g::AddOp>(loc, out(), b_.create<g::MulOp>(loc, xt, centred, factor), perChannel(2)));
    } else if (op == "BatchNormalization" && xRank() != 4) {
      // [N, C, ...] inputs of another rank: as [N, C, the other dims' product, 1] (the statistics
      // are per channel either way).
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      if (xt.getRank() < 2)
        throw ImportError{"node '" + name + "' (BatchNormalization): the input needs a channel axis (rank >= 2)"};
      int64_t inner = 1;
      for (int64_t d = 2; d < xt.getRank(); ++d) inner *= xt.getDimSize(d);
      auto t4 = RankedTensorType::get({xt.getDimSize(0), xt.getDimSize(1), inner, 1}, xt.getElementType());
      Value x = b_.create<g::ReshapeOp>(loc, t4, in(0));
      Value y = b_.create<g::BatchNormOp>(loc, t4, x, in(1), in(2), in(3), in(4),
                                          b_.getF32FloatAttr(floatAttr(n, "epsilon", 1e-5f)));
      bind(b_.create<g::ReshapeOp>(loc, out(), y));
    } else if (op == "ConvTranspose" && xRank() >= 3 && xRank() <= 5 && !convTransposeHasKernel(n)) {
      bind(convTransposeAsConv(n, name, loc, in(0), hasInput(2) ? in(2) : Value(), out()));
    } else if (op == "Conv" || op == "ConvTranspose") {
      Value x = in(0), w = in(1), bias = hasInput(2) ? in(2) : Value();
      auto wt = llvm::cast<RankedTensorType>(w.getType());
      std::vector<int64_t> kernel(wt.getShape().begin() + 2, wt.getShape().end());
      const size_t spatial = kernel.size();
      auto strides = ints(n, "strides", std::vector<int64_t>(spatial, 1));
      auto dilations = ints(n, "dilations", std::vector<int64_t>(spatial, 1));
      auto xt = llvm::cast<RankedTensorType>(x.getType());
      auto pads = resolvePads(n, xt, kernel, strides, dilations);
      const int64_t group = intAttr(n, "group", 1);
      if (op == "Conv")
        bind(b_.create<g::ConvOp>(loc, out(), x, w, bias, /*residual=*/Value(), i64s(strides), i64s(pads), i64s(dilations),
                                  b_.getI64IntegerAttr(group), /*clamp_min=*/nullptr,
                                  /*clamp_max=*/nullptr));
      else
        bind(b_.create<g::ConvTransposeOp>(
            loc, out(), x, w, bias, i64s(strides), i64s(pads), i64s(dilations),
            i64s(ints(n, "output_padding", std::vector<int64_t>(spatial, 0))),
            b_.getI64IntegerAttr(group), /*clamp_min=*/nullptr, /*clamp_max=*/nullptr));
    } else if (op == "LSTM" || op == "GRU" || op == "RNN") {
      importRecurrent(n, name, loc);
    } else if (op == "GridSample") {
      importGridSample(n, name, loc);
    } else if (op == "RoiAlign") {
      importRoiAlign(n, name, loc);
    } else if (op == "DFT") {
      importDft(n, name, loc, needConstant);
    } else if (op == "TfIdfVectorizer") {
      bind(tfIdf(loc, n, name, in(0)));
    } else if (op == "STFT") {
      importStft(n, name, loc, needConstant);
    } else if (op == "MatMulInteger" || op == "ConvInteger" || op == "QLinearMatMul" || op == "QLinearConv") {
      importIntegerProduct(n, name, loc);
    } else if (op == "MatMul") {
      bind(b_.create<g::MatMulOp>(loc, out(), in(0), in(1), /*clamp_min=*/nullptr,
                                  /*clamp_max=*/nullptr));
    } else if (op == "Scaler" || op == "LinearRegressor" || op == "Binarizer" || op == "Normalizer") {
      bind(mlOperator(loc, n, in(0)));
    } else if (op == "LinearClassifier") {
      linearClassifier(loc, n, in(0));
    } else if (op == "TreeEnsembleRegressor") {
      detail::TreeTables t;
      Value sums = treeEnsemble(loc, n, in(0), t);
      Composer ops{b_, loc, b_.getF32Type()};
      bind(ops.add(sums, ops.floats({t.targets}, t.base, "tree_base_values")));
    } else if (op == "TreeEnsembleClassifier") {
      // Three or more classes: the label is the first highest score's class (ONNX Runtime's, from
      // the scores before the post transform, which keeps their order); the scores transformed as
      // post_transform says. Two: twoClassEnsemble.
      detail::TreeTables t;
      Value carried;
      Value sums = treeEnsemble(loc, n, in(0), t, &carried);
      Composer ops{b_, loc, b_.getF32Type()};
      if (t.targets == 2) {
        twoClassEnsemble(loc, n, sums, carried, t);
        return;
      }
      Value scores = ops.add(sums, ops.floats({t.targets}, t.base, "tree_base_values"));
      values_[n.output(0)] = labelOfBest(loc, scores, t.labels);
      if (n.output_size() > 1 && !n.output(1).empty())
        values_[n.output(1)] = postTransformed(loc, scores, stringAttr(n, "post_transform", "NONE"));
    } else if (op == "Det") {
      bind(determinant(loc, in(0), out()));
    } else if (op == "Einsum") {
      std::vector<Value> xs;
      for (int i = 0; i < n.input_size(); ++i) xs.push_back(in(i));
      bind(einsum(loc, stringAttr(n, "equation", ""), xs, out()));
    } else if (op == "Gemm") {
      bind(b_.create<g::GemmOp>(loc, out(), in(0), in(1), hasInput(2) ? in(2) : Value(),
                                b_.getF32FloatAttr(floatAttr(n, "alpha", 1.0f)),
                                b_.getF32FloatAttr(floatAttr(n, "beta", 1.0f)),
                                b_.getBoolAttr(intAttr(n, "transA", 0)),
                                b_.getBoolAttr(intAttr(n, "transB", 0)), /*clamp_min=*/nullptr,
                                /*clamp_max=*/nullptr));
    } else if (op == "Add") {
      bind(b_.create<g::AddOp>(loc, out(), in(0), in(1)));
    } else if (op == "Sub") {
      bind(b_.create<g::SubOp>(loc, out(), in(0), in(1)));
    } else if (op == "Mul") {
      bind(b_.create<g::MulOp>(loc, out(), in(0), in(1)));
    } else if (op == "Div") {
      bind(b_.create<g::DivOp>(loc, out(), in(0), in(1)));
    } else if (op == "Max" || op == "Min" || op == "Sum" || op == "Mean") {
      // Variadic: a chain of binary ops, each result broadcast to the node's output shape (the
      // intermediate shapes follow from the inputs seen so far); Mean then scales the sum.
      Value acc = in(0);
      const bool scaled = op == "Mean" && n.input_size() > 1;
      for (int i = 1; i < n.input_size(); ++i) {
        auto at = llvm::cast<RankedTensorType>(acc.getType()), bt = llvm::cast<RankedTensorType>(in(i).getType());
        SmallVector<int64_t> shape;
        if (!OpTrait::util::getBroadcastedShape(at.getShape(), bt.getShape(), shape))
          throw ImportError{"node '" + name + "': inputs of " + op + " do not broadcast"};
        Type t = i + 1 == n.input_size() && !scaled ? out() : Type(RankedTensorType::get(shape, at.getElementType()));
        if (op == "Max") acc = b_.create<g::MaxOp>(loc, t, acc, in(i));
        else if (op == "Min") acc = b_.create<g::MinOp>(loc, t, acc, in(i));
        else acc = b_.create<g::AddOp>(loc, t, acc, in(i));
      }
      if (scaled)
        acc = b_.create<g::MulOp>(loc, out(), acc, scalar(1.0 / double(n.input_size()), out().getElementType(), loc));
      bind(acc);
    } else if (op == "PRelu") {
      // max(x, 0) + slope * min(x, 0): the slope broadcasts (unidirectionally) onto x.
      Value x = in(0);
      SmallVector<int64_t> shape;
      auto xt = llvm::cast<RankedTensorType>(x.getType()), st = llvm::cast<RankedTensorType>(in(1).getType());
      if (!OpTrait::util::getBroadcastedShape(xt.getShape(), st.getShape(), shape) || ArrayRef<int64_t>(shape) != xt.getShape())
        throw ImportError{"node '" + name + "' (PRelu): a slope of shape " + shapeText(st) +
                          " does not broadcast onto the input's " + shapeText(xt)};
      Value zero = scalar(0.0, out().getElementType(), loc);
      Value negative = b_.create<g::MinOp>(loc, out(), x, zero);
      Value scaledNegative = b_.create<g::MulOp>(loc, out(), negative, in(1));
      Value positive = b_.create<g::ReluOp>(loc, out(), x);
      bind(b_.create<g::AddOp>(loc, out(), positive, scaledNegative));
    } else if (op == "Pow") {
      // A constant exponent powerExponent accepts becomes products, square roots or exp(y log x);
      // any other exponent a graph.pow (per element), as float32 (integers converted).
      // An integer base: a graph.pow on the scalar unit, the exponent in the base's type.
      const onnx::TensorProto *y = hasInput(1) ? constantInput(n.input(1)) : nullptr;
      if (out().getElementType().isInteger()) {
        Value exponent = in(1);
        if (!Composer::elementOf(exponent).isInteger())
          throw ImportError{"node '" + name + "' (Pow): an integer base needs an integer exponent"};
        if (llvm::cast<RankedTensorType>(exponent.getType()).getElementType() != out().getElementType())
          exponent = b_.create<g::CastOp>(
              loc, RankedTensorType::get(llvm::cast<RankedTensorType>(exponent.getType()).getShape(), out().getElementType()),
              exponent);
        bind(b_.create<g::PowOp>(loc, out(), in(0), exponent));
      } else if (y && std::holds_alternative<double>(detail::powerExponent(*y))) {
        bind(power(name, loc, in(0), *y, out()));
      } else {
        auto yt = llvm::cast<RankedTensorType>(in(1).getType());
        auto floatType = RankedTensorType::get(yt.getShape(), out().getElementType());
        Value exponent = in(1);
        if (y && !yt.getElementType().isF32()) {
          std::optional<std::vector<int64_t>> ints = tensorInts(*y);
          if (!ints) throw ImportError{"node '" + name + "' (Pow): the exponent must be float32, int32 or int64"};
          std::vector<float> floats(ints->begin(), ints->end());
          exponent = Composer{b_, loc, {}}.floats(floatType.getShape(), floats, name + "/exponent");
        } else if (!yt.getElementType().isF32()) {
          exponent = b_.create<g::CastOp>(loc, floatType, in(1));
        }
        bind(b_.create<g::PowOp>(loc, out(), in(0), exponent));
      }
    } else if (op == "Expand") {
      // x + zeros, the zeros only as large as the axes x is expanded along (1 elsewhere): the sum's
      // broadcast shape is Expand's (bidirectional), its values x's.
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      auto o = out();
      SmallVector<int64_t> zeroShape;
      for (int64_t d = 0; d < o.getRank(); ++d) {
        const int64_t fromX = d - (o.getRank() - xt.getRank()); // x's axis under d, right-aligned
        zeroShape.push_back(fromX >= 0 && xt.getDimSize(fromX) == o.getDimSize(d) ? 1 : o.getDimSize(d));
      }
      auto zeroType = RankedTensorType::get(zeroShape, o.getElementType());
      Value zeros = b_.create<g::ConstantOp>(loc, DenseElementsAttr::get(zeroType, b_.getZeroAttr(o.getElementType())));
      bind(b_.create<g::AddOp>(loc, o, in(0), zeros));
    } else if (op == "Tile") {
      // An axis repeated r > 1 times gets a unit axis before it, which an add of zeros [.., r, 1, ..]
      // broadcasts to r (the broadcast kernel copies x by DMA); a reshape merges each pair back.
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      const std::vector<int64_t> repeats = intsOf(needConstant(1, "repeats input"));
      if (int64_t(repeats.size()) != xt.getRank())
        throw ImportError{"node '" + name + "' (Tile): " + std::to_string(repeats.size()) + " repeats for an input of rank " +
                          std::to_string(xt.getRank())};
      SmallVector<int64_t> spread, zeros;
      for (int64_t d = 0; d < xt.getRank(); ++d) {
        if (repeats[size_t(d)] > 1) {
          spread.push_back(1);
          zeros.push_back(repeats[size_t(d)]);
        }
        spread.push_back(xt.getDimSize(d));
        zeros.push_back(1);
      }
      Value x = b_.create<g::ReshapeOp>(loc, RankedTensorType::get(spread, xt.getElementType()), in(0));
      auto zeroType = RankedTensorType::get(zeros, xt.getElementType());
      Value zero = b_.create<g::ConstantOp>(loc, DenseElementsAttr::get(zeroType, b_.getZeroAttr(xt.getElementType())));
      SmallVector<int64_t> tiled;
      for (size_t i = 0; i < spread.size(); ++i) tiled.push_back(std::max(spread[i], zeros[i]));
      Value sum = b_.create<g::AddOp>(loc, RankedTensorType::get(tiled, xt.getElementType()), x, zero);
      bind(b_.create<g::ReshapeOp>(loc, out(), sum));
    } else if (op == "InstanceNormalization") {
      // Per (image, channel) over the spatial axes: a layer norm from axis 2 (unit scale), then the
      // per-channel scale and bias as [C, 1, ..] operands that broadcast.
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      if (xt.getRank() < 3)
        throw ImportError{"node '" + name + "' (InstanceNormalization): the input needs spatial axes (rank >= 3)"};
      SmallVector<int64_t> spatial(xt.getShape().begin() + 2, xt.getShape().end()), stats(xt.getShape());
      for (size_t d = 2; d < stats.size(); ++d) stats[d] = 1;
      auto onesType = RankedTensorType::get(spatial, xt.getElementType());
      Value ones = b_.create<g::ConstantOp>(loc, DenseElementsAttr::get(onesType, b_.getFloatAttr(xt.getElementType(), 1.0)));
      auto statsType = RankedTensorType::get(stats, xt.getElementType());
      Value normalized = b_.create<g::LayerNormOp>(loc, TypeRange{xt, statsType, statsType}, in(0), ones, Value(),
                                                   b_.getI64IntegerAttr(2),
                                                   b_.getF32FloatAttr(floatAttr(n, "epsilon", 1e-5f)))
                             ->getResult(0);
      SmallVector<int64_t> channel(size_t(xt.getRank() - 1), 1);
      channel[0] = xt.getDimSize(1);
      auto channelType = RankedTensorType::get(channel, xt.getElementType());
      Value scaled = b_.create<g::MulOp>(loc, xt, normalized, b_.create<g::ReshapeOp>(loc, channelType, in(1)));
      bind(b_.create<g::AddOp>(loc, out(), scaled, b_.create<g::ReshapeOp>(loc, channelType, in(2))));
    } else if (op == "GlobalMaxPool") {
      std::vector<int64_t> axes;
      for (int64_t d = 2; d < xRank(); ++d) axes.push_back(d);
      bind(b_.create<g::ReduceOp>(loc, out(), in(0), b_.getStringAttr("max"), i64s(axes), b_.getBoolAttr(true)));
    } else if (isUnary(op)) { // checked first: in(0) of an input-less node (Constant) must not run
      bind(createUnary(op, loc, out(), in(0))->getResult(0));
    } else if (op == "Sinh" || op == "Cosh" || op == "Asinh" || op == "Acosh" || op == "Atanh" || op == "Celu" ||
               op == "ThresholdedRelu" || op == "Shrink" || op == "IsInf" || op == "IsNaN") {
      bind(composite(n, loc, in(0), out()));
    } else if (op == "Tanh" || op == "LeakyRelu" || op == "Elu" || op == "Selu" || op == "Softplus" ||
               op == "Softsign" || op == "HardSwish") {
      static const std::map<std::string, std::pair<const char *, std::pair<float, float>>> kinds = {
          {"Tanh", {"tanh", {0.0f, 0.0f}}},          {"LeakyRelu", {"leaky_relu", {0.01f, 0.0f}}},
          {"Elu", {"elu", {1.0f, 0.0f}}},            {"Selu", {"selu", {1.67326319217681884765625f, 1.05070102214813232421875f}}},
          {"Softplus", {"softplus", {0.0f, 0.0f}}},  {"Softsign", {"softsign", {0.0f, 0.0f}}},
          {"HardSwish", {"hard_swish", {0.0f, 0.0f}}}};
      const auto &[kind, defaults] = kinds.at(op);
      // ONNX names Selu's scale `gamma`; it is carried as beta.
      const float alpha = floatAttr(n, "alpha", defaults.first);
      const float beta = op == "Selu" ? floatAttr(n, "gamma", defaults.second) : defaults.second;
      bind(b_.create<g::ActivationOp>(loc, out(), in(0), b_.getStringAttr(kind), b_.getF32FloatAttr(alpha),
                                      b_.getF32FloatAttr(beta)));
    } else if (op.rfind("Reduce", 0) == 0) {
      static const std::map<std::string, const char *> kinds = {
          {"ReduceSum", "sum"},       {"ReduceMean", "mean"}, {"ReduceMax", "max"},
          {"ReduceMin", "min"},       {"ReduceL1", "l1"},     {"ReduceL2", "l2"},
          {"ReduceSumSquare", "sum_square"}, {"ReduceLogSum", "log_sum"}, {"ReduceLogSumExp", "log_sum_exp"},
          {"ReduceProd", "prod"}};
      const int64_t rank = llvm::cast<RankedTensorType>(in(0).getType()).getRank();
      std::vector<int64_t> axes = hasInput(1) ? intsOf(needConstant(1, "axes input")) : ints(n, "axes", {});
      if (axes.empty() && intAttr(n, "noop_with_empty_axes", 0)) { // ONNX: the input unchanged
        bind(in(0));
        return;
      }
      if (axes.empty())
        for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
      for (int64_t &a : axes)
        if (a < 0) a += rank;
      std::sort(axes.begin(), axes.end());
      axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
      const bool keepdims = intAttr(n, "keepdims", 1) != 0;
      bind(op == "ReduceProd" ? reduceProduct(loc, in(0), axes, keepdims, out())
                              : reduce(loc, in(0), kinds.at(op), axes, keepdims, out()));
    } else if (op == "LRN") {
      // x / (bias + alpha / size * sum of x^2 over `size` neighbouring channels)^beta: the squares
      // viewed as [N, 1, C, H*W] averaged over (size, 1) windows, pads counted (sum / size).
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      if (xt.getRank() != 4) throw ImportError{"node '" + name + "' (LRN): only 4-D inputs [N, C, H, W]"};
      const int64_t size = intAttr(n, "size", 0), batch = xt.getDimSize(0), c = xt.getDimSize(1),
                    plane = xt.getDimSize(2) * xt.getDimSize(3);
      if (size < 1) throw ImportError{"node '" + name + "' (LRN): size must be positive"};
      auto column = RankedTensorType::get({batch, 1, c, plane}, xt.getElementType());
      Value squares = b_.create<g::ReshapeOp>(loc, column, b_.create<g::MulOp>(loc, xt, in(0), in(0)));
      Value mean = averagePool(loc, column, squares, {size, 1}, {1, 1}, {(size - 1) / 2, 0, size / 2, 0}, true);
      auto c0 = [&](double v) { return scalar(v, xt.getElementType(), loc); };
      Value base = b_.create<g::AddOp>(loc, xt, b_.create<g::MulOp>(loc, xt, b_.create<g::ReshapeOp>(loc, xt, mean),
                                                                     c0(floatAttr(n, "alpha", 1e-4f))),
                                       c0(floatAttr(n, "bias", 1.0f)));
      Value scale = b_.create<g::ExpOp>(loc, xt, b_.create<g::MulOp>(loc, xt, b_.create<g::LogOp>(loc, xt, base),
                                                                    c0(floatAttr(n, "beta", 0.75f))));
      bind(b_.create<g::DivOp>(loc, out(), in(0), scale));
    } else if (op == "MeanVarianceNormalization") { // (x - mean) / (sqrt(mean((x - mean)^2)) + 1e-9)
      std::vector<int64_t> axes = ints(n, "axes", {0, 2, 3});
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      for (int64_t &a : axes)
        if (a < 0) a += xt.getRank();
      std::sort(axes.begin(), axes.end());
      axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
      SmallVector<int64_t> keptShape(xt.getShape());
      for (int64_t a : axes) keptShape[a] = 1;
      auto kt = RankedTensorType::get(keptShape, xt.getElementType());
      Value mean = reduce(loc, in(0), "mean", axes, true, kt);
      Value centred = b_.create<g::SubOp>(loc, xt, in(0), mean);
      Value variance = reduce(loc, b_.create<g::MulOp>(loc, xt, centred, centred), "mean", axes, true, kt);
      Value deviation = b_.create<g::AddOp>(loc, kt, b_.create<g::SqrtOp>(loc, kt, variance),
                                            scalar(1e-9, xt.getElementType(), loc));
      bind(b_.create<g::DivOp>(loc, out(), centred, deviation));
    } else if (op == "NegativeLogLikelihoodLoss" || op == "SoftmaxCrossEntropyLoss") {
      Value logProb = in(0);
      if (op == "SoftmaxCrossEntropyLoss") { // log_softmax over the classes, then the NLL
        logProb = b_.create<g::SoftmaxOp>(loc, in(0).getType(), in(0), b_.getStringAttr("log_softmax"), i64s({1}));
        if (n.output_size() > 1 && !n.output(1).empty()) values_[n.output(1)] = logProb;
      }
      const auto *ignore = attr(n, "ignore_index");
      bind(b_.create<g::NllLossOp>(loc, out(), logProb, in(1), hasInput(2) ? in(2) : Value(),
                                   b_.getStringAttr(stringAttr(n, "reduction", "mean")),
                                   ignore ? b_.getI64IntegerAttr(ignore->i()) : IntegerAttr()));
    } else if (op == "TopK") { // k: an attribute before opset 10, a constant input from it
      const int64_t rank = llvm::cast<RankedTensorType>(in(0).getType()).getRank();
      int64_t axis = intAttr(n, "axis", -1);
      if (axis < 0) axis += rank;
      const std::vector<int64_t> k = opset_ < 10 ? std::vector<int64_t>{intAttr(n, "k", 0)} : intsOf(needConstant(1, "k input"));
      if (k.size() != 1) throw ImportError{"node '" + name + "' (TopK): k must hold one value"};
      // Along another axis than the last: that axis moved last by a transpose (DMA), selected there
      // on the vector unit, and both results moved back.
      const SmallVector<int64_t> xs = Composer::shapeOf(in(0));
      SmallVector<int64_t> perm, back(static_cast<size_t>(rank));
      for (int64_t d = 0; d < rank; ++d)
        if (d != axis) perm.push_back(d);
      perm.push_back(axis);
      const bool last = std::all_of(xs.begin() + axis + 1, xs.end(), [](int64_t d) { return d == 1; });
      if (last) std::iota(perm.begin(), perm.end(), 0);
      for (int64_t d = 0; d < rank; ++d) back[size_t(perm[size_t(d)])] = d;
      const Composer ops{b_, loc, out(0).getElementType()};
      auto permuted = [&](RankedTensorType t) {
        SmallVector<int64_t> shape;
        for (int64_t p : perm) shape.push_back(t.getDimSize(p));
        return ops.typed(shape, t.getElementType());
      };
      auto topK = b_.create<g::TopKOp>(loc, permuted(out(0)), permuted(out(1)), last ? in(0) : ops.transpose(in(0), perm),
                                       b_.getI64IntegerAttr(k[0]), b_.getI64IntegerAttr(last ? axis : rank - 1),
                                       b_.getBoolAttr(intAttr(n, "largest", 1) != 0), b_.getBoolAttr(intAttr(n, "sorted", 1) != 0));
      bind(last ? topK.getValues() : ops.transpose(topK.getValues(), back));
      if (n.output_size() > 1 && !n.output(1).empty())
        values_[n.output(1)] = last ? topK.getIndices() : ops.transpose(topK.getIndices(), back);
    } else if (op == "ArgMax" || op == "ArgMin") {
      int64_t axis = intAttr(n, "axis", 0);
      if (axis < 0) axis += llvm::cast<RankedTensorType>(in(0).getType()).getRank();
      bind(b_.create<g::ArgReduceOp>(loc, out(), in(0), b_.getStringAttr(op == "ArgMax" ? "max" : "min"),
                                     b_.getI64IntegerAttr(axis), b_.getBoolAttr(intAttr(n, "keepdims", 1) != 0),
                                     b_.getBoolAttr(intAttr(n, "select_last_index", 0) != 0)));
    } else if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") {
      // Opset 13 normalises over `axis` (default -1); before, over every axis from `axis` (default 1).
      const int64_t rank = llvm::cast<RankedTensorType>(in(0).getType()).getRank();
      int64_t axis = intAttr(n, "axis", opset_ >= 13 ? -1 : 1);
      if (axis < 0) axis += rank;
      std::vector<int64_t> axes;
      for (int64_t d = axis; d < (opset_ >= 13 ? axis + 1 : rank); ++d) axes.push_back(d);
      const char *kind = op == "Softmax" ? "softmax" : op == "LogSoftmax" ? "log_softmax" : "hardmax";
      bind(b_.create<g::SoftmaxOp>(loc, out(), in(0), b_.getStringAttr(kind), i64s(axes)));
    } else if (op == "LayerNormalization") {
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      int64_t axis = intAttr(n, "axis", -1);
      if (axis < 0) axis += xt.getRank();
      SmallVector<int64_t> stats;
      for (int64_t d = 0; d < xt.getRank(); ++d) stats.push_back(d >= axis ? 1 : xt.getDimSize(d));
      auto statsType = RankedTensorType::get(stats, xt.getElementType());
      auto ln = b_.create<g::LayerNormOp>(loc, TypeRange{out(), statsType, statsType}, in(0), in(1),
                                          hasInput(2) ? in(2) : Value(), b_.getI64IntegerAttr(axis),
                                          b_.getF32FloatAttr(floatAttr(n, "epsilon", 1e-5f)));
      for (int i = 0; i < 3 && i < n.output_size(); ++i)
        if (!n.output(i).empty()) values_[n.output(i)] = ln->getResult(i);
    } else if (op == "Clip" && llvm::isa<IntegerType>(llvm::cast<RankedTensorType>(in(0).getType()).getElementType())) {
      // Integers: max with the lower bound, min with the upper one (each a one-element tensor of
      // x's type, broadcast), exact in any width; without bounds, x itself.
      Value v = in(0);
      if (hasInput(1)) v = b_.create<g::MaxOp>(loc, out(), v, in(1));
      if (hasInput(2)) v = b_.create<g::MinOp>(loc, out(), v, in(2));
      bind(v);
    } else if (op == "Clip") {
      float lo = floatAttr(n, "min", -FLT_MAX), hi = floatAttr(n, "max", FLT_MAX);
      if (hasInput(1))
        lo = floatOf(needConstant(1, "min input"));
      if (hasInput(2))
        hi = floatOf(needConstant(2, "max input"));
      bind(b_.create<g::ClipOp>(loc, out(), in(0), b_.getF32FloatAttr(lo), b_.getF32FloatAttr(hi)));
    } else if (op == "HardSigmoid") {
      bind(b_.create<g::HardSigmoidOp>(loc, out(), in(0),
                                       b_.getF32FloatAttr(floatAttr(n, "alpha", 0.2f)),
                                       b_.getF32FloatAttr(floatAttr(n, "beta", 0.5f))));
    } else if (op == "BatchNormalization") {
      bind(b_.create<g::BatchNormOp>(loc, out(), in(0), in(1), in(2), in(3), in(4),
                                     b_.getF32FloatAttr(floatAttr(n, "epsilon", 1e-5f))));
    } else if (op == "MaxPool" || op == "AveragePool") {
      auto kernel = ints(n, "kernel_shape", {});
      auto strides = ints(n, "strides", std::vector<int64_t>(kernel.size(), 1));
      auto dilations = ints(n, "dilations", std::vector<int64_t>(kernel.size(), 1));
      auto pads = resolvePads(n, llvm::cast<RankedTensorType>(in(0).getType()), kernel, strides,
                              dilations);
      auto ceil = b_.getBoolAttr(intAttr(n, "ceil_mode", 0));
      if (op == "MaxPool" && n.output_size() > 1 && !n.output(1).empty()) // checked: 2-D, float32
        importMaxPoolWithIndices(n, loc, kernel, strides, pads, dilations);
      else if (op == "MaxPool" && llvm::isa<IntegerType>(out().getElementType())) { // 8/16-bit: exact in float32
        auto f32 = [&](RankedTensorType t) { return RankedTensorType::get(t.getShape(), b_.getF32Type()); };
        Value x = b_.create<g::CastOp>(loc, f32(llvm::cast<RankedTensorType>(in(0).getType())), in(0));
        bind(b_.create<g::CastOp>(loc, out(), maxPool(loc, f32(out()), x, kernel, strides, pads, ceil.getValue(), dilations)));
      } else if (op == "MaxPool")
        bind(maxPool(loc, out(), in(0), kernel, strides, pads, ceil.getValue(), dilations));
      else
        bind(averagePool(loc, out(), in(0), kernel, strides, pads, intAttr(n, "count_include_pad", 0) != 0));
    } else if (op == "GlobalAveragePool") {
      bind(b_.create<g::GlobalAvgPoolOp>(loc, out(), in(0)));
    } else if (op == "Resize" || op == "Upsample") {
      // Scales, which ONNX's coordinate rules use when the model gives them: Resize's input 2
      // (opset 10: input 1), else output / input sizes; Upsample's (nearest: asymmetric, floor;
      // linear: asymmetric) from its `scales` attribute (opset 7-8) or input 1 (opset 9).
      ResizeModes m = resizeModes(n);
      const int scalesSlot = op == "Upsample" || opset_ < 11 ? 1 : 2;
      if (hasInput(scalesSlot)) m.scales = floatsOf(needConstant(scalesSlot, "scales input"));
      if (m.ctm == "tf_crop_and_resize") { // its region of interest: input 1 (the check asked for it)
        m.roi = floatsOf(needConstant(1, "roi input"));
        const size_t rank = size_t(llvm::cast<RankedTensorType>(in(0).getType()).getRank());
        if (m.roi.size() != 2 * rank || (rank == 4 && (m.roi[0] != 0 || m.roi[1] != 0 || m.roi[4] != 1 || m.roi[5] != 1)))
          throw ImportError{"tf_crop_and_resize needs a roi of 2 x rank values that keeps N and C whole ([0, 0, y1, x1, 1, "
                            "1, y2, x2])"};
      }
      if (op == "Upsample") {
        m.ctm = "asymmetric";
        m.nearestMode = "floor";
        if (const auto *a = attr(n, "scales")) m.scales.assign(a->floats().begin(), a->floats().end());
      }
      bind(resize(loc, in(0), out(), m));
    } else if (op == "Concat") {
      SmallVector<Value> inputs;
      for (int i = 0; i < n.input_size(); ++i)
        inputs.push_back(in(i));
      int64_t axis = intAttr(n, "axis", 0);
      if (axis < 0)
        axis += out().getRank();
      bind(b_.create<g::ConcatOp>(loc, out(), inputs, b_.getI64IntegerAttr(axis)));
    } else if (op == "Transpose") {
      const int64_t rank = llvm::cast<RankedTensorType>(in(0).getType()).getRank();
      std::vector<int64_t> reversed;
      for (int64_t i = rank - 1; i >= 0; --i)
        reversed.push_back(i);
      bind(b_.create<g::TransposeOp>(loc, out(), in(0), i64s(ints(n, "perm", reversed))));
    } else if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") {
      bind(b_.create<g::ReshapeOp>(loc, out(), in(0)));
    } else if (op == "Identity") {
      bind(in(0));
    } else if (op == "Slice") {
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      const int64_t rank = xt.getRank();
      std::vector<int64_t> starts, ends, axes, steps;
      if (hasInput(1)) {
        starts = intsOf(needConstant(1, "starts input"));
        ends = intsOf(needConstant(2, "ends input"));
        if (hasInput(3))
          axes = intsOf(needConstant(3, "axes input"));
        if (hasInput(4))
          steps = intsOf(needConstant(4, "steps input"));
      } else {
        starts = ints(n, "starts", {});
        ends = ints(n, "ends", {});
        axes = ints(n, "axes", {});
      }
      if (axes.empty())
        for (size_t i = 0; i < starts.size(); ++i)
          axes.push_back(static_cast<int64_t>(i));
      if (steps.empty())
        steps.assign(starts.size(), 1);
      std::vector<int64_t> s(rank, 0), e(xt.getShape().begin(), xt.getShape().end()), st(rank, 1);
      for (size_t i = 0; i < axes.size(); ++i) {
        const int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i], dim = xt.getDimSize(a);
        auto clamp = [&](int64_t v, int64_t lo, int64_t hi) {
          if (v < 0)
            v += dim;
          return std::min(std::max(v, lo), hi);
        };
        st[a] = steps[i];
        s[a] = steps[i] > 0 ? clamp(starts[i], 0, dim) : clamp(starts[i], 0, dim - 1);
        e[a] = steps[i] > 0 ? clamp(ends[i], 0, dim) : clamp(ends[i], -1, dim - 1);
      }
      bind(b_.create<g::SliceOp>(loc, out(), in(0), i64s(s), i64s(e), i64s(st)));
    } else if (op == "DepthToSpace" || op == "SpaceToDepth") {
      // A 6-D reshape, a transpose, a reshape to the result (ONNX defines them this way).
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      if (xt.getRank() != 4) throw ImportError{"node '" + name + "' (" + op + "): input must be 4-D"};
      const int64_t b = intAttr(n, "blocksize", 0), nn = xt.getDimSize(0), c = xt.getDimSize(1), h = xt.getDimSize(2),
                    w = xt.getDimSize(3);
      if (b < 1) throw ImportError{"node '" + name + "' (" + op + "): blocksize must be positive"};
      std::vector<int64_t> shape6, perm;
      if (op == "SpaceToDepth") {
        shape6 = {nn, c, h / b, b, w / b, b};
        perm = {0, 3, 5, 1, 2, 4};
      } else if (stringAttr(n, "mode", "DCR") == "DCR") {
        shape6 = {nn, b, b, c / (b * b), h, w};
        perm = {0, 3, 4, 1, 5, 2};
      } else {
        shape6 = {nn, c / (b * b), b, b, h, w};
        perm = {0, 1, 4, 2, 5, 3};
      }
      Value r6 = b_.create<g::ReshapeOp>(loc, RankedTensorType::get(shape6, xt.getElementType()), in(0));
      bind(b_.create<g::ReshapeOp>(loc, out(), transposed(loc, r6, perm)));
    } else if (op == "ReverseSequence") {
      // y[t, b] = x[len_b - 1 - t, b] for t < len_b, else x[t, b] (time and batch axes 0 and 1,
      // either way): each element's source time index as int64 (on the scalar unit), broadcast to
      // x's shape by adding zeros, then GatherElements along the time axis.
      const int64_t batchAxis = intAttr(n, "batch_axis", 1), timeAxis = intAttr(n, "time_axis", 0);
      const SmallVector<int64_t> xs = Composer::shapeOf(in(0));
      const int64_t rank = int64_t(xs.size());
      if (rank < 2 || !((batchAxis == 0 && timeAxis == 1) || (batchAxis == 1 && timeAxis == 0)))
        throw ImportError{"node '" + name + "' (ReverseSequence): batch_axis and time_axis must be 0 and 1"};
      const Composer ops{b_, loc, b_.getI64Type()};
      auto int64s = [&](const std::string &what, std::vector<int64_t> dims, const std::vector<int64_t> &values) {
        return computedConstant(name + "/" + what, onnx::TensorProto::INT64, dims, rawBytes(values), loc);
      };
      std::vector<int64_t> timeShape(size_t(rank), 1), lengthShape(size_t(rank), 1), steps;
      timeShape[size_t(timeAxis)] = xs[size_t(timeAxis)];
      lengthShape[size_t(batchAxis)] = xs[size_t(batchAxis)];
      for (int64_t t = 0; t < xs[size_t(timeAxis)]; ++t) steps.push_back(t);
      Value time = int64s("time", timeShape, steps), length = ops.reshape(in(1), lengthShape);
      Value reversed = ops.sub(ops.sub(length, int64s("one", {}, {1})), time);
      Value source = ops.where(ops.compare("lt", time, length), reversed, time);
      int64_t count = 1;
      for (int64_t d : xs) count *= d;
      source = ops.add(source, int64s("zeros", std::vector<int64_t>(xs.begin(), xs.end()), std::vector<int64_t>(size_t(count), 0)));
      bind(b_.create<g::GatherOp>(loc, out(), in(0), source, b_.getI64IntegerAttr(timeAxis), b_.getBoolAttr(true)));
    } else if (op == "Gather" || op == "GatherElements") {
      int64_t axis = intAttr(n, "axis", 0);
      if (axis < 0) axis += llvm::cast<RankedTensorType>(in(0).getType()).getRank();
      bind(b_.create<g::GatherOp>(loc, out(), in(0), in(1), b_.getI64IntegerAttr(axis),
                                  b_.getBoolAttr(op == "GatherElements")));
    } else if (op == "QuantizeLinear" || op == "DequantizeLinear") {
      // Linear (de)quantization as float32 graph ops: y = saturate(round_half_even(x / scale) +
      // zero_point) as uint8/int8; x = (y - zero_point) * scale. A per-axis scale (and zero
      // point) is 1-D along `axis`, viewed as [C, 1, ...] so that it broadcasts there.
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      const int64_t rank = xt.getRank();
      int64_t axis = intAttr(n, "axis", 1);
      if (axis < 0) axis += rank;
      auto f32 = [&](ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, b_.getF32Type()); };
      auto perAxis = [&](Value v) { return alongAxis(loc, v, rank - axis - 1); };
      auto asFloat = [&](Value v) {
        return Value(b_.create<g::CastOp>(loc, f32(llvm::cast<RankedTensorType>(v.getType()).getShape()), v));
      };
      // A DequantizeLinear of a QuantizeLinear with the same constant per-tensor parameters (the
      // pair quantization tools write around every quantized activation): one fake_quant op.
      const std::string params = n.input(1) + "|" + (hasInput(2) ? n.input(2) : "");
      if (auto pair = fakeQuantizable_.find(n.input(0));
          op == "DequantizeLinear" && pair != fakeQuantizable_.end() && pair->second.params == params) {
        const FakeQuantizable &q = pair->second;
        bind(b_.create<g::FakeQuantOp>(loc, out(), q.x, b_.getF32FloatAttr(q.scale), b_.getF32FloatAttr(q.zero),
                                       b_.getF32FloatAttr(q.lo), b_.getF32FloatAttr(q.hi)));
        return;
      }
      if (op == "QuantizeLinear") {
        const onnx::TensorProto *s = constantInput(n.input(1)), *z = hasInput(2) ? constantInput(n.input(2)) : nullptr;
        std::optional<std::vector<float>> scaleValue = s ? tensorFloats(*s) : std::nullopt;
        std::optional<std::vector<double>> zeroValue = eightBitValues(z);
        const auto [lo, hi] = eightBitRange(out().getElementType());
        if (scaleValue && scaleValue->size() == 1 && (*scaleValue)[0] > 0 && (!hasInput(2) || (zeroValue && zeroValue->size() == 1)))
          fakeQuantizable_[n.output(0)] = {in(0), params, (*scaleValue)[0], zeroValue ? float((*zeroValue)[0]) : 0.0f, lo, hi};
      }
      Value scale = perAxis(in(1)), zero = hasInput(2) ? asFloat(perAxis(in(2))) : Value();
      if (op == "DequantizeLinear") {
        // A QuantizeLinear's output (a Q/DQ pair, as quantization tools write them around every
        // quantized op): its float32 values before the narrowing cast are the same integers,
        // so no round trip through 8 bits (two casts, one of them element by element).
        Value x = in(0);
        x = quantizedAsFloat(x) ? quantizedAsFloat(x) : asFloat(x);
        if (zero) x = b_.create<g::SubOp>(loc, f32(xt.getShape()), x, zero);
        bind(b_.create<g::MulOp>(loc, out(), x, scale));
      } else {
        bind(quantize(loc, in(0), scale, zero, out()));
      }
    } else if (op == "DynamicQuantizeLinear") {
      // uint8 with scale (max(0, max x) - min(0, min x)) / 255 and zero point
      // saturate(round(-min(0, min x) / scale)), the three outputs as ONNX defines them.
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      std::vector<int64_t> all(size_t(xt.getRank()));
      for (size_t d = 0; d < all.size(); ++d) all[d] = int64_t(d);
      auto one = RankedTensorType::get({}, b_.getF32Type());
      Value zero = scalar(0.0, b_.getF32Type(), loc);
      Value hi = b_.create<g::MaxOp>(loc, one, reduce(loc, in(0), "max", all, false, one), zero);
      Value lo = b_.create<g::MinOp>(loc, one, reduce(loc, in(0), "min", all, false, one), zero);
      Value scale = b_.create<g::DivOp>(loc, one, b_.create<g::SubOp>(loc, one, hi, lo), scalar(255.0, b_.getF32Type(), loc));
      Value point = b_.create<g::SubOp>(loc, one, zero, b_.create<g::DivOp>(loc, one, lo, scale));
      point = b_.create<g::RoundingOp>(loc, one, point, b_.getStringAttr("round"));
      point = b_.create<g::ClipOp>(loc, one, point, b_.getF32FloatAttr(0.0f), b_.getF32FloatAttr(255.0f));
      bind(quantize(loc, in(0), scale, point, out(0)));
      if (n.output_size() > 1 && !n.output(1).empty()) values_[n.output(1)] = scale;
      if (n.output_size() > 2 && !n.output(2).empty()) values_[n.output(2)] = b_.create<g::CastOp>(loc, out(2), point);
    } else if (op == "BitShift") {
      bind(b_.create<g::BitShiftOp>(loc, out(), in(0), in(1), b_.getBoolAttr(stringAttr(n, "direction", "") == "LEFT")));
    } else if (op == "Mod") {
      bind(b_.create<g::ModOp>(loc, out(), in(0), in(1), b_.getBoolAttr(intAttr(n, "fmod", 0) != 0)));
    } else if (op == "GatherND") {
      bind(b_.create<g::GatherNdOp>(loc, out(), in(0), in(1), b_.getI64IntegerAttr(intAttr(n, "batch_dims", 0))));
    } else if (op == "ScatterElements" || op == "Scatter" || op == "ScatterND") {
      int64_t axis = intAttr(n, "axis", 0);
      if (axis < 0) axis += llvm::cast<RankedTensorType>(in(0).getType()).getRank();
      bind(b_.create<g::ScatterOp>(loc, out(), in(0), in(1), in(2), b_.getI64IntegerAttr(op == "ScatterND" ? 0 : axis),
                                   b_.getBoolAttr(op == "ScatterND"), b_.getStringAttr(stringAttr(n, "reduction", "none"))));
    } else if (op == "CumSum") {
      // A prefix sum by doubling: after the additions of the values 1, 2, 4, ... places before
      // (zeros entering at the start; at the end with `reverse`), each element holds the sum of
      // itself and all before it; `exclusive` shifts by one first. log2(length) additions of
      // whole tensors rather than length dependent ones (float32 sums in another order than
      // ONNX Runtime's running sum: within a few ulps of the largest partial sum).
      Value x = in(0);
      auto xt = llvm::cast<RankedTensorType>(x.getType());
      const Composer ops{b_, loc, xt.getElementType()};
      int64_t axis = intsOf(needConstant(1, "axis input")).at(0);
      if (axis < 0) axis += xt.getRank();
      if (axis < 0 || axis >= xt.getRank())
        throw ImportError{"node '" + name + "' (CumSum): axis out of range for a rank-" + std::to_string(xt.getRank()) +
                          " input"};
      const bool reverse = intAttr(n, "reverse", 0) != 0;
      const SmallVector<int64_t> shape(xt.getShape());
      const int64_t length = shape[size_t(axis)];
      // v moved `s` (< length) places along the axis, toward its end (its start with `reverse`).
      auto shifted = [&](Value v, int64_t s) {
        SmallVector<int64_t> zeroShape = shape, start(shape.size(), 0), end = shape;
        zeroShape[size_t(axis)] = s;
        Value zeros = b_.create<g::ConstantOp>(
            loc, DenseElementsAttr::get(ops.typed(zeroShape), b_.getZeroAttr(xt.getElementType())));
        (reverse ? start : end)[size_t(axis)] = reverse ? s : length - s;
        Value kept = ops.slice(v, start, end);
        return reverse ? ops.concat({kept, zeros}, axis) : ops.concat({zeros, kept}, axis);
      };
      Value y = x;
      if (intAttr(n, "exclusive", 0) != 0)
        y = length > 1 ? shifted(x, 1)
                       : Value(b_.create<g::ConstantOp>(loc, DenseElementsAttr::get(xt, b_.getZeroAttr(xt.getElementType()))));
      for (int64_t s = 1; s < length; s *= 2) y = ops.add(y, shifted(y, s));
      values_[n.output(0)] = y;
    } else if (op == "MaxUnpool") {
      // Zeros of the output's shape (its output_shape input, or from the pooling's attributes),
      // with X's values stored at their indices, positions in the whole output as MaxPool's
      // Indices give them: a ScatterElements over the flattened output.
      const Composer ops{b_, loc, b_.getF32Type()};
      const RankedTensorType type = out();
      const int64_t total = type.getNumElements(), count = llvm::cast<RankedTensorType>(in(0).getType()).getNumElements();
      Value zeros = b_.create<g::ConstantOp>(
          loc, DenseElementsAttr::get(ops.typed({total}), b_.getF32FloatAttr(0.0f)));
      Value scattered = b_.create<g::ScatterOp>(loc, ops.typed({total}), zeros, ops.reshape(in(1), {count}),
                                                ops.reshape(in(0), {count}), b_.getI64IntegerAttr(0), b_.getBoolAttr(false),
                                                b_.getStringAttr("none"));
      values_[n.output(0)] = ops.reshape(scattered, type.getShape());
    } else if (op == "NonZero") {
      // The result's second axis is known only at run time: typed with its bound (every element
      // non-zero); the kernel writes the actual count (package Tensor::dynamicAxis).
      bind(b_.create<g::NonZeroOp>(loc, RankedTensorType::get(dataDependentBounds(n, name)[0], b_.getI64Type()), in(0)));
    } else if (op == "NonMaxSuppression") {
      // The overlaps as graph ops on [batches, boxes, boxes], in ONNX Runtime's arithmetic (each
      // box's extent from its corners' min and max, or from its centre -/+ half its size): box j
      // is suppressed by box i when their intersection is positive along x and y and in area and
      // intersection / union exceeds the threshold. Then the greedy selection (graph.nms_select).
      Composer ops{b_, loc, b_.getF32Type()};
      Value boxes = in(0), scores = in(1);
      const SmallVector<int64_t> bs = Composer::shapeOf(boxes);
      const int64_t batches = bs[0], count = bs[1];
      // The limit and thresholds: constants, or one-element tensors read at run time (a run-time
      // limit leaves the bound at every box).
      auto given = [&](int i) { return hasInput(i) ? constantInput(n.input(i)) : nullptr; };
      auto single = [&](int i, const char *what) {
        if (llvm::cast<RankedTensorType>(in(i).getType()).getNumElements() != 1)
          throw ImportError{"node '" + name + "' (NonMaxSuppression): " + what + " must hold one value"};
        return in(i);
      };
      const int64_t most = !hasInput(2) ? 0 : given(2) ? std::max<int64_t>(0, intsOf(*given(2)).at(0)) : count;
      Value limit = hasInput(2) && !given(2) ? single(2, "max_output_boxes_per_class") : Value();
      Value threshold = !hasInput(3) ? ops.constant(0.0)
                        : given(3)   ? ops.constant(floatsOf(*given(3)).at(0))
                                     : single(3, "iou_threshold");
      auto column = [&](int64_t k) { return ops.slice(boxes, {0, 0, k}, {batches, count, k + 1}); }; // [B, N, 1]
      auto max = [&](Value x, Value y) { return ops.binary<g::MaxOp>(x, y); };
      auto min = [&](Value x, Value y) { return ops.binary<g::MinOp>(x, y); };
      Value xMin, xMax, yMin, yMax;
      if (intAttr(n, "center_point_box", 0) == 0) { // [y1, x1, y2, x2], any two opposite corners
        xMin = min(column(1), column(3)), xMax = max(column(1), column(3));
        yMin = min(column(0), column(2)), yMax = max(column(0), column(2));
      } else { // [x_center, y_center, width, height]; halving is exact, as / 2 is
        Value half = ops.constant(0.5), w = ops.mul(column(2), half), h = ops.mul(column(3), half);
        xMin = ops.sub(column(0), w), xMax = ops.add(column(0), w);
        yMin = ops.sub(column(1), h), yMax = ops.add(column(1), h);
      }
      auto other = [&](Value v) { return ops.reshape(v, {batches, 1, count}); }; // box j along the last axis
      Value ix = ops.sub(min(xMax, other(xMax)), max(xMin, other(xMin)));
      Value iy = ops.sub(min(yMax, other(yMax)), max(yMin, other(yMin)));
      Value intersection = ops.mul(ix, iy);
      Value area = ops.mul(ops.sub(xMax, xMin), ops.sub(yMax, yMin));
      Value unionArea = ops.sub(ops.add(area, other(area)), intersection);
      Value iou = ops.div(intersection, unionArea), zero = ops.constant(0.0);
      Value suppress = ops.logicalAnd(ops.logicalAnd(ops.compare("gt", ix, zero), ops.compare("gt", iy, zero)),
                                      ops.logicalAnd(ops.compare("gt", intersection, zero),
                                                     ops.compare("gt", iou, threshold)));
      FloatAttr scoreThreshold;
      Value scoreLimit;
      if (hasInput(4) && given(4)) scoreThreshold = b_.getF32FloatAttr(floatsOf(*given(4)).at(0));
      else if (hasInput(4)) scoreLimit = single(4, "score_threshold");
      bind(b_.create<g::NmsSelectOp>(loc, RankedTensorType::get(dataDependentBounds(n, name)[0], b_.getI64Type()),
                                     scores, suppress, limit, scoreLimit, b_.getI64IntegerAttr(most), scoreThreshold));
    } else if (op == "Unique") {
      // Without an axis, over the flattened input. Results: the unique slices, their first
      // indices, every slice's unique index (inverse_indices, static) and their counts; the
      // unique count is known only at run time (the types hold the input's slices as the bound).
      auto [x, axis] = axisOrFlattened(n, name, loc);
      const std::vector<std::vector<int64_t>> bounds = dataDependentBounds(n, name);
      auto xt = llvm::cast<RankedTensorType>(x.getType());
      auto index = RankedTensorType::get(bounds[1], b_.getI64Type());
      auto u = b_.create<g::UniqueOp>(loc, TypeRange{RankedTensorType::get(bounds[0], xt.getElementType()), index, index,
                                                     index},
                                      x, b_.getI64IntegerAttr(axis), b_.getBoolAttr(intAttr(n, "sorted", 1) != 0));
      for (int i = 0; i < 4 && i < n.output_size(); ++i)
        if (!n.output(i).empty()) values_[n.output(i)] = u.getResult(unsigned(i));
    } else if (op == "Compress") {
      // Without an axis, over the flattened input. The result's axis is bounded by the condition's
      // length and the input's extent; its actual extent is known only at run time.
      auto [x, axis] = axisOrFlattened(n, name, loc);
      auto xt = llvm::cast<RankedTensorType>(x.getType());
      auto ct = llvm::cast<RankedTensorType>(in(1).getType());
      if (ct.getRank() != 1 || !ct.getElementType().isInteger(1))
        throw ImportError{"node '" + name + "' (Compress): the condition must be a 1-D boolean tensor"};
      bind(b_.create<g::CompressOp>(loc, RankedTensorType::get(dataDependentBounds(n, name)[0], xt.getElementType()), x,
                                    in(1), b_.getI64IntegerAttr(axis)));
    } else if (op == "Trilu") {
      const int64_t k = hasInput(1) ? intsOf(needConstant(1, "k input")).at(0) : 0;
      bind(b_.create<g::TriluOp>(loc, out(), in(0), b_.getBoolAttr(intAttr(n, "upper", 1) != 0), b_.getI64IntegerAttr(k)));
    } else if (op == "Split") {
      // One slice per output along the axis: sizes from `split` (input or attribute), else equal
      // parts (opset 18's num_outputs: the last part may be smaller).
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      const int64_t rank = xt.getRank();
      int64_t axis = intAttr(n, "axis", 0);
      if (axis < 0) axis += rank;
      const int64_t dim = xt.getDimSize(axis), parts = n.output_size();
      std::vector<int64_t> sizes = hasInput(1) ? intsOf(needConstant(1, "split input")) : ints(n, "split", {});
      if (sizes.empty()) {
        const int64_t each = (dim + parts - 1) / parts;
        for (int64_t i = 0; i < parts; ++i) sizes.push_back(std::max<int64_t>(0, std::min(each, dim - i * each)));
      }
      if (int64_t(sizes.size()) != parts)
        throw ImportError{"node '" + name + "' (Split): " + std::to_string(sizes.size()) + " split sizes for " +
                          std::to_string(parts) + " outputs"};
      int64_t start = 0;
      for (int64_t i = 0; i < parts; ++i) {
        std::vector<int64_t> s(rank, 0), e(xt.getShape().begin(), xt.getShape().end()), st(rank, 1);
        s[axis] = start;
        e[axis] = start + sizes[i];
        start += sizes[i];
        if (n.output(i).empty()) continue;
        values_[n.output(i)] = b_.create<g::SliceOp>(loc, out(i), in(0), i64s(s), i64s(e), i64s(st));
      }
    } else if (op == "Pad") {
      std::vector<int64_t> pads = hasInput(1) ? intsOf(needConstant(1, "pads input")) : ints(n, "pads", {});
      float v = floatAttr(n, "value", 0.0f);
      if (hasInput(2))
        v = floatOf(needConstant(2, "constant_value input"));
      bind(b_.create<g::PadOp>(loc, out(), in(0), i64s(pads), b_.getF32FloatAttr(v),
                               b_.getStringAttr(stringAttr(n, "mode", "constant"))));
    } else if (op == "Constant") {
      const auto *a = attr(n, "value");
      if (!a || !a->has_t())
        throw ImportError{"node '" + name + "' (Constant): only the 'value' tensor form is imported"};
      constantNodes_[n.output(0)] = &a->t();
      bind(constant(a->t(), loc));
    } else if (op == "Shape") {
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      int64_t rank = xt.getRank(), start = intAttr(n, "start", 0), end = intAttr(n, "end", rank);
      start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
      end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
      std::vector<int64_t> dims;
      for (int64_t i = start; i < end; ++i) dims.push_back(xt.getDimSize(i));
      bind(computedConstant(n.output(0), 7, {int64_t(dims.size())}, rawBytes(dims), loc));
    } else if (op == "Size") { // a static shape's element count, folded like Shape
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      bind(computedConstant(n.output(0), 7, {}, rawBytes(std::vector<int64_t>{xt.getNumElements()}), loc));
    } else if (op == "Dropout") { // the identity and an all-true mask (the check refuses random drops)
      bind(in(0));
      if (n.output_size() > 1 && !n.output(1).empty())
        values_[n.output(1)] = b_.create<g::ConstantOp>(loc, DenseElementsAttr::get(out(1), true));
    } else if (op == "ConstantOfShape") {
      std::vector<int64_t> dims = intsOf(needConstant(0, "shape input"));
      const auto *a = attr(n, "value");
      const int type = a && a->has_t() ? a->t().data_type() : 1;
      std::vector<char> one = a && a->has_t() ? tensorBytes(a->t()) : std::vector<char>(4, 0);
      std::string raw;
      int64_t count = 1;
      for (int64_t d : dims)
        count *= d;
      for (int64_t i = 0; i < count; ++i)
        raw.append(one.data(), one.size());
      bind(computedConstant(n.output(0), type, dims, std::move(raw), loc));
    } else if (op == "EyeLike") { // ones where column - row == k, of the input's static shape
      auto xt = llvm::cast<RankedTensorType>(in(0).getType());
      if (xt.getRank() != 2 || !xt.hasStaticShape())
        throw ImportError{"node '" + n.name() + "' (EyeLike): the input must be a 2-D tensor of static shape"};
      const Type et = out().getElementType(); // the dtype attribute's, else the input's
      const int type = et.isF32() ? 1 : et.isInteger(32) ? 6 : et.isInteger(64) ? 7 : 0;
      if (!type) throw ImportError{"node '" + n.name() + "' (EyeLike): only float32, int32 and int64 results"};
      const size_t bytes = type == 7 ? 8 : 4;
      const int64_t rows = xt.getDimSize(0), cols = xt.getDimSize(1), k = intAttr(n, "k", 0);
      std::string raw(size_t(rows * cols) * bytes, '\0');
      const float oneF = 1.0f;
      const int64_t oneI = 1; // little-endian: its first 4 bytes are an int32 1
      for (int64_t r = 0; r < rows; ++r)
        if (r + k >= 0 && r + k < cols)
          std::memcpy(&raw[size_t(r * cols + r + k) * bytes], type == 1 ? static_cast<const void *>(&oneF) : &oneI, bytes);
      bind(computedConstant(n.output(0), type, {rows, cols}, std::move(raw), loc));
    } else if (op == "Range") { // start, start + delta, ... short of limit; constant inputs
      const onnx::TensorProto &start = needConstant(0, "start input"), &limit = needConstant(1, "limit input"),
                               &delta = needConstant(2, "delta input");
      if (start.data_type() == 1) {
        const double first = floatOf(start), step = floatOf(delta);
        const int64_t count = std::max<int64_t>(0, int64_t(std::ceil((double(floatOf(limit)) - first) / step)));
        std::vector<float> values;
        for (int64_t i = 0; i < count; ++i) values.push_back(float(first + double(i) * step));
        bind(computedConstant(n.output(0), 1, {count}, rawBytes(values), loc));
      } else {
        const int64_t first = intsOf(start).at(0), end = intsOf(limit).at(0), step = intsOf(delta).at(0);
        if (step == 0) throw ImportError{"node '" + name + "' (Range): delta is 0"};
        const int64_t count = std::max<int64_t>(0, (end - first + step - (step > 0 ? 1 : -1)) / step);
        std::vector<int64_t> wide;
        for (int64_t i = 0; i < count; ++i) wide.push_back(first + i * step);
        if (start.data_type() == 7) {
          bind(computedConstant(n.output(0), 7, {count}, rawBytes(wide), loc));
        } else {
          std::vector<int32_t> narrow(wide.begin(), wide.end());
          bind(computedConstant(n.output(0), 6, {count}, rawBytes(narrow), loc));
        }
      }
    } else if (op == "HannWindow" || op == "HammingWindow" || op == "BlackmanWindow") {
      // a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or size - 1 (symmetric)
      const int64_t size = intsOf(needConstant(0, "size input")).at(0);
      const double n0 = intAttr(n, "periodic", 1) ? double(size) : double(size - 1);
      const double a0 = op == "HannWindow" ? 0.5 : op == "HammingWindow" ? 25.0 / 46.0 : 0.42;
      const double a1 = op == "HannWindow" ? 0.5 : op == "HammingWindow" ? 21.0 / 46.0 : 0.5;
      const double a2 = op == "BlackmanWindow" ? 0.08 : 0.0;
      std::vector<float> values;
      for (int64_t i = 0; i < size; ++i)
        values.push_back(float(a0 - a1 * std::cos(2 * M_PI * double(i) / n0) + a2 * std::cos(4 * M_PI * double(i) / n0)));
      bind(computedConstant(n.output(0), 1, {size}, rawBytes(values), loc));
    } else if (op == "MelWeightMatrix") {
      // A [dft_length / 2 + 1, num_mel_bins] table of triangular filters, as ONNX's reference
      // computes it: num_mel_bins + 2 points evenly spaced in mel (2595 log10(1 + f / 700))
      // between the edges, back in Hz, then to spectrogram bins ((dft_length + 1) f // rate); the
      // filter i rises from point i to point i + 1 and falls to point i + 2.
      const int64_t mels = intsOf(needConstant(0, "num_mel_bins input")).at(0);
      const int64_t length = intsOf(needConstant(1, "dft_length input")).at(0);
      const int64_t rate = intsOf(needConstant(2, "sample_rate input")).at(0);
      const double low = floatOf(needConstant(3, "lower_edge_hertz input")),
                   high = floatOf(needConstant(4, "upper_edge_hertz input"));
      if (mels < 1 || length < 1 || rate < 1 || low < 0 || high <= low)
        throw ImportError{"node '" + name + "' (MelWeightMatrix): needs positive num_mel_bins, dft_length and "
                          "sample_rate, and 0 <= lower_edge_hertz < upper_edge_hertz"};
      auto mel = [](double f) { return 2595.0 * std::log10(1.0 + f / 700.0); };
      const double step = (mel(high) - mel(low)) / double(mels + 2);
      std::vector<int64_t> points;
      for (int64_t i = 0; i < mels + 2; ++i) {
        const double hertz = 700.0 * (std::pow(10.0, (double(i) * step + mel(low)) / 2595.0) - 1.0);
        points.push_back(int64_t(std::floor(double(length + 1) * hertz / double(rate))));
      }
      const int64_t bins = length / 2 + 1;
      std::vector<float> table(size_t(bins * mels), 0.0f);
      auto at = [&](int64_t bin, int64_t filter) -> float & {
        if (bin < 0 || bin >= bins)
          throw ImportError{"node '" + name + "' (MelWeightMatrix): upper_edge_hertz maps past the spectrogram's bins"};
        return table[size_t(bin * mels + filter)];
      };
      for (int64_t i = 0; i < mels; ++i) {
        const int64_t left = points[size_t(i)], centre = points[size_t(i + 1)], right = points[size_t(i + 2)];
        if (centre == left) at(centre, i) = 1.0f;
        for (int64_t j = left; centre > left && j <= centre; ++j) at(j, i) = float(double(j - left) / double(centre - left));
        for (int64_t j = centre; right > centre && j < right; ++j) at(j, i) = float(double(right - j) / double(right - centre));
      }
      bind(computedConstant(n.output(0), 1, {bins, mels}, rawBytes(table), loc));
    } else if (op == "Equal" || op == "Greater" || op == "GreaterOrEqual" || op == "Less" || op == "LessOrEqual") {
      static const std::map<std::string, const char *> kinds = {
          {"Equal", "eq"}, {"Greater", "gt"}, {"GreaterOrEqual", "ge"}, {"Less", "lt"}, {"LessOrEqual", "le"}};
      bind(b_.create<g::CompareOp>(loc, out(), in(0), in(1), b_.getStringAttr(kinds.at(op))));
    } else if (op == "And" || op == "Or" || op == "Xor") {
      bind(b_.create<g::LogicalOp>(loc, out(), in(0), in(1), b_.getStringAttr(op == "And" ? "and" : op == "Or" ? "or" : "xor")));
    } else if (op == "Not") {
      bind(b_.create<g::NotOp>(loc, out(), in(0)));
    } else if (op == "Where") {
      bind(b_.create<g::WhereOp>(loc, out(), in(0), in(1), in(2)));
    } else if (op == "OneHot") {
      // The values' "on" where position j along the new axis is the index (truncated, as ONNX
      // casts float indices; a negative one counts from depth), "off" elsewhere and for indices
      // outside [-depth, depth): the indices, with a unit axis there, compared with the constants
      // 0..depth-1 and -depth..-1 along it, then Where.
      auto it = llvm::cast<RankedTensorType>(in(0).getType());
      const RankedTensorType ot = out();
      const int64_t rank = ot.getRank();
      int64_t axis = intAttr(n, "axis", -1);
      if (axis < 0) axis += rank;
      auto numbers = [&](const onnx::TensorProto &t) {
        std::vector<double> v;
        if (std::optional<std::vector<float>> f = tensorFloats(t)) v.assign(f->begin(), f->end());
        else if (std::optional<std::vector<int64_t>> i = tensorInts(t)) v.assign(i->begin(), i->end());
        return v;
      };
      const std::vector<double> depthValue = numbers(needConstant(1, "depth input")),
                                onOff = numbers(needConstant(2, "values input"));
      if (depthValue.size() != 1 || onOff.size() != 2)
        throw ImportError{"node '" + name + "' (OneHot): depth must be one number and values two ([off, on])"};
      const int64_t depth = int64_t(depthValue[0]);
      if (axis < 0 || axis >= rank || ot.getDimSize(axis) != depth)
        throw ImportError{"node '" + name + "' (OneHot): axis " + std::to_string(intAttr(n, "axis", -1)) +
                          " and depth " + std::to_string(depth) + " do not match the result's shape"};
      Type et = it.getElementType();
      Value index = in(0);
      if (et.isInteger() && !et.isSignlessInteger(32) && !et.isSignlessInteger(64)) { // as int64, exact (no uint64: checked)
        et = b_.getI64Type();
        it = RankedTensorType::get(it.getShape(), et);
        index = b_.create<g::CastOp>(loc, it, index);
      }
      if (et.isF32()) { // trunc: ceil below zero, floor from zero up
        auto bits = RankedTensorType::get(it.getShape(), b_.getI1Type());
        Value negative = b_.create<g::CompareOp>(loc, bits, index, scalar(0.0, et, loc), b_.getStringAttr("lt"));
        index = b_.create<g::WhereOp>(loc, it, negative, b_.create<g::RoundingOp>(loc, it, index, b_.getStringAttr("ceil")),
                                      b_.create<g::RoundingOp>(loc, it, index, b_.getStringAttr("floor")));
      }
      SmallVector<int64_t> unitShape(it.getShape());
      unitShape.insert(unitShape.begin() + axis, 1);
      index = b_.create<g::ReshapeOp>(loc, RankedTensorType::get(unitShape, et), index);
      SmallVector<int64_t> alongShape(size_t(rank), 1);
      alongShape[size_t(axis)] = depth;
      // first, first + 1, ... along the axis (a resource, like any constant past a few elements)
      auto positions = [&](int64_t first, const char *what) -> Value {
        const std::vector<int64_t> dims(alongShape.begin(), alongShape.end());
        std::vector<float> f;
        std::vector<int32_t> i;
        std::vector<int64_t> l;
        for (int64_t j = 0; j < depth; ++j) f.push_back(float(first + j)), i.push_back(int32_t(first + j)), l.push_back(first + j);
        if (et.isF32()) return computedConstant(n.output(0) + what, 1, dims, rawBytes(f), loc);
        if (et.isInteger(64)) return computedConstant(n.output(0) + what, 7, dims, rawBytes(l), loc); // compared on the scalar unit
        return computedConstant(n.output(0) + what, 6, dims, rawBytes(i), loc);
      };
      auto bits = RankedTensorType::get(ot.getShape(), b_.getI1Type());
      auto equal = [&](Value a, Value b) { return b_.create<g::CompareOp>(loc, bits, a, b, b_.getStringAttr("eq")); };
      Value hit = b_.create<g::LogicalOp>(loc, bits, equal(index, positions(0, "/positions")),
                                          equal(index, positions(-depth, "/positions_from_end")), b_.getStringAttr("or"));
      auto value = [&](double v) -> Value {
        auto type = RankedTensorType::get({}, ot.getElementType());
        if (ot.getElementType().isF32()) return b_.create<g::ConstantOp>(loc, DenseElementsAttr::get(type, float(v)));
        return b_.create<g::ConstantOp>(loc, DenseElementsAttr::get(type, int32_t(v)));
      };
      bind(b_.create<g::WhereOp>(loc, ot, hit, value(onOff[1]), value(onOff[0])));
    } else if (op == "Cast" || op == "CastLike") { // CastLike: the result type (from inference) is the target's
      // To float16: rounded to float16, then held as float32 like every float16 value (to
      // float64: to float32, which float64 values are computed in).
      const RankedTensorType declared = declaredTypeOf(n.output(0), "output of node '" + name + "'");
      Value v = in(0);
      if (declared != out() && !declared.getElementType().isF64()) v = b_.create<g::CastOp>(loc, declared, v);
      bind(v.getType() == out() ? v : Value(b_.create<g::CastOp>(loc, out(), v)));
    } else {
      throw ImportError{"node '" + name + "': operator " + op + " passed the check but has no importer"};
    }
  }

  MLIRContext &ctx_;
  const onnx::ModelProto &model_;
  std::string path_;
  OpBuilder b_;
  std::map<std::string, RankedTensorType> types_;
  std::map<std::string, Value> values_;
  std::map<std::string, const onnx::TensorProto *> initializers_, constantNodes_;
  // QuantizeLinear outputs with constant per-tensor parameters (named by `params`: "scale|zero"),
  // which a DequantizeLinear with the same ones turns into one fake_quant of `x`.
  struct FakeQuantizable {
    Value x;
    std::string params;
    float scale, zero, lo, hi;
  };
  std::map<std::string, FakeQuantizable> fakeQuantizable_;
  int64_t opset_ = 0; // of the default ONNX domain
  std::deque<onnx::TensorProto> owned_; // tensors the importer made (stable addresses)
};

} // namespace

Expected<OwningOpRef<ModuleOp>> importOnnxModel(MLIRContext &context, const std::string &path,
                                                const std::vector<InputShape> &shapes) {
  Expected<std::string> bytes = readTextFile(path);
  if (!bytes)
    return bytes.takeError();
  onnx::ModelProto model;
  CheckReport report = detail::checkAndInfer(*bytes, path, shapes, model);
  if (!report.ok())
    return Error::badInput(report.text() + path + " is not supported: " +
                           std::to_string(report.problems.size()) + " problem(s), listed above");
  loadImportDialects(context);
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    diagnostics += (diagnostics.empty() ? "" : "\n");
    llvm::raw_string_ostream os(diagnostics);
    os << d.getLocation() << ": " << d.str();
    return success();
  });
  try {
    OwningOpRef<ModuleOp> module = Importer(context, model, path).run();
    // The graph ops' verifiers check what ONNX's shape inference leaves out for some operators
    // (a per-axis scale against its zero point, a LayerNormalization's scale against the
    // normalised shape): a failure names the node, and is almost always such a model.
    if (failed(verify(*module)))
      return Error::badInput(path + ": a node's operands do not fit together (ONNX's shape inference does not "
                                    "check this for its operator; if ONNX Runtime runs the model, this is a Fractal "
                                    "bug: please report it):\n" + diagnostics);
    return module;
  } catch (const ImportError &e) {
    return Error::badInput(path + ": " + e.message);
  }
}

} // namespace fractal::onnx_frontend
