#!/usr/bin/env python3
"""Per-launch GPU times of a linear prefill, split by launch (gate passes, split passes, prefill).

A linear pattern's prefill may launch its kernel more than once (a gate per key dimension's gate
pass, a per-token gate's gate-log pass, a sequence split's two passes); do_bench in
bench/compare.py times them together. This
runs `pattern` of examples/gated_linear.attn (or --spec) a few times under torch.profiler and
prints the mean time of each launch, told apart by grid, so that the cost of each pass is seen.

    python3 bench/profile_linear.py [--pattern gla] [--shape 8,16,2048] [--head-dim 128] [--runs 20]
    python3 bench/profile_linear.py --spec examples/linear_features.attn --pattern based
        (a map of whole rows: feature pass, prefill, reduce pass)
    python3 bench/profile_linear.py --spec examples/lightning.attn --pattern lightning

Needs torch and libattnc.so (ATTNC_LIBRARY or build/lib).
"""
import argparse
import collections
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import torch  # noqa: E402

import attnc  # noqa: E402


def inputs_of(pattern, B, H, T, D):
    """The extra inputs gated_linear.attn's and linear_features.attn's patterns read, as
    bench/compare.py makes them."""
    if pattern == "lightning":  # slopes as bench/compare.py gives them
        return [torch.exp2(-8.0 * (torch.arange(H, device="cuda", dtype=torch.float32) + 1) / H)]
    if pattern == "hedgehog":
        return [torch.randn(H, D, 64, device="cuda", dtype=torch.float32) * D ** -0.5]
    if pattern == "gla":
        return [torch.randn(B, H, T, D, device="cuda", dtype=torch.float32)]
    if pattern in ("mamba2_ssd", "gla_scalar"):
        g = torch.nn.functional.logsigmoid(torch.randn(B, H, T, device="cuda")) / 16
        return [(-g).contiguous(), torch.ones(H, device="cuda")]
    return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default=os.path.join(ROOT, "examples", "gated_linear.attn"))
    ap.add_argument("--pattern", default="gla")
    ap.add_argument("--shape", default="8,16,2048", help="B,H,T")
    ap.add_argument("--head-dim", type=int, default=128,
                    help="D and Dv of the compile (a pattern's own head_dim wins)")
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    B, H, T = (int(x) for x in a.shape.split(","))
    kern = attnc.compile(a.spec, head_dim=a.head_dim)[a.pattern]
    D, Dv = kern.spec["head_dim"], kern.spec["head_dim_v"]
    torch.manual_seed(0)
    q, k = (torch.randn(B, T, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    v = torch.randn(B, T, H, Dv, device="cuda", dtype=torch.bfloat16)
    out = torch.empty_like(v)
    launch = kern.bind(q, k, v, out, inputs=inputs_of(a.pattern, B, H, T, D))
    for _ in range(3):
        launch()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(a.runs):
            launch()
        torch.cuda.synchronize()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    # Launches in the order a call makes them (a feature pass and a reduce pass share an entry
    # and a grid): the i-th of every call together.
    kernels = sorted((e for e in events if e.get("cat") == "kernel"), key=lambda e: e["ts"])
    per_call = max(1, len(kernels) // a.runs)
    times = collections.defaultdict(list)
    for i, e in enumerate(kernels):
        args = e.get("args", {})
        key = "#%d %s grid %s block %s smem %s" % (i % per_call, e["name"], args.get("grid"),
                                                   args.get("block"), args.get("shared memory"))
        times[key].append(e["dur"])
    total = 0.0
    print("%s B%d H%d T%d D%d, %d runs" % (a.pattern, B, H, T, D, a.runs))
    for key, durs in times.items():
        mean = sum(durs) / len(durs) / 1e3
        total += mean * len(durs) / a.runs
        print("  %8.3f ms x %d  %s" % (mean, len(durs) // a.runs, key))
    print("  %8.3f ms per call, %.1f ns per token" % (total, total * 1e6 / (B * T)))


if __name__ == "__main__":
    main()
