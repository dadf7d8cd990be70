#!/usr/bin/env python3
"""Launches one softmax-family pattern of bench/compare.py a few times, for a profiler.

The tensors ([B, S, H, D] views of [B, H, S, D] ones), parameters and document ids are
compare.py's for the same row, so a profile (ncu, compute-sanitizer) sees the launch compare.py
times. The block map, if the pattern needs one, is built once before the launches. Prints the
mean time per launch over --runs launches (CUDA events), or with --bench compare.py's median
(triton's do_bench), without FlexAttention: a quick way to compare knobs.

    python3 bench/profile_fwd.py --pattern document --shape 4,16,4096,128 [--runs 5] [--bench]
    python3 bench/profile_fwd.py --pattern document --env ATTNC_SM90_BLOCK_N=-,128
        (a knob's values timed in turn in one process; each is set while its kernel compiles
        and while it runs, so a compile-time knob and one read at launch both work)
    ncu --clock-control none -k regex:'^attnc_document_bf16_d128$' -c 1 --set full \\
        python3 bench/profile_fwd.py --pattern document

Needs torch (compare.py imports FlexAttention) and libattnc.so (ATTNC_LIBRARY or build/lib).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import compare  # noqa: E402
from compare import attnc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pattern", default="document", help="a name of compare.patterns()")
    ap.add_argument("--shape", default="4,16,4096,128", help="B,H,S,D[,Hkv] (Hkv: GQA)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bench", action="store_true", help="time as compare.py does")
    ap.add_argument("--env", default="",
                    help="VAR=v1,v2,...: a compile-time knob; each value is compiled and timed "
                         "in this process, in turn, --rounds times (with --bench; '-' unsets)")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    B, H, S, D, *rest = (int(x) for x in a.shape.split(","))
    Hkv = rest[0] if rest else H
    spec_file, params = compare.patterns()[a.pattern][:2]
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, heads, S, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
               for heads in (H, Hkv, Hkv))
    out = torch.empty(B, S, H, D, device="cuda", dtype=torch.bfloat16)
    inputs = None
    if a.pattern == "document":
        docs_bs = compare.doc_ids(S, B)[1]
        inputs = {"doc_q": docs_bs, "doc_k": docs_bs}

    def bound():
        kern = attnc.compile(os.path.join(compare.EX, spec_file), dtype="bf16", head_dim=D,
                             params=params(S)).kernels[0]
        bmap = kern.build_block_map(q, k, v, inputs=inputs) if kern.needs_block_map else None
        launch = kern.bind(q, k, v, out, inputs=inputs, block_map=bmap)
        launch()
        return launch

    name = "%s B%d H%d%s S%d D%d" % (a.pattern, B, H, " Hkv%d" % Hkv if rest else "", S, D)
    if a.env:
        var, values = a.env.split("=", 1)

        def setenv(value):
            if value == "-":
                os.environ.pop(var, None)
            else:
                os.environ[var] = value

        # Set while compiling (a compile-time knob) and while timing (one read at launch).
        launches = {}
        for value in values.split(","):
            setenv(value)
            launches[value] = bound()
        for r in range(a.rounds):
            times = []
            for value, launch in launches.items():
                setenv(value)
                times.append("%s=%s: %.4f ms" % (var, value, compare.bench(launch)))
            print(name, " ".join(times), flush=True)
        os.environ.pop(var, None)
        return
    launch = bound()
    if a.bench:
        print("%s: %.3f ms (median)" % (name, compare.bench(launch)))
        return
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(a.runs):
        launch()
    end.record()
    torch.cuda.synchronize()
    print("%s: %.3f ms per launch" % (name, start.elapsed_time(end) / a.runs))


if __name__ == "__main__":
    main()
