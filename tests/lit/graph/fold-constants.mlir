// REQUIRES: mlir
// fractal-fold-constants: graph ops on f32 constants evaluated at compile time, within bounds.
// RUN: %fractal-opt %s --fractal-fold-constants --split-input-file | %FileCheck %s
// RUN: %fractal-opt %s --fractal-fold-constants="max-elements=4" --split-input-file | %FileCheck --check-prefix=SMALL %s
// RUN: %fractal-opt %s --fractal-fold-constants="budget=16" --split-input-file | %FileCheck --check-prefix=BUDGET %s

// Broadcasting [2x3] + [3], then * [2x1], relu, transpose, reshape: all folded, inputs erased.
// (a + r) = [[11, 22, 33], [14, 25, 36]]; * [[1], [-1]] = [[11, 22, 33], [-14, -25, -36]];
// relu -> [[11, 22, 33], [0, 0, 0]]; transpose -> [[11, 0], [22, 0], [33, 0]]; reshape -> 6.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT: %[[C:.*]] = graph.constant dense<[1.100000e+01, 0.000000e+00, 2.200000e+01, 0.000000e+00, 3.300000e+01, 0.000000e+00]> : tensor<6xf32>
// CHECK-NEXT: return %[[C]]
// Every result here has 6 elements: with max-elements=4 nothing folds.
// SMALL-LABEL: func.func @chain
// SMALL: graph.add
// SMALL: graph.transpose
// The add costs 6 + 3 + 6 = 15 element operations and fits a budget of 16; the mul does not.
// BUDGET-LABEL: func.func @chain
// BUDGET-NOT: graph.add
// BUDGET: graph.constant dense<{{\[\[}}1.100000e+01, 2.200000e+01, 3.300000e+01], [1.400000e+01, 2.500000e+01, 3.600000e+01]]>
// BUDGET-NOT: graph.add
// BUDGET: graph.mul
func.func @chain() -> tensor<6xf32> {
  %a = graph.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %r = graph.constant dense<[10.0, 20.0, 30.0]> : tensor<3xf32>
  %s = graph.constant dense<[[1.0], [-1.0]]> : tensor<2x1xf32>
  %0 = graph.add %a, %r : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = graph.mul %0, %s : (tensor<2x3xf32>, tensor<2x1xf32>) -> tensor<2x3xf32>
  %2 = graph.relu %1 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = graph.transpose %2 {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %4 = graph.reshape %3 : (tensor<3x2xf32>) -> tensor<6xf32>
  return %4 : tensor<6xf32>
}

// -----

// Runtime data is never folded; a constant branch next to it is.
// CHECK-LABEL: func.func @mixed
// CHECK: graph.constant dense<[5.000000e-01, 2.500000e-01]>
// CHECK-NEXT: graph.sub %arg0
// CHECK-NOT: graph.div
func.func @mixed(%x: tensor<2xf32>) -> tensor<2xf32> {
  %one = graph.constant dense<[1.0, 1.0]> : tensor<2xf32>
  %d = graph.constant dense<[2.0, 4.0]> : tensor<2xf32>
  %q = graph.div %one, %d : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %y = graph.sub %x, %q : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %y : tensor<2xf32>
}

// -----

// Rounding (floor, ceil, half-to-even round) and sign fold like the vector kernels compute them.
// CHECK-LABEL: func.func @rounding
// CHECK-NEXT: %[[F:.*]] = graph.constant dense<[-3.000000e+00, -1.000000e+00, 2.000000e+00]> : tensor<3xf32>
// CHECK-NEXT: %[[C:.*]] = graph.constant dense<[-2.000000e+00, -0.000000e+00, 3.000000e+00]> : tensor<3xf32>
// CHECK-NEXT: %[[R:.*]] = graph.constant dense<[-2.000000e+00, -0.000000e+00, 2.000000e+00]> : tensor<3xf32>
// CHECK-NEXT: %[[S:.*]] = graph.constant dense<[-1.000000e+00, -1.000000e+00, 1.000000e+00]> : tensor<3xf32>
// CHECK-NEXT: return %[[F]], %[[C]], %[[R]], %[[S]]
func.func @rounding() -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) {
  %a = graph.constant dense<[-2.5, -0.5, 2.5]> : tensor<3xf32>
  %f = graph.rounding %a {mode = "floor"} : (tensor<3xf32>) -> tensor<3xf32>
  %c = graph.rounding %a {mode = "ceil"} : (tensor<3xf32>) -> tensor<3xf32>
  %r = graph.rounding %a {mode = "round"} : (tensor<3xf32>) -> tensor<3xf32>
  %s = graph.sign %a : (tensor<3xf32>) -> tensor<3xf32>
  return %f, %c, %r, %s : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// Trigonometric functions fold with <cmath>.
// CHECK-LABEL: func.func @trigonometric
// CHECK-NEXT: %[[S:.*]] = graph.constant dense<[0.000000e+00, 1.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[A:.*]] = graph.constant dense<[0.000000e+00, 0.785398185]> : tensor<2xf32>
// CHECK-NEXT: return %[[S]], %[[A]]
func.func @trigonometric() -> (tensor<2xf32>, tensor<2xf32>) {
  %a = graph.constant dense<[0.0, 1.57079637]> : tensor<2xf32>
  %s = graph.trigonometric %a {function = "sin"} : (tensor<2xf32>) -> tensor<2xf32>
  %b = graph.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %t = graph.trigonometric %b {function = "atan"} : (tensor<2xf32>) -> tensor<2xf32>
  return %s, %t : tensor<2xf32>, tensor<2xf32>
}

// -----

// Slices of a constant, strided and reversed (LSTM weights are sliced per direction): folded.
// Rows 1.. of [[1, 2, 3], [4, 5, 6], [7, 8, 9]] every 2nd column -> [[4, 6], [7, 9]]; the last
// column reversed -> [9, 6, 3] (steps -3 over the flat 9 from index 8).
// CHECK-LABEL: func.func @slices
// CHECK-DAG: graph.constant dense<{{\[\[}}4.000000e+00, 6.000000e+00], [7.000000e+00, 9.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: graph.constant dense<[9.000000e+00, 6.000000e+00, 3.000000e+00]> : tensor<3xf32>
// CHECK-NOT: graph.slice
func.func @slices() -> (tensor<2x2xf32>, tensor<3xf32>) {
  %a = graph.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]> : tensor<3x3xf32>
  %0 = graph.slice %a {starts = array<i64: 1, 0>, ends = array<i64: 3, 3>, steps = array<i64: 1, 2>} : (tensor<3x3xf32>) -> tensor<2x2xf32>
  %f = graph.reshape %a : (tensor<3x3xf32>) -> tensor<9xf32>
  %1 = graph.slice %f {starts = array<i64: 8>, ends = array<i64: -10>, steps = array<i64: -3>} : (tensor<9xf32>) -> tensor<3xf32>
  return %0, %1 : tensor<2x2xf32>, tensor<3xf32>
}

