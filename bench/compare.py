#!/usr/bin/env python3
"""attnc against FlexAttention and cuDNN SDPA, in one process, on the same tensors.

For every row of the table in docs/PERFORMANCE.md (shared copy: ../shared/docs/PERFORMANCE.md)
this builds q, k, v once ([B, H, S, D] bf16, as the anchors script does), runs
  - attnc: the example spec of the pattern (examples/*.attn, with the row's params) through the
    Python package (python/attnc), on strided views of the same tensors (no copy);
  - FlexAttention: torch.compile(flex_attention) with the equivalent mask_mod / score_mod and a
    BlockMask built once (not timed, as a user reuses it);
  - cuDNN SDPA (and FA2 SDPA) where PyTorch has the pattern (full, causal);
checks attnc's output against FlexAttention's, times each with triton.testing.do_bench
(median; warmup 50 ms, rep 300 ms, the anchors' settings) and prints ms, effective TFLOP/s and
the ratios. Masks that read tensors (documents) are timed with a block map built once, like
Flex's BlockMask; the map's build time is printed beside. Then JIT times: cold compile of a new
pattern, disk-cache hit (a fresh process), memory-cache hit. Linear rows (linear_rows): the
chunked linear kernel against flash-linear-attention and an eager PyTorch chunked form, and its
decode step against fla's recurrent kernel and the copy bandwidth. Hybrid rows (hybrid_rows):
composites against the same layer from fla + Flex + torch: Lizard (GLA + a window with sinks,
mixed per head) and Based (Taylor-2 on its own 16-dim q and k + a window of 64, summed).

    python3 bench/compare.py [--rows NAME,...] [--patterns NAME,...] [--json OUT.json] [--quick]
                             [--linear-only]
                             [--decode-only] [--hybrid-only] [--jit-only]
                             [--linear-shapes B,H,T:B,H,T...] [--eager-max-tokens N]

Needs torch (with FlexAttention), triton and libattnc.so (ATTNC_LIBRARY or build/lib). The fla
columns need flash-linear-attention's kernels on PYTHONPATH: since 0.6.0 they are in the
fla-core wheel (which needs einops), not in the flash-linear-attention wheel itself; the GPU
machine has no index, so unpack both wheels here into a carried folder.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import torch  # noqa: E402
import triton.testing as tt  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.nn.attention.flex_attention import create_block_mask, flex_attention  # noqa: E402

import attnc  # noqa: E402

EX = os.path.join(ROOT, "examples")
DEV = "cuda"


def bench(fn):
    return tt.do_bench(fn, warmup=50, rep=300, return_mode="median")


def bench_by_env(var, values, fn):
    """[(value, ms)] of fn with the environment variable `var` unset (value None: the default
    heuristic) and then set to each of `values`; unset again afterwards."""
    times = []
    for value in [None] + list(values):
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = str(value)
        times.append((value, bench(fn)))
    os.environ.pop(var, None)
    return times


def tflops(flops, ms):
    return flops / (ms * 1e-3) / 1e12


# name -> (spec file, params(S), flex mask_mod(S, docs), flex score_mod(H), sdpa causal); each
# spec file holds one pattern
def patterns():
    W = 1024

    def causal(b, h, q, k):
        return q >= k

    return {
        "full": ("full.attn", lambda S: {}, None, None, False),
        "causal": ("causal.attn", lambda S: {}, lambda S, d: causal, None, True),
        "alibi": ("alibi.attn", lambda S: {"n_heads": 16}, lambda S, d: causal,
                  lambda H: (lambda s, b, h, q, k: s + (k - q) * torch.exp2(-8.0 * (h + 1) / H)),
                  None),
        "softcap30": ("softcap.attn", lambda S: {"cap": 30.0}, lambda S, d: causal,
                      lambda H: (lambda s, b, h, q, k: 30.0 * torch.tanh(s / 30.0)), None),
        "sliding1024": ("sliding_window.attn", lambda S: {"window": W},
                        lambda S, d: (lambda b, h, q, k: (q >= k) & (q - k < W)), None, None),
        "prefixlm": ("prefix_lm.attn", lambda S: {"prefix": S // 4},
                     lambda S, d: (lambda b, h, q, k: (k < S // 4) | (q >= k)), None, None),
        "document": ("document.attn", lambda S: {},
                     lambda S, d: (lambda b, h, q, k: (d[q] == d[k]) & (q >= k)), None, None),
        "sink4+win1024": ("streaming_llm.attn", lambda S: {"sinks": 4, "window": W},
                          lambda S, d: (lambda b, h, q, k: (q >= k) & ((q - k < W) | (k < 4))),
                          None, None),
    }


# (label, B, Hq, Hkv, S, D, dtype, pattern names)
ROWS = [
    ("B4 H16 S4096 D128", 4, 16, 16, 4096, 128, torch.bfloat16,
     ["full", "causal", "alibi", "softcap30", "sliding1024", "prefixlm", "document",
      "sink4+win1024"]),
    ("B1 H16 S16384 D128", 1, 16, 16, 16384, 128, torch.bfloat16,
     ["full", "causal", "softcap30", "document"]),
    ("B1 H16 S16384 D128 windows", 1, 16, 16, 16384, 128, torch.bfloat16,
     ["sliding1024", "sink4+win1024"]),
    ("B4 H16 S4096 D64", 4, 16, 16, 4096, 64, torch.bfloat16,
     ["full", "causal", "softcap30", "sliding1024", "prefixlm"]),
    ("B1 H16 S16384 D64", 1, 16, 16, 16384, 64, torch.bfloat16, ["full", "causal"]),
    ("B4 H16 S4096 D256", 4, 16, 16, 4096, 256, torch.bfloat16, ["full", "causal"]),
    ("B4 Hq32 Hkv8 S4096 D128 (GQA)", 4, 32, 8, 4096, 128, torch.bfloat16, ["causal"]),
    ("B4 H16 S4096 D128 fp16", 4, 16, 16, 4096, 128, torch.float16, ["causal"]),
]


def doc_ids(S, B):
    """8 documents: the anchors' construction (7 sorted random boundaries, seed 0)."""
    g = torch.Generator(device=DEV).manual_seed(0)
    docs = torch.zeros(S, dtype=torch.int32, device=DEV)
    for bd in torch.sort(torch.randint(1, S, (7,), device=DEV, generator=g)).values:
        docs[bd:] += 1
    return docs, docs.unsqueeze(0).expand(B, S).contiguous()


