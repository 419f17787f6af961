// REQUIRES: mlir
// fractal-fold-batchnorm: s = scale / sqrt(var + eps); W' = W * s; b' = (b - mean) * s + B.
// RUN: %fractal-opt %s --fractal-fold-batchnorm --split-input-file --mlir-print-debuginfo | %FileCheck %s

// Values chosen so every result is exact: eps = 1, var + eps = 4 and 16, s = 0.5 and 0.5.
// CHECK-LABEL: func.func @no_bias
// CHECK-DAG: %[[W:.*]] = graph.constant dense<{{\[\[\[\[}}1.000000e+00]]], {{\[\[\[}}1.500000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-DAG: %[[B:.*]] = graph.constant dense<[5.000000e-01, 1.000000e+00]> : tensor<2xf32>
// CHECK: %[[C:.*]] = graph.conv %arg0, %[[W]], %[[B]] {{.*}} loc(#[[FUSED:loc[0-9]+]])
// CHECK-NOT: graph.batch_norm
// CHECK: return %[[C]]
// The folded conv answers to both ONNX nodes.
// CHECK-DAG: #[[BN:loc[0-9]+]] = loc("bn1")
// CHECK-DAG: #[[CONV:loc[0-9]+]] = loc("conv1")
// CHECK-DAG: #[[FUSED]] = loc(fused[#[[CONV]], #[[BN]]])
func.func @no_bias(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[2.0]]], [[[3.0]]]]> : tensor<2x1x1x1xf32>
  %scale = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %shift = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %mean = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %var = graph.constant dense<[3.0, 15.0]> : tensor<2xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> loc("conv1")
  %y = graph.batch_norm %c, %scale, %shift, %mean, %var {epsilon = 1.0 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32> loc("bn1")
  return %y : tensor<1x2x4x4xf32>
}

// -----

// An existing bias is shifted too: (4 - 1) * 0.5 + 1 = 2.5, (6 - 2) * 0.5 + 2 = 4.
// Weights above 16 elements live in a blob, read and rewritten as a blob (3x3 kernels, 2 channels).
// CHECK-LABEL: func.func @bias_and_blob
// CHECK-DAG: graph.constant dense_resource<folded_weight> : tensor<2x1x3x3xf32>
// CHECK-DAG: graph.constant dense<[2.500000e+00, 4.000000e+00]> : tensor<2xf32>
// CHECK-NOT: graph.batch_norm
// CHECK: folded_weight: "0x080000000000004000000040000000400000004000000040000000400000004000000040000000400000C03F0000C03F0000C03F0000C03F0000C03F0000C03F0000C03F0000C03F0000C03F"
func.func @bias_and_blob(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x2x2xf32> {
  %w = graph.constant dense_resource<w> : tensor<2x1x3x3xf32>
  %b = graph.constant dense<[4.0, 6.0]> : tensor<2xf32>
  %scale = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %shift = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %mean = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %var = graph.constant dense<[3.0, 15.0]> : tensor<2xf32>
  %c = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %y = graph.batch_norm %c, %scale, %shift, %mean, %var {epsilon = 1.0 : f32} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      w: "0x08000000000080400000804000008040000080400000804000008040000080400000804000008040000040400000404000004040000040400000404000004040000040400000404000004040"
    }
  }
#-}

// -----

// The convolution has a second user: folding would change it, so the batch_norm stays.
// CHECK-LABEL: func.func @shared_conv
// CHECK: graph.batch_norm
func.func @shared_conv(%x: tensor<1x1x4x4xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %w = graph.constant dense<[[[[2.0]]], [[[3.0]]]]> : tensor<2x1x1x1xf32>
  %s = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %y = graph.batch_norm %c, %s, %s, %s, %s {epsilon = 1.0 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  return %y, %c : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}

// -----

// Statistics computed at run time cannot be folded.
// CHECK-LABEL: func.func @runtime_stats
// CHECK: graph.batch_norm
func.func @runtime_stats(%x: tensor<1x1x4x4xf32>, %mean: tensor<2xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[2.0]]], [[[3.0]]]]> : tensor<2x1x1x1xf32>
  %s = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %y = graph.batch_norm %c, %s, %s, %mean, %s {epsilon = 1.0 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  return %y : tensor<1x2x4x4xf32>
}

// -----

