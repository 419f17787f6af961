// REQUIRES: mlir
// fractal-placement records where each graph op runs and why, from the op's own definition.
// RUN: %fractal-opt %s --fractal-placement | %FileCheck %s

// CHECK-LABEL: func.func @net
func.func @net(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<256xf32> {
  // CHECK: graph.conv {{.*}}fractal.placement = "cube", fractal.placement_reason = "matrix product: runs on the cube (convolution through img2col)"
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  // CHECK: graph.relu {{.*}}fractal.placement = "vector"
  %r = graph.relu %c : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  // CHECK: graph.transpose {{.*}}fractal.placement = "dma"
  %t = graph.transpose %r {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x4x8x8xf32>) -> tensor<1x8x8x4xf32>
  // CHECK: graph.reshape {{.*}}fractal.placement = "host", fractal.placement_reason = "shape bookkeeping: a view of the same bytes, no device work"
  %f = graph.reshape %t : (tensor<1x8x8x4xf32>) -> tensor<256xf32>
  return %f : tensor<256xf32>
}

// int64 arithmetic, comparisons and Where run element by element on the scalar unit; their
// float32 forms stay on the vector unit.
// CHECK-LABEL: func.func @int64
func.func @int64(%a: tensor<6xi64>, %b: tensor<6xi64>, %f: tensor<6xf32>) -> (tensor<6xi64>, tensor<6xf32>) {
  // CHECK: graph.add {{.*}}fractal.placement = "scalar", fractal.placement_reason = "integers other than int32: element by element on the scalar unit, whose 64-bit registers hold them (the vector unit{{.}}s integer lanes are int32, and it divides floats only)"
  %s = graph.add %a, %b : (tensor<6xi64>, tensor<6xi64>) -> tensor<6xi64>
  // CHECK: graph.compare {{.*}}fractal.placement = "scalar"
  %c = graph.compare "gt" %s, %b : (tensor<6xi64>, tensor<6xi64>) -> tensor<6xi1>
  // CHECK: graph.where {{.*}}fractal.placement = "scalar"
  %w = graph.where %c, %s, %b : (tensor<6xi1>, tensor<6xi64>, tensor<6xi64>) -> tensor<6xi64>
  // CHECK: graph.add {{.*}}fractal.placement = "vector"
  %g = graph.add %f, %f : (tensor<6xf32>, tensor<6xf32>) -> tensor<6xf32>
  return %w, %g : tensor<6xi64>, tensor<6xf32>
}