def run_row(label, B, Hq, Hkv, S, D, dtype, names, results):
    torch.manual_seed(0)
    q = torch.randn(B, Hq, S, D, device=DEV, dtype=dtype)
    k = torch.randn(B, Hkv, S, D, device=DEV, dtype=dtype)
    v = torch.randn(B, Hkv, S, D, device=DEV, dtype=dtype)
    gqa = Hq != Hkv
    full_flops = 4 * B * Hq * S * S * D
    docs, docs_bs = doc_ids(S, B)
    torch._dynamo.reset()
    flex = torch.compile(flex_attention, dynamic=False)
    specs = patterns()
    for name in names:
        spec_file, params, mask_fn, score_fn, sdpa_causal = specs[name]
        row = {"shape": label, "pattern": name}
        # FlexAttention.
        bm = None
        density = 1.0
        if mask_fn is not None:
            bm = create_block_mask(mask_fn(S, docs), None, None, S, S, device=DEV)
            density = 1.0 - bm.sparsity() / 100.0
        score = score_fn(Hq) if score_fn else None
        row["density"] = density
        flops = full_flops * density
        ref = None
        try:
            t0 = time.time()
            ref = flex(q, k, v, score_mod=score, block_mask=bm, enable_gqa=gqa)
            torch.cuda.synchronize()
            row["flex_first_call_s"] = time.time() - t0
            row["flex_ms"] = bench(lambda: flex(q, k, v, score_mod=score, block_mask=bm,
                                                enable_gqa=gqa))
        except Exception as e:  # report, keep going
            row["flex_error"] = str(e)[:120]
        # cuDNN and FA2 SDPA where PyTorch has the pattern.
        if sdpa_causal is not None:
            for backend, key in ((SDPBackend.CUDNN_ATTENTION, "cudnn"),
                                 (SDPBackend.FLASH_ATTENTION, "fa2")):
                def f(backend=backend):
                    with sdpa_kernel(backend):
                        return torch.nn.functional.scaled_dot_product_attention(
                            q, k, v, is_causal=sdpa_causal, enable_gqa=gqa)
                try:
                    f()
                    row[key + "_ms"] = bench(f)
                except Exception as e:
                    row[key + "_error"] = str(e)[:120]
        # attnc on [B, S, H, D] views of the same tensors.
        try:
            prog = attnc.compile(os.path.join(EX, spec_file), dtype="bf16" if dtype ==
                                 torch.bfloat16 else "f16", head_dim=D, params=params(S))
            kern = prog.kernels[0]
            qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            out = torch.empty(B, S, Hq, D, device=DEV, dtype=dtype)
            inputs = {"doc_q": docs_bs, "doc_k": docs_bs} if name == "document" else None
            bmap = None
            if kern.needs_block_map:
                bmap = kern.build_block_map(qt, kt, vt, inputs=inputs)
                row["attnc_map_ms"] = bench(lambda: kern.build_block_map(qt, kt, vt,
                                                                         inputs=inputs))
            launch = kern.bind(qt, kt, vt, out, inputs=inputs, block_map=bmap)
            launch()
            torch.cuda.synchronize()
            if ref is not None:
                mine = out.transpose(1, 2).float()
                row["err_vs_flex"] = ((mine - ref.float()).norm() / ref.float().norm()).item()
            row["attnc_ms"] = bench(launch)
        except attnc.AttncError as e:
            row["attnc_error"] = str(e).splitlines()[0][:160]
        for key in ("flex", "cudnn", "fa2", "attnc"):
            if key + "_ms" in row:
                row[key + "_tflops"] = tflops(flops, row[key + "_ms"])
        if "attnc_ms" in row:
            for key in ("flex", "cudnn", "fa2"):
                if key + "_ms" in row:
                    row["ratio_vs_" + key] = row[key + "_ms"] / row["attnc_ms"]
        results.append(row)
        print(json.dumps(row), flush=True)
    del q, k, v
    torch.cuda.empty_cache()


# Decode: (B, Hq, Hkv, KV length); the first is PERFORMANCE.md's target row.
DECODE_SHAPES = [(16, 32, 8, 8192), (1, 32, 8, 32768), (64, 32, 8, 2048), (8, 32, 32, 8192)]


def decode_rows(results):
    for shape in DECODE_SHAPES:
        decode_row(results, *shape)
        torch.cuda.empty_cache()


