// The `graph` dialect: ONNX-level operations on tensors, the first IR of the compiler. One op per
// ONNX operator of the supported set (frontends/onnx/lib/OpSupport.cpp), with ONNX attributes
// made explicit and checked: the importer resolves auto_pad into pads, Flatten into reshape,
// constant inputs (Clip bounds, Slice starts, Resize scales) into attributes, and shape
// computations on static shapes into constants. Locations carry the ONNX node names.
#ifndef FRACTAL_GRAPH_OPS
#define FRACTAL_GRAPH_OPS

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Graph_Dialect : Dialect {
  let name = "graph";
  let cppNamespace = "::fractal::graph";
  let summary = "ONNX-level tensor operations, the compiler's first IR";
  let description = [{
    Operations mirror the ONNX operators Fractal supports, on ranked tensors with static shapes
    (the importer fixes every dynamic dimension). Attributes that ONNX leaves implicit are
    explicit here: convolution pads are always four numbers, pooling kernels always given.
  }];
}

// Where an op runs on the NPU and why: data of each op, read by the placement pass
// (lib/Transforms/Placement.cpp) and printed in compile reports.
def Graph_PlacedOpInterface : OpInterface<"PlacedOpInterface"> {
  let cppNamespace = "::fractal::graph";
  let description = "An op whose execution unit is fixed by what it computes.";
  let methods = [
    StaticInterfaceMethod<"cube, vector, dma or host", "::llvm::StringRef", "getPlacement">,
    StaticInterfaceMethod<"why it runs there", "::llvm::StringRef", "getPlacementReason">,
  ];
}

class Graph_Op<string mnemonic, list<Trait> traits = [], string where = "vector",
               string why = "element-wise or reduction math: runs on the vector unit">
    : Op<Graph_Dialect, mnemonic, !listconcat(traits, [Graph_PlacedOpInterface])> {
  let extraClassDeclaration = "static ::llvm::StringRef getPlacement() { return \"" # where #
      "\"; }\n  static ::llvm::StringRef getPlacementReason() { return \"" # why # "\"; }";
}

defvar kCube = "matrix product: runs on the cube (convolution through img2col)";
defvar kDma = "data movement: DMA (MTE) copies or strided addressing, no arithmetic";
defvar kView = "shape bookkeeping: a view of the same bytes, no device work";
defvar kConst = "constant: placed in the model package's weights, no device work";

//===--- element-wise ------------------------------------------------------------------------===//

