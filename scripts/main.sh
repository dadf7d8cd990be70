#!/usr/bin/env bash
# The main job: build, then for every example pattern print the generated CUDA, compile it with
# NVRTC for sm_90a, check the kernel's tile algorithm on the CPU against the float64 reference
# and, when a GPU is present, run it at ragged shapes against the same reference.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BIN="${ATTNC_BUILD_DIR:-build}/bin"
status=0
for spec in examples/*.attn; do
  echo
  echo "################ $spec"
  cat "$spec"
  echo "---------------- generated CUDA (bf16, head dim 128)"
  "$BIN/attnc" compile "$spec" --emit=cuda --dtype=bf16 --head-dim=128
  echo "---------------- check"
  "$BIN/attnc" check "$spec" --gpu=auto || status=1
done
exit $status
