#!/usr/bin/env bash
# The README's demo: face detection with BlazeFace on the simulated edge NPU (the embedded
# default chip, Ascend 310-like), checked against ONNX Runtime. The model, ONNX Runtime and the
# image come from scripts/fetch-assets.sh (make demo runs it) in BUILD/assets.
set -euo pipefail
BUILD=${1:-build}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
F="$BUILD/bin/fractal"
A="$BUILD/assets"
OUT="$BUILD/demo"
rm -rf "$OUT" && mkdir -p "$OUT"
MODEL="$A/blazeface/ONNX/face_detection_front_128x128_barracuda.onnx"

echo "== Fractal demo: BlazeFace face detection on the simulated edge NPU =="
"$F" config show --target edge | grep -E "^description"
echo
echo "-- 1. astronaut.png -> 1x128x128x3 input tensor"
"$F" prep "$A/images/astronaut.png" --preset blazeface --size 128x128 -o "$OUT/face.npy"
echo "-- 2. compile the ONNX model for the edge chip (kernels, weights, memory plan -> face.fpk)"
"$F" compile "$MODEL" -o "$OUT/face.fpk" --dump-ir "$OUT/ir" | grep -E "^(target|tasks|kernels|memory)"
echo "-- 3. run it in timing mode, with an op-level profile"
"$F" run "$OUT/face.fpk" --input "input:0=$OUT/face.npy" --output-dir "$OUT/out" \
  --profile "$OUT/profile" --report "$OUT/run.json" | tail -1
echo "-- 4. decode the faces"
"$F" detect blazeface "$OUT/out" --size 128
echo "-- 5. the same model on ONNX Runtime (the reference), same input"
NODE_PATH="$A/ort/node_modules" node "$ROOT/scripts/ort-run.mjs" "$MODEL" "$OUT/ref" "input:0=$OUT/face.npy"
for o in "$OUT"/ref/*.npy; do
  printf '%s: ' "$(basename "$o")"
  "$F" compare "$OUT/out/$(basename "$o")" "$o"
done
"$F" detect blazeface "$OUT/ref" --size 128
echo "-- 6. every layer against ONNX Runtime (fractal verify --layers; the table in verify.txt)"
"$F" verify "$MODEL" --input "input:0=$OUT/face.npy" --layers --report "$OUT/verify.json" > "$OUT/verify.txt"
awk '/^(ok|DIFF|FIRST) / && $2 != "exact" && (low == "" || $2 < low) { low = $2; at = $6 }
     END { print "lowest cosine: " low " (" at ")" }' "$OUT/verify.txt"
tail -1 "$OUT/verify.txt"
echo
echo "-- the slowest tasks (profile/op_summary.csv, msprof columns):"
sort -t, -k6 -g -r "$OUT/profile/op_summary.csv" | awk "NR <= 5" | cut -d, -f1-7
echo
echo "Kept in $OUT/: face.fpk (fractal info), ir/ (IR of every phase, kernels' assembly),"
echo "profile/trace.json (open in ui.perfetto.dev), run.json (the run report), verify.txt/.json (every layer"
echo "against ONNX Runtime)."
