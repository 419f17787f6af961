// REQUIRES: mlir
// fractal-fuse-layer-norm: a layer norm written out as its arithmetic becomes one graph.layer_norm
// when every intermediate is read only inside the pattern.
// RUN: %fractal-opt %s --fractal-fuse-layer-norm --split-input-file | %FileCheck %s

// PP-OCRv4 rec's form: scale and bias one value per element of the last axis, epsilon a scalar.
// CHECK-LABEL: func.func @rec
// CHECK-SAME: (%[[X:.*]]: tensor<1x40x120xf32>, %[[G:.*]]: tensor<120xf32>, %[[B:.*]]: tensor<120xf32>)
// CHECK-NOT: graph.reduce
// CHECK: %[[Y:.*]], %{{.*}}, %{{.*}} = graph.layer_norm %[[X]], %[[G]], %[[B]] {axis = 2 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<1x40x120xf32>, tensor<120xf32>, tensor<120xf32>) -> (tensor<1x40x120xf32>, tensor<1x40x1xf32>, tensor<1x40x1xf32>)
// CHECK-NEXT: return %[[Y]]
func.func @rec(%x: tensor<1x40x120xf32>, %g: tensor<120xf32>, %b: tensor<120xf32>) -> tensor<1x40x120xf32> {
  %eps = graph.constant dense<1.0e-5> : tensor<f32>
  %m = graph.reduce %x {axes = array<i64: 2>, keepdims = true, kind = "mean"} : (tensor<1x40x120xf32>) -> tensor<1x40x1xf32>
  %d = graph.sub %x, %m : (tensor<1x40x120xf32>, tensor<1x40x1xf32>) -> tensor<1x40x120xf32>
  %sq = graph.mul %d, %d : (tensor<1x40x120xf32>, tensor<1x40x120xf32>) -> tensor<1x40x120xf32>
  %v = graph.reduce %sq {axes = array<i64: 2>, keepdims = true, kind = "mean"} : (tensor<1x40x120xf32>) -> tensor<1x40x1xf32>
  %ve = graph.add %v, %eps : (tensor<1x40x1xf32>, tensor<f32>) -> tensor<1x40x1xf32>
  %s = graph.sqrt %ve : (tensor<1x40x1xf32>) -> tensor<1x40x1xf32>
  %n = graph.div %d, %s : (tensor<1x40x120xf32>, tensor<1x40x1xf32>) -> tensor<1x40x120xf32>
  %y0 = graph.mul %n, %g : (tensor<1x40x120xf32>, tensor<120xf32>) -> tensor<1x40x120xf32>
  %y = graph.add %b, %y0 : (tensor<120xf32>, tensor<1x40x120xf32>) -> tensor<1x40x120xf32>
  return %y : tensor<1x40x120xf32>
}

// -----

// Over the last two axes, the scale first and no bias: the Mul is the root.
// CHECK-LABEL: func.func @two_axes_no_bias
// CHECK: graph.layer_norm %arg0, %arg1 {axis = 1 : i64, epsilon = 1.000000e-03 : f32} : (tensor<4x6x8xf32>, tensor<1x6x8xf32>) -> (tensor<4x6x8xf32>, tensor<4x1x1xf32>, tensor<4x1x1xf32>)
// CHECK-NOT: graph.div
func.func @two_axes_no_bias(%x: tensor<4x6x8xf32>, %g: tensor<1x6x8xf32>) -> tensor<4x6x8xf32> {
  %eps = graph.constant dense<1.0e-3> : tensor<1xf32>
  %m = graph.reduce %x {axes = array<i64: 1, 2>, keepdims = true, kind = "mean"} : (tensor<4x6x8xf32>) -> tensor<4x1x1xf32>
  %d = graph.sub %x, %m : (tensor<4x6x8xf32>, tensor<4x1x1xf32>) -> tensor<4x6x8xf32>
  %sq = graph.mul %d, %d : (tensor<4x6x8xf32>, tensor<4x6x8xf32>) -> tensor<4x6x8xf32>
  %v = graph.reduce %sq {axes = array<i64: 1, 2>, keepdims = true, kind = "mean"} : (tensor<4x6x8xf32>) -> tensor<4x1x1xf32>
  %ve = graph.add %eps, %v : (tensor<1xf32>, tensor<4x1x1xf32>) -> tensor<4x1x1xf32>
  %s = graph.sqrt %ve : (tensor<4x1x1xf32>) -> tensor<4x1x1xf32>
  %n = graph.div %d, %s : (tensor<4x6x8xf32>, tensor<4x1x1xf32>) -> tensor<4x6x8xf32>
  %y = graph.mul %g, %n : (tensor<1x6x8xf32>, tensor<4x6x8xf32>) -> tensor<4x6x8xf32>
  return %y : tensor<4x6x8xf32>
}

// -----

