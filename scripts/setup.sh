#!/usr/bin/env bash
# Installs every build and test dependency of Fractal from Debian 12 packages.
# Idempotent: when everything is present it only runs one dpkg query (well under a second).
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake ninja-build ccache g++ pkg-config make file
  # compiler: MLIR/LLVM 19 (FileCheck and lit come with llvm-19-tools)
  libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools
  # simulator and RTL
  libsystemc-dev verilator
  # ONNX import and conformance data
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  # tests, benchmarks, configs, images, synthesised speech for the voice activity model
  libgtest-dev libbenchmark-dev libyaml-cpp-dev libstb-dev espeak-ng
  # lit runs on the system interpreter
  python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
