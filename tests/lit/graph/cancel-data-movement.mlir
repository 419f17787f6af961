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
