#!/usr/bin/env bash
# Builds and runs the standalone fwdSm80 test (needs an sm_90a GPU and nvcc).
#   bash test/gpu/standalone/run.sh            # build, check against float64, time
# The ptxas register/spill report goes to $LOG_DIR/ptxas.log ($OUT on the device machine).
set -euo pipefail
cd "$(dirname "$0")/../../.."
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
BIN=${BIN:-/tmp/attnc_fwd_sm80_test}
LOG_DIR=${LOG_DIR:-${OUT:-/tmp}}
mkdir -p "$LOG_DIR"
"$NVCC" -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a -Xptxas -v -I runtime/device \
  test/gpu/standalone/fwd_sm80_test.cu -o "$BIN" 2> "$LOG_DIR/ptxas.log" ||
  { cat "$LOG_DIR/ptxas.log"; exit 1; }
grep -E 'spill' "$LOG_DIR/ptxas.log" | grep -v ' 0 bytes spill stores, 0 bytes spill loads' || true
"$BIN" | tee "$LOG_DIR/fwd_sm80_test.txt"
# SANITIZE=1: also compute-sanitizer memcheck and racecheck on the quick subset.
if [[ "${SANITIZE:-0}" == 1 ]]; then
  for tool in memcheck racecheck; do
    echo "== compute-sanitizer --tool $tool"
    timeout "${SANITIZE_TIMEOUT:-45}" compute-sanitizer --tool "$tool" --print-limit 5 "$BIN" --quick 2>&1 |
      tail -6 || echo "($tool timed out or failed)"
  done
fi
