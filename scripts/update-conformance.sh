#!/bin/sh
# Regenerates docs/conformance.md and tests/conformance/expected_pass.txt from one run of the whole
# ONNX backend test suite (run after adding ops; losing a listed pass is a regression that ctest
# reports, so only run this when every previously listed test still passes).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
fractal=${FRACTAL:-$root/build/bin/fractal}
report=$(mktemp /tmp/conformance-XXXXXX.json)
"$fractal" conformance --suite all --target edge --markdown "$root/docs/conformance.md" --report "$report" >/dev/null
{
  echo "# ONNX backend tests that pass on the simulated NPU (fractal conformance --expected-pass)."
  echo "# Adding a line is free; a listed test that stops passing fails ctest (conformance)."
  echo "# Regenerate with scripts/update-conformance.sh."
  awk -F'"' '/"suite":/ { suite = $4 } /"name":/ { name = $4 }
             /"status":/ { if ($4 == "pass") print suite "/" name }' "$report"
} > "$root/tests/conformance/expected_pass.txt.tmp"
mv "$root/tests/conformance/expected_pass.txt.tmp" "$root/tests/conformance/expected_pass.txt"
rm -f "$report"
