// REQUIRES: mlir
// The graph dialect's verifiers: each malformed op gets its own diagnostic.
// RUN: %fractal-opt %s -split-input-file -verify-diagnostics

func.func @bad_broadcast(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{operand shapes do not broadcast}}
  %r = graph.add %a, %b : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}

// -----

func.func @bad_broadcast_result(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{result shape must be the broadcast of the operand shapes}}
  %r = graph.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %r : tensor<3xf32>
}

// -----

func.func @bad_groups(%x: tensor<1x6x8x8xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x8x8xf32> {
  // expected-error @+1 {{input channels (6) must equal weight channels (4) x group (1)}}
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x6x8x8xf32>, tensor<6x4x3x3xf32>) -> tensor<1x6x8x8xf32>
  return %c : tensor<1x6x8x8xf32>
}

// -----

func.func @bad_residual(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %r: tensor<1x4x8x7xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{residual must have the result's type 'tensor<1x4x8x8xf32>' (or fewer channels), got 'tensor<1x4x8x7xf32>'}}
  %c = graph.conv %x, %w residual(%r) {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<1x4x8x7xf32>) -> tensor<1x4x8x8xf32>
  return %c : tensor<1x4x8x8xf32>
}

// -----

func.func @residual_more_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %r: tensor<1x5x8x8xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{(or fewer channels), got 'tensor<1x5x8x8xf32>'}}
  %c = graph.conv %x, %w residual(%r) {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<1x5x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %c : tensor<1x4x8x8xf32>
}

// -----

func.func @bad_pads(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{strides and dilations need one value per spatial axis, pads two}}
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %c : tensor<1x4x8x8xf32>
}

// -----

func.func @bad_matmul(%a: tensor<4x5xf32>, %b: tensor<6x7xf32>) -> tensor<4x7xf32> {
  // expected-error @+1 {{inner dimensions differ: 5 vs 6}}
  %r = graph.matmul %a, %b : (tensor<4x5xf32>, tensor<6x7xf32>) -> tensor<4x7xf32>
  return %r : tensor<4x7xf32>
}

// -----

func.func @bad_gemm_k(%a: tensor<5x3xf32>, %b: tensor<4x7xf32>) -> tensor<3x7xf32> {
  // expected-error @+1 {{inner dimensions differ: op(A) is 3x5, op(B) 4x7}}
  %r = graph.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = true, trans_b = false} : (tensor<5x3xf32>, tensor<4x7xf32>) -> tensor<3x7xf32>
  return %r : tensor<3x7xf32>
}

// -----

func.func @bad_gemm_c(%a: tensor<3x4xf32>, %b: tensor<4x7xf32>, %c: tensor<3x2xf32>) -> tensor<3x7xf32> {
  // expected-error @+1 {{C of shape 'tensor<3x2xf32>' does not broadcast to 3x7}}
  %r = graph.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false} : (tensor<3x4xf32>, tensor<4x7xf32>, tensor<3x2xf32>) -> tensor<3x7xf32>
  return %r : tensor<3x7xf32>
}

// -----

func.func @bad_concat(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{result axis size must be the sum of the inputs'}}
  %r = graph.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x8xf32>
  return %r : tensor<2x8xf32>
}

// -----

func.func @bad_perm(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{perm is not a permutation}}
  %r = graph.transpose %a {perm = array<i64: 0, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %r : tensor<3x2xf32>
}

// -----

func.func @bad_reshape(%a: tensor<2x3xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{reshape must keep the number of elements}}
  %r = graph.reshape %a : (tensor<2x3xf32>) -> tensor<5xf32>
  return %r : tensor<5xf32>
}

// -----

func.func @bad_clip(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{min must not exceed max}}
  %r = graph.clip %a {min = 6.0 : f32, max = 0.0 : f32} : (tensor<2xf32>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

func.func @bad_clamp(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{clamp_min (6.000000e+00) exceeds clamp_max (0.000000e+00)}}
  %r = graph.matmul %a, %b {clamp_min = 6.0 : f32, clamp_max = 0.0 : f32} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}

// -----

