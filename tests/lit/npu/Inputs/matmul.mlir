// A hand-written cube kernel in the npu dialect (tests/lit/npu/matmul-sim.test): C[16x32] (f32) =
// A[16x64] x B[64x32] (f16, row-major in GM); A loaded once, one N tile of 16 columns per turn.
func.func @matmul(%a: memref<1024xf16, #npu.space<gm>>, %b: memref<2048xf16, #npu.space<gm>>,
                  %c: memref<512xf32, #npu.space<gm>>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %l1a = npu.alloc : memref<1024xf16, #npu.space<l1>>
  %l0a = npu.alloc : memref<1024xf16, #npu.space<l0a>>
  %l1b = npu.alloc : memref<1024xf16, #npu.space<l1>>
  %l0b = npu.alloc : memref<1024xf16, #npu.space<l0b>>
  %l0c = npu.alloc : memref<256xf32, #npu.space<l0c>>
  npu.copy "gm2l1_nz.f16" %l1a, %a params {rows = 16, cols = 64, src_stride = 64, dst_rows = 16} : memref<1024xf16, #npu.space<l1>>, memref<1024xf16, #npu.space<gm>>
  npu.load "load2d" %l0a, %l1a params {repeat = 4} : memref<1024xf16, #npu.space<l0a>>, memref<1024xf16, #npu.space<l1>>
  scf.for %j = %c0 to %c2 step %c1 {
    %col = arith.muli %j, %c16 : index
    %bt = npu.view %b[%col] : memref<2048xf16, #npu.space<gm>> -> memref<2032xf16, #npu.space<gm>>
    npu.copy "gm2l1_nz.f16" %l1b, %bt params {rows = 64, cols = 16, src_stride = 32, dst_rows = 64} : memref<1024xf16, #npu.space<l1>>, memref<2032xf16, #npu.space<gm>>
    npu.load "load2d" %l0b, %l1b params {repeat = 4, transpose = 1} : memref<1024xf16, #npu.space<l0b>>, memref<1024xf16, #npu.space<l1>>
    npu.cube "mmad.f16" %l0c, %l0a, %l0b params {m = 16, k = 64, n = 16, init = 1} : memref<256xf32, #npu.space<l0c>>, memref<1024xf16, #npu.space<l0a>>, memref<1024xf16, #npu.space<l0b>>
    %ct = npu.view %c[%col] : memref<512xf32, #npu.space<gm>> -> memref<496xf32, #npu.space<gm>>
    npu.fixpipe "fixp.f32.f32" %ct, %l0c params {m = 16, n = 16, src_rows = 16, dst_stride = 32, nz2nd = 1} : memref<496xf32, #npu.space<gm>>, memref<256xf32, #npu.space<l0c>>
  }
  return
}
