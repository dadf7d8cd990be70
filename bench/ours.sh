#!/usr/bin/env bash
# On the GPU machine: `attnc bench` (median of 20 CUDA-event-timed launches after 5 warm-ups)
# for the rows of docs/PERFORMANCE.md that the examples express, bf16 forward. Prints one block
# per row. This times attnc alone; the side-by-side ratios against FlexAttention and cuDNN in
# one process are bench/compare.py's job.
#   BUILD=build bash bench/ours.sh
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
A="$BUILD/bin/attnc"
TMP="${OUT:-/tmp}/attnc-bench"
mkdir -p "$TMP"
export ATTNC_CACHE_DIR="$TMP/cache"
# Document ids: 8 documents of S/8 positions in every batch row (int32 [B, S]).
python3 - "$TMP" <<'PY'
import sys, numpy as np
for b, s in ((4, 4096), (1, 16384)):
    ids = np.repeat(np.arange(8, dtype=np.int32), s // 8)[None, :].repeat(b, 0)
    np.save(f"{sys.argv[1]}/doc_{b}x{s}.npy", ids)
PY
run() { echo "## $*"; "$A" bench "$@" 2>/dev/null || echo "FAILED: $*"; }
S4="--batch 4 --heads 16 --seq 4096"
S16="--batch 1 --heads 16 --seq 16384"
DOC4="--input doc_q=$TMP/doc_4x4096.npy --input doc_k=$TMP/doc_4x4096.npy"
DOC16="--input doc_q=$TMP/doc_1x16384.npy --input doc_k=$TMP/doc_1x16384.npy"
for D in 128 64; do
  run examples/full.attn $S4 --head-dim $D
  run examples/causal.attn $S4 --head-dim $D
  run examples/softcap.attn $S4 --head-dim $D --param cap=30.0
done
run examples/alibi.attn $S4 --param n_heads=16
run examples/sliding_window.attn $S4 --param window=1024
run examples/prefix_lm.attn $S4 --param prefix=1024
run examples/document.attn $S4 $DOC4
run examples/streaming_llm.attn $S4 --param window=1024
run examples/full.attn $S16
run examples/causal.attn $S16
run examples/document.attn $S16 $DOC16
run examples/gqa.attn --pattern gqa_causal --batch 4 --seq 4096 --heads 8