class Graph_BinaryOp<string mnemonic> : Graph_Op<mnemonic, [Pure]> {
  let summary = "element-wise " # mnemonic # " with ONNX (numpy) broadcasting";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}
def Graph_AddOp : Graph_BinaryOp<"add">;
def Graph_SubOp : Graph_BinaryOp<"sub">;
def Graph_MulOp : Graph_BinaryOp<"mul">;
def Graph_DivOp : Graph_BinaryOp<"div">;
def Graph_MaxOp : Graph_BinaryOp<"max">;
def Graph_MinOp : Graph_BinaryOp<"min">;
def Graph_PowOp : Graph_BinaryOp<"pow">; // lhs ** rhs per element (constant exponents are rewritten on import)
// The remainder of lhs / rhs with broadcasting: with `fmod` C's fmod (the sign of lhs, what
// float32 takes), else the sign of rhs (Python's %, int32 only).
def Graph_ModOp : Graph_Op<"mod", [Pure]> {
  let summary = "element-wise remainder with ONNX (numpy) broadcasting";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs, BoolAttr:$fmod);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

// lhs shifted by rhs bits, element by element with broadcasting (unsigned integers): `left` or
// right (logical).
def Graph_BitShiftOp : Graph_Op<"bit_shift", [Pure]> {
  let summary = "element-wise bit shift of unsigned integers with ONNX (numpy) broadcasting";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs, BoolAttr:$left);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

class Graph_UnaryOp<string mnemonic, dag attrs = (ins)> : Graph_Op<mnemonic, [Pure]> {
  let summary = "element-wise " # mnemonic;
  let arguments = !con((ins AnyRankedTensor:$input), attrs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}
def Graph_ReluOp : Graph_UnaryOp<"relu">;
def Graph_SigmoidOp : Graph_UnaryOp<"sigmoid">;
def Graph_NegOp : Graph_UnaryOp<"neg">;
def Graph_AbsOp : Graph_UnaryOp<"abs">;
def Graph_SqrtOp : Graph_UnaryOp<"sqrt">;
def Graph_ReciprocalOp : Graph_UnaryOp<"reciprocal">;
def Graph_ExpOp : Graph_UnaryOp<"exp">;
def Graph_LogOp : Graph_UnaryOp<"log">;
// Parameterised activations (kind: tanh, leaky_relu, elu, selu, softplus, softsign, hard_swish),
// alpha/beta as ONNX defines them for each; one op keeps the table short.
def Graph_ActivationOp : Graph_UnaryOp<"activation", (ins StrAttr:$kind, F32Attr:$alpha, F32Attr:$beta)>;
def Graph_ErfOp : Graph_UnaryOp<"erf">;
def Graph_SignOp : Graph_UnaryOp<"sign">;
// To an integer value (mode: floor, ceil, round = half to even), in the input's float type.
def Graph_RoundingOp : Graph_UnaryOp<"rounding", (ins StrAttr:$mode)>;
// sin, cos, tan and their inverses asin, acos, atan (function), in radians.
def Graph_TrigonometricOp : Graph_UnaryOp<"trigonometric", (ins StrAttr:$function)>;
def Graph_ClipOp : Graph_UnaryOp<"clip", (ins F32Attr:$min, F32Attr:$max)>;
def Graph_HardSigmoidOp : Graph_UnaryOp<"hard_sigmoid", (ins F32Attr:$alpha, F32Attr:$beta)>;
def Graph_CastOp : Graph_UnaryOp<"cast">;
// A QuantizeLinear / DequantizeLinear pair with constant per-tensor parameters, as quantized
// models wrap activations: (clip(round_half_even(x / scale) + zero_point, min, max) -
// zero_point) * scale, the 8-bit integers never materialized (one vector kernel).
def Graph_FakeQuantOp : Graph_UnaryOp<"fake_quant", (ins F32Attr:$scale, F32Attr:$zero_point, F32Attr:$min, F32Attr:$max)>;

// Predicates and selection. Booleans are i1 tensors, one byte per element in memory (numpy's
// and ONNX's bool); the vector unit compares into a bitmask (vcmp) and selects with it (vsel).
def Graph_CompareOp : Graph_Op<"compare", [Pure]> {
  let summary = "element-wise comparison (kind: eq, gt, ge, lt, le) with broadcasting, to booleans";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs, StrAttr:$kind);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$kind $lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}
def Graph_LogicalOp : Graph_Op<"logical", [Pure]> {
  let summary = "element-wise boolean and, or, xor (kind) with broadcasting";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs, StrAttr:$kind);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$kind $lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}
