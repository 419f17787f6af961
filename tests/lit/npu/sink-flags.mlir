// REQUIRES: mlir
// fractal-npu-sink-flags: a DMA pipe's set_flag moves down to the next set_flag of its pipe, so
// that one drain of the pipe covers both; never past its own wait, another pipe's wait on this
// pipe, a region op or the block's end, nor past more than max-bytes of copies.
// RUN: %fractal-opt %s -split-input-file --fractal-npu-sink-flags | %FileCheck %s
// RUN: %fractal-opt %s -split-input-file --fractal-npu-sink-flags=max-bytes=2048 | %FileCheck --check-prefix=SMALL %s

!gm = memref<4096xf32, #npu.space<gm>>
!ub = memref<1024xf32, #npu.space<ub>>

// Two loads for the vector unit: the first load's set waits for the second load too, and the
// second no longer waits for the first one's drain. With a budget of 2 KiB (below the second
// load's 4 KiB) nothing moves.
// CHECK-LABEL: func.func @merge
// CHECK: npu.dma %arg0[%{{.*}}] -> %[[A:.*]][
// CHECK-NEXT: npu.vector "vrelu.f32"
// CHECK-NEXT: npu.dma %arg0[%{{.*}}] -> %[[B:.*]][
// CHECK-NEXT: npu.set_flag mte2 -> v, 0
// CHECK-NEXT: npu.set_flag mte2 -> v, 1
// SMALL-LABEL: func.func @merge
// SMALL: npu.dma
// SMALL-NEXT: npu.set_flag mte2 -> v, 0
func.func @merge(%in: !gm) {
  %c0 = arith.constant 0 : index
  %c1024 = arith.constant 1024 : index
  %a = npu.alloc {offset = 0 : i64} : !ub
  %b = npu.alloc {offset = 4096 : i64} : !ub
  %o = npu.alloc {offset = 8192 : i64} : !ub
  npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
  npu.set_flag mte2 -> v, 0
  npu.vector "vrelu.f32" %o, %o repeat 1 : !ub, !ub
  npu.dma %in[%c1024] -> %b[%c0], 1024 : !gm -> !ub
  npu.set_flag mte2 -> v, 1
  npu.wait_flag mte2 -> v, 0
  npu.vector "vrelu.f32" %o, %a repeat 16 : !ub, !ub
  npu.wait_flag mte2 -> v, 1
  npu.vector "vrelu.f32" %o, %b repeat 16 : !ub, !ub
  return
}

// -----

!gm = memref<4096xf32, #npu.space<gm>>
!ub = memref<1024xf32, #npu.space<ub>>

// A wait of the DMA pipe on the flag's own consumer (the vector unit sets it before it waits for
// this flag) is passed; a wait on another pipe (the cube) is not: the set would wait for the cube.
// Sets move last first, so a run of them ends up together after all three loads.
// CHECK-LABEL: func.func @waits
// CHECK: npu.dma
// CHECK-NEXT: npu.wait_flag v -> mte2, 3
// CHECK-NEXT: npu.dma
// CHECK-NEXT: npu.dma
// CHECK-NEXT: npu.set_flag mte2 -> v, 0
// CHECK-NEXT: npu.set_flag mte2 -> v, 1
// CHECK-NEXT: npu.set_flag mte2 -> v, 2
// CHECK-NEXT: npu.wait_flag m -> mte2, 0
// CHECK-NEXT: npu.dma
// CHECK-NEXT: npu.set_flag mte2 -> v, 3
func.func @waits(%in: !gm) {
  %c0 = arith.constant 0 : index
  %a = npu.alloc {offset = 0 : i64} : !ub
  %b = npu.alloc {offset = 4096 : i64} : !ub
  %c = npu.alloc {offset = 8192 : i64} : !ub
  npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
  npu.set_flag mte2 -> v, 0
  npu.wait_flag v -> mte2, 3
  npu.dma %in[%c0] -> %b[%c0], 1024 : !gm -> !ub
  npu.set_flag mte2 -> v, 1
  npu.dma %in[%c0] -> %c[%c0], 1024 : !gm -> !ub
  npu.set_flag mte2 -> v, 2
  npu.wait_flag m -> mte2, 0
  npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
  npu.set_flag mte2 -> v, 3
  return
}

// -----

!gm = memref<4096xf32, #npu.space<gm>>
!ub = memref<1024xf32, #npu.space<ub>>

// Nothing to merge with (the block ends, or a loop comes first), its own wait in between, or a
// flag of a pipe without GM latency: nothing moves.
// CHECK-LABEL: func.func @stays
// CHECK: npu.dma
// CHECK-NEXT: npu.set_flag mte2 -> v, 0
// CHECK-NEXT: scf.for
// CHECK: npu.dma
// CHECK-NEXT: npu.set_flag mte2 -> v, 1
// CHECK-NEXT: npu.wait_flag mte2 -> v, 1
// CHECK-NEXT: npu.dma
// CHECK-NEXT: npu.set_flag mte2 -> v, 1
// CHECK: npu.vector
// CHECK-NEXT: npu.set_flag v -> mte3, 0
// CHECK-NEXT: npu.vector
// CHECK-NEXT: npu.set_flag v -> mte3, 1
// CHECK: npu.dma
// CHECK-NEXT: npu.set_flag mte3 -> v, 0
// CHECK-NEXT: return
func.func @stays(%in: !gm, %out: !gm, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = npu.alloc {offset = 0 : i64} : !ub
  %b = npu.alloc {offset = 4096 : i64} : !ub
  npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
  npu.set_flag mte2 -> v, 0
  scf.for %i = %c0 to %n step %c1 {
    npu.wait_flag mte2 -> v, 0
    npu.vector "vrelu.f32" %b, %a repeat 16 : !ub, !ub
  }
  npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
  npu.set_flag mte2 -> v, 1
  npu.wait_flag mte2 -> v, 1
  npu.dma %in[%c0] -> %b[%c0], 1024 : !gm -> !ub
  npu.set_flag mte2 -> v, 1
  npu.wait_flag mte2 -> v, 1
  npu.vector "vrelu.f32" %a, %b repeat 16 : !ub, !ub
  npu.set_flag v -> mte3, 0
  npu.vector "vrelu.f32" %b, %b repeat 16 : !ub, !ub
  npu.set_flag v -> mte3, 1
  npu.wait_flag v -> mte3, 0
  npu.wait_flag v -> mte3, 1
  npu.dma %a[%c0] -> %out[%c0], 1024 : !ub -> !gm
  npu.set_flag mte3 -> v, 0
  return
}