// Left alone: the centred value is also returned (it would have to be computed anyway); the
// variance's mean is over another axis; epsilon is not a constant; the scale varies per row.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: graph.layer_norm
func.func @left_alone(%x: tensor<40x120xf32>, %g: tensor<120xf32>, %e: tensor<f32>, %gr: tensor<40x120xf32>) -> (tensor<40x120xf32>, tensor<40x120xf32>, tensor<40x120xf32>, tensor<40x120xf32>, tensor<40x120xf32>) {
  %eps = graph.constant dense<1.0e-5> : tensor<f32>
  %m = graph.reduce %x {axes = array<i64: 1>, keepdims = true, kind = "mean"} : (tensor<40x120xf32>) -> tensor<40x1xf32>
  %d = graph.sub %x, %m : (tensor<40x120xf32>, tensor<40x1xf32>) -> tensor<40x120xf32>
  %sq = graph.mul %d, %d : (tensor<40x120xf32>, tensor<40x120xf32>) -> tensor<40x120xf32>
  %v = graph.reduce %sq {axes = array<i64: 1>, keepdims = true, kind = "mean"} : (tensor<40x120xf32>) -> tensor<40x1xf32>
  %ve = graph.add %v, %eps : (tensor<40x1xf32>, tensor<f32>) -> tensor<40x1xf32>
  %s = graph.sqrt %ve : (tensor<40x1xf32>) -> tensor<40x1xf32>
  %n = graph.div %d, %s : (tensor<40x120xf32>, tensor<40x1xf32>) -> tensor<40x120xf32>
  %y = graph.mul %n, %g : (tensor<40x120xf32>, tensor<120xf32>) -> tensor<40x120xf32>

  %m2 = graph.reduce %x {axes = array<i64: 1>, keepdims = true, kind = "mean"} : (tensor<40x120xf32>) -> tensor<40x1xf32>
  %d2 = graph.sub %x, %m2 : (tensor<40x120xf32>, tensor<40x1xf32>) -> tensor<40x120xf32>
  %sq2 = graph.mul %d2, %d2 : (tensor<40x120xf32>, tensor<40x120xf32>) -> tensor<40x120xf32>
  %v2 = graph.reduce %sq2 {axes = array<i64: 0>, keepdims = true, kind = "mean"} : (tensor<40x120xf32>) -> tensor<1x120xf32>
  %ve2 = graph.add %v2, %eps : (tensor<1x120xf32>, tensor<f32>) -> tensor<1x120xf32>
  %s2 = graph.sqrt %ve2 : (tensor<1x120xf32>) -> tensor<1x120xf32>
  %n2 = graph.div %d2, %s2 : (tensor<40x120xf32>, tensor<1x120xf32>) -> tensor<40x120xf32>
  %y2 = graph.mul %n2, %g : (tensor<40x120xf32>, tensor<120xf32>) -> tensor<40x120xf32>

  %m3 = graph.reduce %x {axes = array<i64: 1>, keepdims = true, kind = "mean"} : (tensor<40x120xf32>) -> tensor<40x1xf32>
  %d3 = graph.sub %x, %m3 : (tensor<40x120xf32>, tensor<40x1xf32>) -> tensor<40x120xf32>
  %sq3 = graph.mul %d3, %d3 : (tensor<40x120xf32>, tensor<40x120xf32>) -> tensor<40x120xf32>
  %v3 = graph.reduce %sq3 {axes = array<i64: 1>, keepdims = true, kind = "mean"} : (tensor<40x120xf32>) -> tensor<40x1xf32>
  %ve3 = graph.add %v3, %e : (tensor<40x1xf32>, tensor<f32>) -> tensor<40x1xf32>
  %s3 = graph.sqrt %ve3 : (tensor<40x1xf32>) -> tensor<40x1xf32>
  %n3 = graph.div %d3, %s3 : (tensor<40x120xf32>, tensor<40x1xf32>) -> tensor<40x120xf32>
  %y3 = graph.mul %n3, %g : (tensor<40x120xf32>, tensor<120xf32>) -> tensor<40x120xf32>

  %m4 = graph.reduce %x {axes = array<i64: 1>, keepdims = true, kind = "mean"} : (tensor<40x120xf32>) -> tensor<40x1xf32>
  %d4 = graph.sub %x, %m4 : (tensor<40x120xf32>, tensor<40x1xf32>) -> tensor<40x120xf32>
  %sq4 = graph.mul %d4, %d4 : (tensor<40x120xf32>, tensor<40x120xf32>) -> tensor<40x120xf32>
  %v4 = graph.reduce %sq4 {axes = array<i64: 1>, keepdims = true, kind = "mean"} : (tensor<40x120xf32>) -> tensor<40x1xf32>
  %ve4 = graph.add %v4, %eps : (tensor<40x1xf32>, tensor<f32>) -> tensor<40x1xf32>
  %s4 = graph.sqrt %ve4 : (tensor<40x1xf32>) -> tensor<40x1xf32>
  %n4 = graph.div %d4, %s4 : (tensor<40x120xf32>, tensor<40x1xf32>) -> tensor<40x120xf32>
  %y4 = graph.mul %n4, %gr : (tensor<40x120xf32>, tensor<40x120xf32>) -> tensor<40x120xf32>
  return %y, %d, %y2, %y3, %y4 : tensor<40x120xf32>, tensor<40x120xf32>, tensor<40x120xf32>, tensor<40x120xf32>, tensor<40x120xf32>
}