// A conv with a fused clamp (a Relu already folded in) clamps before the batch_norm: no fold.
// CHECK-LABEL: func.func @clamped_conv
// CHECK: graph.batch_norm
func.func @clamped_conv(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[2.0]]], [[[3.0]]]]> : tensor<2x1x1x1xf32>
  %s = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, clamp_min = 0.0 : f32} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %y = graph.batch_norm %c, %s, %s, %s, %s {epsilon = 1.0 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  return %y : tensor<1x2x4x4xf32>
}

// -----

// A constant scale (one value) and a per-channel shift ([1, C, 1, 1]) after a conv fold into its
// weights and bias: W' = W * 0.5, b' = b * 0.5 + [1, 2].
// CHECK-LABEL: func.func @affine
// CHECK-DAG: %[[W:.*]] = graph.constant dense<{{\[\[\[\[}}1.000000e+00]]], {{\[\[\[}}1.500000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-DAG: %[[B:.*]] = graph.constant dense<[2.000000e+00, 4.000000e+00]> : tensor<2xf32>
// CHECK: %[[C:.*]] = graph.conv %arg0, %[[W]], %[[B]]
// CHECK-NOT: graph.mul
// CHECK-NOT: graph.add
// CHECK: return %[[C]]
func.func @affine(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = graph.constant dense<[[[[2.0]]], [[[3.0]]]]> : tensor<2x1x1x1xf32>
  %b = graph.constant dense<[2.0, 4.0]> : tensor<2xf32>
  %s = graph.constant dense<0.5> : tensor<1xf32>
  %t = graph.constant dense<[[[[1.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %c = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %m = graph.mul %s, %c : (tensor<1xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %a = graph.add %m, %t : (tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  return %a : tensor<1x2x4x4xf32>
}

// -----

// Not per channel (one value per pixel), or the conv's result used elsewhere: nothing folds.
// CHECK-LABEL: func.func @not_affine
// CHECK: graph.mul
// CHECK: graph.add
func.func @not_affine(%x: tensor<1x1x4x4xf32>, %w: tensor<2x1x1x1xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %p = graph.constant dense<2.0> : tensor<1x1x4x4xf32>
  %k = graph.constant dense<2.0> : tensor<1xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %m = graph.mul %c, %p : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
  %d = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %a = graph.add %d, %k : (tensor<1x2x4x4xf32>, tensor<1xf32>) -> tensor<1x2x4x4xf32>
  return %m, %a, %d : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}

// -----

// A transposed convolution's output channels are its weights' second dimension ([Cin, Cout, kh,
// kw]): W'[ci][co] = W[ci][co] * s[co] with s = 0.5, 0.25 (var + eps = 4, 16); without a bias,
// b' = (0 - mean) * s + shift = 2, 1. Then its bias Add ([1, C, 1, 1]) folds into b': 2.5, 1.25.
// CHECK-LABEL: func.func @conv_transpose
// CHECK-DAG: %[[W:.*]] = graph.constant dense<{{\[\[\[\[}}1.000000e+00]], {{\[\[}}7.500000e-01]]], {{\[\[\[}}2.000000e+00]], {{\[\[}}1.250000e+00]]]]> : tensor<2x2x1x1xf32>
// CHECK-DAG: %[[B:.*]] = graph.constant dense<[2.500000e+00, 1.250000e+00]> : tensor<2xf32>
// CHECK: %[[C:.*]] = graph.conv_transpose %arg0, %[[W]], %[[B]] {{.*}}strides = array<i64: 2, 2>
// CHECK-NOT: graph.batch_norm
// CHECK-NOT: graph.add
// CHECK: return %[[C]]
func.func @conv_transpose(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x7x7xf32> {
  %w = graph.constant dense<[[[[2.0]], [[3.0]]], [[[4.0]], [[5.0]]]]> : tensor<2x2x1x1xf32>
  %scale = graph.constant dense<[1.0, 1.0]> : tensor<2xf32>
  %shift = graph.constant dense<[3.0, 2.0]> : tensor<2xf32>
  %mean = graph.constant dense<[2.0, 4.0]> : tensor<2xf32>
  %var = graph.constant dense<[3.0, 15.0]> : tensor<2xf32>
  %t = graph.constant dense<[[[[0.5]], [[0.25]]]]> : tensor<1x2x1x1xf32>
  %c = graph.conv_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x7x7xf32>
  %n = graph.batch_norm %c, %scale, %shift, %mean, %var {epsilon = 1.0 : f32} : (tensor<1x2x7x7xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x7x7xf32>
  %a = graph.add %n, %t : (tensor<1x2x7x7xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x7x7xf32>
  return %a : tensor<1x2x7x7xf32>
}
