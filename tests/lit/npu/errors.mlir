// REQUIRES: mlir
// The npu dialect's verifiers: buffers, DMA directions and sizes, vector instructions checked
// against the ISA table, flags.
// RUN: %fractal-opt %s -split-input-file -verify-diagnostics

func.func @alloc_in_gm() {
  // expected-error @+1 {{allocates on-chip buffers only; GM comes in as kernel arguments}}
  %a = npu.alloc : memref<64xf32, #npu.space<gm>>
  return
}

// -----

func.func @alloc_without_space() {
  // expected-error @+1 {{buffer needs an #npu.space memory space}}
  %a = npu.alloc : memref<64xf32>
  return
}

// -----

func.func @dma_ub_to_ub(%a: memref<64xf32, #npu.space<ub>>, %b: memref<64xf32, #npu.space<ub>>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{no DMA from ub to ub (gm -> ub/l1 on mte2, ub -> gm on mte3)}}
  npu.dma %a[%c0] -> %b[%c0], 64 : memref<64xf32, #npu.space<ub>> -> memref<64xf32, #npu.space<ub>>
  return
}

// -----

func.func @dma_partial_block(%g: memref<64xf32, #npu.space<gm>>, %b: memref<64xf32, #npu.space<ub>>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{copies 20 bytes, not whole 32-byte blocks}}
  npu.dma %g[%c0] -> %b[%c0], 5 : memref<64xf32, #npu.space<gm>> -> memref<64xf32, #npu.space<ub>>
  return
}

// -----

func.func @dma_out_of_bounds(%g: memref<64xf32, #npu.space<gm>>, %b: memref<64xf32, #npu.space<ub>>) {
  %c0 = arith.constant 0 : index
  %c8 = arith.constant 8 : index
  // expected-error @+1 {{target range [8, 72) is outside its 64 elements}}
  npu.dma %g[%c0] -> %b[%c8], 64 : memref<64xf32, #npu.space<gm>> -> memref<64xf32, #npu.space<ub>>
  return
}

// -----

func.func @dma_types(%g: memref<64xf16, #npu.space<gm>>, %b: memref<64xf32, #npu.space<ub>>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{source and target element types differ}}
  npu.dma %g[%c0] -> %b[%c0], 64 : memref<64xf16, #npu.space<gm>> -> memref<64xf32, #npu.space<ub>>
  return
}

// -----

func.func @not_vector(%b: memref<64xf32, #npu.space<ub>>) {
  // expected-error @+1 {{'mmad' is not a vector instruction (it runs on m)}}
  npu.vector "mmad.f16" %b, %b, %b repeat 1 : memref<64xf32, #npu.space<ub>>, memref<64xf32, #npu.space<ub>>, memref<64xf32, #npu.space<ub>>
  return
}

// -----

func.func @operand_count(%b: memref<64xf32, #npu.space<ub>>) {
  // expected-error @+1 {{'vadd' takes 3 operands, got 2}}
  npu.vector "vadd.f32" %b, %b repeat 1 : memref<64xf32, #npu.space<ub>>, memref<64xf32, #npu.space<ub>>
  return
}

// -----

func.func @scalar_for_buffer(%b: memref<64xf32, #npu.space<ub>>) {
  %s = arith.constant 1.0 : f32
  // expected-error @+1 {{operand 2 (src1) must be a buffer}}
  npu.vector "vadd.f32" %b, %b, %s repeat 1 : memref<64xf32, #npu.space<ub>>, memref<64xf32, #npu.space<ub>>, f32
  return
}

// -----

func.func @buffer_in_l1(%b: memref<64xf32, #npu.space<ub>>, %l: memref<64xf32, #npu.space<l1>>) {
  // expected-error @+1 {{operand 1 (src) must be in #npu.space<ub>}}
  npu.vector "vrelu.f32" %b, %l repeat 1 : memref<64xf32, #npu.space<ub>>, memref<64xf32, #npu.space<l1>>
  return
}

// -----

func.func @unknown_param(%b: memref<64xf32, #npu.space<ub>>) {
  // expected-error @+1 {{'vrelu' has no parameter 'src1_rep'}}
  npu.vector "vrelu.f32" %b, %b repeat 1 params {src1_rep = 0} : memref<64xf32, #npu.space<ub>>, memref<64xf32, #npu.space<ub>>
  return
}

