// REQUIRES: mlir
// fractal-stride-to-channels: a few-channel convolution whose horizontal stride S divides its
// kernel width reads its input folded into S times the channels, at stride 1.
// RUN: %fractal-opt %s --fractal-stride-to-channels --split-input-file --mlir-print-debuginfo | %FileCheck %s

// Width 8 at stride 4 over 18 columns: 3 outputs read columns 0..15 (sliced), folded into 4
// channels of 4 columns; w'[o, r, 0, k] = w[o, 0, 0, 4k + r], width 2.
// CHECK-LABEL: func.func @stft
// CHECK-DAG: %[[W:.*]] = graph.constant dense<{{\[\[\[\[}}0.000000e+00, 4.000000e+00]], {{\[\[}}1.000000e+00, 5.000000e+00]], {{\[\[}}2.000000e+00, 6.000000e+00]], {{\[\[}}3.000000e+00, 7.000000e+00]]], {{\[\[\[}}8.000000e+00, 1.200000e+01]], {{\[\[}}9.000000e+00, 1.300000e+01]], {{\[\[}}1.000000e+01, 1.400000e+01]], {{\[\[}}1.100000e+01, 1.500000e+01]]]]> : tensor<2x4x1x2xf32>
// CHECK: %[[S:.*]] = graph.slice %arg0 {ends = array<i64: 1, 1, 1, 16>, starts = array<i64: 0, 0, 0, 0>, steps = array<i64: 1, 1, 1, 1>} : (tensor<1x1x1x18xf32>) -> tensor<1x1x1x16xf32> loc(#[[LOC:loc[0-9]+]])
// CHECK: %[[R:.*]] = graph.reshape %[[S]] : (tensor<1x1x1x16xf32>) -> tensor<1x1x1x4x4xf32>
// CHECK: %[[T:.*]] = graph.transpose %[[R]] {perm = array<i64: 0, 1, 4, 2, 3>} : (tensor<1x1x1x4x4xf32>) -> tensor<1x1x4x1x4xf32>
// CHECK: %[[F:.*]] = graph.reshape %[[T]] : (tensor<1x1x4x1x4xf32>) -> tensor<1x4x1x4xf32>
// CHECK: %[[C:.*]] = graph.conv %[[F]], %[[W]], %arg1 {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x4x1x4xf32>, tensor<2x4x1x2xf32>, tensor<2xf32>) -> tensor<1x2x1x3xf32> loc(#[[LOC]])
// CHECK: return %[[C]]
// CHECK: #[[LOC]] = loc("stft")
func.func @stft(%x: tensor<1x1x1x18xf32>, %b: tensor<2xf32>) -> tensor<1x2x1x3xf32> {
  %w = graph.constant dense<[[[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]], [[[8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0]]]]> : tensor<2x1x1x8xf32>
  %c = graph.conv %x, %w, %b {strides = array<i64: 1, 4>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x1x18xf32>, tensor<2x1x1x8xf32>, tensor<2xf32>) -> tensor<1x2x1x3xf32> loc("stft")
  return %c : tensor<1x2x1x3xf32>
}

// -----

// Left alone: a stride that does not divide the width (5 at 2), 16 input channels (no padding to
// save), horizontal padding.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: graph.transpose
// CHECK-COUNT-3: graph.conv {{.*}}strides = array<i64: {{[12]}}, 2>
func.func @left_alone(%x: tensor<1x1x8x8xf32>, %y: tensor<1x16x1x8xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x1x3xf32>, tensor<1x2x1x4xf32>) {
  %w5 = graph.constant dense<1.0> : tensor<2x1x5x5xf32>
  %a = graph.conv %x, %w5 {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x8x8xf32>, tensor<2x1x5x5xf32>) -> tensor<1x2x2x2xf32>
  %w16 = graph.constant dense<1.0> : tensor<2x16x1x2xf32>
  %b = graph.conv %y, %w16 {strides = array<i64: 1, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x16x1x8xf32>, tensor<2x16x1x2xf32>) -> tensor<1x2x1x3xf32>
  %w2 = graph.constant dense<1.0> : tensor<2x1x1x2xf32>
  %s = graph.slice %y {starts = array<i64: 0, 0, 0, 0>, ends = array<i64: 1, 1, 1, 8>, steps = array<i64: 1, 1, 1, 1>} : (tensor<1x16x1x8xf32>) -> tensor<1x1x1x8xf32>
  %c = graph.conv %s, %w2 {strides = array<i64: 1, 2>, pads = array<i64: 0, 1, 0, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x1x8xf32>, tensor<2x1x1x2xf32>) -> tensor<1x2x1x4xf32>
  return %a, %b, %c : tensor<1x2x2x2xf32>, tensor<1x2x1x3xf32>, tensor<1x2x1x4xf32>
}