def Graph_NotOp : Graph_UnaryOp<"not">;
def Graph_WhereOp : Graph_Op<"where", [Pure]> {
  let summary = "element-wise select: condition ? x : y, the three broadcast to the result";
  let arguments = (ins AnyRankedTensor:$condition, AnyRankedTensor:$x, AnyRankedTensor:$y);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$condition `,` $x `,` $y attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===--- matrix products ---------------------------------------------------------------------===//

def Graph_ConvOp : Graph_Op<"conv", [Pure, AttrSizedOperandSegments], "cube", kCube> {
  let summary = "N-d convolution (NCHW), groups and dilations, explicit pads";
  let description = [{
    result = clamp(conv(input, weight) + bias + residual). The residual (a tensor of the result's
    type, or with fewer channels: the missing ones read as zero) is a skip connection's Add fused
    into the convolution (fractal-fuse-epilogue): the cube adds it as one more K step before the
    output stage's clamp.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight,
                   Optional<AnyRankedTensor>:$bias, Optional<AnyRankedTensor>:$residual,
                   DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations, I64Attr:$group,
                   OptionalAttr<F32Attr>:$clamp_min, OptionalAttr<F32Attr>:$clamp_max);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $weight (`,` $bias^)? (`residual` `(` $residual^ `)`)? attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_ConvTransposeOp : Graph_Op<"conv_transpose", [Pure], "cube", kCube> {
  let summary = "transposed convolution (NCHW), explicit pads and output padding; an optional fused clamp";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight,
                   Optional<AnyRankedTensor>:$bias, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations,
                   DenseI64ArrayAttr:$output_padding, I64Attr:$group,
                   OptionalAttr<F32Attr>:$clamp_min, OptionalAttr<F32Attr>:$clamp_max);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

def Graph_MatMulOp : Graph_Op<"matmul", [Pure], "cube", kCube> {
  let summary = "matrix product with numpy batching";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs,
                   OptionalAttr<F32Attr>:$clamp_min, OptionalAttr<F32Attr>:$clamp_max);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_GemmOp : Graph_Op<"gemm", [Pure], "cube", kCube> {
  let summary = "alpha * op(A) x op(B) + beta * C";
  let arguments = (ins AnyRankedTensor:$a, AnyRankedTensor:$b, Optional<AnyRankedTensor>:$c,
                   F32Attr:$alpha, F32Attr:$beta, BoolAttr:$trans_a, BoolAttr:$trans_b,
                   OptionalAttr<F32Attr>:$clamp_min, OptionalAttr<F32Attr>:$clamp_max);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$a `,` $b (`,` $c^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===--- normalisation, pooling, resizing ----------------------------------------------------===//

def Graph_BatchNormOp : Graph_Op<"batch_norm", [Pure]> {
  let summary = "inference batch normalisation over the channel axis";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$scale, AnyRankedTensor:$bias,
                   AnyRankedTensor:$mean, AnyRankedTensor:$variance, F32Attr:$epsilon);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $scale `,` $bias `,` $mean `,` $variance attr-dict `:` functional-type(operands, results)";
}

class Graph_PoolOp<string mnemonic, dag extra> : Graph_Op<mnemonic, [Pure]> {
  let summary = mnemonic # " over spatial windows, explicit pads";
  let arguments = !con((ins AnyRankedTensor:$input, DenseI64ArrayAttr:$kernel,
                        DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads, BoolAttr:$ceil_mode),
                       extra);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}
def Graph_MaxPoolOp : Graph_PoolOp<"max_pool", (ins DenseI64ArrayAttr:$dilations)>;
def Graph_AvgPoolOp : Graph_PoolOp<"avg_pool", (ins BoolAttr:$count_include_pad)>;

def Graph_GlobalAvgPoolOp : Graph_UnaryOp<"global_avg_pool">;

def Graph_ResizeOp : Graph_Op<"resize", [Pure]> {
  let summary = "resize to the result shape (nearest or linear)";
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$mode,
                   StrAttr:$coordinate_transformation_mode, StrAttr:$nearest_mode);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

//===--- reductions --------------------------------------------------------------------------===//

def Graph_ReduceOp : Graph_Op<"reduce", [Pure]> {
  let summary = "reduction over axes (sum, mean, max, min, l1, l2, sum_square, log_sum, log_sum_exp)";
  let description = [{
    ONNX ReduceSum/Mean/Max/Min/L1/L2/SumSquare/LogSum/LogSumExp with the axes resolved: sorted,
    non-negative, never empty (an empty ONNX axes list means every axis). `keepdims` keeps the
    reduced axes as size 1.
  }];
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$kind, DenseI64ArrayAttr:$axes, BoolAttr:$keepdims);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_ArgReduceOp : Graph_Op<"arg_reduce", [Pure]> {
  let summary = "index (int64) of the maximum or minimum (kind: max, min) along one axis";
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$kind, I64Attr:$axis, BoolAttr:$keepdims,
                   BoolAttr:$select_last_index);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_TopKOp : Graph_Op<"top_k", [Pure], "host",
                             "TopK along an axis other than the last: sorts on the host (AI CPU)"> {
  let summary = "the k largest (or smallest) values along one axis and their int64 indices";
  let description = [{
    ONNX TopK with k constant. Equal values keep their order (the lower index first); with
    `sorted` false the selection is still returned in sorted order, which ONNX allows. Along the
    last axis it runs on the vector unit (placement pass: topKAlongLastAxis), else on the host.
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$k, I64Attr:$axis, BoolAttr:$largest, BoolAttr:$sorted);
  let results = (outs AnyRankedTensor:$values, AnyRankedTensor:$indices);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_SoftmaxOp : Graph_Op<"softmax", [Pure]> {
  let summary = "softmax, log-softmax or hardmax (kind) over a contiguous group of axes";
  let description = [{
    Opset 13 normalises over one axis; earlier opsets over every axis from `axis` on (the input
    coerced to 2-D). Both are a sorted, contiguous axes list here.
  }];
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$kind, DenseI64ArrayAttr:$axes);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_LayerNormOp : Graph_Op<"layer_norm", [Pure]> {
  let summary = "layer normalisation over the axes from `axis` on, with its statistics";
  let description = [{
    ONNX LayerNormalization: y = (x - mean) / sqrt(var + epsilon) * scale + bias over the axes
    [axis, rank). The row statistics (mean, 1 / sqrt(var + epsilon)) are results too, shaped like
    the input with the normalised axes set to 1, whether or not the model reads them.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$scale, Optional<AnyRankedTensor>:$bias,
                   I64Attr:$axis, F32Attr:$epsilon);
  let results = (outs AnyRankedTensor:$result, AnyRankedTensor:$mean, AnyRankedTensor:$inv_std_dev);
  let assemblyFormat = "$input `,` $scale (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_NllLossOp : Graph_Op<"nll_loss", [Pure]> {
  let summary = "negative log-likelihood loss (reduction: none, sum, mean)";
  let description = [{
    ONNX NegativeLogLikelihoodLoss: input [N, C, d...] (log-probabilities), target [N, d...]
    int64, optional weight [C]. The target gather runs on the scalar unit, the products and sums
    on the vector unit. SoftmaxCrossEntropyLoss imports as graph.softmax (log_softmax over axis
    1) followed by this op.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$target, Optional<AnyRankedTensor>:$weight,
                   StrAttr:$reduction, OptionalAttr<I64Attr>:$ignore_index);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $target (`,` $weight^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===--- data movement -----------------------------------------------------------------------===//

def Graph_ConcatOp : Graph_Op<"concat", [Pure], "dma", kDma> {
  let summary = "concatenation along an axis";
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_TransposeOp : Graph_Op<"transpose", [Pure], "dma", kDma> {
  let summary = "axis permutation";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_ReshapeOp : Graph_Op<"reshape", [Pure], "host", kView> {
  let summary = "a new shape for the same elements (Reshape, Flatten)";
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_SliceOp : Graph_Op<"slice", [Pure], "dma", kDma> {
  let summary = "strided slice with constant bounds (one entry per axis)";
  let description = [{
    Result element i of axis d is input element starts[d] + i * steps[d]; the result's shape
    gives the count per axis. The verifier checks that every element read lies in the input.
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$starts,
                   DenseI64ArrayAttr:$ends, DenseI64ArrayAttr:$steps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_PadOp : Graph_Op<"pad", [Pure], "dma", kDma> {
  let summary = "padding (ONNX pads order: all begins, then all ends; mode constant, edge or reflect)";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$pads, F32Attr:$value,
                   DefaultValuedStrAttr<StrAttr, "constant">:$mode);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Graph_TriluOp : Graph_Op<"trilu", [Pure], "dma", kDma> {
  let summary = "upper or lower triangle of the last two axes (diagonal offset k), the rest zero";
  let arguments = (ins AnyRankedTensor:$input, BoolAttr:$upper, I64Attr:$k);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

// Ops whose result's extent along one axis depends on the data: the result type holds the bound
// (what the memory plan reserves), and the kernel writes the actual extent beside the data
// (package Tensor.dynamic_axis). The ops after it run over the bound and keep the extent when they
// can map its axis to one of theirs (DataDependence.h).
defvar kCompaction = "data-dependent compaction: the scalar unit counts the selected elements, then stores them in order";
def Graph_NonZeroOp : Graph_Op<"non_zero", [Pure], "scalar", kCompaction> {
  let summary = "NonZero: the int64 coordinates [rank, n] of the input's non-zero elements, in row-major order";
  let description = [{
    The result is [rank(input), bound] with bound = the input's element count; at run time the
    kernel writes n (the non-zero elements, at most the bound) as the extent of axis 1.
    Floats compare as values: -0 is zero, NaN is not.
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_CompressOp : Graph_Op<"compress", [Pure], "scalar", kCompaction> {
  let summary = "Compress: the slices along `axis` whose boolean condition is true, in order";
  let description = [{
    The result has the input's shape with axis `axis` bounded by min(len(condition), that axis's
    extent); slices past the condition's length are dropped. At run time the kernel writes the
    count of true conditions within the bound as the extent of `axis`.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$condition, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $condition attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_UniqueOp : Graph_Op<"unique", [Pure], "scalar", kCompaction> {
  let summary = "Unique: the distinct slices along `axis` (elements of a 1-D input), sorted or in first-occurrence order";
  let description = [{
    Results: the unique slices (the input's shape with `axis` bounded by its extent), the index
    of each one's first occurrence, for every input slice the index of its unique slice
    (inverse_indices, static), and each unique slice's count; all int64 but the first. At run
    time the kernel writes the number of unique slices as the extent of the first, second and
    fourth results. Slices compare element by element in row-major order (as numpy's unique with
    an axis); floats by value (-0 equals +0).
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis, BoolAttr:$sorted);
  let results = (outs AnyRankedTensor:$unique, AnyRankedTensor:$indices, AnyRankedTensor:$inverse_indices,
                 AnyRankedTensor:$counts);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_NmsSelectOp : Graph_Op<"nms_select", [Pure, AttrSizedOperandSegments], "scalar",
    "greedy selection: the scalar unit picks each class's boxes by score, skipping those a selected one suppresses"> {
  let summary = "NonMaxSuppression's selection, after its overlaps: [batch, class, box] rows of the selected boxes";
  let description = [{
    `scores` [batches, classes, boxes]; `suppress` [batches, boxes, boxes] booleans (box i's IoU
    with box j above the threshold, as the importer composes it). Per batch and class, in order:
    the boxes whose score is above `score_threshold` (all but NaN ones without it) are taken by
    descending score (the lower index first among equal scores); one is selected unless a box
    already selected in its class suppresses it, until `max_output_boxes_per_class` are (and, with
    a `limit` operand, an int64 [1] known at run time, no more than it says; a negative one is 0).
    The score threshold is the attribute, or a float32 [1] `score_limit` operand read at run time.
    The result is int64 [bound, 3] with bound = batches x classes x min(max, boxes); the kernel
    writes the number of selected boxes as the extent of axis 0.
  }];
  let arguments = (ins AnyRankedTensor:$scores, AnyRankedTensor:$suppress, Optional<AnyRankedTensor>:$limit,
                   Optional<AnyRankedTensor>:$score_limit, I64Attr:$max_output_boxes_per_class,
                   OptionalAttr<F32Attr>:$score_threshold);
  let results = (outs AnyRankedTensor:$selected);
  let assemblyFormat = "$scores `,` $suppress (`limit` `(` $limit^ `)`)? (`score_limit` `(` $score_limit^ `)`)? "
                       "attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_GatherOp : Graph_Op<"gather", [Pure], "dma",
    "data movement: the scalar unit computes addresses from the run-time indices, DMA or scalar copies move the data"> {
  let summary = "Gather (rows along an axis) or GatherElements (`elements`) with run-time indices";
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices, I64Attr:$axis, BoolAttr:$elements);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_GatherNdOp : Graph_Op<"gather_nd", [Pure], "dma",
    "data movement: the scalar unit computes addresses from the run-time index tuples and copies the slices"> {
  let summary = "GatherND: the data slices the index tuples (the indices' last axis) name, after batch_dims batch axes";
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices, I64Attr:$batch_dims);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_ScatterOp : Graph_Op<"scatter", [Pure], "dma",
    "data movement: the data copied by DMA, then the scalar unit stores each update where its run-time index says"> {
  let summary = "ScatterElements (updates along `axis`) or ScatterND (`nd`: index tuples pick slices)";
  let description = [{
    The result is the data with the updates written over it: ScatterElements puts updates[i...]
    at the data position i... with the axis coordinate replaced by indices[i...]; ScatterND puts
    each updates slice at the data slice its index tuple (the indices' last axis) names. Indices
    may be negative (from the end); one out of range stops the kernel with a GM access fault.
    With `reduction` none, repeated indices keep the last update (ONNX leaves their order open);
    with add, mul, max or min, each update is combined with the value at its position, in the
    updates' order (so repeated indices accumulate).
  }];
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices, AnyRankedTensor:$updates, I64Attr:$axis,
                   BoolAttr:$nd, DefaultValuedStrAttr<StrAttr, "none">:$reduction);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `,` $indices `,` $updates attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===--- constants ---------------------------------------------------------------------------===//

def Graph_ConstantOp : Graph_Op<"constant", [Pure, ConstantLike, InferTypeOpAdaptor], "host",
                                 kConst> {
  let summary = "a constant tensor (weights are dense_resource blobs, not inline elements)";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$value attr-dict";
  let hasFolder = 1;
}

#endif // FRACTAL_GRAPH_OPS