// -----

func.func @flag_to_itself() {
  // expected-error @+1 {{flag from a pipe to itself (a barrier orders one pipe)}}
  npu.set_flag v -> v, 0
  return
}

// -----

func.func @flag_all() {
  // expected-error @+1 {{'all' is valid only for barriers}}
  npu.wait_flag all -> v, 0
  return
}

// -----

func.func @event_id() {
  // expected-error @+1 {{attribute 'event' failed to satisfy constraint}}
  npu.set_flag mte2 -> v, 8
  return
}

// -----

func.func @not_cube(%c: memref<256xf32, #npu.space<l0c>>) {
  // expected-error @+1 {{'vadd' is not a cube instruction (it runs on v)}}
  npu.cube "vadd.f32" %c, %c, %c : memref<256xf32, #npu.space<l0c>>, memref<256xf32, #npu.space<l0c>>, memref<256xf32, #npu.space<l0c>>
  return
}

// -----

func.func @unknown_instruction(%c: memref<256xf32, #npu.space<l0c>>) {
  // expected-error @+1 {{'mmadd' is not an instruction of the ISA}}
  npu.cube "mmadd.f16" %c : memref<256xf32, #npu.space<l0c>>
  return
}

// -----

func.func @copy_space(%u: memref<1024xf16, #npu.space<ub>>, %a: memref<1024xf16, #npu.space<gm>>) {
  // expected-error @+1 {{operand 0 (dst) must be in #npu.space<l1>}}
  npu.copy "gm2l1_nz.f16" %u, %a params {rows = 16, cols = 64, src_stride = 64, dst_rows = 16} : memref<1024xf16, #npu.space<ub>>, memref<1024xf16, #npu.space<gm>>
  return
}

// -----

func.func @param_range(%c: memref<256xf32, #npu.space<l0c>>, %a: memref<1024xf16, #npu.space<l0a>>, %b: memref<1024xf16, #npu.space<l0b>>) {
  // expected-error @+1 {{parameter 'm' = 5000 is outside [0, 4095]}}
  npu.cube "mmad.f16" %c, %a, %b params {m = 5000, k = 16, n = 16} : memref<256xf32, #npu.space<l0c>>, memref<1024xf16, #npu.space<l0a>>, memref<1024xf16, #npu.space<l0b>>
  return
}

// -----

func.func @named_unknown(%c: memref<256xf32, #npu.space<l0c>>, %a: memref<1024xf16, #npu.space<l0a>>, %b: memref<1024xf16, #npu.space<l0b>>, %x: index) {
  // expected-error @+1 {{'mmad' has no register operand 'scale'}}
  npu.cube "mmad.f16" %c, %a, %b, %x named ["scale"] params {m = 16, k = 16, n = 16} : memref<256xf32, #npu.space<l0c>>, memref<1024xf16, #npu.space<l0a>>, memref<1024xf16, #npu.space<l0b>>, index
  return
}

// -----

func.func @named_count(%c: memref<256xf32, #npu.space<l0c>>, %a: memref<1024xf16, #npu.space<l0a>>, %b: memref<1024xf16, #npu.space<l0b>>) {
  // expected-error @+1 {{'mmad' takes 3 operands and the 1 named, got 3}}
  npu.cube "mmad.f16" %c, %a, %b named ["bias"] params {m = 16, k = 16, n = 16} : memref<256xf32, #npu.space<l0c>>, memref<1024xf16, #npu.space<l0a>>, memref<1024xf16, #npu.space<l0b>>
  return
}

// -----

func.func @view_outside(%c: memref<512xf32, #npu.space<gm>>) {
  %c32 = arith.constant 32 : index
  // expected-error @+1 {{view [32, 528) is outside the buffer's 512 elements}}
  %t = npu.view %c[%c32] : memref<512xf32, #npu.space<gm>> -> memref<496xf32, #npu.space<gm>>
  return
}

// -----

func.func @view_space(%c: memref<512xf32, #npu.space<gm>>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{a view keeps its buffer's memory space and element type}}
  %t = npu.view %c[%c0] : memref<512xf32, #npu.space<gm>> -> memref<496xf32, #npu.space<ub>>
  return
}
