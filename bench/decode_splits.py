"""Sweeps the decode kernel's key split (ATTNC_DECODE_SPLITS) on decode shapes and prints the
bandwidth of each choice beside the default heuristic's, so that launchDecode's heuristic can be
checked against the best fixed split. --env VAR=a,b sweeps another launch-time variable instead
(ATTNC_DECODE_EARLY_START=0: the grids launched plainly). Usage (on the GPU machine):
  ATTNC_LIBRARY=build/lib/libattnc.so python3 bench/decode_splits.py [--env VAR=a,b] [--rounds N]"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import torch  # noqa: E402

import compare  # noqa: E402

SPLITS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 33, 48, 66, 96, 128]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", default="ATTNC_DECODE_SPLITS=" + ",".join(map(str, SPLITS)),
                    help="VAR=a,b,...: the variable swept (the default, unset, comes first)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="sweep each shape this many times (interleaved, for run-to-run spread)")
    args = ap.parse_args()
    var, values = args.env.split("=", 1)
    values = [v for v in values.split(",") if v]
    kern = compare.attnc.compile(os.path.join(compare.EX, "full.attn"), head_dim=128).kernels[0]
    for Bd, Hq, Hk, L in compare.DECODE_SHAPES:
        q = torch.randn(Bd, 1, Hq, 128, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(Bd, L, Hk, 128, device="cuda", dtype=torch.bfloat16)
        v = torch.randn_like(k)
        out = torch.empty_like(q)
        launch = kern.bind(q, k, v, out)
        kv_bytes = 2 * k.numel() * 2
        for _ in range(args.rounds):
            line = ["%s:%.0f" % ("default" if value is None else value, kv_bytes / ms / 1e6)
                    for value, ms in compare.bench_by_env(var, values, launch)]
            print("B%d Hq%d Hkv%d L%d GB/s by %s: %s" % (Bd, Hq, Hk, L, var, " ".join(line)),
                  flush=True)
        del q, k, v, out
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
