// REQUIRES: mlir
// fractal-fuse-epilogue: a skip connection's Add into the convolution (its residual operand), then
// Relu and Clip after a matrix product become its clamp (FixPipe).
// RUN: %fractal-opt %s --fractal-fuse-epilogue --split-input-file --mlir-print-debuginfo | %FileCheck %s

// CHECK-LABEL: func.func @conv_relu
// CHECK: %[[C:.*]] = graph.conv {{.*}}clamp_min = 0.000000e+00 : f32{{.*}} loc(#[[FUSED:loc[0-9]+]])
// CHECK-NOT: clamp_max
// CHECK-NOT: graph.relu
// CHECK: return %[[C]]
// CHECK-DAG: #[[CONV:loc[0-9]+]] = loc("conv1")
// CHECK-DAG: #[[RELU:loc[0-9]+]] = loc("relu1")
// CHECK-DAG: #[[FUSED]] = loc(fused[#[[CONV]], #[[RELU]]])
func.func @conv_relu(%x: tensor<1x1x4x4xf32>, %w: tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> {
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> loc("conv1")
  %r = graph.relu %c : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("relu1")
  return %r : tensor<1x2x4x4xf32>
}

// -----

// Clip(-1, 6) then Relu narrows to [0, 6] (ReLU6); on a gemm and a matmul alike.
// CHECK-LABEL: func.func @gemm_clip_relu
// CHECK: graph.gemm {{.*}}clamp_max = 6.000000e+00 : f32, clamp_min = 0.000000e+00 : f32
// CHECK-NOT: graph.clip
// CHECK-NOT: graph.relu
// CHECK: graph.matmul {{.*}}clamp_max = 2.500000e-01 : f32, clamp_min = -2.500000e-01 : f32
// CHECK-NOT: graph.clip
func.func @gemm_clip_relu(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %m: tensor<4x4xf32>) -> tensor<2x4xf32> {
  %g = graph.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %c = graph.clip %g {min = -1.0 : f32, max = 6.0 : f32} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %r = graph.relu %c : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %p = graph.matmul %r, %m : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %q = graph.clip %p {min = -0.25 : f32, max = 0.25 : f32} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %q : tensor<2x4xf32>
}

// -----

// The unclamped product is returned too, so the Relu stays a separate (vector) op; a Relu after
// a non-matrix op is not touched.
// CHECK-LABEL: func.func @no_fusion
// CHECK-NOT: clamp_min
// CHECK: graph.relu
// CHECK: graph.relu
func.func @no_fusion(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) {
  %p = graph.matmul %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %r = graph.relu %p : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %s = graph.sigmoid %p : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %t = graph.relu %s : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %r, %p, %t : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// Add(conv, r) + Relu: the conv takes r as its residual, then the Relu as its clamp; the fused
// conv stands where the Add was (r is defined after the first conv) and answers to all three
// ONNX nodes. The second Add's conv has a fused Relu already (Relu before Add): not fused.
// CHECK-LABEL: func.func @residual
// CHECK: %[[R:.*]] = graph.conv %arg0, %arg1 {{{.*}}} : {{.*}} loc(#[[LR:loc[0-9]+]])
// CHECK-NEXT: %[[C:.*]] = graph.conv %arg0, %arg1, %arg2 residual(%[[R]]) {clamp_min = 0.000000e+00 : f32{{.*}}} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>, tensor<2xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc(#[[FUSED:loc[0-9]+]])
// CHECK-NEXT: %[[D:.*]] = graph.conv %[[C]], %arg1 {clamp_min
// CHECK-NEXT: graph.add %[[D]], %[[C]]
// CHECK-DAG: #[[CONV:loc[0-9]+]] = loc("conv1")
// CHECK-DAG: #[[ADD:loc[0-9]+]] = loc("add1")
// CHECK-DAG: #[[RELU:loc[0-9]+]] = loc("relu1")
// CHECK-DAG: #[[FUSED]] = loc(fused[#[[CONV]], #[[ADD]], #[[RELU]]])
func.func @residual(%x: tensor<1x2x4x4xf32>, %w: tensor<2x2x1x1xf32>, %b: tensor<2xf32>) -> tensor<1x2x4x4xf32> {
  %c = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32> loc("conv1")
  %r = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> loc("conv0")
  %s = graph.add %c, %r : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("add1")
  %y = graph.relu %s : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("relu1")
  %d = graph.conv %y, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %e = graph.relu %d : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %f = graph.add %e, %y : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  return %f : tensor<1x2x4x4xf32>
}

// -----

// A broadcast Add (a per-channel tensor) is not a residual; neither is x + x.
// CHECK-LABEL: func.func @not_residual
// CHECK-NOT: residual
// CHECK: graph.add
// CHECK: graph.add
func.func @not_residual(%x: tensor<1x2x4x4xf32>, %w: tensor<2x2x1x1xf32>, %k: tensor<1x2x1x1xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %a = graph.add %c, %k : (tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %d = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %e = graph.add %d, %d : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  return %a, %e : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}

// -----

// A residual that is its input padded with zero channels (concat with a +0 constant) reads the
// input itself: the concat goes. A nonzero padding stays.
// CHECK-LABEL: func.func @residual_zero_padding
// CHECK-NOT: graph.concat
// CHECK: graph.conv %arg0, %arg1 residual(%arg2) {{.*}} (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>, tensor<1x2x4x4xf32>) -> tensor<1x3x4x4xf32>
func.func @residual_zero_padding(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>, %r: tensor<1x2x4x4xf32>) -> tensor<1x3x4x4xf32> {
  %z = graph.constant dense<0.0> : tensor<1x1x4x4xf32>
  %p = graph.concat %r, %z {axis = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x3x4x4xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %s = graph.add %c, %p : (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  return %s : tensor<1x3x4x4xf32>
}

// -----

// CHECK-LABEL: func.func @residual_nonzero_padding
// CHECK: graph.concat
// CHECK: residual(%{{.*}}) {{.*}} (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>, tensor<1x3x4x4xf32>)
func.func @residual_nonzero_padding(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>, %r: tensor<1x2x4x4xf32>) -> tensor<1x3x4x4xf32> {
  %z = graph.constant dense<1.0> : tensor<1x1x4x4xf32>
  %p = graph.concat %r, %z {axis = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x3x4x4xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %s = graph.add %c, %p : (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  return %s : tensor<1x3x4x4xf32>
}

// -----

// A transposed convolution takes Relu into its output stage, but no other clamp (its kernel's
// FixPipe clamps as ReLU only): the Clip stays.
// CHECK-LABEL: func.func @conv_transpose
// CHECK: %[[R:.*]] = graph.conv_transpose {{.*}}clamp_min = 0.000000e+00 : f32
// CHECK-NOT: graph.relu
// CHECK: %[[T:.*]] = graph.conv_transpose
// CHECK-NOT: clamp
// CHECK: graph.clip %[[T]]
func.func @conv_transpose(%x: tensor<1x2x4x4xf32>, %w: tensor<2x2x1x1xf32>) -> (tensor<1x2x7x7xf32>, tensor<1x2x7x7xf32>) {
  %c = graph.conv_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x7x7xf32>
  %r = graph.relu %c : (tensor<1x2x7x7xf32>) -> tensor<1x2x7x7xf32>
  %d = graph.conv_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x7x7xf32>
  %k = graph.clip %d {min = 0.0 : f32, max = 6.0 : f32} : (tensor<1x2x7x7xf32>) -> tensor<1x2x7x7xf32>
  return %r, %k : tensor<1x2x7x7xf32>, tensor<1x2x7x7xf32>
}

// -----

// A Linear layer (MatMul then Add of a constant row, as PyTorch exports it) becomes a gemm whose
// C is the cube's bias; a batched input is viewed as rows and the result viewed back; the Relu
// after it then fuses as well.
// CHECK-LABEL: func.func @linear_bias
// CHECK: %[[B:.*]] = graph.constant dense<{{\[}}1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00]> : tensor<5xf32>
// CHECK: %[[A:.*]] = graph.reshape %arg0 : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
// CHECK: %[[G:.*]] = graph.gemm %[[A]], %arg1, %[[B]] {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, clamp_min = 0.000000e+00 : f32, trans_a = false, trans_b = false} : (tensor<6x4xf32>, tensor<4x5xf32>, tensor<5xf32>) -> tensor<6x5xf32>
// CHECK: %[[R:.*]] = graph.reshape %[[G]] : (tensor<6x5xf32>) -> tensor<2x3x5xf32>
// CHECK-NOT: graph.add
// CHECK-NOT: graph.relu
// CHECK: return %[[R]]
func.func @linear_bias(%x: tensor<2x3x4xf32>, %w: tensor<4x5xf32>) -> tensor<2x3x5xf32> {
  %b = graph.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0]]> : tensor<1x5xf32>
  %m = graph.matmul %x, %w : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x3x5xf32> loc("linear")
  %a = graph.add %m, %b : (tensor<2x3x5xf32>, tensor<1x5xf32>) -> tensor<2x3x5xf32> loc("bias")
  %r = graph.relu %a : (tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
  return %r : tensor<2x3x5xf32>
}

// -----

// Left alone: a constant that is not one row of N values ([3, 5]), a run-time row, a product
// with another user.
// CHECK-LABEL: func.func @bias_left_alone
// CHECK-NOT: graph.gemm
// CHECK-COUNT-3: graph.add
func.func @bias_left_alone(%x: tensor<3x4xf32>, %w: tensor<4x5xf32>, %row: tensor<5xf32>) -> (tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>) {
  %c = graph.constant dense<1.0> : tensor<3x5xf32>
  %m0 = graph.matmul %x, %w : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %a0 = graph.add %m0, %c : (tensor<3x5xf32>, tensor<3x5xf32>) -> tensor<3x5xf32>
  %m1 = graph.matmul %x, %w : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %a1 = graph.add %m1, %row : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  %k = graph.constant dense<2.0> : tensor<5xf32>
  %m2 = graph.matmul %x, %w : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %a2 = graph.add %m2, %k : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  return %a0, %a1, %a2, %m2 : tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>
}
