#!/usr/bin/env bash
# Builds attnc and runs every test: the lit suite check-attn (features nvrtc and, on a GPU
# machine, cuda) and the gtest unit tests, all through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD="${ATTNC_BUILD_DIR:-build}"
ctest --test-dir "$BUILD" --output-on-failure -j2
