// The ONNX operators of the compiler's first op set (issue 5: everything BlazeFace and PP-OCRv4
// detection need), with the attribute values and types it accepts and where each runs. Placement
// follows the NPU: matrix products on the cube; element-wise math, activations, pooling,
// normalisation and resizing on the vector unit; pure data movement by DMA; shape bookkeeping on
// the host (no device work).
#include "OpSupport.h"

#include "NodeAttributes.h"
#include "fractal/compiler/PlacementReasons.h"
#include "fractal/onnx/OnnxTensor.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace fractal::onnx_frontend::detail {

namespace {

const char *kCube = "matrix product: runs on the cube (convolution through img2col)";
const char *kVector = "element-wise or reduction math: runs on the vector unit";
const char *kCompare = "comparison: a bitmask on the vector unit (vcmp), turned into booleans (vsel, vconv)";
const char *kBoolean = "boolean logic: min/max/difference of 0/1 values on the vector unit";
const char *kDma = "data movement: DMA (MTE) copies or strided addressing, no arithmetic";
const char *kView = "shape bookkeeping: a view of the same bytes, no device work";
const char *kRecurrent = "recurrent layer, unrolled over its sequence: the input and recurrent matrix products on "
                         "the cube, the gates on the vector unit";
const char *kIntegerProduct =
    "8-bit integer product: the differences from the zero points on the cube in fp16 (exact), accumulated in fp32 "
    "(exact below 2^24, checked at compile time); requantized on the vector unit";
const char *kConst = "constant or shape computation: folded at compile time, host fallback otherwise";

AttributeRule any(const char *name) { return {name, {}}; }
AttributeRule only(const char *name, std::vector<std::string> values) { return {name, std::move(values)}; }

// A tree ensemble's attributes: its `own`, the trees' nodes_* lists both ensembles share, and its
// leaves' weights (`weights` "target_" or "class_", then ids, nodeids, treeids, weights).
std::vector<AttributeRule> treeEnsemble(const std::string &weights, std::vector<AttributeRule> own) {
  for (const char *name : {"nodes_falsenodeids", "nodes_featureids", "nodes_hitrates", "nodes_missing_value_tracks_true",
                           "nodes_modes", "nodes_nodeids", "nodes_treeids", "nodes_truenodeids", "nodes_values"})
    own.push_back(any(name));
  for (const char *list : {"ids", "nodeids", "treeids", "weights"}) own.push_back({weights + list, {}});
  return own;
}

std::vector<OpRule> buildRules() {
  const AttributeRule autoPad = only("auto_pad", {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"});
  return {
      {"Conv", Placement::Cube, kCube,
       {autoPad, any("dilations"), any("group"), any("kernel_shape"), any("pads"), any("strides")},
       kFloats},
      {"ConvTranspose", Placement::Cube, kCube,
       {autoPad, any("dilations"), any("group"), any("kernel_shape"), any("output_padding"),
        any("output_shape"), any("pads"), any("strides")},
       kFloats},
      {"MatMul", Placement::Cube, kCube, {}, kFloats},
      {"Scaler", Placement::Vector, "standardization: (x - offset) * scale per feature on the vector unit",
       {any("offset"), any("scale")}, kFloats | kInt64 | kInt32},
      {"LinearRegressor", Placement::Vector,
       "linear model: x times each target's coefficients, summed over the features on the vector unit (float32: "
       "the cube would round the operands to float16), plus the intercepts",
       {any("coefficients"), any("intercepts"), any("targets"), only("post_transform", {"NONE"})}, kFloats | kInt64 | kInt32},
      {"Binarizer", Placement::Vector, "threshold: x > threshold as 1 or 0 (vcmp, vsel) on the vector unit",
       {any("threshold")}, kFloats},
      {"LinearClassifier", Placement::Vector,
       "linear model: as LinearRegressor, one score per class; the label the highest score's (arg max on the vector "
       "unit), or with one class the sign's",
       {any("coefficients"), any("intercepts"), any("classlabels_ints"), any("multi_class"),
        only("post_transform", {"NONE", "LOGISTIC", "SOFTMAX"})},
       kFloats | kInt64 | kInt32},
      {"Normalizer", Placement::Vector,
       "row norm: each row's maximum, sum of magnitudes or square root of the sum of squares (a reduction on the vector "
       "unit), the row divided by it where it is not 0",
       {only("norm", {"MAX", "L1", "L2"})}, kFloats | kInt64 | kInt32},
      {"TreeEnsembleRegressor", Placement::Vector,
       "decision trees: each branch's comparison on the vector unit, the leaf each row reaches from the decisions times "
       "the trees' paths on the cube, the leaves' weights summed on the vector unit",
       treeEnsemble("target_", {only("aggregate_function", {"SUM", "AVERAGE"}), only("post_transform", {"NONE"}),
                                 any("base_values"), any("n_targets")}),
       kFloats | kInt64 | kInt32},
      {"TreeEnsembleClassifier", Placement::Vector,
       "decision trees: as TreeEnsembleRegressor, one score per class; the label the highest score's (arg max on the "
       "vector unit, the labels gathered by DMA)",
       treeEnsemble("class_", {only("post_transform", {"NONE", "SOFTMAX", "LOGISTIC"}), any("base_values"),
                               any("classlabels_int64s")}),
       kFloats | kInt64 | kInt32},
      {"Einsum", Placement::Cube,
       "contraction: a MatMul on the cube between transposes and reshapes (diagonals and sums over labels of one "
       "operand on the vector unit, a product without contracted labels as a broadcast Mul)",
       {any("equation")}, kFloats},
      {"Gemm", Placement::Cube, kCube, {any("alpha"), any("beta"), any("transA"), any("transB")},
       kFloats},
      {"LSTM", Placement::Cube, kRecurrent,
       {any("hidden_size"), only("direction", {"forward", "reverse", "bidirectional"}), any("activations"),
        any("clip"), only("input_forget", {"0"}), any("layout")},
       kFloats},
      {"GRU", Placement::Cube, kRecurrent,
       {any("hidden_size"), only("direction", {"forward", "reverse", "bidirectional"}), any("activations"),
        any("clip"), any("linear_before_reset"), any("layout")},
       kFloats},
      {"RNN", Placement::Cube, kRecurrent,
       {any("hidden_size"), only("direction", {"forward", "reverse", "bidirectional"}), any("activations"),
        any("clip"), any("layout")},
       kFloats},
      {"Add", Placement::Vector, kVector, {}, kFloats | kIntegers},
      {"Sub", Placement::Vector, kVector, {}, kFloats | kIntegers},
      {"Mul", Placement::Vector, kVector, {}, kFloats | kIntegers},
      {"Div", Placement::Vector, kVector, {}, kFloats | kIntegers},
      {"Max", Placement::Vector, kVector, {}, kFloats | kIntegers},
      {"Min", Placement::Vector, kVector, {}, kFloats | kIntegers},
      {"Sum", Placement::Vector, kVector, {}, kFloats},
      // Integer bases (with integer exponents, OnnxCheck) on the scalar unit: kScalarIntegerReason.
      {"Pow", Placement::Vector,
       "power by a constant exponent: multiplications, sqrt or exp(y * log x) on the vector unit", {}, kFloats | kIntegers},
      {"Mean", Placement::Vector, kVector, {}, kFloats},
      {"Expand", Placement::Vector, "broadcast: an add of zeros whose operand the broadcast kernel expands by DMA", {},
       kFloats},
      {"Tile", Placement::Vector, "repetition: an add of zeros whose operand the broadcast kernel repeats by DMA", {},
       kFloats},
      {"InstanceNormalization", Placement::Vector,
       "normalisation: a layer norm over the spatial axes, then the per-channel scale and bias, on the vector unit",
       {any("epsilon")}, kFloats},
      {"PRelu", Placement::Vector, "activation: max(x, 0) + slope * min(x, 0) on the vector unit", {}, kFloats},
      {"Relu", Placement::Vector, "activation: fused into the producer's epilogue, else vector",
       {}, kFloats},
      {"Clip", Placement::Vector, "activation: fused into the producer's epilogue, else vector",
       {any("min"), any("max")}, kFloats | kIntegers},
      {"Sigmoid", Placement::Vector, kVector, {}, kFloats},
      {"Neg", Placement::Vector, kVector, {}, kFloats},
      {"Abs", Placement::Vector, kVector, {}, kFloats},
      {"Sqrt", Placement::Vector, kVector, {}, kFloats},
      {"Reciprocal", Placement::Vector, kVector, {}, kFloats},
      {"Exp", Placement::Vector, kVector, {}, kFloats},
      {"Log", Placement::Vector, kVector, {}, kFloats},
      {"Erf", Placement::Vector, kVector, {}, kFloat},
      {"Sign", Placement::Vector, kVector, {}, kFloat},
      {"Floor", Placement::Vector, kVector, {}, kFloat},
      {"Ceil", Placement::Vector, kVector, {}, kFloat},
      {"Round", Placement::Vector, kVector, {}, kFloat},
      {"Sin", Placement::Vector, kVector, {}, kFloat},
      {"Cos", Placement::Vector, kVector, {}, kFloat},
      {"Tan", Placement::Vector, kVector, {}, kFloat},
      {"Asin", Placement::Vector, kVector, {}, kFloat},
      {"Acos", Placement::Vector, kVector, {}, kFloat},
      {"Atan", Placement::Vector, kVector, {}, kFloat},
      {"Sinh", Placement::Vector, kVector, {}, kFloat},
      {"Cosh", Placement::Vector, kVector, {}, kFloat},
      {"Asinh", Placement::Vector, kVector, {}, kFloat},
      {"Acosh", Placement::Vector, kVector, {}, kFloat},
      {"Atanh", Placement::Vector, kVector, {}, kFloat},
      {"Celu", Placement::Vector, kVector, {any("alpha")}, kFloat},
      {"ThresholdedRelu", Placement::Vector, kVector, {any("alpha")}, kFloat},
      {"Shrink", Placement::Vector, kVector, {any("bias"), any("lambd")}, kFloat},
      {"IsInf", Placement::Vector, kCompare, {any("detect_negative"), any("detect_positive")}, kFloat},
      {"IsNaN", Placement::Vector, kCompare, {}, kFloat},
      {"Tanh", Placement::Vector, kVector, {}, kFloats},
      {"LeakyRelu", Placement::Vector, kVector, {any("alpha")}, kFloats},
      {"Elu", Placement::Vector, kVector, {any("alpha")}, kFloats},
      {"Selu", Placement::Vector, kVector, {any("alpha"), any("gamma")}, kFloats},
      {"Softplus", Placement::Vector, kVector, {}, kFloats},
      {"Softsign", Placement::Vector, kVector, {}, kFloats},
      {"HardSwish", Placement::Vector, kVector, {}, kFloats},
      {"HardSigmoid", Placement::Vector, kVector, {any("alpha"), any("beta")}, kFloats},
      {"ReduceSum", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloats},
      {"ReduceMean", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloats},
      {"ReduceMax", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloats},
      {"ReduceMin", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloats},
      {"ReduceL1", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloats},
      {"ReduceL2", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloats},
      {"ReduceSumSquare", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloats},
      {"ReduceLogSum", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloats},
      {"ReduceLogSumExp", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloats},
      {"ReduceProd", Placement::Vector, kVector, {any("axes"), any("keepdims"), any("noop_with_empty_axes")}, kFloat},
      {"MeanVarianceNormalization", Placement::Vector, kVector, {any("axes")}, kFloat},
      {"Mod", Placement::Vector, kVector, {any("fmod")}, kFloat | kIntegers},
      {"QuantizeLinear", Placement::Vector,
       "quantization: x / scale rounded to nearest even, plus the zero point, saturated on the vector unit; the "
       "narrowing to 8 bits on the scalar unit", {any("axis")}, kFloat},
      {"DequantizeLinear", Placement::Vector,
       "dequantization: widened to int32 on the scalar unit, (x - zero point) * scale on the vector unit",
       {any("axis")}, kUint8 | kInt8 | kInt32},
      {"MatMulInteger", Placement::Cube, kIntegerProduct, {}, kUint8 | kInt8},
      {"QLinearMatMul", Placement::Cube, kIntegerProduct, {}, kUint8 | kInt8},
      {"ConvInteger", Placement::Cube, kIntegerProduct,
       {autoPad, any("dilations"), any("group"), any("kernel_shape"), any("pads"), any("strides")}, kUint8 | kInt8},
      {"QLinearConv", Placement::Cube, kIntegerProduct,
       {autoPad, any("dilations"), any("group"), any("kernel_shape"), any("pads"), any("strides")}, kUint8 | kInt8},
      {"DynamicQuantizeLinear", Placement::Vector,
       "quantization: scale and zero point from the tensor's min and max (reductions), then as QuantizeLinear", {},
       kFloat},
      {"NonZero", Placement::Scalar, kCompactionReason, {}, kFloat | kIntegers | kBool},
      {"Compress", Placement::Scalar, kCompactionReason, {any("axis")}, kFloat | kIntegers | kBool},
      {"NonMaxSuppression", Placement::Scalar,
       "box overlaps (IoU) as element-wise ops on the vector unit, then the greedy selection on the scalar unit",
       {only("center_point_box", {"0", "1"})}, kFloat},
      {"Unique", Placement::Scalar, kCompactionReason, {any("axis"), any("sorted")}, kFloat | (kIntegers & ~kUint64)},
      {"BitShift", Placement::Scalar, "bit shift: element by element on the scalar unit (the vector unit has no shifts)",
       {only("direction", {"LEFT", "RIGHT"})}, kUint8 | kUint16 | kUint32 | kUint64},
      {"LRN", Placement::Vector, kVector, {any("alpha"), any("beta"), any("bias"), any("size")}, kFloat},
      {"LayerNormalization", Placement::Vector, kVector, {any("axis"), any("epsilon"), only("stash_type", {"1"})},
       kFloats},
      {"Softmax", Placement::Vector, kVector, {any("axis")}, kFloats},
      {"LogSoftmax", Placement::Vector, kVector, {any("axis")}, kFloats},
      {"Hardmax", Placement::Vector, kVector, {any("axis")}, kFloats},
      {"NegativeLogLikelihoodLoss", Placement::Vector,
       "loss: the target gather on the scalar unit, products and sums on the vector unit",
       {only("reduction", {"none", "sum", "mean"}), any("ignore_index")}, kFloats},
      {"SoftmaxCrossEntropyLoss", Placement::Vector,
       "loss: log-softmax and sums on the vector unit, the target gather on the scalar unit",
       {only("reduction", {"none", "sum", "mean"}), any("ignore_index")}, kFloats},
      {"ArgMax", Placement::Vector, kVector, {any("axis"), any("keepdims"), any("select_last_index")}, kFloats},
      {"ArgMin", Placement::Vector, kVector, {any("axis"), any("keepdims"), any("select_last_index")}, kFloats},
      {"BatchNormalization", Placement::Vector,
       "normalisation: folded into the preceding Conv's weights, else vector",
       {any("epsilon"), any("momentum"), any("spatial"), only("training_mode", {"0", "1"})}, kFloats},
      {"MaxPool", Placement::Vector, kVector,
       {autoPad, any("ceil_mode"), any("dilations"), any("kernel_shape"), any("pads"),
        only("storage_order", {"0", "1"}), any("strides")},
       kFloats | kUint8 | kInt8 | kUint16 | kInt16},
      {"AveragePool", Placement::Vector, kVector,
       {autoPad, any("ceil_mode"), any("count_include_pad"), any("kernel_shape"), any("pads"),
        any("strides")},
       kFloats},
      {"GlobalAveragePool", Placement::Vector, kVector, {}, kFloats},
      {"GlobalMaxPool", Placement::Vector, kVector, {}, kFloats},
      {"Resize", Placement::Vector, kVector,
       {only("mode", {"nearest", "linear", "cubic"}),
        only("coordinate_transformation_mode",
             {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn",
              "tf_crop_and_resize"}),
        only("nearest_mode", {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}),
        any("cubic_coeff_a"), any("exclude_outside"), any("extrapolation_value"),
        only("antialias", {"0"}), any("axes"), only("keep_aspect_ratio_policy", {"stretch"})},
       kFloats},
      {"DFT", Placement::Cube, "spectral transform: a matrix product by a constant DFT matrix on the cube",
       {any("axis"), any("inverse"), any("onesided")}, kFloat},
      {"STFT", Placement::Cube,
       "short-time spectrum: the frames gathered by DMA, windowed on the vector unit, a matrix product by a constant "
       "DFT matrix on the cube",
       {any("onesided")}, kFloat},
      {"GridSample", Placement::Vector,
       "sampling at run-time coordinates: the taps' row indices and weights on the vector unit, the rows gathered "
       "by DMA",
       {only("mode", {"bilinear", "nearest", "bicubic", "linear", "cubic"}),
        only("padding_mode", {"zeros", "border", "reflection"}), any("align_corners")},
       kFloat},
      {"RoiAlign", Placement::Vector,
       "sampling in run-time regions: the samples' row indices and weights on the vector unit, the rows gathered by "
       "DMA",
       {only("mode", {"avg", "max"}), only("coordinate_transformation_mode", {"half_pixel", "output_half_pixel"}),
        any("output_height"), any("output_width"), any("sampling_ratio"), any("spatial_scale")},
       kFloat},
      {"Upsample", Placement::Vector, kVector, {only("mode", {"nearest", "linear"}), any("scales")}, kFloats},
      {"Concat", Placement::Dma, kDma, {any("axis")}, kFloats | kInt64},
      {"Transpose", Placement::Dma, kDma, {any("perm")}, kFloats | kInt64},
      {"Slice", Placement::Dma, kDma, {any("starts"), any("ends"), any("axes")}, kFloats | kInt64},
      {"Split", Placement::Dma, kDma, {any("axis"), any("split"), any("num_outputs")}, kFloats | kInt64 | kInt32},
      {"Trilu", Placement::Dma, kDma, {any("upper")}, kFloats | kInt64 | kInt32},
      {"Det", Placement::Vector,
       "element-wise arithmetic: each matrix's entries sliced out, the cofactor expansion's products and sums on "
       "the vector unit",
       {}, kFloats},
      {"Gather", Placement::Dma, "data movement: addresses from the run-time indices on the scalar unit, rows by DMA",
       {any("axis")}, kFloat | kInt64 | kInt32},
      {"ReverseSequence", Placement::Dma,
       "data movement: each element's source time index on the scalar unit, the elements gathered",
       {any("batch_axis"), any("time_axis")}, kFloat | kInt64 | kInt32},
      {"GatherElements", Placement::Dma, "data movement: addresses from the run-time indices on the scalar unit",
       {any("axis")}, kFloat | kInt64 | kInt32},
      {"GatherND", Placement::Dma, "data movement: addresses from the run-time index tuples on the scalar unit",
       {any("batch_dims")}, kFloat | kInt64 | kInt32},
      {"CumSum", Placement::Vector,
       "prefix sums: log2(length) shifted additions on the vector unit (integers on the scalar unit)",
       {any("exclusive"), any("reverse")}, kFloat | kInt32 | kInt64},
      {"MaxUnpool", Placement::Dma, "data movement: zeros, then the scalar unit stores each value at its run-time index",
       {any("kernel_shape"), any("pads"), any("strides")}, kFloat},
      {"ScatterElements", Placement::Dma, "data movement: the data copied by DMA, the updates stored by the scalar unit",
       {any("axis"), only("reduction", {"none", "add", "mul", "max", "min"})}, kFloat | kInt64 | kInt32},
      {"Scatter", Placement::Dma, "data movement: the data copied by DMA, the updates stored by the scalar unit",
       {any("axis")}, kFloat | kInt64 | kInt32},
      {"ScatterND", Placement::Dma, "data movement: the data copied by DMA, the updates stored by the scalar unit",
       {only("reduction", {"none", "add", "mul", "max", "min"})}, kFloat | kInt64 | kInt32},
      {"DepthToSpace", Placement::Dma, kDma, {any("blocksize"), only("mode", {"DCR", "CRD"})}, kFloats},
      {"SpaceToDepth", Placement::Dma, kDma, {any("blocksize")}, kFloats},
      {"Pad", Placement::Dma, kDma, {only("mode", {"constant", "edge", "reflect"}), any("pads"), any("value")},
       kFloats | kInt64 | kInt32},
      {"Reshape", Placement::Host, kView, {only("allowzero", {"0"})}, kFloats | kIntegers | kBool},
      {"Flatten", Placement::Host, kView, {any("axis")}, kFloats | kIntegers | kBool},
      {"Squeeze", Placement::Host, kView, {any("axes")}, kFloats | kIntegers | kBool},
      {"Unsqueeze", Placement::Host, kView, {any("axes")}, kFloats | kIntegers | kBool},
      {"Identity", Placement::Host, kView, {}, kFloats | kIntegers | kBool},
      {"Dropout", Placement::Host, kView, {any("ratio"), any("seed")}, kFloats},
      {"Size", Placement::Host, kConst, {}, kFloats | kInt64 | kInt32 | kInt8 | kUint8 | kBool},
      {"Shape", Placement::Host, kConst, {any("start"), any("end")},
       kFloats | kInt64 | kInt32 | kInt8 | kUint8 | kBool},
      {"Constant", Placement::Host, kConst,
       {any("value"), any("value_float"), any("value_floats"), any("value_int"),
        any("value_ints")},
       ~0u},
      {"ConstantOfShape", Placement::Host, kConst, {any("value")}, kInt64},
      // Another axis is moved last by transposes on import.
      {"TopK", Placement::Vector, kTopKVectorReason,
       {any("axis"), any("largest"), any("sorted"), any("k")}, kFloat},
      // Tables computed at compile time from constant inputs: constants in the package.
      {"Range", Placement::Host, kConst, {}, kFloat | kInt32 | kInt64},
      {"MelWeightMatrix", Placement::Host, kConst, {only("output_datatype", {"1"})}, kInt32 | kInt64},
      {"HannWindow", Placement::Host, kConst, {any("periodic"), only("output_datatype", {"1"})}, kInt32 | kInt64},
      {"HammingWindow", Placement::Host, kConst, {any("periodic"), only("output_datatype", {"1"})}, kInt32 | kInt64},
      {"BlackmanWindow", Placement::Host, kConst, {any("periodic"), only("output_datatype", {"1"})}, kInt32 | kInt64},
      // Ones on a diagonal of the input's (static) shape: a constant (float32, int32 or int64).
      {"EyeLike", Placement::Host, kConst, {only("dtype", {"1", "6", "7", "11"}), any("k")}, kFloats | kInt64 | kInt32},
      {"Equal", Placement::Vector, kCompare, {}, kFloat | kIntegers},
      {"Greater", Placement::Vector, kCompare, {}, kFloat | kIntegers},
      {"GreaterOrEqual", Placement::Vector, kCompare, {}, kFloat | kIntegers},
      {"Less", Placement::Vector, kCompare, {}, kFloat | kIntegers},
      {"LessOrEqual", Placement::Vector, kCompare, {}, kFloat | kIntegers},
      {"And", Placement::Vector, kBoolean, {}, kBool},
      {"Or", Placement::Vector, kBoolean, {}, kBool},
      {"Xor", Placement::Vector, kBoolean, {}, kBool},
      {"Not", Placement::Vector, kBoolean, {}, kBool},
      {"TfIdfVectorizer", Placement::Vector,
       "n-gram counts: the tokens compared with the pool's n-grams (vcmp) and the matches summed on the vector unit",
       {only("mode", {"TF", "IDF", "TFIDF"}), any("min_gram_length"), any("max_gram_length"), any("max_skip_count"),
        any("ngram_counts"), any("ngram_indexes"), any("pool_int64s"), any("pool_strings"), any("weights")},
       kInt32 | kInt64},
      {"OneHot", Placement::Vector,
       "selection: the indices compared with the positions along the new axis (vcmp), then vsel on the vector unit",
       {any("axis")}, kFloat | (kIntegers & ~kUint64)},
      {"Where", Placement::Vector, "selection: a bitmask from the condition (vcmp), then vsel on the vector unit", {},
       kBool},
      {"CastLike", Placement::Vector, "conversion: vector unit (vconv), folded when constant",
       {only("saturate", {"1"})}, kFloats | kIntegers | kBool},
      {"Cast", Placement::Vector, "conversion: vector unit (vconv), folded when constant",
       {only("to", {"1", "10", "11", "7", "6", "5", "4", "3", "2", "9", "12", "13"})},
       kFloats | kIntegers | kBool},
  };
}

} // namespace

std::variant<double, std::string> powerExponent(const onnx::TensorProto &exponent) {
  std::vector<double> ys;
  if (std::optional<std::vector<float>> floats = tensorFloats(exponent))
    ys.assign(floats->begin(), floats->end());
  else if (std::optional<std::vector<int64_t>> ints = tensorInts(exponent))
    ys.assign(ints->begin(), ints->end());
  else
    return std::string("the exponent must be float32, int32 or int64");
  if (ys.empty() || std::any_of(ys.begin(), ys.end(), [&](double y) { return y != ys[0]; }))
    return std::string("only an exponent with one value for every element is supported");
  const double y = ys[0];
  if (y == std::trunc(y) && (y == 0 || std::fabs(y) > 4))
    return "integer exponent " + std::to_string(int64_t(y)) + " is not supported (from -4 to 4, not 0)";
  return y;
}

bool hasDataDependentExtent(const std::string &opType) {
  return opType == "NonZero" || opType == "Compress" || opType == "Unique" || opType == "NonMaxSuppression";
}

std::optional<std::vector<std::vector<int64_t>>> dataDependentBounds(
    const onnx::NodeProto &node, const std::function<std::optional<std::vector<int64_t>>(const std::string &)> &shapeOf,
    const std::function<std::optional<std::vector<int64_t>>(const std::string &)> &constantInts) {
  const std::string &op = node.op_type();
  if (node.input_size() < 1) return std::nullopt;
  const std::optional<std::vector<int64_t>> x = shapeOf(node.input(0));
  if (!x) return std::nullopt;
  int64_t count = 1;
  for (int64_t d : *x) count *= d;
  if (op == "NonZero") return std::vector<std::vector<int64_t>>{{int64_t(x->size()), count}};
  // Compress and Unique: along `axis`, or over the flattened input.
  std::vector<int64_t> shape = {count};
  size_t axis = 0;
  if (const onnx::AttributeProto *a = attribute(node, "axis")) {
    const int64_t at = a->i() < 0 ? a->i() + int64_t(x->size()) : a->i();
    if (at < 0 || at >= int64_t(x->size())) return std::nullopt;
    shape = *x, axis = size_t(at);
  }
  if (op == "Compress") {
    const std::optional<std::vector<int64_t>> c = node.input_size() > 1 ? shapeOf(node.input(1)) : std::nullopt;
    if (!c || c->size() != 1) return std::nullopt;
    shape[axis] = std::min(shape[axis], (*c)[0]);
    return std::vector<std::vector<int64_t>>{shape};
  }
  if (op == "Unique") {
    const std::vector<int64_t> slices = {shape[axis]};
    return std::vector<std::vector<int64_t>>{shape, slices, slices, slices};
  }
  if (op == "NonMaxSuppression") { // [batches x classes x min(limit, boxes), 3]; a run-time limit: every box
    const std::optional<std::vector<int64_t>> scores = node.input_size() > 1 ? shapeOf(node.input(1)) : std::nullopt;
    if (x->size() != 3 || !scores || scores->size() != 3) return std::nullopt;
    int64_t most = 0;
    if (node.input_size() > 2 && !node.input(2).empty()) {
      if (std::optional<std::vector<int64_t>> limit = constantInts(node.input(2))) {
        if (limit->size() != 1) return std::nullopt;
        most = std::max<int64_t>(0, (*limit)[0]);
      } else {
        most = (*x)[1];
      }
    }
    return std::vector<std::vector<int64_t>>{{(*x)[0] * (*scores)[1] * std::min(most, (*x)[1]), 3}};
  }
  return std::nullopt;
}

bool carriesDataDependentExtent(const std::string &opType) {
  static const std::set<std::string> carriers = {
      "Identity", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast", "CastLike", "Gather",
      "GatherND", "Slice", "Concat", "Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Mod", "Equal", "Less",
      "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "Where", "BitShift", "Relu", "Sigmoid",
      "Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log", "Erf", "Sign", "Floor", "Ceil", "Round", "Clip",
      "HardSigmoid", "Tanh", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2",
      "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ArgMax", "ArgMin", "Softmax", "LogSoftmax", "Hardmax",
      "MatMul", "Gemm"};
  return carriers.count(opType) > 0;
}

const OpRule *findOpRule(const std::string &opType) {
  static const std::vector<OpRule> rules = buildRules();
  for (const OpRule &r : rules)
    if (r.op == opType)
      return &r;
  return nullptr;
}

bool isMlOperator(const std::string &opType) {
  return opType == "TreeEnsembleRegressor" || opType == "TreeEnsembleClassifier" || opType == "Scaler" ||
         opType == "LinearRegressor" || opType == "LinearClassifier" || opType == "Binarizer" || opType == "Normalizer";
}

std::string mlOperatorProblem(const onnx::NodeProto &node, const std::vector<int64_t> &shape) {
  if (node.op_type() == "Binarizer") return "";
  if (node.op_type() == "Normalizer")
    return shape.size() == 1 || shape.size() == 2 ? "" : "the input must be a vector or a matrix [rows, features]";
  if (shape.size() != 2) return "the input must be a matrix [rows, features]";
  auto count = [&](const char *name) -> int64_t {
    for (const auto &a : node.attribute())
      if (a.name() == name) return a.floats_size();
    return 0;
  };
  const int64_t features = shape[1];
  if (node.op_type() == "LinearClassifier") {
    // As ONNX Runtime: the intercepts give the classes' count; one class scores two labels.
    int64_t labels = 0;
    for (const auto &a : node.attribute()) {
      if (a.name() == "classlabels_ints") labels = a.ints_size();
      if (a.name() == "classlabels_strings") return "string class labels are not supported (int64 labels are)";
    }
    const int64_t classes = count("intercepts");
    if (classes < 1) return "it has no intercepts, which give its classes (ONNX Runtime requires them)";
    if (count("coefficients") != classes * features)
      return "coefficients has " + std::to_string(count("coefficients")) + " values for " + std::to_string(classes) +
             " class(es) x " + std::to_string(features) + " features";
    if (labels != (classes == 1 ? 2 : classes))
      return "classlabels_ints has " + std::to_string(labels) + " labels for " + std::to_string(classes) +
             " class(es) (one class scores two labels)";
    return "";
  }
  if (node.op_type() == "Scaler") {
    for (const char *name : {"offset", "scale"})
      if (count(name) != 1 && count(name) != features)
        return std::string(name) + " has " + std::to_string(count(name)) + " values for " + std::to_string(features) +
               " features (one, or one per feature)";
    return "";
  }
  int64_t targets = 1;
  for (const auto &a : node.attribute())
    if (a.name() == "targets") targets = a.i();
  if (targets < 1) return "targets must be at least 1";
  if (count("coefficients") != targets * features)
    return "coefficients has " + std::to_string(count("coefficients")) + " values for " + std::to_string(targets) +
           " target(s) x " + std::to_string(features) + " features";
  if (count("intercepts") != 0 && count("intercepts") != targets)
    return "intercepts has " + std::to_string(count("intercepts")) + " values for " + std::to_string(targets) + " target(s)";
  return "";
}

std::string elementTypeName(int type) {
  switch (type) {
  case 1: return "float";
  case 2: return "uint8";
  case 3: return "int8";
  case 4: return "uint16";
  case 5: return "int16";
  case 6: return "int32";
  case 7: return "int64";
  case 8: return "string";
  case 9: return "bool";
  case 10: return "float16";
  case 11: return "double";
  case 12: return "uint32";
  case 13: return "uint64";
  case 16: return "bfloat16";
  default: return "type " + std::to_string(type);
  }
}

} // namespace fractal::onnx_frontend::detail
