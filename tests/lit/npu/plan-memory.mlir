// REQUIRES: mlir
// fractal-npu-plan-memory: offsets in each space, aligned; a buffer gets bytes of its own while the
// space has room, else shares those of buffers whose lives do not overlap its own; a buffer used
// in a loop lives for the whole loop; overflow names the buffer.
// RUN: %fractal-opt %s -split-input-file --fractal-npu-plan-memory -verify-diagnostics | %FileCheck %s

// CHECK-LABEL: func.func @reuse
func.func @reuse(%g: memref<1024xf32, #npu.space<gm>>) attributes {npu.buffer_bytes = {ub = 8120 : i64}} {
  %c0 = arith.constant 0 : index
  // The three need 8128 bytes, the space has 8120: %a is dead once %b is written, so %c reuses
  // %a's bytes.
  // CHECK: %[[A:.*]] = npu.alloc {offset = 0 : i64} : memref<1024xf32, #npu.space<ub>>
  // CHECK: %[[B:.*]] = npu.alloc {offset = 4096 : i64} : memref<1000xf32, #npu.space<ub>>
  // CHECK: %[[C:.*]] = npu.alloc {offset = 0 : i64} : memref<8xf32, #npu.space<ub>>
  %a = npu.alloc : memref<1024xf32, #npu.space<ub>>
  %b = npu.alloc : memref<1000xf32, #npu.space<ub>>
  npu.dma %g[%c0] -> %a[%c0], 1024 : memref<1024xf32, #npu.space<gm>> -> memref<1024xf32, #npu.space<ub>>
  npu.vector "vrelu.f32" %b, %a repeat 1 : memref<1000xf32, #npu.space<ub>>, memref<1024xf32, #npu.space<ub>>
  %c = npu.alloc : memref<8xf32, #npu.space<ub>>
  npu.vector "vrelu.f32" %c, %b repeat 1 : memref<8xf32, #npu.space<ub>>, memref<1000xf32, #npu.space<ub>>
  return
}

// -----

// The same buffers in a space with room for all three: %c gets bytes of its own, so that its
// writer need not wait for %a's last reader (pipes run ahead of program order).
// CHECK-LABEL: func.func @own_bytes
func.func @own_bytes(%g: memref<1024xf32, #npu.space<gm>>) attributes {npu.buffer_bytes = {ub = 8192 : i64}} {
  %c0 = arith.constant 0 : index
  // CHECK: npu.alloc {offset = 0 : i64} : memref<1024xf32, #npu.space<ub>>
  // CHECK: npu.alloc {offset = 4096 : i64} : memref<1000xf32, #npu.space<ub>>
  // CHECK: npu.alloc {offset = 8096 : i64} : memref<8xf32, #npu.space<ub>>
  %a = npu.alloc : memref<1024xf32, #npu.space<ub>>
  %b = npu.alloc : memref<1000xf32, #npu.space<ub>>
  npu.dma %g[%c0] -> %a[%c0], 1024 : memref<1024xf32, #npu.space<gm>> -> memref<1024xf32, #npu.space<ub>>
  npu.vector "vrelu.f32" %b, %a repeat 1 : memref<1000xf32, #npu.space<ub>>, memref<1024xf32, #npu.space<ub>>
  %c = npu.alloc : memref<8xf32, #npu.space<ub>>
  npu.vector "vrelu.f32" %c, %b repeat 1 : memref<8xf32, #npu.space<ub>>, memref<1000xf32, #npu.space<ub>>
  return
}

// -----

// Bytes of its own for %c (placed before the smaller %b, at 4096) would leave %b, which lives
// alongside both %a and %c, no room: the plan starts over sharing wherever lives allow, and %c
// takes %a's bytes (dead before %c is allocated).
// CHECK-LABEL: func.func @start_over
func.func @start_over(%g: memref<1024xf32, #npu.space<gm>>) attributes {npu.buffer_bytes = {ub = 8192 : i64}} {
  %c0 = arith.constant 0 : index
  // CHECK: npu.alloc {offset = 0 : i64} : memref<1024xf32, #npu.space<ub>>
  // CHECK: npu.alloc {offset = 4096 : i64} : memref<768xf32, #npu.space<ub>>
  // CHECK: npu.alloc {offset = 0 : i64} : memref<1024xf32, #npu.space<ub>>
  %a = npu.alloc : memref<1024xf32, #npu.space<ub>>
  npu.dma %g[%c0] -> %a[%c0], 1024 : memref<1024xf32, #npu.space<gm>> -> memref<1024xf32, #npu.space<ub>>
  %b = npu.alloc : memref<768xf32, #npu.space<ub>>
  npu.vector "vrelu.f32" %b, %a repeat 1 : memref<768xf32, #npu.space<ub>>, memref<1024xf32, #npu.space<ub>>
  %c = npu.alloc : memref<1024xf32, #npu.space<ub>>
  npu.vector "vrelu.f32" %c, %b repeat 1 : memref<1024xf32, #npu.space<ub>>, memref<768xf32, #npu.space<ub>>
  return
}

// -----

// CHECK-LABEL: func.func @loop
func.func @loop(%g: memref<1024xf32, #npu.space<gm>>, %n: index) attributes {npu.buffer_bytes = {ub = 8192 : i64}} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // %a is read at the loop's start and %c written at its end: both live through every turn, so
  // they may not share bytes although %a's last use comes before %c's first.
  // CHECK: npu.alloc {offset = 0 : i64} : memref<1024xf32, #npu.space<ub>>
  // CHECK: npu.alloc {offset = 4096 : i64} : memref<1024xf32, #npu.space<ub>>
  %a = npu.alloc : memref<1024xf32, #npu.space<ub>>
  %c = npu.alloc : memref<1024xf32, #npu.space<ub>>
  scf.for %i = %c0 to %n step %c1 {
    npu.dma %g[%c0] -> %a[%c0], 1024 : memref<1024xf32, #npu.space<gm>> -> memref<1024xf32, #npu.space<ub>>
    npu.vector "vrelu.f32" %c, %a repeat 1 : memref<1024xf32, #npu.space<ub>>, memref<1024xf32, #npu.space<ub>>
  }
  return
}

// -----

func.func @overflow(%g: memref<1024xf32, #npu.space<gm>>) attributes {npu.buffer_bytes = {ub = 6000 : i64}} {
  %c0 = arith.constant 0 : index
  %a = npu.alloc : memref<1024xf32, #npu.space<ub>>
  // expected-error @+1 {{ub overflow in kernel 'overflow': this buffer of 2048 bytes needs 6144 bytes of ub, the target has 6000}}
  %b = npu.alloc : memref<512xf32, #npu.space<ub>>
  npu.vector "vrelu.f32" %b, %a repeat 1 : memref<512xf32, #npu.space<ub>>, memref<1024xf32, #npu.space<ub>>
  return
}

// -----

func.func @no_capacity() {
  // expected-error @+1 {{kernel 'no_capacity' has no npu.buffer_bytes entry for l1 (the target's buffer size)}}
  %a = npu.alloc : memref<1024xf32, #npu.space<l1>>
  return
}