def decode_row(results, Bd, Hq, Hk, L, D=128):
    """One query per sequence over a KV cache (memory-bound): attnc's split-KV decode kernel
    against SDPA's and FlexAttention's, and the copy bandwidth."""
    q = torch.randn(Bd, Hq, 1, D, device=DEV, dtype=torch.bfloat16)
    k = torch.randn(Bd, Hk, L, D, device=DEV, dtype=torch.bfloat16)
    v = torch.randn_like(k)
    kv_bytes = 2 * Bd * Hk * L * D * 2
    row = {"shape": "decode B%d Hq%d Hkv%d L%d D%d" % (Bd, Hq, Hk, L, D), "pattern": "full",
           "kv_bytes": kv_bytes}
    row["sdpa_ms"] = bench(lambda: torch.nn.functional.scaled_dot_product_attention(
        q, k, v, enable_gqa=Hq != Hk))
    torch._dynamo.reset()
    flex = torch.compile(flex_attention, dynamic=False)
    ref = flex(q, k, v, enable_gqa=Hq != Hk)
    row["flex_ms"] = bench(lambda: flex(q, k, v, enable_gqa=Hq != Hk))
    kern = attnc.compile(os.path.join(EX, "full.attn"), head_dim=D).kernels[0]
    out = torch.empty(Bd, 1, Hq, D, device=DEV, dtype=torch.bfloat16)
    launch = kern.bind(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), out)
    launch()
    torch.cuda.synchronize()
    row["err_vs_flex"] = ((out.transpose(1, 2).float() - ref.float()).norm()
                          / ref.float().norm()).item()
    row["attnc_ms"] = bench(launch)
    x = torch.empty(kv_bytes // 2, dtype=torch.uint8, device=DEV)
    y = torch.empty_like(x)
    row["copy_ms"] = bench(lambda: y.copy_(x))
    for key in ("sdpa", "flex", "attnc"):
        row[key + "_GBps"] = kv_bytes / row[key + "_ms"] / 1e6
    row["copy_GBps"] = 2 * x.numel() / row["copy_ms"] / 1e6
    row["ratio_vs_sdpa"] = row["sdpa_ms"] / row["attnc_ms"]
    row["ratio_vs_flex"] = row["flex_ms"] / row["attnc_ms"]
    results.append(row)
    print(json.dumps(row), flush=True)


# Linear attention (examples/lightning.attn): RetNet / Lightning constant decay per head.
LINEAR_SHAPES = [(8, 16, 2048), (8, 16, 4096), (8, 16, 8192), (4, 16, 16384), (2, 16, 32768)]
EAGER_MAX_TOKENS = 65536  # the eager chunked form is timed up to this many tokens a call


def torch_chunked(q, k, v, log_gate, scale, chunk=64):
    """The chunked form in eager PyTorch ([B, T, H, D] tensors, fp32 state, bf16 matmuls
    like the kernels'), with log_gate [B, T, H] the natural log of each token's decay and G_i
    its sum over the chunk's rows up to i: per chunk O = scale (Lambda Q S + (Q K^T . M) V),
    S = e^G_(n-1) S + (Gamma K)^T V, Lambda = diag(e^G_i), M_ij = e^(G_i - G_j) (j <= i),
    Gamma = diag(e^(G_(n-1) - G_j)). A gate per key dimension (log_gate [B, T, H, D]) has G per
    d: Lambda and Gamma scale q and k elementwise, row d of S decays by e^G_(n-1)d, and the
    intra-chunk weights are sum_d q_id k_jd e^(G_id - G_jd) (an [n, n, D] tensor per head)."""
    if log_gate.dim() == 4:
        return torch_chunked_per_dim(q, k, v, log_gate, scale, chunk)
    B, T, H, D = q.shape
    Dv = v.shape[-1]
    state = torch.zeros(B, H, D, Dv, device=q.device, dtype=torch.float32)
    out = torch.empty(B, T, H, Dv, device=q.device, dtype=q.dtype)
    pos = torch.arange(chunk, device=q.device)
    for c0 in range(0, T, chunk):
        n = min(chunk, T - c0)
        qc, kc, vc = (t[:, c0:c0 + n].transpose(1, 2) for t in (q, k, v))
        G = log_gate[:, c0:c0 + n].float().cumsum(1).transpose(1, 2).unsqueeze(-1)  # [B,H,n,1]
        diff = G - G.transpose(-1, -2)
        mask = torch.where(pos[:n].view(-1, 1) >= pos[:n].view(1, -1),
                           torch.exp(torch.clamp(diff, max=0.0)), 0.0)
        inter = (qc.float() * torch.exp(G)) @ state
        intra = ((qc @ kc.transpose(-1, -2)).float() * mask).to(q.dtype) @ vc
        out[:, c0:c0 + n] = (scale * (inter + intra.float())).to(q.dtype).transpose(1, 2)
        last = G[:, :, -1:]
        kdec = kc.float() * torch.exp(last - G)
        state = torch.exp(last) * state + kdec.transpose(-1, -2) @ vc.float()
    return out, state


def torch_chunked_per_dim(q, k, v, log_gate, scale, chunk):
    B, T, H, D = q.shape
    state = torch.zeros(B, H, D, v.shape[-1], device=q.device, dtype=torch.float32)
    out = torch.empty(B, T, H, v.shape[-1], device=q.device, dtype=q.dtype)
    pos = torch.arange(chunk, device=q.device)
    for c0 in range(0, T, chunk):
        n = min(chunk, T - c0)
        qc, kc, vc = (t[:, c0:c0 + n].transpose(1, 2) for t in (q, k, v))
        G = log_gate[:, c0:c0 + n].float().cumsum(1).transpose(1, 2)  # [B, H, n, D]
        causal = (pos[:n].view(-1, 1) >= pos[:n].view(1, -1)).view(1, 1, n, n, 1)
        w = torch.where(causal, torch.exp(torch.clamp(G.unsqueeze(3) - G.unsqueeze(2), max=0.0)),
                        0.0)
        A = torch.einsum("bhid,bhjd,bhijd->bhij", qc.float(), kc.float(), w)
        inter = (qc.float() * torch.exp(G)) @ state
        intra = A.to(q.dtype) @ vc
        out[:, c0:c0 + n] = (scale * (inter + intra.float())).to(q.dtype).transpose(1, 2)
        last = G[:, :, -1:]
        kdec = kc.float() * torch.exp(last - G)
        state = torch.exp(last).transpose(-1, -2) * state + kdec.transpose(-1, -2) @ vc.float()
    return out, state


def linear_prefill_row(results, kern, pattern, B, H, T, D, inputs, log_gate, scale, fla_gate,
                       fla_op):
    """One prefill row: attnc's kernel `kern` (its inputs `inputs`) against the eager chunked
    form and fla's `fla_op` (chunk_simple_gla with keyword fla_gate g_gamma [H] or g [B, T, H];
    chunk_gla with g [B, T, H, D]) on the same tensors, with log_gate the decays both compute."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, T, H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
    row = {"shape": "linear B%d H%d T%d D%d" % (B, H, T, D), "pattern": pattern, "tokens": B * T}
    out = torch.empty_like(q)
    state = torch.empty(B, H, D, D, device=DEV, dtype=torch.float32)
    launch = kern.bind(q, k, v, out, inputs=inputs, final_state=state)
    launch()
    torch.cuda.synchronize()
    row["attnc_ms"] = bench(launch)
    ref, ref_state = torch_chunked(q, k, v, log_gate, scale)
    row["err_vs_torch"] = ((out.float() - ref.float()).norm() / ref.float().norm()).item()
    row["state_err_vs_torch"] = ((state - ref_state).norm() / ref_state.norm()).item()
    if B * T <= EAGER_MAX_TOKENS:
        row["torch_ms"] = bench(lambda: torch_chunked(q, k, v, log_gate, scale))
        row["ratio_vs_torch"] = row["torch_ms"] / row["attnc_ms"]
    if fla_op is not None:
        fla = lambda: fla_op(q, k, v, scale=scale,  # noqa: E731
                             output_final_state=True, **fla_gate)
        o_fla, s_fla = fla()
        row["err_vs_fla"] = ((out.float() - o_fla.float()).norm() / o_fla.float().norm()).item()
        row["fla_ms"] = bench(fla)
        row["ratio_vs_fla"] = row["fla_ms"] / row["attnc_ms"]
    row["attnc_ns_per_token"] = row["attnc_ms"] * 1e6 / (B * T)
    results.append(row)
    print(json.dumps(row), flush=True)


def linear_rows(results, shapes=None):
    """Linear attention with a per-head decay (lightning.attn), with a per-token gate
    (gated_linear.attn, Mamba-2's SSD form) and with a gate per token and key dimension
    (gated_linear.attn, GLA): attnc's chunked kernel against flash-linear-attention's
    chunk_simple_gla (g_gamma, g) or chunk_gla (g) and an eager PyTorch chunked form, on the same
    [B, T, H, D] tensors, as T grows (time per token should stay flat); then one decode step
    against fla's fused_recurrent_simple_gla."""
    try:
        from fla.ops.simple_gla import chunk_simple_gla, fused_recurrent_simple_gla
        from fla.ops.gla import chunk_gla
    except ImportError as e:
        print("flash-linear-attention not importable (%s): fla columns left out" % e, flush=True)
        chunk_simple_gla = fused_recurrent_simple_gla = chunk_gla = None
    D = 128
    kern = attnc.compile(os.path.join(EX, "lightning.attn"), head_dim=D)["lightning"]
    program = attnc.compile(os.path.join(EX, "gated_linear.attn"), head_dim=D)
    gated, gla = program["mamba2_ssd"], program["gla"]
    for B, H, T in shapes or LINEAR_SHAPES:
        slope = torch.exp2(-8.0 * (torch.arange(H, device=DEV, dtype=torch.float32) + 1) / H)
        log_gamma = -slope  # gamma_h = exp(-slope_h), as lightning.attn writes it
        linear_prefill_row(results, kern, "lightning", B, H, T, D, [slope],
                           log_gamma.view(1, 1, H).expand(B, T, H), D ** -0.5,
                           {"g_gamma": log_gamma}, chunk_simple_gla)
        # GLA-style gates, log sigmoid(x) / 16 per token and head: dt = -g with unit rates.
        torch.manual_seed(1)
        g = torch.nn.functional.logsigmoid(
            torch.randn(B, T, H, device=DEV, dtype=torch.float32)) / 16
        dt = (-g).permute(0, 2, 1).contiguous()  # [B, H, T], as gated_linear.attn reads it
        rate = torch.ones(H, device=DEV, dtype=torch.float32)
        linear_prefill_row(results, gated, "mamba2_ssd", B, H, T, D, [dt, rate], g, 1.0,
                           {"g": g}, chunk_simple_gla)
        # GLA: log sigmoid(x) / 16 per token, head and key dimension; attnc reads the logits x
        # ([B, H, T, D]) and computes the gate itself, fla takes the log gates.
        x = torch.randn(B, T, H, D, device=DEV, dtype=torch.float32)
        g = torch.nn.functional.logsigmoid(x) / 16
        logits = x.permute(0, 2, 1, 3).contiguous()
        del x
        linear_prefill_row(results, gla, "gla", B, H, T, D, [logits], g, 1.0, {"g": g},
                           chunk_gla)
        del g, logits
    # Decode: one token per sequence, the state read and written once (in place for attnc).
    B, H = 64, 16
    q, k, v = (torch.randn(B, 1, H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
    slope = torch.exp2(-8.0 * (torch.arange(H, device=DEV, dtype=torch.float32) + 1) / H)
    s0 = torch.randn(B, H, D, D, device=DEV, dtype=torch.float32) * 0.1
    state = s0.clone()
    out = torch.empty_like(q)
    launch = kern.bind(q, k, v, out, inputs=[slope], initial_state=state, final_state=state)
    state_bytes = 2 * s0.numel() * 4
    row = {"shape": "linear decode B%d H%d D%d" % (B, H, D), "pattern": "lightning",
           "state_bytes": state_bytes}
    row["attnc_ms"] = bench(launch)
    x = torch.empty(s0.numel() * 4, dtype=torch.uint8, device=DEV)
    y = torch.empty_like(x)
    row["copy_ms"] = bench(lambda: y.copy_(x))
    row["attnc_GBps"] = state_bytes / row["attnc_ms"] / 1e6
    row["copy_GBps"] = 2 * x.numel() / row["copy_ms"] / 1e6
    if fused_recurrent_simple_gla is not None:
        state.copy_(s0)
        launch()
        o_fla, s_fla = fused_recurrent_simple_gla(q, k, v, g_gamma=-slope, scale=D ** -0.5,
                                                  initial_state=s0, output_final_state=True)
        row["err_vs_fla"] = ((out.float() - o_fla.float()).norm() / o_fla.float().norm()).item()
        row["state_err_vs_fla"] = ((state - s_fla.float()).norm() / s_fla.float().norm()).item()
        row["fla_ms"] = bench(lambda: fused_recurrent_simple_gla(
            q, k, v, g_gamma=-slope, scale=D ** -0.5, initial_state=s0, output_final_state=True))
        row["fla_GBps"] = state_bytes / row["fla_ms"] / 1e6
        row["ratio_vs_fla"] = row["fla_ms"] / row["attnc_ms"]
    results.append(row)
    print(json.dumps(row), flush=True)


def feature_map_rows(results):
    """Maps of whole rows (examples/linear_features.attn): Based's Taylor-2 map on q, k of 16
    dims (Dv 64, normalised) against fla's parallel_based and fused_chunk_based, and Hedgehog's
    learned map (D 64, 2 x 64 features) against the same map in PyTorch followed by fla's
    chunk_linear_attn (normalize=True), on the same tensors."""
    try:
        from fla.ops.based import fused_chunk_based, parallel_based
        from fla.ops.linear_attn import chunk_linear_attn
    except ImportError as e:
        print("flash-linear-attention not importable (%s): feature-map rows left out" % e,
              flush=True)
        return
    program = attnc.compile(os.path.join(EX, "linear_features.attn"))
    based, hedgehog = program["based"], program["hedgehog"]
    for B, H, T in LINEAR_SHAPES[:3]:
        torch.manual_seed(0)
        q, k = (torch.randn(B, T, H, 16, device=DEV, dtype=torch.bfloat16) for _ in range(2))
        v = torch.randn(B, T, H, 64, device=DEV, dtype=torch.bfloat16)
        out = torch.empty_like(v)
        launch = based.bind(q, k, v, out)
        launch()
        torch.cuda.synchronize()
        row = {"shape": "linear B%d H%d T%d d16 Dv64" % (B, H, T), "pattern": "based (taylor2)",
               "tokens": B * T, "attnc_ms": bench(launch)}
        o_par = parallel_based(q, k, v, use_norm=True)
        row["err_vs_fla"] = ((out.float() - o_par.float()).norm() / o_par.float().norm()).item()
        row["fla_parallel_ms"] = bench(lambda: parallel_based(q, k, v, use_norm=True))
        row["fla_chunk_ms"] = bench(lambda: fused_chunk_based(q, k, v, use_norm=True))
        row["fla_ms"] = min(row["fla_parallel_ms"], row["fla_chunk_ms"])
        row["ratio_vs_fla"] = row["fla_ms"] / row["attnc_ms"]
        row["attnc_ns_per_token"] = row["attnc_ms"] * 1e6 / (B * T)
        results.append(row)
        print(json.dumps(row), flush=True)
        del q, k, v, out, o_par
        # Hedgehog: phi(x) = [softmax(x W_h), softmax(-x W_h)], W [H, 64, 64].
        D, M = 64, 64
        q, k, v = (torch.randn(B, T, H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
        w = torch.randn(H, D, M, device=DEV, dtype=torch.float32) * D ** -0.5
        out = torch.empty_like(v)
        launch = hedgehog.bind(q, k, v, out, inputs=[w])
        launch()
        torch.cuda.synchronize()

        def torch_then_fla():
            def phi(x):
                y = torch.einsum("bthd,hdm->bthm", x.float(), w)
                return torch.cat([y.softmax(-1), (-y).softmax(-1)], -1).to(x.dtype)
            return chunk_linear_attn(phi(q), phi(k), v, normalize=True)[0]
        o_fla = torch_then_fla()
        row = {"shape": "linear B%d H%d T%d D64 F128" % (B, H, T), "pattern": "hedgehog",
               "tokens": B * T, "attnc_ms": bench(launch)}
        row["err_vs_fla"] = ((out.float() - o_fla.float()).norm() / o_fla.float().norm()).item()
        row["fla_ms"] = bench(torch_then_fla)
        row["ratio_vs_fla"] = row["fla_ms"] / row["attnc_ms"]
        row["attnc_ns_per_token"] = row["attnc_ms"] * 1e6 / (B * T)
        results.append(row)
        print(json.dumps(row), flush=True)
        del q, k, v, out, o_fla


JIT_CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import attnc
attnc.device_info()  # CUDA driver and context first: a process pays them once, not per kernel
t0 = time.perf_counter()
k = attnc.compile(sys.argv[2]).kernels[0].load()
t1 = time.perf_counter()
print((t1 - t0) * 1e3, attnc.cache_stats()["disk_hits"])
"""


def jit_times(results):
    """Cold compile of a pattern never seen (empty disk cache), then a disk-cache hit in a
    fresh process, then memory-cache hits in this process; compile (spec text to CUDA) + NVRTC
    or cache + module load each time, after the process has its CUDA context."""
    cache = tempfile.mkdtemp(prefix="attnc-jit-")
    os.environ["ATTNC_CACHE_DIR"] = cache
    # The process-wide kernel cache was configured at the first compile above: run the cold
    # and disk measurements in children that see only this cache directory.
    spec = "attention jit_probe_%d { mask k <= q && q - k < %d }" % (os.getpid(), 777)
    env = dict(os.environ, ATTNC_CACHE_DIR=cache)
    child = [sys.executable, "-c", JIT_CHILD, os.path.join(ROOT, "python"), spec]
    cold = subprocess.run(child, env=env, capture_output=True, text=True, check=True).stdout
    disk = subprocess.run(child, env=env, capture_output=True, text=True, check=True).stdout
    cold_ms, disk_ms, disk_hits = float(cold.split()[0]), float(disk.split()[0]), int(disk.split()[1])
    # Memory: this process compiles and loads once, then repeats.
    attnc.compile(spec).kernels[0].load()
    reps = 1000
    t0 = time.perf_counter()
    for _ in range(reps):
        attnc.compile(spec).kernels[0].load()
    mem_us = (time.perf_counter() - t0) / reps * 1e6
    row = {"shape": "JIT", "pattern": "new sliding-window spec", "cold_ms": cold_ms,
           "disk_hit_ms": disk_ms, "disk_hits_in_child": disk_hits,
           "memory_hit_us_python": mem_us}
    results.append(row)
    print(json.dumps(row), flush=True)


def fmt(x, spec=".0f"):
    return format(x, spec) if isinstance(x, (int, float)) and not math.isnan(x) else "–"


def table(results):
    lines = ["| shape | pattern | attnc ms | attnc TFLOP/s | Flex TFLOP/s | cuDNN TFLOP/s | "
             "× Flex | × cuDNN | err vs Flex |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r["shape"] in ("JIT",) or r["shape"].startswith(("decode", "linear")):
            continue
        note = ""
        if "attnc_error" in r:
            note = " (attnc: %s)" % r["attnc_error"]
        if "attnc_map_ms" in r:
            note += " (+%.3f ms map build, once per shape)" % r["attnc_map_ms"]
        lines.append("| %s | %s%s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["shape"], r["pattern"], note, fmt(r.get("attnc_ms"), ".3f"),
            fmt(r.get("attnc_tflops")), fmt(r.get("flex_tflops")), fmt(r.get("cudnn_tflops")),
            fmt(r.get("ratio_vs_flex"), ".2f"), fmt(r.get("ratio_vs_cudnn"), ".2f"),
            fmt(r.get("err_vs_flex"), ".1e")))
    for r in results:
        if r["shape"].startswith("decode"):
            lines.append("\ndecode (%s): attnc %.0f GB/s, SDPA %.0f GB/s, Flex %.0f GB/s, copy %.0f "
                         "GB/s; attnc × SDPA %.2f, × Flex %.2f; err vs Flex %.1e" % (
                             r["shape"], r["attnc_GBps"], r["sdpa_GBps"], r["flex_GBps"],
                             r["copy_GBps"], r["ratio_vs_sdpa"], r["ratio_vs_flex"],
                             r["err_vs_flex"]))
        if r["shape"].startswith("linear B"):
            lines.append("linear %s (%s): attnc %.3f ms (%.2f ns/token), fla %s ms (x fla %s), "
                         "eager torch chunked %.3f ms (x torch %.1f); err vs fla %s, vs torch "
                         "%.1e" % (
                             r["pattern"], r["shape"], r["attnc_ms"], r["attnc_ns_per_token"],
                             fmt(r.get("fla_ms"), ".3f"), fmt(r.get("ratio_vs_fla"), ".2f"),
                             r.get("torch_ms", math.nan), r.get("ratio_vs_torch", math.nan),
                             fmt(r.get("err_vs_fla"), ".1e"), r.get("err_vs_torch", math.nan)))
        if r["shape"].startswith("hybrid"):
            lines.append("hybrid %s (%s): attnc %.3f ms (linear %.3f + window %.3f alone), fla + "
                         "Flex + torch mix %.3f ms (fla %.3f, Flex %.3f); x competitors %.2f; err "
                         "%.1e" % (r["pattern"], r["shape"], r["attnc_ms"], r["attnc_linear_ms"],
                                   r["attnc_window_ms"], r["competitors_ms"], r["fla_linear_ms"],
                                   r["flex_window_ms"], r["ratio_vs_competitors"],
                                   r["err_vs_competitors"]))
        if r["shape"].startswith("linear decode"):
            lines.append("linear decode (%s): attnc %.0f GB/s, fla %s GB/s, copy %.0f GB/s; x fla "
                         "%s" % (r["shape"], r["attnc_GBps"], fmt(r.get("fla_GBps")),
                                 r["copy_GBps"], fmt(r.get("ratio_vs_fla"), ".2f")))
        if r["shape"] == "JIT":
            lines.append("\nJIT (compile + load of a new pattern): cold %.0f ms, disk-cache hit "
                         "%.1f ms (fresh process), memory-cache hit %.1f us (from Python)" % (
                             r["cold_ms"], r["disk_hit_ms"], r["memory_hit_us_python"]))
    return "\n".join(lines)


HYBRID_SHAPES = [(8, 16, 2048), (8, 16, 4096), (2, 16, 16384)]


def time_attnc(row, comp, lin, loc, qkv, linear_qkv, inputs):
    """attnc's composite `comp` on `qkv` (its output, returned), and its linear branch `lin` (on
    `linear_qkv`, its own q and k where it has them) and window branch `loc` alone."""
    q, k, v = qkv
    out = torch.empty_like(q)
    launch = comp.bind(q, k, v, out, inputs=inputs)
    launch()
    torch.cuda.synchronize()
    row["attnc_ms"] = bench(launch)
    parts = torch.empty_like(q)
    row["attnc_linear_ms"] = bench(lin.bind(*linear_qkv, parts, inputs=inputs))
    row["attnc_window_ms"] = bench(loc.bind(q, k, v, parts, inputs=inputs))
    return out


def time_competitors(row, out, competitors, fla_linear, flex_window, results):
    """The competitors' layer against attnc's output `out` (its error) and its time, with its
    linear and window parts alone; then the row is recorded."""
    want = competitors()
    torch.cuda.synchronize()
    row["err_vs_competitors"] = ((out.float() - want.float()).norm() /
                                 want.float().norm()).item()
    row["competitors_ms"] = bench(competitors)
    row["fla_linear_ms"] = bench(fla_linear)
    row["flex_window_ms"] = bench(flex_window)
    row["ratio_vs_competitors"] = row["competitors_ms"] / row["attnc_ms"]
    results.append(row)
    print(json.dumps(row), flush=True)


def hybrid_rows(results):
    """A composite (examples/hybrid.attn `lizard`: GLA, a gate per token and key dimension,
    beside a causal sliding window of 128 that keeps the first 4 keys, mixed per head by
    sigmoid(mix)): attnc's branch kernels and combine kernel in one call, against the same layer
    composed from the competitors on the same tensors: fla chunk_gla (its gates precomputed,
    outside its timing), FlexAttention with a BlockMask built once (the window) and the per-head
    mix in torch. Each side's parts are timed alone too."""
    try:
        from fla.ops.gla import chunk_gla
    except ImportError as e:
        print("flash-linear-attention not importable (%s): no hybrid rows" % e, flush=True)
        return
    D, window, sinks = 128, 128, 4
    program = attnc.compile(os.path.join(EX, "hybrid.attn"), head_dim=D)
    comp, lin, loc = program["lizard"], program["lizard_global"], program["lizard_local"]
    torch._dynamo.reset()
    flex = torch.compile(flex_attention, dynamic=False)
    for B, H, T in HYBRID_SHAPES:
        torch.manual_seed(0)
        q, k, v = (torch.randn(B, T, H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
        x = torch.randn(B, T, H, D, device=DEV, dtype=torch.float32)
        g = torch.nn.functional.logsigmoid(x) / 16  # fla's log gates [B, T, H, D]
        logits = x.permute(0, 2, 1, 3).contiguous()  # attnc's [B, H, T, D]
        del x
        mix = torch.randn(H, device=DEV)
        inputs = {"gate": logits, "mix": mix}
        row = {"shape": "hybrid B%d H%d T%d D%d" % (B, H, T, D), "pattern": "lizard",
               "tokens": B * T}
        out = time_attnc(row, comp, lin, loc, (q, k, v), (q, k, v), inputs)
        # The competitors' layer: [B, H, T, D] copies for Flex, made once (not timed).
        qh, kh, vh = (t.transpose(1, 2).contiguous() for t in (q, k, v))
        bm = create_block_mask(lambda b, h, qi, ki: (ki <= qi) & ((qi - ki < window) |
                                                                   (ki < sinks)),
                               None, None, T, T, device=DEV)
        share = torch.sigmoid(mix).view(1, 1, H, 1)

        def fla_linear():
            return chunk_gla(q, k, v, g=g, scale=1.0)[0]

        def flex_window():
            return flex(qh, kh, vh, block_mask=bm).transpose(1, 2)

        def competitors():
            return share * fla_linear() + (1 - share) * flex_window()

        time_competitors(row, out, competitors, fla_linear, flex_window, results)
        del g, logits
    based_hybrid_rows(results, flex)


def based_hybrid_rows(results, flex):
    """Based's layer (examples/hybrid.attn `based`): Taylor-2 linear attention over q and k
    projected to 16 dims (the linear branch's own q and k) plus a causal sliding window of 64
    over the 64-dim heads, summed; against fla's parallel_based / fused_chunk_based (use_norm,
    the faster) + FlexAttention with a BlockMask built once + the torch sum, on the same
    tensors."""
    try:
        from fla.ops.based import fused_chunk_based, parallel_based
    except ImportError as e:
        print("flash-linear-attention not importable (%s): no Based rows" % e, flush=True)
        return
    D, window = 64, 64
    program = attnc.compile(os.path.join(EX, "hybrid.attn"))
    comp, lin, loc = program["based"], program["based_global"], program["based_local"]
    for B, H, T in HYBRID_SHAPES:
        torch.manual_seed(0)
        q, k, v = (torch.randn(B, T, H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
        fq, fk = (torch.randn(B, T, H, 16, device=DEV, dtype=torch.bfloat16) for _ in range(2))
        inputs = {"fq": fq, "fk": fk}
        row = {"shape": "hybrid B%d H%d T%d D%d d16" % (B, H, T, D), "pattern": "based",
               "tokens": B * T}
        out = time_attnc(row, comp, lin, loc, (q, k, v), (fq, fk, v), inputs)
        qh, kh, vh = (t.transpose(1, 2).contiguous() for t in (q, k, v))
        bm = create_block_mask(lambda b, h, qi, ki: (ki <= qi) & (qi - ki < window),
                               None, None, T, T, device=DEV)
        par = bench(lambda: parallel_based(fq, fk, v, use_norm=True))
        chunk = bench(lambda: fused_chunk_based(fq, fk, v, use_norm=True))
        fla_based = parallel_based if par <= chunk else fused_chunk_based

        def fla_linear():
            return fla_based(fq, fk, v, use_norm=True)

        def flex_window():
            return flex(qh, kh, vh, block_mask=bm).transpose(1, 2)

        def competitors():
            return fla_linear() + flex_window()

        time_competitors(row, out, competitors, fla_linear, flex_window, results)
        del q, k, v, fq, fk, out, qh, kh, vh


def main():
    global EAGER_MAX_TOKENS
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="",
                    help="comma-separated row labels' prefixes: only those softmax rows")
    ap.add_argument("--patterns", default="",
                    help="comma-separated pattern names: only those in the softmax rows")
    ap.add_argument("--json", default="")
    ap.add_argument("--quick", action="store_true", help="the first row only, no decode")
    ap.add_argument("--jit-only", action="store_true", help="only the JIT times")
    ap.add_argument("--linear-only", action="store_true", help="only the linear rows")
    ap.add_argument("--decode-only", action="store_true", help="only the decode rows")
    ap.add_argument("--hybrid-only", action="store_true", help="only the composite rows")
    ap.add_argument("--linear-shapes", default="",
                    help="the linear rows' shapes, B,H,T:B,H,T... (default: LINEAR_SHAPES)")
    ap.add_argument("--eager-max-tokens", type=int, default=EAGER_MAX_TOKENS,
                    help="time the eager PyTorch chunked form only up to B*T tokens (it takes "
                         "seconds a call beyond)")
    ap.add_argument("--features-only", action="store_true",
                    help="only the feature-map rows (Based, Hedgehog)")
    args = ap.parse_args()
    EAGER_MAX_TOKENS = args.eager_max_tokens
    torch._dynamo.config.recompile_limit = 1000
    torch._dynamo.config.cache_size_limit = 1000
    name, cc = attnc.device_info()
    print("torch", torch.__version__, "| device", name, cc, "| attnc", attnc.library_version(),
          flush=True)
    results = []
    rows = ROWS[:1] if args.quick else ROWS
    if args.rows:
        # A name that is a row's whole name picks that row alone ("B4 H16 S4096 D128" not its
        # fp16 twin); any other name picks the rows it begins.
        names = [r[0] for r in rows]
        wanted = [(w, w in names) for w in args.rows.split(",")]
        rows = [r for r in rows
                if any(r[0] == w if whole else r[0].startswith(w) for w, whole in wanted)]
    only = (args.jit_only or args.linear_only or args.decode_only or args.hybrid_only or
            args.features_only)
    if only and not args.rows:
        rows = []
    only = only or bool(args.rows)  # --rows: those softmax rows (and any --*-only section)
    if args.patterns:
        keep = set(args.patterns.split(","))
        rows = [r[:-1] + ([n for n in r[-1] if n in keep],) for r in rows]
        rows = [r for r in rows if r[-1]]
    for row in rows:
        run_row(*row, results)
    if not args.quick and (not only or args.decode_only):
        decode_rows(results)
    if not args.quick and (not only or args.linear_only):
        linear_rows(results, [tuple(int(x) for x in shape.split(","))
                              for shape in args.linear_shapes.split(":") if shape])
    if not args.quick and (not only or args.features_only):
        feature_map_rows(results)
    if not args.quick and (not only or args.hybrid_only):
        hybrid_rows(results)
    if not only or args.jit_only:
        jit_times(results)
    print()
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "torch": torch.__version__, "results": results}, f,
                      indent=1)


if __name__ == "__main__":
    main()
