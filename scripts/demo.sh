#!/usr/bin/env bash
# The README's demo. Until the compiler and runtime land, it shows the most real thing there is.
set -euo pipefail
BUILD=${1:-build}
F="$BUILD/bin/fractal"
echo "== Fractal demo (foundation stage: the chip configs; the ISA, simulator and compiler follow) =="
"$F" config show --target edge
"$F" config check cloud
