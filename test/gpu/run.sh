#!/usr/bin/env bash
# On the GPU machine (no LLVM there): runs the prebuilt, self-contained binaries carried in
# $BUILD (default build/): the unit tests (GPU tests included) and `attnc check --gpu=require`
# for every example, then the standalone device-library test. Logs go to $OUT when set.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
OUT="${OUT:-/tmp/attnc-gpu}"
mkdir -p "$OUT"
export ATTNC_CACHE_DIR="$OUT/cache"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
status=0
"$BUILD/bin/attnc" devices || status=1
"$BUILD/bin/attnc-unittests" 2>&1 | tee "$OUT/unittests.log" | tail -3 || status=1
# Every example, ${JOBS:-8} at a time (the float64 reference runs on the CPU); each check keeps
# its own kernel cache.
export BUILD OUT
ls examples/*.attn | xargs -P "${JOBS:-8}" -I{} bash -c \
  'n=$(basename {} .attn); ATTNC_CACHE_DIR="$OUT/cache-$n" "$BUILD/bin/attnc" check {} --gpu=require > "$OUT/check-$n.log" 2>&1 || echo "$n" >> "$OUT/failed-specs"'
for log in "$OUT"/check-*.log; do
  echo "## $(basename "$log" .log): $(grep -E "passed" "$log")"
  grep -E "^FAIL" "$log" | head -5
done
if [ -s "$OUT/failed-specs" ]; then
  echo "failed: $(tr '\n' ' ' < "$OUT/failed-specs")"
  status=1
fi
if [ "${SANITIZE:-0}" = 1 ] && command -v compute-sanitizer > /dev/null; then
  for tool in memcheck racecheck; do
    for spec in examples/streaming_llm.attn examples/document.attn examples/sigmoid.attn; do
      compute-sanitizer --tool $tool --error-exitcode 1 "$BUILD/bin/attnc" check "$spec" \
        --gpu=require --dtypes=bf16 --head-dims=64 > "$OUT/sanitize-$tool-$(basename "$spec" .attn).log" 2>&1 || status=1
      echo "$tool $spec: $(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitize-$tool-$(basename "$spec" .attn).log" | tail -1)"
    done
  done
fi
if [ "${STANDALONE:-0}" = 1 ]; then
  bash test/gpu/standalone/run.sh > "$OUT/standalone.log" 2>&1 || status=1
  tail -25 "$OUT/standalone.log"
fi
echo "gpu run: status $status"
exit $status
