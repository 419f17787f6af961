#!/usr/bin/env bash
# Regenerates the generated sections of docs/ from the single sources of truth (config schema,
# instruction table). Tests fail when a generated section is out of date.
# Usage: scripts/gen-docs.sh [BUILD_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD=${1:-$ROOT/build}
F="$BUILD/bin/fractal"

# replace_section FILE GENERATED_TEXT_FILE: swaps the text between the BEGIN/END GENERATED markers.
replace_section() {
  local file=$1 gen=$2 tmp
  tmp=$(mktemp "$file.XXXXXX")
  awk -v gen="$gen" '
    /<!-- BEGIN GENERATED/ { print; while ((getline line < gen) > 0) print line; skip = 1; next }
    /<!-- END GENERATED/ { skip = 0 }
    !skip { print }' "$file" > "$tmp"
  mv "$tmp" "$file"
}

# regenerate FILE MARKER COMMAND...: replaces the section whose BEGIN marker names MARKER.
regenerate() {
  local file=$1 marker=$2; shift 2
  local gen
  gen=$(mktemp)
  "$@" > "$gen"
  grep -q "<!-- BEGIN GENERATED: $marker" "$file" || { echo "no '$marker' section in $file" >&2; exit 1; }
  replace_section "$file" "$gen"
  rm -f "$gen"
  echo "regenerated $marker in ${file#$ROOT/}"
}

regenerate "$ROOT/docs/config.md" "fractal config schema" "$F" config schema
regenerate "$ROOT/docs/isa.md" "fractal isa table" "$F" isa table

# The RTL's generated packages (committed: Verilator runs when CMake configures).
"$F" isa sv > "$ROOT/rtl/generated/fractal_isa_pkg.sv.tmp" && mv "$ROOT/rtl/generated/fractal_isa_pkg.sv.tmp" "$ROOT/rtl/generated/fractal_isa_pkg.sv"
"$F" config sv --target edge > "$ROOT/rtl/generated/fractal_chip_pkg.sv.tmp" && mv "$ROOT/rtl/generated/fractal_chip_pkg.sv.tmp" "$ROOT/rtl/generated/fractal_chip_pkg.sv"
echo "regenerated rtl/generated/*.sv"
