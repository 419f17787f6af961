// REQUIRES: mlir
// Every npu op prints in a form that parses back to the same IR.
// RUN: %fractal-opt %s | %fractal-opt | %FileCheck %s

// CHECK-LABEL: func.func @kernel(%arg0: memref<4096xf32, #npu.space<gm>>, %arg1: memref<4096xf16, #npu.space<gm>>)
func.func @kernel(%in: memref<4096xf32, #npu.space<gm>>, %out: memref<4096xf16, #npu.space<gm>>) {
  %c0 = arith.constant 0 : index
  // CHECK: npu.block_idx
  // CHECK-NEXT: npu.block_dim
  %bi = npu.block_idx
  %bd = npu.block_dim
  // CHECK: npu.alloc {offset = 0 : i64} : memref<1024xf32, #npu.space<ub>>
  // CHECK: npu.alloc : memref<1024xf16, #npu.space<ub>>
  %a = npu.alloc {offset = 0} : memref<1024xf32, #npu.space<ub>>
  %o = npu.alloc : memref<1024xf16, #npu.space<ub>>
  %s = arith.constant 2.0 : f32
  // CHECK: npu.dma %arg0[%{{.*}}] -> %{{.*}}[%{{.*}}], 1024 : memref<4096xf32, #npu.space<gm>> -> memref<1024xf32, #npu.space<ub>>
  npu.dma %in[%bi] -> %a[%c0], 1024 : memref<4096xf32, #npu.space<gm>> -> memref<1024xf32, #npu.space<ub>>
  // CHECK: npu.set_flag mte2 -> v, 0
  // CHECK: npu.wait_flag mte2 -> v, 0
  npu.set_flag mte2 -> v, 0
  npu.wait_flag mte2 -> v, 0
  // CHECK: npu.vector "vmuls.f32" %{{.*}}, %{{.*}}, %{{.*}} repeat 8 : memref<1024xf32, #npu.space<ub>>, memref<1024xf32, #npu.space<ub>>, f32
  npu.vector "vmuls.f32" %a, %a, %s repeat 8 : memref<1024xf32, #npu.space<ub>>, memref<1024xf32, #npu.space<ub>>, f32
  // CHECK: npu.vector "vconv.f32.f16" %{{.*}}, %{{.*}} repeat 8 params {src_rep = 4 : i64}
  npu.vector "vconv.f32.f16" %o, %a repeat 8 params {src_rep = 4} : memref<1024xf16, #npu.space<ub>>, memref<1024xf32, #npu.space<ub>>
  // CHECK: npu.barrier all
  npu.barrier all
  // CHECK: npu.dma %{{.*}}[%{{.*}}] -> %arg1[%{{.*}}], 1024 : memref<1024xf16, #npu.space<ub>> -> memref<4096xf16, #npu.space<gm>>
  npu.dma %o[%c0] -> %out[%bd], 1024 : memref<1024xf16, #npu.space<ub>> -> memref<4096xf16, #npu.space<gm>>
  return
}