// -----

// A quantized model's weights: int8 (through a reshape, per channel) and uint8 constants cast to
// float32 fold, sign- and zero-extended, and the dequantization arithmetic after them folds too.
// (w - zero) * scale: [-128 - -1, 127 - -1] * 0.5 = [-63.5, 64]; [200, 7] as uint8 - 0 = [200, 7].
// CHECK-LABEL: func.func @dequantize
// CHECK-NEXT: %[[W:.*]] = graph.constant dense<[-6.350000e+01, 6.400000e+01]> : tensor<2xf32>
// CHECK-NEXT: %[[U:.*]] = graph.constant dense<[2.000000e+02, 7.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: return %[[W]], %[[U]]
func.func @dequantize() -> (tensor<2xf32>, tensor<2xf32>) {
  %w = graph.constant dense<[-128, 127]> : tensor<2xi8>
  %z = graph.constant dense<[-1]> : tensor<1xi8>
  %zr = graph.reshape %z : (tensor<1xi8>) -> tensor<1x1xi8>
  %u = graph.constant dense<[200, 7]> : tensor<2xui8>
  %s = graph.constant dense<0.5> : tensor<f32>
  %wf = graph.cast %w : (tensor<2xi8>) -> tensor<2xf32>
  %zf = graph.cast %zr : (tensor<1x1xi8>) -> tensor<1x1xf32>
  %zs = graph.reshape %zf : (tensor<1x1xf32>) -> tensor<1xf32>
  %d = graph.sub %wf, %zs : (tensor<2xf32>, tensor<1xf32>) -> tensor<2xf32>
  %m = graph.mul %d, %s : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %uf = graph.cast %u : (tensor<2xui8>) -> tensor<2xf32>
  return %m, %uf : tensor<2xf32>, tensor<2xf32>
}