func.func @bad_activation(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{unknown activation kind 'swish'}}
  %r = graph.activation %a {kind = "swish", alpha = 0.0 : f32, beta = 0.0 : f32} : (tensor<2xf32>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

func.func @bad_max(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{operand shapes do not broadcast}}
  %r = graph.max %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}

// -----

func.func @bad_rounding(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{unknown rounding mode 'trunc' (floor, ceil, round)}}
  %r = graph.rounding %a {mode = "trunc"} : (tensor<2xf32>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

func.func @bad_trigonometric(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{unknown trigonometric function 'sinh' (sin, cos, tan, asin, acos, atan)}}
  %r = graph.trigonometric %a {function = "sinh"} : (tensor<2xf32>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

func.func @top_k_past_the_axis(%a: tensor<2x3xf32>) -> (tensor<2x4xf32>, tensor<2x4xi64>) {
  // expected-error @+1 {{k = 4 is outside [0, 3], the size of axis 1}}
  %v, %i = graph.top_k %a {k = 4 : i64, axis = 1 : i64, largest = true, sorted = true} : (tensor<2x3xf32>) -> (tensor<2x4xf32>, tensor<2x4xi64>)
  return %v, %i : tensor<2x4xf32>, tensor<2x4xi64>
}

// -----

func.func @bad_compare_kind(%a: tensor<2xf32>) -> tensor<2xi1> {
  // expected-error @+1 {{unknown comparison 'ne' (eq, gt, ge, lt, le)}}
  %r = graph.compare "ne" %a, %a : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xi1>
  return %r : tensor<2xi1>
}

// -----

func.func @compare_to_float(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{result must be a boolean (i1) tensor}}
  %r = graph.compare "eq" %a, %a : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

func.func @logical_on_floats(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{operands and result must be boolean (i1) tensors}}
  %r = graph.logical "and" %a, %a : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

func.func @where_float_condition(%c: tensor<2xf32>, %a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{condition must be a boolean (i1) tensor}}
  %r = graph.where %c, %a, %a : (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

func.func @where_shapes(%c: tensor<4xi1>, %a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{condition, x and y shapes do not broadcast}}
  %r = graph.where %c, %a, %a : (tensor<4xi1>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}

// -----

func.func @bad_reduce_kind(%a: tensor<3x4xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{unknown reduction kind 'prod'}}
  %r = graph.reduce %a {kind = "prod", axes = array<i64: 1>, keepdims = false} : (tensor<3x4xf32>) -> tensor<3xf32>
  return %r : tensor<3xf32>
}

// -----

func.func @bad_reduce_shape(%a: tensor<3x4xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{result shape does not match the reduction of the input over the axes}}
  %r = graph.reduce %a {kind = "sum", axes = array<i64: 1>, keepdims = true} : (tensor<3x4xf32>) -> tensor<3xf32>
  return %r : tensor<3xf32>
}

// -----

func.func @bad_reduce_axes(%a: tensor<3x4xf32>) -> tensor<f32> {
  // expected-error @+1 {{axes must be sorted and distinct}}
  %r = graph.reduce %a {kind = "max", axes = array<i64: 1, 0>, keepdims = false} : (tensor<3x4xf32>) -> tensor<f32>
  return %r : tensor<f32>
}

// -----

func.func @bad_softmax_axes(%a: tensor<3x4x5xf32>) -> tensor<3x4x5xf32> {
  // expected-error @+1 {{axes must be contiguous}}
  %r = graph.softmax %a {kind = "softmax", axes = array<i64: 0, 2>} : (tensor<3x4x5xf32>) -> tensor<3x4x5xf32>
  return %r : tensor<3x4x5xf32>
}

// -----

func.func @bad_arg_reduce(%a: tensor<3x4xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{result must be int64 with the input's shape reduced over the axis}}
  %r = graph.arg_reduce %a {kind = "min", axis = 1 : i64, keepdims = false, select_last_index = true} : (tensor<3x4xf32>) -> tensor<3xf32>
  return %r : tensor<3xf32>
}

// -----

func.func @bad_nll_target(%x: tensor<3x5xf32>, %t: tensor<5xi64>) -> tensor<f32> {
  // expected-error @+1 {{target must have the input's shape without the class axis}}
  %l = graph.nll_loss %x, %t {reduction = "sum"} : (tensor<3x5xf32>, tensor<5xi64>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @bad_gather(%d: tensor<5x4xf32>, %i: tensor<3xi64>) -> tensor<3x5xf32> {
  // expected-error @+1 {{result shape or type does not follow from the data and indices}}
  %g = graph.gather %d, %i {axis = 1 : i64, elements = false} : (tensor<5x4xf32>, tensor<3xi64>) -> tensor<3x5xf32>
  return %g : tensor<3x5xf32>
}

// -----

// ScatterND's updates are indices[:-1] + data[k:]: [2, 4] here, not [2, 5].
func.func @bad_scatter(%d: tensor<5x4xf32>, %i: tensor<2x1xi64>, %u: tensor<2x5xf32>) -> tensor<5x4xf32> {
  // expected-error @+1 {{updates must be shaped indices[:-1] + data[k:]}}
  %s = graph.scatter %d, %i, %u {axis = 0 : i64, nd = true} : (tensor<5x4xf32>, tensor<2x1xi64>, tensor<2x5xf32>) -> tensor<5x4xf32>
  return %s : tensor<5x4xf32>
}

// -----

// ONNX's reductions are none, add, mul, max and min.
func.func @bad_scatter_reduction(%d: tensor<5x4xf32>, %i: tensor<2x1xi64>, %u: tensor<2x4xf32>) -> tensor<5x4xf32> {
  // expected-error @+1 {{reduction must be none, add, mul, max or min, not 'sum'}}
  %s = graph.scatter %d, %i, %u {axis = 0 : i64, nd = true, reduction = "sum"} : (tensor<5x4xf32>, tensor<2x1xi64>, tensor<2x4xf32>) -> tensor<5x4xf32>
  return %s : tensor<5x4xf32>
}

// -----

// The slice's last element of axis 1 would be 1 + 2 * 2 = 5 of a 4-long axis.
func.func @slice_past_the_end(%t: tensor<2x4xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{axis 1 reads elements 1 .. 5 of 4}}
  %s = graph.slice %t {starts = array<i64: 0, 1>, ends = array<i64: 2, 6>, steps = array<i64: 1, 2>} : (tensor<2x4xf32>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}

// -----

func.func @non_zero_without_its_bound(%x: tensor<2x3xf32>) -> tensor<2x5xi64> {
  // expected-error @+1 {{result must be int64 [rank, elements] of the input (the bound of its data-dependent axis 1)}}
  %n = graph.non_zero %x : (tensor<2x3xf32>) -> tensor<2x5xi64>
  return %n : tensor<2x5xi64>
}

// -----

func.func @compress_past_its_condition(%x: tensor<2x3xf32>, %c: tensor<2xi1>) -> tensor<2x3xf32> {
  // expected-error @+1 {{result must be the input's type and shape with axis 1 bounded by the condition's length}}
  %s = graph.compress %x, %c {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2xi1>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}

// -----

func.func @compress_by_floats(%x: tensor<2x3xf32>, %c: tensor<2xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{condition must be a 1-D boolean tensor}}
  %s = graph.compress %x, %c {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x2xf32>
  return %s : tensor<2x2xf32>
}

// -----

func.func @unique_indices_of_another_length(%x: tensor<2x3xf32>) -> tensor<2xi64> {
  // expected-error @+1 {{results must be the input's type and int64 [3] (the bounds of the unique slices' count)}}
  %y:4 = graph.unique %x {axis = 1 : i64, sorted = false} : (tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2xi64>, tensor<3xi64>, tensor<3xi64>)
  return %y#1 : tensor<2xi64>
}

// -----

// 1 batch x 2 classes x min(3, 6) boxes = 6 rows at most.
func.func @nms_select_of_another_bound(%s: tensor<1x2x6xf32>, %o: tensor<1x6x6xi1>) -> tensor<12x3xi64> {
  // expected-error @+1 {{result must be int64 [batches x classes x min(max_output_boxes_per_class, boxes), 3]}}
  %n = graph.nms_select %s, %o {max_output_boxes_per_class = 3 : i64} : (tensor<1x2x6xf32>, tensor<1x6x6xi1>) -> tensor<12x3xi64>
  return %n : tensor<12x3xi64>
}
