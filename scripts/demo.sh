#!/usr/bin/env bash
# The README's demo. The compiler and runtime are not built yet, so it shows the most real thing
# there is: a hand-written, double-buffered 1024x1024x1024 fp16 GEMM kernel assembled and run on the
# simulated edge chip (Ascend 310-like, the embedded default) across both AI cores, in timing mode.
set -euo pipefail
BUILD=${1:-build}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
F="$BUILD/bin/fractal"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "== Fractal demo: a 1024^3 fp16 GEMM on the simulated edge NPU =="
echo "   (the kernel is hand-written assembly: the compiler's code generation comes next)"
echo
"$F" config show --target edge | grep -E "^description|^#   peak"
echo
# Every element of A and B is 0x3c3c (1.0586 in fp16), so every element of C is
# 1024 x 1.0586^2 = 1147.5, which makes the result easy to check by eye.
head -c 2097152 /dev/zero | tr '\0' '\074' > "$OUT/a.bin"
cp "$OUT/a.bin" "$OUT/b.bin"
"$F" asm "$ROOT/tests/sim/kernels/gemm_tiled_fp16.s" -o "$OUT/gemm.bin"
"$F" sim "$OUT/gemm.bin" --target edge --blocks 2 \
  --gm-init "$OUT/a.bin@0x10000000" --gm-init "$OUT/b.bin@0x20000000" \
  --gm-dump "0x30000000:2097152=$OUT/c.bin" \
  --arg 0x10000000 --arg 0x20000000 --arg 0x30000000 \
  --report "$OUT/report.json" --trace "$OUT/trace.json"
echo
echo "-- first elements of C (fp16, expect 1147.5 up to rounding):"
od -A n -t x2 -N 8 "$OUT/c.bin"
echo
echo "-- from the run report (docs/simulator.md):"
grep -E '"(cycles|latency_us|macs|cube_utilization|dram_bytes|hit_rate)"' "$OUT/report.json" | head -7
echo
mkdir -p "$BUILD/demo"
cp "$OUT/report.json" "$OUT/trace.json" "$BUILD/demo/"
echo "Report and trace kept in $BUILD/demo/ (open trace.json in ui.perfetto.dev)."
echo
MODEL=/usr/share/libonnx-testdata/data/node/test_conv_with_autopad_same/model.onnx
echo "-- The compiler's first phases on an ONNX model (from Debian's ONNX test data):"
"$F" compile "$MODEL" --check-only
"$F" compile "$MODEL" --compile-to=placement
