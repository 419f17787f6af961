#!/usr/bin/env bash
# The README's demo. The simulator, compiler and runtime are not built yet, so it shows the most real
# thing there is: the edge chip config, and a hand-written GEMM kernel assembled into a kernel binary
# and disassembled again, with its 128-bit encodings.
set -euo pipefail
BUILD=${1:-build}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
F="$BUILD/bin/fractal"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "== Fractal demo (stage: chip configs + ISA; the simulator that runs this kernel comes next) =="
echo
echo "-- The embedded default chip, 'edge' (Ascend 310-like):"
"$F" config show --target edge | grep -E "^(name|description)|^chip:|^  (cores|clock_mhz)|^# derived|^#   "
echo
echo "-- A 64x64x64 fp16 GEMM kernel (tests/sim/kernels/gemm_fp16.s), assembled:"
"$F" asm "$ROOT/tests/sim/kernels/gemm_fp16.s" -o "$OUT/gemm.bin"
echo "   $(stat -c %s "$OUT/gemm.bin") bytes in $OUT/gemm.bin"
echo
echo "-- ...and disassembled, with encodings:"
"$F" disasm --show-encoding "$OUT/gemm.bin"
