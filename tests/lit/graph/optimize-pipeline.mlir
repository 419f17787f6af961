// REQUIRES: mlir
// The optimize phase as one pipeline (the same one `fractal compile --compile-to=optimize` runs):
// the BatchNorm's variance is computed from constants and the weights come through a transpose,
// so BatchNorm folding only works because constant folding ran first; the Relu then fuses.
// RUN: %fractal-opt %s --fractal-optimize | %FileCheck %s

// var = v * 2 + 2 = [4, 16] with epsilon 0 -> s = scale / sqrt(var) = [0.5, 0.5];
// W = transpose([[2, 3]]) = [[2], [3]] -> W' = [1, 1.5]; b' = (0 - mean) * s + B = [0.5, 1].
// CHECK-LABEL: func.func @net
// CHECK-DAG: %[[W:.*]] = graph.constant dense<{{\[\[\[\[}}1.000000e+00]]], {{\[\[\[}}1.500000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-DAG: %[[B:.*]] = graph.constant dense<[5.000000e-01, 1.000000e+00]> : tensor<2xf32>
// CHECK: %[[C:.*]] = graph.conv %arg0, %[[W]], %[[B]] {clamp_min = 0.000000e+00 : f32,
// CHECK-NEXT: return %[[C]]
func.func @net(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %wt = graph.constant dense<[[2.0, 3.0]]> : tensor<1x2xf32>
  %w2 = graph.transpose %wt {perm = array<i64: 1, 0>} : (tensor<1x2xf32>) -> tensor<2x1xf32>
  %w = graph.reshape %w2 : (tensor<2x1xf32>) -> tensor<2x1x1x1xf32>
  %v = graph.constant dense<[1.0, 7.0]> : tensor<2xf32>
  %two = graph.constant dense<2.0> : tensor<1xf32>
  %v2 = graph.mul %v, %two : (tensor<2xf32>, tensor<1xf32>) -> tensor<2xf32>
  %var = graph.add %v2, %two : (tensor<2xf32>, tensor<1xf32>) -> tensor<2xf32>
  %scale = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %shift = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %mean = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %y = graph.batch_norm %c, %scale, %shift, %mean, %var {epsilon = 0.0 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %r = graph.relu %y : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  return %r : tensor<1x2x4x4xf32>
}
