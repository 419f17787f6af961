// REQUIRES: mlir
// fractal-factor-scale: x + x * s -> x * (1 + s) when s is the smaller (broadcast) operand.
// RUN: %fractal-opt %s --fractal-factor-scale --split-input-file | %FileCheck %s

// CHECK-LABEL: func.func @rse
// CHECK: %[[ONE:.*]] = graph.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[S1:.*]] = graph.add %arg1, %[[ONE]] : (tensor<1x4x1x1xf32>, tensor<f32>) -> tensor<1x4x1x1xf32>
// CHECK: %[[P:.*]] = graph.mul %arg0, %[[S1]] : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NOT: graph.add %arg0
// CHECK: return %[[P]]
func.func @rse(%x: tensor<1x4x8x8xf32>, %s: tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32> {
  %m = graph.mul %x, %s : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
  %a = graph.add %x, %m : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %a : tensor<1x4x8x8xf32>
}

// -----

// Same-size operands (nothing saved), or the product used elsewhere: left alone.
// CHECK-LABEL: func.func @left_alone
// CHECK: graph.add %arg0, %{{.*}}
// CHECK: graph.add %arg0, %{{.*}}
func.func @left_alone(%x: tensor<1x4x8x8xf32>, %y: tensor<1x4x8x8xf32>, %s: tensor<1x4x1x1xf32>) -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  %m = graph.mul %x, %y : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  %a = graph.add %x, %m : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  %n = graph.mul %x, %s : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
  %b = graph.add %x, %n : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %a, %b, %n : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
}

// -----

// Scalar scales in a chain merge: hardswish's / 6 then a learnable scale 0.5 -> one * (0.5 / 6);
// y * 2 / 4 -> y * 0.5.
// CHECK-LABEL: func.func @scale_chain
// CHECK-DAG: %[[K:.*]] = graph.constant dense<0.0833333358> : tensor<f32>
// CHECK-DAG: %[[H:.*]] = graph.constant dense<5.000000e-01> : tensor<f32>
// CHECK: %[[A:.*]] = graph.mul %arg0, %[[K]] : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
// CHECK: %[[B:.*]] = graph.mul %arg0, %[[H]] : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
// CHECK-NOT: graph.div
// CHECK: return %[[A]], %[[B]]
func.func @scale_chain(%x: tensor<1x4x8x8xf32>) -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  %six = graph.constant dense<6.0> : tensor<f32>
  %half = graph.constant dense<0.5> : tensor<1xf32>
  %d = graph.div %x, %six : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
  %a = graph.mul %half, %d : (tensor<1xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  %two = graph.constant dense<2.0> : tensor<f32>
  %four = graph.constant dense<4.0> : tensor<f32>
  %m = graph.mul %x, %two : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
  %b = graph.div %m, %four : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
  return %a, %b : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
}

// -----

// Left alone: the inner scale read twice, a per-channel (not one-element) factor, a variable divisor.
// CHECK-LABEL: func.func @scale_chain_left_alone
// CHECK: %[[D:.*]] = graph.div %arg0, %{{.*}}
// CHECK: graph.mul %[[D]], %{{.*}}
// CHECK: %[[P:.*]] = graph.mul %arg0, %{{.*}} : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>)
// CHECK: graph.mul %[[P]], %{{.*}}
// CHECK: %[[Q:.*]] = graph.div %arg0, %arg1
// CHECK: graph.mul %[[Q]], %{{.*}}
func.func @scale_chain_left_alone(%x: tensor<1x4x8x8xf32>, %v: tensor<f32>) -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  %six = graph.constant dense<6.0> : tensor<f32>
  %c = graph.constant dense<[[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]]> : tensor<1x4x1x1xf32>
  %d = graph.div %x, %six : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
  %a = graph.mul %d, %six : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
  %p = graph.mul %x, %c : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
  %b = graph.mul %p, %six : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
  %q = graph.div %x, %v : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
  %e = graph.mul %q, %six : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8x8xf32>
  return %a, %d, %b, %e : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
}
