#!/usr/bin/env bash
# On the GPU machine: what each mechanism of the Hopper template buys. Times full, causal and
# softcap (D128, B4 H16 S4096, bf16) with `attnc bench`, switching mechanisms off through
# ATTNC_NVRTC_OPTIONS (fwd_sm90.cuh's macros):
#   ws        wgmma + TMA + warp specialisation, no overlap, no pingpong
#   overlap   + softmax of tile i overlapped with P V of tile i-1
#   pingpong  + the two consumer warpgroups alternating their GEMMs
#   exp2fma   + with a MUFU score modifier (softcap's tanh), the exponentials of every 2nd
#               (exp2fma3: 3rd) column tile on the FMA pipe (the default: every 2nd)
#   BUILD=build bash bench/steps.sh
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
export ATTNC_CACHE_DIR="${OUT:-/tmp}/attnc-steps-cache"
for step in "ws:-DATTNC_SM90_OVERLAP=0 -DATTNC_EXP2_EMULATION=0" \
    "overlap:-DATTNC_SM90_PINGPONG=0 -DATTNC_EXP2_EMULATION=0" "pingpong:-DATTNC_EXP2_EMULATION=0" \
    "exp2fma3:-DATTNC_EXP2_EMULATION=3" "exp2fma:"; do
  name="${step%%:*}"
  export ATTNC_NVRTC_OPTIONS="${step#*:}"
  for spec in full causal softcap; do
    extra=""
    [ "$spec" = softcap ] && extra="--param cap=30.0"
    # shellcheck disable=SC2086
    tf=$("$BUILD/bin/attnc" bench "examples/$spec.attn" --batch 4 --heads 16 --seq 4096 \
      --head-dim 128 $extra 2>/dev/null | grep -oE "TFLOP/s: [0-9.]+" | grep -oE "[0-9.]+")
    echo "step $name $spec D128 S4096: ${tf:-FAILED} TFLOP/s"
  done
done
