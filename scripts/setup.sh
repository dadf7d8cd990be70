#!/usr/bin/env bash
# Installs what attnc needs to build and test (Debian 12, as root), skipping what is present,
# then configures and builds into ${ATTNC_BUILD_DIR:-build} with ninja -j2.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/apt.sh
apt_install_missing -- cmake ninja-build g++ python3 zlib1g-dev libzstd-dev libgtest-dev \
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools nlohmann-json3-dev
CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
if [ ! -f "$CUDA_HOME/include/nvrtc.h" ]; then
  echo "error: the CUDA toolkit headers are not in $CUDA_HOME (set CUDA_HOME)" >&2
  exit 1
fi

BUILD="${ATTNC_BUILD_DIR:-build}"
echo "== configuring and building in $BUILD"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir -DATTNC_CUDA_HOME="$CUDA_HOME" >/dev/null
ninja -C "$BUILD" -j"${ATTNC_JOBS:-2}"
