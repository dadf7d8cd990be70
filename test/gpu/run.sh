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
for spec in examples/*.attn; do
  "$BUILD/bin/attnc" check "$spec" --gpu=require > "$OUT/check-$(basename "$spec" .attn).log" 2>&1 || status=1
  grep -E "^(FAIL|== )|passed" "$OUT/check-$(basename "$spec" .attn).log"
done
if [ "${STANDALONE:-0}" = 1 ]; then
  bash test/gpu/standalone/run.sh > "$OUT/standalone.log" 2>&1 || status=1
  tail -25 "$OUT/standalone.log"
fi
echo "gpu run: status $status"
exit $status
