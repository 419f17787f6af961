// REQUIRES: mlir
// fractal-cancel-data-movement: chained transposes and reshapes composed, no-ops removed.
// RUN: %fractal-opt %s --fractal-cancel-data-movement --split-input-file | %FileCheck %s

// NCHW -> NHWC -> NCHW: the pair cancels, the relu reads the input directly.
// CHECK-LABEL: func.func @inverse_pair
// CHECK-NOT: graph.transpose
// CHECK: graph.relu %arg0
func.func @inverse_pair(%x: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %a = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x2x3x4xf32>) -> tensor<1x3x4x2xf32>
  %b = graph.transpose %a {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x3x4x2xf32>) -> tensor<1x2x3x4xf32>
  %r = graph.relu %b : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %r : tensor<1x2x3x4xf32>
}

// -----

// Two rotations of a 3-d tensor compose into one: p = [1, 2, 0], q = [1, 2, 0] -> [2, 0, 1].
// CHECK-LABEL: func.func @compose
// CHECK-NEXT: %[[T:.*]] = graph.transpose %arg0 {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
// CHECK-NEXT: return %[[T]]
func.func @compose(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %a = graph.transpose %x {perm = array<i64: 1, 2, 0>} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %b = graph.transpose %a {perm = array<i64: 1, 2, 0>} : (tensor<3x4x2xf32>) -> tensor<4x2x3xf32>
  return %b : tensor<4x2x3xf32>
}

// -----

// Flatten then reshape: one reshape; a reshape back to the input's shape: none; an identity
// transpose: none.
// CHECK-LABEL: func.func @reshapes
// CHECK-NEXT: %[[R:.*]] = graph.reshape %arg0 : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
// CHECK-NEXT: return %[[R]], %arg0, %arg0
func.func @reshapes(%x: tensor<2x3x4xf32>) -> (tensor<6x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  %f = graph.reshape %x : (tensor<2x3x4xf32>) -> tensor<24xf32>
  %r = graph.reshape %f : (tensor<24xf32>) -> tensor<6x4xf32>
  %back = graph.reshape %f : (tensor<24xf32>) -> tensor<2x3x4xf32>
  %t = graph.transpose %x {perm = array<i64: 0, 1, 2>} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  return %r, %back, %t : tensor<6x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
}

// -----

// A transpose that really reorders stays.
// CHECK-LABEL: func.func @keep
// CHECK: graph.transpose %arg0 {perm = array<i64: 1, 0>}
func.func @keep(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %t = graph.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %t : tensor<3x2xf32>
}

// -----

// A TensorFlow model's NHWC input, transposed to NCHW, then a quantize/dequantize pair, then the
// first convolution: the transpose moves below the fake_quant, next to the convolution, which
// reads the NHWC tensor itself (no transpose kernel; BuildPackage's NHWC -> NCHW case).
// CHECK-LABEL: func.func @into_convolution
// CHECK-NEXT: %[[Q:.*]] = graph.fake_quant %arg0 {{.*}} : (tensor<1x8x8x3xf32>) -> tensor<1x8x8x3xf32>
// CHECK-NEXT: %[[T:.*]] = graph.transpose %[[Q]] {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x3xf32>) -> tensor<1x3x8x8xf32>
// CHECK-NEXT: graph.conv %[[T]], %arg1
func.func @into_convolution(%x: tensor<1x8x8x3xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x3xf32>) -> tensor<1x3x8x8xf32>
  %q = graph.fake_quant %t {scale = 0.0078125 : f32, zero_point = 128.0 : f32, min = 0.0 : f32, max = 255.0 : f32} : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32>
  %c = graph.conv %q, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %c : tensor<1x4x8x8xf32>
}

// -----

// Through two element-wise ops to the inverse transpose: both transposes go.
// CHECK-LABEL: func.func @to_the_inverse
// CHECK-NOT: graph.transpose
// CHECK: %[[R:.*]] = graph.relu %arg0 : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
// CHECK-NEXT: %[[S:.*]] = graph.sigmoid %[[R]] : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
// CHECK-NEXT: return %[[S]]
func.func @to_the_inverse(%x: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %a = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x2x3x4xf32>) -> tensor<1x3x4x2xf32>
  %r = graph.relu %a : (tensor<1x3x4x2xf32>) -> tensor<1x3x4x2xf32>
  %s = graph.sigmoid %r : (tensor<1x3x4x2xf32>) -> tensor<1x3x4x2xf32>
  %b = graph.transpose %s {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x3x4x2xf32>) -> tensor<1x2x3x4xf32>
  return %b : tensor<1x2x3x4xf32>
}

// -----

// Where nothing absorbs it (a model output; a second reader; a cast, which changes the bytes a
// transpose moves), the transpose stays where it is.
// CHECK-LABEL: func.func @stays
// CHECK-NEXT: %[[T:.*]] = graph.transpose %arg0
// CHECK-NEXT: %[[R:.*]] = graph.relu %[[T]]
// CHECK-NEXT: %[[U:.*]] = graph.transpose %arg0
// CHECK-NEXT: %[[S:.*]] = graph.sigmoid %[[U]]
// CHECK-NEXT: graph.conv %[[S]]
// CHECK-NEXT: %[[V:.*]] = graph.transpose %arg0
// CHECK-NEXT: %[[C:.*]] = graph.cast %[[V]]
// CHECK-NEXT: graph.conv %[[C]]
func.func @stays(%x: tensor<1x8x8x3xf32>, %w: tensor<4x3x3x3xf32>, %w16: tensor<4x3x3x3xf16>)
    -> (tensor<1x3x8x8xf32>, tensor<1x3x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf16>) {
  %t = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x3xf32>) -> tensor<1x3x8x8xf32>
  %r = graph.relu %t : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32>
  %u = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x3xf32>) -> tensor<1x3x8x8xf32>
  %s = graph.sigmoid %u : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32>
  %c = graph.conv %s, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  %v = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x3xf32>) -> tensor<1x3x8x8xf32>
  %h = graph.cast %v : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf16>
  %d = graph.conv %h, %w16 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf16>, tensor<4x3x3x3xf16>) -> tensor<1x4x8x8xf16>
  return %r, %s, %c, %d : tensor<1x3x8x8xf32>, tensor<1x3x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf16>
}
