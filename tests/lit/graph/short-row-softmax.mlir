// REQUIRES: mlir
// fractal-short-row-softmax: a softmax over rows of at most 64 elements, 64 rows or more, runs
// over the first axis of the transposed tensor, every row in its own lane.
// RUN: %fractal-opt %s --fractal-short-row-softmax --split-input-file | %FileCheck %s

// An attention of 8 heads x 40 queries with rows of 20 keys (not whole 32-byte blocks).
// CHECK-LABEL: func.func @attention
// CHECK: %[[T:.*]] = graph.transpose %arg0 {perm = array<i64: 3, 0, 1, 2>} : (tensor<1x8x40x20xf32>) -> tensor<20x1x8x40xf32>
// CHECK: %[[S:.*]] = graph.softmax %[[T]] {axes = array<i64: 0>, kind = "log_softmax"} : (tensor<20x1x8x40xf32>) -> tensor<20x1x8x40xf32>
// CHECK: %[[B:.*]] = graph.transpose %[[S]] {perm = array<i64: 1, 2, 3, 0>} : (tensor<20x1x8x40xf32>) -> tensor<1x8x40x20xf32>
// CHECK: return %[[B]]
func.func @attention(%x: tensor<1x8x40x20xf32>) -> tensor<1x8x40x20xf32> {
  %y = graph.softmax %x {axes = array<i64: 3>, kind = "log_softmax"} : (tensor<1x8x40x20xf32>) -> tensor<1x8x40x20xf32>
  return %y : tensor<1x8x40x20xf32>
}

// -----

// Left alone: PP-OCRv4 rec's attention, rows of 40 keys, whole 32-byte blocks (the row kernel
// takes those as they are).
// CHECK-LABEL: func.func @whole_blocks
// CHECK-NOT: graph.transpose
func.func @whole_blocks(%x: tensor<1x8x40x40xf32>) -> tensor<1x8x40x40xf32> {
  %y = graph.softmax %x {axes = array<i64: 3>, kind = "softmax"} : (tensor<1x8x40x40xf32>) -> tensor<1x8x40x40xf32>
  return %y : tensor<1x8x40x40xf32>
}

// -----

// Left alone: long rows (6625 classes), few rows (32), another axis, hardmax.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: graph.transpose
func.func @left_alone(%a: tensor<40x6625xf32>, %b: tensor<32x40xf32>, %c: tensor<80x40xf32>) -> (tensor<40x6625xf32>, tensor<32x40xf32>, tensor<80x40xf32>, tensor<80x40xf32>) {
  %0 = graph.softmax %a {axes = array<i64: 1>, kind = "softmax"} : (tensor<40x6625xf32>) -> tensor<40x6625xf32>
  %1 = graph.softmax %b {axes = array<i64: 1>, kind = "softmax"} : (tensor<32x40xf32>) -> tensor<32x40xf32>
  %2 = graph.softmax %c {axes = array<i64: 0>, kind = "softmax"} : (tensor<80x40xf32>) -> tensor<80x40xf32>
  %3 = graph.softmax %c {axes = array<i64: 1>, kind = "hardmax"} : (tensor<80x40xf32>) -> tensor<80x40xf32>
  return %0, %1, %2, %3 : tensor<40x6625xf32>, tensor<32x40xf32>, tensor<80x40xf32>, tensor<80x40xf32>
}

// -----

// Left alone: 6480 rows of 5 (32400 values) would not fit UB as one transposed slice.
// CHECK-LABEL: func.func @too_big
// CHECK-NOT: graph.transpose
func.func @too_big(%a: tensor<6480x5xf32>) -> tensor<6480x5xf32> {
  %0 = graph.softmax %a {axes = array<i64: 1>, kind = "log_softmax"} : (tensor<6480x5xf32>) -> tensor<6480x5xf32>
  return %0 : tensor<6480x5xf32>
}
