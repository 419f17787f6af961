// REQUIRES: mlir
// The graph dialect prints and parses back every op it has.
// RUN: %fractal-opt %s | %fractal-opt | %FileCheck %s

// CHECK-LABEL: func.func @cnn
func.func @cnn(%x: tensor<1x3x8x8xf32>, %w: tensor<16x3x3x3xf32>, %b: tensor<16xf32>) -> tensor<1x16x4x4xf32> {
  // CHECK: graph.conv %{{.*}}, %{{.*}}, %{{.*}} {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>}
  %c = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>) -> tensor<1x16x8x8xf32>
  // CHECK: graph.conv %{{.*}}, %{{.*}}, %{{.*}} residual(%{{.*}}) {clamp_min = 0.000000e+00 : f32,
  %cr = graph.conv %x, %w, %b residual(%c) {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, clamp_min = 0.0 : f32} : (tensor<1x3x8x8xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>, tensor<1x16x8x8xf32>) -> tensor<1x16x8x8xf32>
  // CHECK: graph.clip %{{.*}} {max = 6.000000e+00 : f32, min = 0.000000e+00 : f32}
  %r = graph.clip %cr {min = 0.0 : f32, max = 6.0 : f32} : (tensor<1x16x8x8xf32>) -> tensor<1x16x8x8xf32>
  // CHECK: graph.max_pool
  %p = graph.max_pool %r {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = false} : (tensor<1x16x8x8xf32>) -> tensor<1x16x4x4xf32>
  %s = graph.constant dense<2.0> : tensor<1xf32>
  // CHECK: graph.mul %{{.*}}, %{{.*}} : (tensor<1x16x4x4xf32>, tensor<1xf32>) -> tensor<1x16x4x4xf32>
  %m = graph.mul %p, %s : (tensor<1x16x4x4xf32>, tensor<1xf32>) -> tensor<1x16x4x4xf32>
  return %m : tensor<1x16x4x4xf32>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%a: tensor<2x3x4xf32>, %b: tensor<2x5x4xf32>) -> tensor<24x2xf32> {
  // CHECK: graph.concat %{{.*}}, %{{.*}} {axis = 1 : i64}
  %c = graph.concat %a, %b {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<2x5x4xf32>) -> tensor<2x8x4xf32>
  // CHECK: graph.transpose %{{.*}} {perm = array<i64: 2, 0, 1>}
  %t = graph.transpose %c {perm = array<i64: 2, 0, 1>} : (tensor<2x8x4xf32>) -> tensor<4x2x8xf32>
  %s = graph.slice %t {starts = array<i64: 0, 0, 0>, ends = array<i64: 4, 2, 6>, steps = array<i64: 1, 1, 1>} : (tensor<4x2x8xf32>) -> tensor<4x2x6xf32>
  // CHECK: graph.reshape %{{.*}} : (tensor<4x2x6xf32>) -> tensor<24x2xf32>
  %r = graph.reshape %s : (tensor<4x2x6xf32>) -> tensor<24x2xf32>
  return %r : tensor<24x2xf32>
}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
  // CHECK: graph.max %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %m = graph.max %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: graph.neg
  %n = graph.neg %m : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: graph.activation %{{.*}} {alpha = 1.000000e-01 : f32, beta = 0.000000e+00 : f32, kind = "leaky_relu"}
  %l = graph.activation %n {kind = "leaky_relu", alpha = 0.1 : f32, beta = 0.0 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %l : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @predicates
func.func @predicates(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %c: tensor<1x3xi1>) -> (tensor<2x3xi1>, tensor<2x3xf32>) {
  // CHECK: graph.compare "gt" %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %g = graph.compare "gt" %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK: graph.logical "xor" %{{.*}}, %{{.*}} : (tensor<2x3xi1>, tensor<1x3xi1>) -> tensor<2x3xi1>
  %x = graph.logical "xor" %g, %c : (tensor<2x3xi1>, tensor<1x3xi1>) -> tensor<2x3xi1>
  // CHECK: graph.not %{{.*}} : (tensor<2x3xi1>) -> tensor<2x3xi1>
  %n = graph.not %x : (tensor<2x3xi1>) -> tensor<2x3xi1>
  // CHECK: graph.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %w = graph.where %c, %a, %b : (tensor<1x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: graph.rounding %{{.*}} {mode = "floor"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %f = graph.rounding %w {mode = "floor"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: graph.erf
  %e = graph.erf %f : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: graph.trigonometric %{{.*}} {function = "atan"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %t = graph.trigonometric %e {function = "atan"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: graph.top_k %{{.*}} {axis = 0 : i64, k = 1 : i64, largest = false, sorted = true} : (tensor<2x3xf32>) -> (tensor<1x3xf32>, tensor<1x3xi64>)
  %tv, %ti = graph.top_k %t {k = 1 : i64, axis = 0 : i64, largest = false, sorted = true} : (tensor<2x3xf32>) -> (tensor<1x3xf32>, tensor<1x3xi64>)
  // CHECK: graph.sign
  %s = graph.sign %t : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: graph.pow %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %p = graph.pow %s, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %n, %p : tensor<2x3xi1>, tensor<2x3xf32>
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%a: tensor<3x4x5xf32>) -> (tensor<3x1x5xf32>, tensor<3x4x5xf32>) {
  // CHECK: graph.reduce %{{.*}} {axes = array<i64: 1>, keepdims = true, kind = "log_sum_exp"} : (tensor<3x4x5xf32>) -> tensor<3x1x5xf32>
  %r = graph.reduce %a {kind = "log_sum_exp", axes = array<i64: 1>, keepdims = true} : (tensor<3x4x5xf32>) -> tensor<3x1x5xf32>
  // CHECK: graph.softmax %{{.*}} {axes = array<i64: 1, 2>, kind = "log_softmax"}
  %s = graph.softmax %a {kind = "log_softmax", axes = array<i64: 1, 2>} : (tensor<3x4x5xf32>) -> tensor<3x4x5xf32>
  return %r, %s : tensor<3x1x5xf32>, tensor<3x4x5xf32>
}

// CHECK-LABEL: func.func @arg_reduce
func.func @arg_reduce(%a: tensor<3x4xf32>) -> tensor<3x1xi64> {
  // CHECK: graph.arg_reduce %{{.*}} {axis = 1 : i64, keepdims = true, kind = "max", select_last_index = false} : (tensor<3x4xf32>) -> tensor<3x1xi64>
  %r = graph.arg_reduce %a {kind = "max", axis = 1 : i64, keepdims = true, select_last_index = false} : (tensor<3x4xf32>) -> tensor<3x1xi64>
  return %r : tensor<3x1xi64>
}

// CHECK-LABEL: func.func @loss_and_trilu
func.func @loss_and_trilu(%x: tensor<3x5x2xf32>, %t: tensor<3x2xi64>, %w: tensor<5xf32>) -> (tensor<f32>, tensor<3x5x2xf32>) {
  // CHECK: graph.nll_loss %{{.*}}, %{{.*}}, %{{.*}} {ignore_index = -1 : i64, reduction = "mean"}
  %l = graph.nll_loss %x, %t, %w {reduction = "mean", ignore_index = -1 : i64} : (tensor<3x5x2xf32>, tensor<3x2xi64>, tensor<5xf32>) -> tensor<f32>
  // CHECK: graph.trilu %{{.*}} {k = 1 : i64, upper = false}
  %u = graph.trilu %x {upper = false, k = 1 : i64} : (tensor<3x5x2xf32>) -> tensor<3x5x2xf32>
  return %l, %u : tensor<f32>, tensor<3x5x2xf32>
}

// CHECK-LABEL: func.func @gather
func.func @gather(%d: tensor<5x4xf32>, %i: tensor<2x3xi64>) -> tensor<2x3x4xf32> {
  // CHECK: graph.gather %{{.*}}, %{{.*}} {axis = 0 : i64, elements = false} : (tensor<5x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  %g = graph.gather %d, %i {axis = 0 : i64, elements = false} : (tensor<5x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  return %g : tensor<2x3x4xf32>
}

// Data-dependent extents: the result types hold the bounds (every element non-zero; the
// condition's length along the compressed axis).
// CHECK-LABEL: func.func @compaction
func.func @compaction(%x: tensor<2x3xf32>, %c: tensor<2xi1>) -> (tensor<2x6xi64>, tensor<2x2xf32>) {
  // CHECK: graph.non_zero %{{.*}} : (tensor<2x3xf32>) -> tensor<2x6xi64>
  %n = graph.non_zero %x : (tensor<2x3xf32>) -> tensor<2x6xi64>
  // CHECK: graph.compress %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2xi1>) -> tensor<2x2xf32>
  %s = graph.compress %x, %c {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2xi1>) -> tensor<2x2xf32>
  return %n, %s : tensor<2x6xi64>, tensor<2x2xf32>
}

// CHECK-LABEL: func.func @nms_select
func.func @nms_select(%s: tensor<1x2x6xf32>, %o: tensor<1x6x6xi1>) -> tensor<6x3xi64> {
  // CHECK: graph.nms_select %{{.*}}, %{{.*}} {max_output_boxes_per_class = 3 : i64, score_threshold = 0.000000e+00 : f32} : (tensor<1x2x6xf32>, tensor<1x6x6xi1>) -> tensor<6x3xi64>
  %n = graph.nms_select %s, %o {max_output_boxes_per_class = 3 : i64, score_threshold = 0.0 : f32} : (tensor<1x2x6xf32>, tensor<1x6x6xi1>) -> tensor<6x3xi64>
  return %n : tensor<6x3xi64>
}

// A limit and a score threshold read at run time: the bound is every box.
// CHECK-LABEL: func.func @nms_select_at_run_time
func.func @nms_select_at_run_time(%s: tensor<1x2x6xf32>, %o: tensor<1x6x6xi1>, %k: tensor<1xi64>, %t: tensor<1xf32>) -> tensor<12x3xi64> {
  // CHECK: graph.nms_select %{{.*}}, %{{.*}} limit(%{{.*}}) score_limit(%{{.*}}) {max_output_boxes_per_class = 6 : i64} : (tensor<1x2x6xf32>, tensor<1x6x6xi1>, tensor<1xi64>, tensor<1xf32>) -> tensor<12x3xi64>
  %n = graph.nms_select %s, %o limit(%k) score_limit(%t) {max_output_boxes_per_class = 6 : i64} : (tensor<1x2x6xf32>, tensor<1x6x6xi1>, tensor<1xi64>, tensor<1xf32>) -> tensor<12x3xi64>
  return %n : tensor<12x3xi64>
}

// CHECK-LABEL: func.func @unique
func.func @unique(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<3xi64>, tensor<3xi64>, tensor<3xi64>) {
  // CHECK: graph.unique %{{.*}} {axis = 1 : i64, sorted = true} : (tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<3xi64>, tensor<3xi64>, tensor<3xi64>)
  %y:4 = graph.unique %x {axis = 1 : i64, sorted = true} : (tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<3xi64>, tensor<3xi64>, tensor<3xi64>)
  return %y#0, %y#1, %y#2, %y#3 : tensor<2x3xf32>, tensor<3xi64>, tensor<3xi64>, tensor<3xi64>
}

// CHECK-LABEL: func.func @gather_nd
func.func @gather_nd(%d: tensor<3x5x4xf32>, %i: tensor<3x2x1xi64>) -> tensor<3x2x4xf32> {
  // CHECK: graph.gather_nd %{{.*}}, %{{.*}} {batch_dims = 1 : i64} : (tensor<3x5x4xf32>, tensor<3x2x1xi64>) -> tensor<3x2x4xf32>
  %g = graph.gather_nd %d, %i {batch_dims = 1 : i64} : (tensor<3x5x4xf32>, tensor<3x2x1xi64>) -> tensor<3x2x4xf32>
  return %g : tensor<3x2x4xf32>
}

// CHECK-LABEL: func.func @scatter
func.func @scatter(%d: tensor<5x4xf32>, %i: tensor<2x1xi64>, %u: tensor<2x4xf32>) -> tensor<5x4xf32> {
  // CHECK: graph.scatter %{{.*}}, %{{.*}}, %{{.*}} {axis = 0 : i64, nd = true} : (tensor<5x4xf32>, tensor<2x1xi64>, tensor<2x4xf32>) -> tensor<5x4xf32>
  %s = graph.scatter %d, %i, %u {axis = 0 : i64, nd = true} : (tensor<5x4xf32>, tensor<2x1xi64>, tensor<2x4xf32>) -> tensor<5x4xf32>
  // CHECK: graph.scatter %{{.*}}, %{{.*}}, %{{.*}} {axis = 0 : i64, nd = true, reduction = "max"}
  %sm = graph.scatter %d, %i, %u {axis = 0 : i64, nd = true, reduction = "max"} : (tensor<5x4xf32>, tensor<2x1xi64>, tensor<2x4xf32>) -> tensor<5x4xf32>
  return %s : tensor<5x4xf32>
}
