# A kernel with more live values than scalar registers (tests/lit/npu/many-args.test): 24 input
# arguments, each read inside one loop (so each is live through all of it), and one output.
# Turn j copies 16 floats of every input (from element 16 j) through UB to the output, input k's
# to element 768 block_idx + (24 j + k) 16. Writes many_args.mlir, in.bin and expected.bin.
import struct

K, TURNS, N = 24, 2, 16
gm = lambda n: f"memref<{n}xf32, #npu.space<gm>>"
ub = f"memref<{K * N}xf32, #npu.space<ub>>"
args = ", ".join([f"%in{k}: {gm(TURNS * N)}" for k in range(K)] + [f"%out: {gm(K * TURNS * N)}"])
lines = [f"func.func @many_args({args}) {{"]
lines += [f"  %c{c} = arith.constant {c} : index" for c in (0, 1, TURNS, N, K * N, K * TURNS * N)]
lines += [f"  %bi = npu.block_idx",
          f"  %base = arith.muli %bi, %c{K * TURNS * N} : index",
          f"  %buf = npu.alloc : {ub}",
          f"  scf.for %j = %c0 to %c{TURNS} step %c1 {{",
          f"    %from = arith.muli %j, %c{N} : index",
          f"    %row = arith.muli %j, %c{K * N} : index",
          f"    %first = arith.addi %base, %row : index"]
for k in range(K):
    lines += [f"    %slot{k} = arith.constant {k * N} : index",
              f"    npu.dma %in{k}[%from] -> %buf[%slot{k}], {N} : {gm(TURNS * N)} -> {ub}",
              f"    %to{k} = arith.addi %first, %slot{k} : index",
              f"    npu.dma %buf[%slot{k}] -> %out[%to{k}], {N} : {ub} -> {gm(K * TURNS * N)}"]
lines += ["  }", "  return", "}"]
open("many_args.mlir", "w").write("\n".join(lines) + "\n")

inputs = [[k * 100.0 + e for e in range(TURNS * N)] for k in range(K)]
open("in.bin", "wb").write(b"".join(struct.pack("<f", v) for row in inputs for v in row))
out = [inputs[k][j * N + e] for j in range(TURNS) for k in range(K) for e in range(N)]
open("expected.bin", "wb").write(b"".join(struct.pack("<f", v) for v in out))
