// REQUIRES: mlir
// fractal-npu-inject-sync: flags from memory dependences between pipes.
// RUN: %fractal-opt %s -split-input-file --fractal-npu-inject-sync -verify-diagnostics | %FileCheck %s
// RUN: %fractal-opt %s -split-input-file --fractal-npu-inject-sync=mode=barrier-all -verify-diagnostics | %FileCheck --check-prefix=SERIAL %s

!gm = memref<4096xf32, #npu.space<gm>>
!ub = memref<1024xf32, #npu.space<ub>>

// Straight-line load -> compute -> store: one flag per producer/consumer pipe pair.
// CHECK-LABEL: func.func @straight
func.func @straight(%in: !gm, %out: !gm) {
  %c0 = arith.constant 0 : index
  %a = npu.alloc : !ub
  %o = npu.alloc : !ub
  // CHECK: npu.dma %arg0
  // CHECK-NEXT: npu.set_flag mte2 -> v, 0
  // CHECK-NEXT: npu.wait_flag mte2 -> v, 0
  // CHECK-NEXT: npu.vector "vrelu.f32"
  // CHECK-NEXT: npu.vector "vabs.f32"
  // CHECK-NEXT: npu.set_flag v -> mte3, 0
  // CHECK-NEXT: npu.wait_flag v -> mte3, 0
  // CHECK-NEXT: npu.dma {{.*}} -> %arg1
  // CHECK-NEXT: return
  npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
  npu.vector "vrelu.f32" %o, %a repeat 16 : !ub, !ub
  npu.vector "vabs.f32" %o, %o repeat 16 : !ub, !ub
  npu.dma %o[%c0] -> %out[%c0], 1024 : !ub -> !gm
  return
}

// SERIAL-LABEL: func.func @straight
// SERIAL: npu.dma %arg0
// SERIAL-NEXT: npu.barrier all
// SERIAL-NEXT: npu.vector "vrelu.f32"
// SERIAL-NEXT: npu.barrier all
// SERIAL-NOT: npu.set_flag

// -----

!gm = memref<4096xf32, #npu.space<gm>>
!ub = memref<1024xf32, #npu.space<ub>>

