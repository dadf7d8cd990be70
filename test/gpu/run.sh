#!/usr/bin/env bash
# On the GPU machine (no LLVM there): runs the prebuilt, self-contained binaries carried in
# $BUILD (default build/): the unit tests (GPU tests included) and `attnc check --gpu=require`
# for every example (head dims 64 and 128, and 256); `attnc run --check`; the AOT example on its bundle; the Python package
# against PyTorch (test/gpu/python_api.py); optionally compute-sanitizer and the standalone
# device-library test. Logs go to $OUT when set.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
OUT="${OUT:-/tmp/attnc-gpu}"
mkdir -p "$OUT"
CACHE="${CACHE:-/tmp/attnc-gpu-cache}" # kernel caches: many files, kept out of $OUT
export ATTNC_CACHE_DIR="$CACHE/main"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
status=0
"$BUILD/bin/attnc" devices || status=1
"$BUILD/bin/attnc-unittests" 2>&1 | tee "$OUT/unittests.log" | tail -3 || status=1
# Every example and test/gpu's specs, ${JOBS:-8} at a time (the float64 reference runs on the
# CPU); each check keeps its own kernel cache.
export BUILD OUT CACHE
ls examples/*.attn test/gpu/*.attn | xargs -P "${JOBS:-8}" -I{} bash -c \
  'n=$(basename {} .attn); ATTNC_CACHE_DIR="$CACHE/$n" "$BUILD/bin/attnc" check {} --gpu=require > "$OUT/check-$n.log" 2>&1 || echo "$n" >> "$OUT/failed-specs"'
# Head dim 256 (the Hopper template's 80-key tiles; the linear template stops at 128 and skips).
ls examples/*.attn | xargs -P "${JOBS:-8}" -I{} bash -c \
  'n=$(basename {} .attn); ATTNC_CACHE_DIR="$CACHE/$n-d256" "$BUILD/bin/attnc" check {} --gpu=require --head-dims=256 > "$OUT/check-d256-$n.log" 2>&1 || echo "$n (D256)" >> "$OUT/failed-specs"'
for log in "$OUT"/check-*.log; do
  echo "## $(basename "$log" .log): $(grep -E "passed" "$log")"
  grep -E "^FAIL" "$log" | head -5
done
if [ -s "$OUT/failed-specs" ]; then
  echo "failed: $(tr '\n' ' ' < "$OUT/failed-specs")"
  status=1
fi
# attnc run: the runtime's AttentionKernel path on .npy tensors, checked against the reference.
python3 - "$OUT" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(1)
for name, shape in (("q", (2, 77, 4, 64)), ("k", (2, 131, 2, 64)), ("v", (2, 131, 2, 64))):
    np.save(f"{sys.argv[1]}/run-{name}.npy", rng.standard_normal(shape).astype(np.float32))
np.save(f"{sys.argv[1]}/run-doc_q.npy", np.sort(rng.integers(0, 3, (2, 77)), 1).astype(np.int32))
np.save(f"{sys.argv[1]}/run-doc_k.npy", np.sort(rng.integers(0, 3, (2, 131)), 1).astype(np.int32))
# A linear pattern with a gate per token, from a state: q, k, v [2, 150, 4, 64], state
# [2, 4, 64, 64], dt [2, 4, 150], rates [4].
for name, shape in (("lq", (2, 150, 4, 64)), ("lk", (2, 150, 4, 64)), ("lv", (2, 150, 4, 64)),
                    ("ls", (2, 4, 64, 64))):
    np.save(f"{sys.argv[1]}/run-{name}.npy", 0.3 * rng.standard_normal(shape).astype(np.float32))
np.save(f"{sys.argv[1]}/run-dt.npy", rng.uniform(0.0, 0.2, (2, 4, 150)).astype(np.float32))
np.save(f"{sys.argv[1]}/run-rate.npy", rng.uniform(0.5, 1.5, 4).astype(np.float32))
PY
R="--q $OUT/run-q.npy --k $OUT/run-k.npy --v $OUT/run-v.npy"
for args in "examples/causal.attn --lse $OUT/run-lse.npy" "examples/softcap.attn --dtype f16" \
    "examples/document.attn --input doc_q=$OUT/run-doc_q.npy --input doc_k=$OUT/run-doc_k.npy"; do
  # shellcheck disable=SC2086
  "$BUILD/bin/attnc" run $args $R -o "$OUT/run-out.npy" --check || status=1
done
"$BUILD/bin/attnc" run examples/gated_linear.attn --pattern mamba2_ssd --q "$OUT/run-lq.npy" \
  --k "$OUT/run-lk.npy" --v "$OUT/run-lv.npy" --input dt="$OUT/run-dt.npy" \
  --input rate="$OUT/run-rate.npy" --state-in "$OUT/run-ls.npy" --state-out "$OUT/run-lso.npy" \
  -o "$OUT/run-lo.npy" --check || status=1
# The AOT example runs its bundle (built here by attnc_add_kernels) with the runtime alone.
"$BUILD/bin/attnc-aot-example" "$BUILD/examples/aot/document_kernels" || status=1
# The Python package against PyTorch.
ATTNC_LIBRARY="$BUILD/lib/libattnc.so" python3 test/gpu/python_api.py > "$OUT/python_api.log" 2>&1 || status=1
grep -E "^FAIL|checks," "$OUT/python_api.log"
if [ "${SANITIZE:-0}" = 1 ] && command -v compute-sanitizer > /dev/null; then
  for tool in memcheck racecheck; do
    for spec in examples/streaming_llm.attn examples/document.attn examples/sigmoid.attn \
        examples/varlen.attn examples/lightning.attn examples/gated_linear.attn examples/hybrid.attn; do
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
