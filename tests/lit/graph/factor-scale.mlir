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
