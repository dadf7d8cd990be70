#!/usr/bin/env bash
# Builds attnc and runs every test: the lit suite check-attn (features nvrtc and, on a GPU
# machine, cuda) and the gtest unit tests, all through ctest; then, once they pass, fuzzes the
# compile path for 60 s (scripts/fuzz.sh: libFuzzer + ASan/UBSan in build-fuzz; fails on a crash).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD="${ATTNC_BUILD_DIR:-build}"
ctest --test-dir "$BUILD" --output-on-failure -j2 | tee "$BUILD/ctest.log"
bash scripts/fuzz.sh "${ATTNC_FUZZ_SECONDS:-60}"
# ctest's summary again, last, as the run's closing line.
grep -E '^[0-9]+% tests passed' "$BUILD/ctest.log" | tail -1 || true