// Double buffering: two buffer sets per loop turn, the second guarded, the last chunk short.
// Within a turn each set needs mte2 -> v and v -> mte3; across turns (loop-carried, primed
// before the loop and drained after it) v -> mte2 (the next load overwrites what v read) and
// mte3 -> v (the next compute overwrites what mte3 stored). The carried RAW dependences
// (v -> mte3, mte2 -> v) are ordered inside each set's own branch, and need no flag.
// CHECK-LABEL: func.func @double_buffered
func.func @double_buffered(%in: !gm, %out: !gm, %n: index) {
  %c0 = arith.constant 0 : index
  %c1024 = arith.constant 1024 : index
  %bi = npu.block_idx
  %bd = npu.block_dim
  %a0 = npu.alloc : !ub
  %o0 = npu.alloc : !ub
  %a1 = npu.alloc : !ub
  %o1 = npu.alloc : !ub
  %step = arith.muli %bd, %c1024 : index
  // CHECK-DAG: npu.set_flag v -> mte2, [[E0:[0-9]]]
  // CHECK-DAG: npu.set_flag mte3 -> v, [[E1:[0-9]]]
  // CHECK-DAG: npu.set_flag v -> mte2, [[E2:[0-9]]]
  // CHECK-DAG: npu.set_flag mte3 -> v, [[E3:[0-9]]]
  // CHECK: scf.for
  scf.for %i = %bi to %n step %step {
    %off = arith.muli %i, %c1024 : index
    // CHECK: npu.wait_flag v -> mte2, [[E0]]
    // CHECK-NEXT: npu.dma %arg0
    // CHECK-NEXT: npu.set_flag mte2 -> v, [[S0:[0-9]]]
    // CHECK-NEXT: npu.wait_flag mte2 -> v, [[S0]]
    // CHECK-NEXT: npu.wait_flag mte3 -> v, [[E1]]
    // CHECK-NEXT: npu.vector "vrelu.f32"
    // CHECK-NEXT: npu.set_flag v -> mte3, [[T0:[0-9]]]
    // CHECK-NEXT: npu.set_flag v -> mte2, [[E0]]
    // CHECK-NEXT: npu.wait_flag v -> mte3, [[T0]]
    // CHECK-NEXT: npu.dma {{.*}} -> %arg1
    // CHECK-NEXT: npu.set_flag mte3 -> v, [[E1]]
    npu.dma %in[%off] -> %a0[%c0], 1024 : !gm -> !ub
    npu.vector "vrelu.f32" %o0, %a0 repeat 16 : !ub, !ub
    npu.dma %o0[%c0] -> %out[%off], 1024 : !ub -> !gm
    %j = arith.addi %i, %bd : index
    %more = arith.cmpi slt, %j, %n : index
    // The guarded set depends on itself across turns: its waits open the branch and its sets
    // close it, so a turn that skips the branch neither waits nor sets (a set outside it would
    // not be ordered after the previous turn's wait).
    // CHECK: scf.if
    // CHECK-DAG: npu.wait_flag v -> mte2, [[E2]]
    // CHECK-DAG: npu.wait_flag mte3 -> v, [[E3]]
    scf.if %more {
      %last = arith.cmpi eq, %j, %c0 : index
      // CHECK: scf.if
      scf.if %last {
        // CHECK: npu.dma %arg0
        // CHECK-NEXT: npu.set_flag mte2 -> v, [[S1:[0-9]]]
        // CHECK-NEXT: npu.wait_flag mte2 -> v, [[S1]]
        npu.dma %in[%off] -> %a1[%c0], 512 : !gm -> !ub
        npu.vector "vrelu.f32" %o1, %a1 repeat 8 : !ub, !ub
        npu.dma %o1[%c0] -> %out[%off], 512 : !ub -> !gm
      } else {
        // The branches are alternatives: they share event ids.
        // CHECK: } else {
        // CHECK-NEXT: npu.dma %arg0
        // CHECK-NEXT: npu.set_flag mte2 -> v, [[S1]]
        npu.dma %in[%off] -> %a1[%c0], 1024 : !gm -> !ub
        npu.vector "vrelu.f32" %o1, %a1 repeat 16 : !ub, !ub
        npu.dma %o1[%c0] -> %out[%off], 1024 : !ub -> !gm
      }
      // CHECK: }
      // CHECK-DAG: npu.set_flag v -> mte2, [[E2]]
      // CHECK-DAG: npu.set_flag mte3 -> v, [[E3]]
      // CHECK: }
    }
  }
  // CHECK-DAG: npu.wait_flag v -> mte2, [[E0]]
  // CHECK-DAG: npu.wait_flag mte3 -> v, [[E1]]
  // CHECK-DAG: npu.wait_flag v -> mte2, [[E2]]
  // CHECK-DAG: npu.wait_flag mte3 -> v, [[E3]]
  // CHECK: return
  return
}

// -----

func.func @already_synchronised() {
  // expected-error @+1 {{in a kernel given to fractal-npu-inject-sync, which places all sync ops itself}}
  npu.barrier all
  return
}

// -----

!gm = memref<4096xf32, #npu.space<gm>>
!ub = memref<1024xf32, #npu.space<ub>>

