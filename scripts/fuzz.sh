#!/usr/bin/env bash
# Fuzzes the whole compile path (parse, verify, attn-pipeline, CUDA emission, the float64
# reference, the block-map soundness check) with libFuzzer for SECONDS (default 60), ASan and
# UBSan on, and fails on any crash, sanitizer report, unsound block map, hang (10 s per input)
# or memory blow-up.
#
#   bash scripts/fuzz.sh [SECONDS]
#
# Installs clang-22 and its sanitizer/libFuzzer runtimes (Debian 12, as root; skipping what is
# present), builds test/fuzz/attnc-fuzz into ${ATTNC_FUZZ_BUILD_DIR:-build-fuzz} (-DATTNC_FUZZ=ON,
# separate from the normal build) and runs it on a copy of test/fuzz/corpus. Crash reproducers
# go to build-fuzz/fuzz-artifacts/; replay one with build-fuzz/bin/attnc-fuzz FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${1:-60}"
BUILD="${ATTNC_FUZZ_BUILD_DIR:-build-fuzz}"
JOBS="${ATTNC_JOBS:-2}"
CXX_FUZZ=clang++-22
CC_FUZZ=clang-22

# clang-22 matches the installed LLVM/MLIR 22 and installs in seconds (libLLVM 22 and
# libclang-cpp22 are already there with llvm-22-dev); libclang-rt-22-dev has libFuzzer and the
# ASan/UBSan runtimes.
source scripts/apt.sh
apt_install_missing --no-install-recommends -- cmake ninja-build zlib1g-dev libzstd-dev \
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools clang-22 libclang-rt-22-dev
CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"

echo "== configuring and building attnc-fuzz in $BUILD ($CXX_FUZZ, ASan+UBSan+libFuzzer)"
start=$(date +%s)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNC_FUZZ=ON \
  -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_C_COMPILER="$CC_FUZZ" \
  -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir -DATTNC_CUDA_HOME="$CUDA_HOME" >/dev/null
ninja -C "$BUILD" -j"$JOBS" attnc-fuzz
echo "== built in $(( $(date +%s) - start )) s"

FUZZER="$BUILD/bin/attnc-fuzz"
CORPUS="$BUILD/fuzz-corpus"     # the seeds plus what earlier runs in this tree found
ARTIFACTS="$BUILD/fuzz-artifacts"
LOG="$BUILD/fuzz.log"
rm -rf "$ARTIFACTS"
mkdir -p "$CORPUS" "$ARTIFACTS"
# Symbolized stack traces (llvm-22 comes with llvm-22-dev).
[ -x /usr/lib/llvm-22/bin/llvm-symbolizer ] &&
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-22/bin/llvm-symbolizer
cp -n test/fuzz/corpus/* "$CORPUS"/

# Known reproducers (test/fuzz/crashes/, one comment each says what fails) must not crash any
# more: each is a bug to fix in attnc, not in the fuzzer. ATTNC_FUZZ_REPLAY=0 skips them.
if [ "${ATTNC_FUZZ_REPLAY:-1}" != 0 ] && compgen -G "test/fuzz/crashes/*" >/dev/null; then
  echo "== replaying test/fuzz/crashes/"
  failing=0
  for f in test/fuzz/crashes/*; do
    if ! "$FUZZER" -runs=1 -timeout=10 -rss_limit_mb=4096 "$f" >"$BUILD/replay.log" 2>&1; then
      failing=$((failing + 1))
      echo "FAIL  $f: $(grep -m1 -E 'runtime error|ERROR: |unsound block map' "$BUILD/replay.log" | cut -c1-200)"
    fi
  done
  if [ "$failing" -ne 0 ]; then
    echo "fuzz: $failing reproducer(s) in test/fuzz/crashes/ still fail (each one's comment" \
         "says where; replay with $FUZZER FILE)" >&2
    exit 1
  fi
fi

echo "== fuzzing for $SECONDS_TO_RUN s (log: $LOG)"
status=0
# libFuzzer stops at the first crash, sanitizer report, timeout or OOM and exits non-zero (no
# -fork mode, so nothing is ignored). `timeout` is only a backstop against a wedged process.
timeout --kill-after=30 $(( SECONDS_TO_RUN + 300 )) \
  "$FUZZER" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -dict=test/fuzz/attn.dict \
  -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" \
  "$CORPUS" >"$LOG" 2>&1 || status=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOG" | tail -1)
if [ "$status" -ne 0 ]; then
  grep -v '^  0x' "$LOG" | tail -80
  echo "fuzz: attnc-fuzz failed (exit $status); reproducer(s), to copy into test/fuzz/crashes/:" >&2
  ls -1 "$ARTIFACTS"/* >&2 || true
  exit 1
fi
echo "fuzz: attnc-fuzz ran ${runs:-?} inputs in $SECONDS_TO_RUN s (${speed:-?} exec/s), no crash;" \
     "corpus $(ls "$CORPUS" | wc -l) files"
