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

// The cube side: DMA with a layout change, L1 -> L0 loads, mmad, FixPipe, views of tiles.
// CHECK-LABEL: func.func @cube
func.func @cube(%a: memref<1024xf16, #npu.space<gm>>, %c: memref<512xf32, #npu.space<gm>>, %fmap: i64) {
  %c16 = arith.constant 16 : index
  %l1 = npu.alloc : memref<1024xf16, #npu.space<l1>>
  %l0a = npu.alloc : memref<1024xf16, #npu.space<l0a>>
  %l0b = npu.alloc : memref<1024xf16, #npu.space<l0b>>
  %l0c = npu.alloc : memref<256xf32, #npu.space<l0c>>
  // CHECK: npu.copy "gm2l1_nz.f16" %{{.*}}, %arg0 params {cols = 64 : i64, dst_rows = 16 : i64, rows = 16 : i64, src_stride = 64 : i64}
  npu.copy "gm2l1_nz.f16" %l1, %a params {rows = 16, cols = 64, src_stride = 64, dst_rows = 16} : memref<1024xf16, #npu.space<l1>>, memref<1024xf16, #npu.space<gm>>
  // CHECK: npu.load "load2d" %{{.*}}, %{{.*}} params {repeat = 4 : i64}
  npu.load "load2d" %l0a, %l1 params {repeat = 4} : memref<1024xf16, #npu.space<l0a>>, memref<1024xf16, #npu.space<l1>>
  // CHECK: npu.set_fmap %arg2 : i64
  npu.set_fmap %fmap : i64
  // CHECK: npu.load "load3d.f16" %{{.*}}, %{{.*}}, %{{.*}} params {c1 = 1 : i64, kh = 3 : i64, kw = 3 : i64, mcount = 16 : i64}
  npu.load "load3d.f16" %l0a, %l1, %c16 params {mcount = 16, kh = 3, kw = 3, c1 = 1} : memref<1024xf16, #npu.space<l0a>>, memref<1024xf16, #npu.space<l1>>, index
  // CHECK: npu.cube "mmad.f16" %{{.*}}, %{{.*}}, %{{.*}} params {init = 1 : i64, k = 64 : i64, m = 16 : i64, n = 16 : i64}
  npu.cube "mmad.f16" %l0c, %l0a, %l0b params {m = 16, k = 64, n = 16, init = 1} : memref<256xf32, #npu.space<l0c>>, memref<1024xf16, #npu.space<l0a>>, memref<1024xf16, #npu.space<l0b>>
  // A keyed register operand after the positional ones: the bias's L1 address.
  %bias = npu.alloc : memref<16xf32, #npu.space<l1>>
  // CHECK: npu.cube "mmad.f16" %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} named ["bias"] params {init = 1 : i64, k = 64 : i64, m = 16 : i64, n = 16 : i64}
  npu.cube "mmad.f16" %l0c, %l0a, %l0b, %bias named ["bias"] params {m = 16, k = 64, n = 16, init = 1} : memref<256xf32, #npu.space<l0c>>, memref<1024xf16, #npu.space<l0a>>, memref<1024xf16, #npu.space<l0b>>, memref<16xf32, #npu.space<l1>>
  // CHECK: %[[T:.*]] = npu.view %arg1[%{{.*}}] : memref<512xf32, #npu.space<gm>> -> memref<496xf32, #npu.space<gm>>
  %t = npu.view %c[%c16] : memref<512xf32, #npu.space<gm>> -> memref<496xf32, #npu.space<gm>>
  // CHECK: npu.fixpipe "fixp.f32.f32" %[[T]], %{{.*}} params {dst_stride = 32 : i64, m = 16 : i64, n = 16 : i64, nz2nd = 1 : i64, src_rows = 16 : i64}
  npu.fixpipe "fixp.f32.f32" %t, %l0c params {m = 16, n = 16, src_rows = 16, dst_stride = 32, nz2nd = 1} : memref<496xf32, #npu.space<gm>>, memref<256xf32, #npu.space<l0c>>
  return
}