// Loops inside a loop: each carried flag is a chain through the whole kernel, primed once at its
// start and drained once at its end (a prime before every run of the inner loop could be set
// while the previous run's last set still waits). Chain ids count down from 7; the two inner
// loops are not nested in each other and share theirs (the second's first turn waits for the
// first's last set). Within-turn flags count up from 0 and share an id per guarded buffer.
// CHECK-LABEL: func.func @nested_chains
func.func @nested_chains(%in: !gm, %out: !gm, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = npu.alloc : !ub
  %o = npu.alloc : !ub
  // CHECK-DAG: npu.set_flag v -> mte2, 7
  // CHECK-DAG: npu.set_flag mte3 -> v, 7
  // CHECK-NOT: npu.set_flag
  // CHECK: scf.for
  scf.for %i = %c0 to %n step %c1 {
    // No flag of the outer loop's own: the inner loops' chains already order one run after the
    // other (each ends with a set the next waits on first).
    // CHECK-NOT: npu.wait_flag
    // CHECK: scf.for
    // CHECK-NEXT: npu.wait_flag v -> mte2, 7
    // CHECK-NEXT: npu.dma %arg0
    // CHECK-NEXT: npu.set_flag mte2 -> v, 0
    scf.for %j = %c0 to %n step %c1 {
      npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
      npu.vector "vrelu.f32" %o, %a repeat 16 : !ub, !ub
      npu.dma %o[%c0] -> %out[%c0], 1024 : !ub -> !gm
    }
    // CHECK: }
    // CHECK-NOT: npu.set_flag
    // CHECK-NEXT: scf.for
    // CHECK-NEXT: npu.wait_flag v -> mte2, 7
    // CHECK-NEXT: npu.dma %arg0
    // CHECK-NEXT: npu.set_flag mte2 -> v, 0
    scf.for %j = %c0 to %n step %c1 {
      npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
      npu.vector "vabs.f32" %o, %a repeat 16 : !ub, !ub
      npu.dma %o[%c0] -> %out[%c0], 1024 : !ub -> !gm
    }
  }
  // CHECK-DAG: npu.wait_flag v -> mte2, 7
  // CHECK-DAG: npu.wait_flag mte3 -> v, 7
  // CHECK: return
  return
}

// -----

!gm = memref<4096xf32, #npu.space<gm>>
!ub = memref<1024xf32, #npu.space<ub>>
!half = memref<512xf32, #npu.space<ub>>

// Two buffers that memory planning put on the same bytes (their lives do not overlap in program
// order) still conflict: the pipes run ahead of program order, so the second buffer's writer
// waits for the first buffer's reader.
// CHECK-LABEL: func.func @reused_bytes
func.func @reused_bytes(%in: !gm, %out: !gm) {
  %c0 = arith.constant 0 : index
  %a = npu.alloc {offset = 0 : i64} : !ub
  %b = npu.alloc {offset = 2048 : i64} : !half
  // CHECK: npu.dma %arg0
  // CHECK: npu.dma {{.*}} -> %arg1
  // CHECK-NEXT: npu.set_flag mte3 -> mte2, 0
  // CHECK-NEXT: npu.wait_flag mte3 -> mte2, 0
  // CHECK-NEXT: npu.dma %arg0
  npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
  npu.dma %a[%c0] -> %out[%c0], 1024 : !ub -> !gm
  npu.dma %in[%c0] -> %b[%c0], 512 : !gm -> !half
  return
}

// -----

!gm = memref<4096xf32, #npu.space<gm>>
!ub = memref<1024xf32, #npu.space<ub>>

// The flag after the outer loop guards what the flag inside it guards (v read %a, mte2
// overwrites it) but must not share its id: a last turn that skips the branch ends with the
// inner set, and the outer set would follow it with no v access between, possibly before mte2
// has waited on the first (a flag set twice).
// CHECK-LABEL: func.func @set_inside_the_producer
func.func @set_inside_the_producer(%in: !gm, %out: !gm, %n: index, %c: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = npu.alloc : !ub
  %o = npu.alloc : !ub
  // CHECK: scf.for
  scf.for %i = %c0 to %n step %c1 {
    // CHECK: scf.for
    // CHECK: }
    // CHECK-NEXT: npu.set_flag v -> mte2, 0
    // CHECK-NEXT: npu.wait_flag v -> mte2, 0
    // CHECK-NEXT: scf.if
    scf.for %j = %c0 to %n step %c1 {
      npu.vector "vrelu.f32" %o, %a repeat 16 : !ub, !ub
    }
    scf.if %c {
      npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
      scf.for %j = %c0 to %n step %c1 {
        npu.vector "vabs.f32" %o, %a repeat 16 : !ub, !ub
      }
    }
  }
  // CHECK: npu.set_flag v -> mte2, 1
  // CHECK-NEXT: npu.wait_flag v -> mte2, 1
  // CHECK-NEXT: npu.dma %arg0
  npu.dma %in[%c0] -> %a[%c0], 1024 : !gm -> !ub
  npu.dma %a[%c0] -> %out[%c0], 1024 : !ub -> !gm
  return
}
