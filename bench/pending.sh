#!/usr/bin/env bash
# On the GPU machine: the measurements that bench/RESULTS.md still lists as "not yet run on a
# GPU", in one call on prebuilt binaries (BUILD, default build/; see docs/DEVICE.md for carrying
# them). Part 1 checks the softmax-family examples against the float64 reference (and the work
# order with a forced group of 3, whose last group is partial) and times the knobs of those
# changes against their defaults in one process each (bench/profile_fwd.py --env); part 2 runs
# bench/compare.py's rows against FlexAttention and cuDNN, and the linear rows against fla
# (FLA: a folder holding the unpacked fla-core and einops wheels) at a fixed batch and at a fixed
# number of tokens.
#   BUILD=.device-carry/build [FLA=.device-carry/fla] [PART=1|2|all] [CHECKS=0] bash bench/pending.sh
set -u
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
OUT="${OUT:-/tmp/attnc-pending}"
mkdir -p "$OUT"
export ATTNC_LIBRARY="$BUILD/lib/libattnc.so"
A="$BUILD/bin/attnc"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__)"
P="python3 bench/profile_fwd.py --bench --rounds 2"
if [ "${PART:-all}" != 2 ] && [ "${CHECKS:-1}" != 0 ]; then
  S=$SECONDS
  ls examples/{causal,full,softcap,alibi,t5_bias,temperature,sigmoid,document,gqa,varlen}.attn \
    examples/{sliding_window,prefix_lm,streaming_llm,hybrid,duo_attention,sparse_transformer}.attn \
    examples/{chunked,manhattan_decay}.attn test/gpu/map_straddle.attn |
    xargs -P 16 -I{} bash -c 'n=$(basename {} .attn); ATTNC_CACHE_DIR=/tmp/attnc-pending-cache/$n \
      timeout 300 '"$A"' check {} --gpu=require > '"$OUT"'/check-$n.log 2>&1 || echo "FAILED $n"'
  for f in "$OUT"/check-*.log; do echo "$(basename "$f" .log): $(tail -1 "$f")"; done
  for n in causal gqa varlen; do
    echo "work group 3, $n: $(ATTNC_SM90_WORK_GROUP=3 ATTNC_CACHE_DIR=/tmp/attnc-pending-cache/$n \
      "$A" check examples/$n.attn --gpu=require --dtypes=bf16 2>&1 | tail -1)"
  done
  echo "checks: $((SECONDS - S)) s"
fi
if [ "${PART:-all}" != 2 ]; then
  # The grouped work order (ATTNC_SM90_WORK_GROUP=1: pair by pair, the order before).
  for a in "causal 4,16,4096,128" "causal 4,16,4096,64" "causal 4,32,4096,128,8" \
      "full 4,16,4096,128" "causal 4,16,4096,256" "document 4,16,4096,128" \
      "causal 1,16,16384,128"; do
    set -- $a
    $P --pattern "$1" --shape "$2" --env ATTNC_SM90_WORK_GROUP=1,- 2>&1 | tail -2
  done
  # Softcap's constants folded out of the score modifier (ATTNC_SCORE_SCALE_FOLD=0: kept in).
  for shape in 4,16,4096,128 1,16,16384,128; do
    $P --pattern softcap30 --shape $shape --env ATTNC_SCORE_SCALE_FOLD=0,- 2>&1 | tail -2
  done
fi
if [ "${PART:-all}" != 1 ]; then
  ROWS="B4 H16 S4096 D128,B1 H16 S16384 D128,B4 H16 S4096 D64,B4 H16 S4096 D256,B4 Hq32"
  python3 bench/compare.py --rows "$ROWS" --patterns full,causal,softcap30 2>&1 | grep -E '^\|'
  PYTHONPATH="python:${FLA:-}" python3 bench/compare.py --linear-only --linear-shapes \
    8,16,8192:8,16,16384:8,16,32768:4,16,16384:2,16,32768 2>&1 | grep -E '^linear|rror'
fi
