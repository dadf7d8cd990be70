"""Sweeps the linear prefill's sequence split (ATTNC_LINEAR_SPLITS) on compare.py's linear
shapes, for the per-head decay (lightning.attn) and the per-token gate (gated_linear.attn), and
prints the time of each choice beside launchForward's heuristic. Usage (on the GPU machine):
  ATTNC_LIBRARY=build/lib/libattnc.so python3 bench/linear_splits.py"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import torch  # noqa: E402

import compare  # noqa: E402

SPLITS = [1, 2, 3, 4, 6, 8, 16]


def main():
    D = 128
    lightning = compare.attnc.compile(os.path.join(compare.EX, "lightning.attn"),
                                      head_dim=D)["lightning"]
    gated = compare.attnc.compile(os.path.join(compare.EX, "gated_linear.attn"),
                                  head_dim=D)["mamba2_ssd"]
    for B, H, T in compare.LINEAR_SHAPES:
        q, k, v = (torch.randn(B, T, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        out = torch.empty_like(q)
        state = torch.empty(B, H, D, D, device="cuda", dtype=torch.float32)
        slope = torch.rand(H, device="cuda") * 0.1
        dt = torch.rand(B, H, T, device="cuda") * 0.1
        rate = torch.ones(H, device="cuda")
        for name, kern, inputs in (("lightning", lightning, [slope]),
                                   ("mamba2_ssd", gated, [dt, rate])):
            launch = kern.bind(q, k, v, out, inputs=inputs, final_state=state)
            line = ["%s:%.3f" % ("default" if splits is None else splits, ms)
                    for splits, ms in compare.bench_by_env("ATTNC_LINEAR_SPLITS", SPLITS, launch)]
            print("%s B%d H%d T%d ms by split: %s" % (name, B, H, T, " ".join(line)), flush=True)
        del q, k, v, out
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
