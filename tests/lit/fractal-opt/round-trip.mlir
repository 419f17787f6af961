// REQUIRES: mlir
// fractal-opt parses and prints the upstream dialects the kernel lowering is built on, and runs
// the canonicalizer: the MLIR 19 toolchain is wired up.
// RUN: %fractal-opt %s | %fractal-opt | %FileCheck %s
// RUN: %fractal-opt --canonicalize %s | %FileCheck --check-prefix=CANON %s

// CHECK-LABEL: func.func @matmul
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<16x32xf16>, tensor<32x16xf16>) outs(%{{.*}} : tensor<16x16xf32>)
func.func @matmul(%a: tensor<16x32xf16>, %b: tensor<32x16xf16>, %c: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<16x32xf16>, tensor<32x16xf16>) outs(%c : tensor<16x16xf32>) -> tensor<16x16xf32>
  return %0 : tensor<16x16xf32>
}

// CANON-LABEL: func.func @fold
// CANON-NEXT: %[[C:.*]] = arith.constant 5 : i32
// CANON-NEXT: return %[[C]]
func.func @fold() -> i32 {
  %a = arith.constant 2 : i32
  %b = arith.constant 3 : i32
  %c = arith.addi %a, %b : i32
  return %c : i32
}
