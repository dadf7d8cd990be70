"""Sweeps the linear prefill's sequence split (ATTNC_LINEAR_SPLITS) or, with --pieces, the
pieces its state pass cuts each segment into (ATTNC_LINEAR_PIECES) on compare.py's linear
shapes, for the per-head decay (lightning.attn) and the per-token gate (gated_linear.attn), and
prints the time of each choice beside launchForward's heuristic. Usage (on the GPU machine):
  ATTNC_LIBRARY=build/lib/libattnc.so python3 bench/linear_splits.py [--pieces]"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import torch  # noqa: E402

import compare  # noqa: E402

SPLITS = [1, 2, 3, 4, 6, 8, 16]
PIECES = [1, 2, 3, 4, 8]


def main():
    var, values, what, shapes = "ATTNC_LINEAR_SPLITS", SPLITS, "split", compare.LINEAR_SHAPES
    if "--pieces" in sys.argv[1:]:  # the shapes launchForward splits
        var, values, what = "ATTNC_LINEAR_PIECES", PIECES, "pieces"
        shapes = [s for s in shapes if s[0] * s[1] * 2 <= 132]
    D = 128
    lightning = compare.attnc.compile(os.path.join(compare.EX, "lightning.attn"),
                                      head_dim=D)["lightning"]
    program = compare.attnc.compile(os.path.join(compare.EX, "gated_linear.attn"), head_dim=D)
    gated, gla = program["mamba2_ssd"], program["gla"]
    for B, H, T in shapes:
        q, k, v = (torch.randn(B, T, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        out = torch.empty_like(q)
        state = torch.empty(B, H, D, D, device="cuda", dtype=torch.float32)
        slope = torch.rand(H, device="cuda") * 0.1
        dt = torch.rand(B, H, T, device="cuda") * 0.1
        rate = torch.ones(H, device="cuda")
        logits = torch.randn(B, H, T, D, device="cuda")
        for name, kern, inputs in (("lightning", lightning, [slope]),
                                   ("mamba2_ssd", gated, [dt, rate]), ("gla", gla, [logits])):
            launch = kern.bind(q, k, v, out, inputs=inputs, final_state=state)
            line = ["%s:%.3f" % ("default" if splits is None else splits, ms)
                    for splits, ms in compare.bench_by_env(var, values, launch)]
            print("%s B%d H%d T%d ms by %s: %s" % (name, B, H, T, what, " ".join(line)),
                  flush=True)
        del q, k, v, out, logits
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
