#!/usr/bin/env python3
"""On the GPU machine: the Python package (python/attnc over libattnc.so) against PyTorch.

Every example that PyTorch can express is compiled from its .attn file, run through the
package on torch tensors (contiguous and as strided [B, H, S, D] transposes) and on numpy
arrays, and compared with the same attention written in PyTorch in float64: scores, score
modifier, mask, softmax/sigmoid, weights. bf16 and f16, head dims 64 and 128, ragged sizes,
GQA, varlen, the LSE, run-time scalars, a block map reused across calls, and errors that must
be raised. Exit 1 on any failure.

    python3 test/gpu/python_api.py
"""
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import attnc  # noqa: E402

EX = os.path.join(ROOT, "examples")
TOL = {torch.bfloat16: 1e-2, torch.float16: 3e-3}
failures = []
checks = 0


def report(ok, what):
    global checks
    checks += 1
    print(("PASS  " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def reference(q, k, v, mask=None, score=None, normalize="softmax", bias=0.0, scale=None,
              weight=None):
    """float64 attention with torch ops. q [B, Sq, Hq, D], k/v [B, Skv, Hkv, D]; mask/score/
    weight callables of (b, h, qi, ki) index grids [B, H, Sq, Skv] (score also gets s)."""
    q, k, v = (t.double() for t in (q, k, v))
    B, Sq, Hq, D = q.shape
    Skv, Hkv = k.shape[1], k.shape[2]
    group = Hq // Hkv
    k = k.repeat_interleave(group, dim=2)
    v = v.repeat_interleave(group, dim=2)
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    s = torch.einsum("bqhd,bkhd->bhqk", q, k) * scale
    dev = q.device
    b = torch.arange(B, device=dev).view(B, 1, 1, 1)
    h = torch.arange(Hq, device=dev).view(1, Hq, 1, 1)
    qi = torch.arange(Sq, device=dev).view(1, 1, Sq, 1)
    ki = torch.arange(Skv, device=dev).view(1, 1, 1, Skv)
    if score is not None:
        s = score(s, b, h, qi, ki)
    keep = torch.ones_like(s, dtype=torch.bool) if mask is None else \
        mask(b, h, qi, ki).expand_as(s)
    lse = None
    if normalize == "softmax":
        s = s.masked_fill(~keep, -math.inf)
        lse = torch.logsumexp(s, dim=-1)
        p = torch.softmax(s, dim=-1).nan_to_num(0.0)
    elif normalize == "sigmoid":
        p = torch.sigmoid(s + bias) * keep
    else:
        p = s * keep
    if weight is not None:
        p = p * weight(b, h, qi, ki)
    out = torch.einsum("bhqk,bkhd->bqhd", p, v)
    return out, lse  # lse [B, Hq, Sq]


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def case(name, file, *, params=None, mask=None, score=None, normalize="softmax", bias=0.0,
         inputs=None, dtypes=(torch.bfloat16, torch.float16), dims=(64, 128),
         shapes=((2, 4, 2, 77, 131), (1, 2, 2, 300, 300)), kwargs=None):
    for dtype in dtypes:
        for D in dims:
            prog = attnc.compile(os.path.join(EX, file), params=params or {},
                                 dtype="bf16" if dtype == torch.bfloat16 else "f16", head_dim=D)
            kern = prog.kernels[0]
            for (B, Hq, Hkv, Sq, Skv) in shapes:
                g = torch.Generator(device="cuda").manual_seed(B * 1000 + Sq + D)
                # Allocated [B, H, S, D] like most PyTorch code, passed as strided transposes.
                q = torch.randn(B, Hq, Sq, D, device="cuda", dtype=dtype, generator=g).transpose(1, 2)
                k = torch.randn(B, Hkv, Skv, D, device="cuda", dtype=dtype, generator=g).transpose(1, 2)
                v = torch.randn(B, Hkv, Skv, D, device="cuda", dtype=dtype, generator=g).transpose(1, 2)
                ins = inputs(B, Sq, Skv) if inputs else None
                kw = dict(kwargs or {})
                softmax = normalize == "softmax"
                res = kern(q, k, v, inputs=ins, lse=softmax, **kw)
                out, lse = res if softmax else (res, None)
                torch.cuda.synchronize()
                m = (lambda b, h, qi, ki: mask(b, h, qi, ki, ins)) if mask else None
                ref, ref_lse = reference(q, k, v, mask=m, score=score, normalize=normalize,
                                         bias=bias, scale=kw.get("scale"))
                err = rel(out, ref)
                what = "%s %s D%d B%d Hq%d Hkv%d Sq%d Skv%d: err %.2e" % (
                    name, str(dtype)[6:], D, B, Hq, Hkv, Sq, Skv, err)
                ok = err < TOL[dtype] and torch.isfinite(out).all().item()
                if softmax:
                    finite = torch.isfinite(ref_lse)
                    lerr = (lse.double() - ref_lse)[finite].abs().max().item()
                    ok = ok and lerr < 1e-3 and bool((lse[~finite] == -math.inf).all())
                    what += ", lse %.1e" % lerr
                report(ok, what)


def causal_br(b, h, qi, ki, ins):
    return ki <= qi + (ki.shape[-1] - qi.shape[-2])


def linear_reference(q, k, v, log_gate, scale, s0):
    """A linear pattern in float64, token by token: S <- gamma_t S + k v^T, o = c q^T S, with
    log_gate [B, T, H] the log of each token's decay ([B, T, H, D]: one per state row d).
    Returns O [B, T, H, Dv] and the final state."""
    q, k, v = (t.double() for t in (q, k, v))
    S = s0.double().clone()
    outs = []
    for t in range(q.shape[1]):
        gamma = log_gate[:, t].double().exp()
        gamma = gamma[..., None] if gamma.dim() == 3 else gamma[:, :, None, None]
        S = gamma * S + k[:, t, :, :, None] * v[:, t, :, None, :]
        outs.append(scale * torch.einsum("bhd,bhde->bhe", q[:, t], S))
    return torch.stack(outs, 1), S


def linear_checks():
    """A linear pattern through the package: a prefill from a given state returning the final
    one, then decode steps updating it in place, against the recurrence in float64."""
    B, T, H, D, steps = 2, 150, 4, 64, 3
    kern = attnc.compile(os.path.join(EX, "lightning.attn"), head_dim=D)["lightning"]
    torch.manual_seed(5)
    q, k, v = (torch.randn(B, T + steps, H, D, device="cuda", dtype=torch.bfloat16)
               for _ in range(3))
    slope = torch.rand(H, device="cuda") * 0.5 + 0.01
    s0 = torch.randn(B, H, D, D, device="cuda") * 0.1
    ref, ref_state = linear_reference(q, k, v, (-slope).expand(B, T + steps, H), D ** -0.5, s0)
    state = s0.clone()
    out = kern(q[:, :T], k[:, :T], v[:, :T], inputs=[slope], initial_state=state,
               final_state=state)
    step_outs = [kern(q[:, t:t + 1], k[:, t:t + 1], v[:, t:t + 1], inputs=[slope],
                      initial_state=state, final_state=state) for t in range(T, T + steps)]
    torch.cuda.synchronize()
    got = torch.cat([out] + step_outs, 1)
    report(rel(got, ref) < TOL[torch.bfloat16] and rel(state, ref_state) < TOL[torch.bfloat16],
           "linear prefill %d + %d decode steps from a state: err %.2e, state err %.2e" % (
               T, steps, rel(got, ref), rel(state, ref_state)))
    # A per-token gate (examples/gated_linear.attn): each call passes its own tokens' rows of
    # the gate input, [B, H, T] for the prefill and [B, H, 1] for a step.
    gated = attnc.compile(os.path.join(EX, "gated_linear.attn"), head_dim=D)["mamba2_ssd"]
    dt = torch.rand(B, H, T + steps, device="cuda") * 0.2
    rate = torch.rand(H, device="cuda") + 0.5
    log_gate = -(dt * rate.view(1, H, 1)).permute(0, 2, 1)
    ref, ref_state = linear_reference(q, k, v, log_gate, 1.0, s0)
    state = s0.clone()
    out = gated(q[:, :T], k[:, :T], v[:, :T], inputs=[dt[:, :, :T].contiguous(), rate],
                initial_state=state, final_state=state)
    step_outs = [gated(q[:, t:t + 1], k[:, t:t + 1], v[:, t:t + 1],
                       inputs=[dt[:, :, t:t + 1].contiguous(), rate], initial_state=state,
                       final_state=state) for t in range(T, T + steps)]
    torch.cuda.synchronize()
    got = torch.cat([out] + step_outs, 1)
    report(rel(got, ref) < TOL[torch.bfloat16] and rel(state, ref_state) < TOL[torch.bfloat16],
           "gated linear prefill %d + %d decode steps from a state: err %.2e, state err %.2e" % (
               T, steps, rel(got, ref), rel(state, ref_state)))
    # A gate per key dimension (GLA): the logits [B, H, T, D], then [B, H, 1, D] per step.
    gla = attnc.compile(os.path.join(EX, "gated_linear.attn"), head_dim=D)["gla"]
    x = torch.randn(B, H, T + steps, D, device="cuda") * 2
    log_gate = (torch.nn.functional.logsigmoid(x) / 16).permute(0, 2, 1, 3)
    ref, ref_state = linear_reference(q, k, v, log_gate, 1.0, s0)
    state = s0.clone()
    out = gla(q[:, :T], k[:, :T], v[:, :T], inputs=[x[:, :, :T].contiguous()],
              initial_state=state, final_state=state)
    step_outs = [gla(q[:, t:t + 1], k[:, t:t + 1], v[:, t:t + 1],
                     inputs=[x[:, :, t:t + 1].contiguous()], initial_state=state,
                     final_state=state) for t in range(T, T + steps)]
    torch.cuda.synchronize()
    got = torch.cat([out] + step_outs, 1)
    report(rel(got, ref) < TOL[torch.bfloat16] and rel(state, ref_state) < TOL[torch.bfloat16],
           "GLA (gate per key dimension) prefill %d + %d decode steps from a state: err %.2e, "
           "state err %.2e" % (T, steps, rel(got, ref), rel(state, ref_state)))
    try:
        kern(q[:, :T], k[:, :T], v[:, :T], inputs=[slope],
             final_state=np.zeros((B, H, D, D), dtype=np.float32))
        report(False, "a numpy state did not raise")
    except attnc.AttncError as e:
        report("state_out" in str(e), "a numpy state raises: %s" % e)


def feature_map_checks():
    """Based's Taylor-2 map (examples/linear_features.attn: q, k of 16 dims, 153 features in a
    state of 192 rows) through the package: a prefill, then decode steps from its state, against
    the weights 1 + z + z^2 / 2 (z = q.k / 4) summed and normalised in float64 (no features)."""
    B, T, H, steps = 2, 200, 4, 3
    based = attnc.compile(os.path.join(EX, "linear_features.attn"))["based"]
    torch.manual_seed(6)
    q, k = (torch.randn(B, T + steps, H, 16, device="cuda", dtype=torch.bfloat16)
            for _ in range(2))
    v = torch.randn(B, T + steps, H, 64, device="cuda", dtype=torch.bfloat16)
    z = torch.einsum("bthd,bshd->bhts", q.double(), k.double()) / 4
    w = (1 + z + z * z / 2).tril()
    ref = (torch.einsum("bhts,bshe->bthe", w, v.double()) /
           w.sum(-1).permute(0, 2, 1)[..., None])
    state = torch.empty(B, H, 192, 64, device="cuda")
    key_sum = [torch.empty(B, H, 192, device="cuda") for _ in range(2)]
    out = based(q[:, :T], k[:, :T], v[:, :T], final_state=state, final_key_sum=key_sum[0])
    step_outs = []
    for i, t in enumerate(range(T, T + steps)):
        step_outs.append(based(q[:, t:t + 1], k[:, t:t + 1], v[:, t:t + 1], initial_state=state,
                               final_state=state, initial_key_sum=key_sum[i % 2],
                               final_key_sum=key_sum[1 - i % 2]))
    torch.cuda.synchronize()
    got = torch.cat([out] + step_outs, 1)
    report(rel(got, ref) < TOL[torch.bfloat16],
           "Based (taylor2, 192-row state) prefill %d + %d decode steps: err %.2e" % (
               T, steps, rel(got, ref)))


def composite_checks():
    """A composite through the package (examples/hybrid.attn lizard: a GLA branch, a gate per
    token and key dimension, and a causal sliding window that keeps the first 4 keys, mixed per
    head by a sigmoid gate), against its two branches in float64 mixed the same way, and the
    branches run alone against the same references."""
    B, T, H, D, window, sinks = 2, 300, 4, 64, 128, 4
    program = attnc.compile(os.path.join(EX, "hybrid.attn"), head_dim=D)
    torch.manual_seed(7)
    q, k, v = (torch.randn(B, T, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    x = torch.randn(B, H, T, D, device="cuda")  # the gate's logits, [B, H, T, D]
    mix = torch.randn(H, device="cuda")
    inputs = {"gate": x, "mix": mix}
    log_gate = (torch.nn.functional.logsigmoid(x) / 16).permute(0, 2, 1, 3)  # [B, T, H, D]
    linear, _ = linear_reference(q, k, v, log_gate, 1.0, torch.zeros(B, H, D, D, device="cuda"))
    local, _ = reference(q, k, v, mask=lambda b, h, qi, ki: (ki <= qi) &
                         ((qi - ki < window) | (ki < sinks)))
    share = torch.sigmoid(mix.double()).view(1, 1, H, 1)
    want = share * linear + (1 - share) * local
    for name, ref in (("lizard_global", linear), ("lizard_local", local)):
        got = program[name](q, k, v, inputs=inputs)
        torch.cuda.synchronize()
        err = rel(got, ref)
        report(err < TOL[torch.bfloat16], "composite branch %s alone: err %.2e" % (name, err))
    got = program["lizard"](q, k, v, inputs=inputs)
    torch.cuda.synchronize()
    err = rel(got, want)
    report(err < TOL[torch.bfloat16],
           "composite lizard (branches, then the combine kernel): err %.2e" % err)
    # Decode: a prefill over T - 1 tokens returns the GLA branch's state; one step (q the last
    # token, the whole sequence as the KV cache, that token's gate rows) gives the last row.
    state = torch.empty(B, H, D, D, device="cuda")
    program["lizard"](q[:, :T - 1], k[:, :T - 1], v[:, :T - 1],
                      inputs={"gate": x[:, :, :T - 1].contiguous(), "mix": mix}, final_state=state)
    last = program["lizard"](q[:, T - 1:], k, v,
                             inputs={"gate": x[:, :, T - 1:].contiguous(), "mix": mix},
                             initial_state=state, final_state=state)
    torch.cuda.synchronize()
    err = rel(last, want[:, T - 1:])
    report(err < TOL[torch.bfloat16],
           "composite lizard decode (prefill %d, one step over the cache): err %.2e" % (T - 1, err))
    try:
        program["lizard"](q, k, v, inputs=inputs, lse=True)
        report(False, "a composite's LSE did not raise")
    except attnc.AttncError as e:
        report("no lse" in str(e), "a composite's LSE raises: %s" % str(e).splitlines()[0])


def based_composite_checks():
    """Based's layer (examples/hybrid.attn based): Taylor-2 linear attention over q and k
    projected to 16 dims, given as the linear branch's own q and k (inputs fq, fk), plus a
    sliding window of 64 over the 64-dim q and k, summed; against float64 (the Taylor weights
    1 + z + z^2 / 2 normalised, the window's softmax). Then decode: a prefill over T - 1 tokens
    returns the branch's state and key sum, one step over the cache (fk of every token) gives the
    last row."""
    B, T, H, D, window = 2, 300, 4, 64, 64
    program = attnc.compile(os.path.join(EX, "hybrid.attn"))
    based = program["based"]
    torch.manual_seed(8)
    q, k, v = (torch.randn(B, T, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    fq, fk = (torch.randn(B, T, H, 16, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    z = torch.einsum("bthd,bshd->bhts", fq.double(), fk.double()) / 4
    w = (1 + z + z * z / 2).tril()
    linear = (torch.einsum("bhts,bshe->bthe", w, v.double()) /
              w.sum(-1).permute(0, 2, 1)[..., None])
    local, _ = reference(q, k, v, mask=lambda b, h, qi, ki: (ki <= qi) & (qi - ki < window))
    want = linear + local
    got = based(q, k, v, inputs={"fq": fq, "fk": fk})
    torch.cuda.synchronize()
    err = rel(got, want)
    report(err < TOL[torch.bfloat16],
           "composite based (taylor2 on its own q, k of 16 dims + a window of 64): err %.2e" % err)
    state = torch.empty(B, H, 192, D, device="cuda")
    key_sum = [torch.empty(B, H, 192, device="cuda") for _ in range(2)]
    based(q[:, :T - 1], k[:, :T - 1], v[:, :T - 1],
          inputs={"fq": fq[:, :T - 1], "fk": fk[:, :T - 1]}, final_state=state,
          final_key_sum=key_sum[0])
    last = based(q[:, T - 1:], k, v, inputs={"fq": fq[:, T - 1:], "fk": fk},
                 initial_state=state, final_state=state, initial_key_sum=key_sum[0],
                 final_key_sum=key_sum[1])
    torch.cuda.synchronize()
    err = rel(last, want[:, T - 1:])
    report(err < TOL[torch.bfloat16],
           "composite based decode (prefill %d, one step over the cache): err %.2e" % (T - 1, err))
    try:
        based(q, k, v, inputs={"fq": fq.float(), "fk": fk})
        report(False, "a float32 own q did not raise")
    except attnc.AttncError as e:
        report("bf16" in str(e), "a float32 own q raises: %s" % str(e).splitlines()[0])


def main():
    name, cc = attnc.device_info()
    print("device", name, cc, "| attnc", attnc.library_version(), "| torch", torch.__version__)
    case("full", "full.attn")
    case("causal", "causal.attn", mask=causal_br)
    case("sliding_window", "sliding_window.attn", params={"window": 100},
         mask=lambda b, h, qi, ki, ins: (ki <= qi) & (qi - ki < 100))
    case("prefix_lm", "prefix_lm.attn", params={"prefix": 50},
         mask=lambda b, h, qi, ki, ins: (ki < 50) | (ki <= qi))
    case("streaming_llm", "streaming_llm.attn", params={"sinks": 4, "window": 64},
         mask=lambda b, h, qi, ki, ins: (ki <= qi) & ((ki < 4) | (qi - ki < 64)))
    case("alibi", "alibi.attn", params={"n_heads": 4}, dims=(128,),
         mask=lambda b, h, qi, ki, ins: ki <= qi,
         score=lambda s, b, h, qi, ki: s - torch.exp2(-8.0 * (h + 1) / 4) * (qi - ki))
    case("softcap", "softcap.attn", params={"cap": 30.0},
         mask=lambda b, h, qi, ki, ins: ki <= qi,
         score=lambda s, b, h, qi, ki: 30.0 * torch.tanh(s / 30.0))

    def docs(B, Sq, Skv):
        g = torch.Generator(device="cuda").manual_seed(7)
        dq = torch.sort(torch.randint(0, 3, (B, Sq), device="cuda", generator=g), dim=1).values
        dk = torch.sort(torch.randint(0, 3, (B, Skv), device="cuda", generator=g), dim=1).values
        return {"doc_q": dq.int(), "doc_k": dk.int()}
    case("document", "document.attn", inputs=docs,
         mask=lambda b, h, qi, ki, ins: (ins["doc_q"].long()[b.view(-1), :].view(
             b.shape[0], 1, -1, 1) == ins["doc_k"].long().view(b.shape[0], 1, 1, -1)) & (ki <= qi))
    case("sigmoid", "sigmoid.attn", normalize="sigmoid", bias=-math.log(1024.0),
         mask=lambda b, h, qi, ki, ins: ki <= qi)

    # A reused block map gives the same output as one built per call.
    prog = attnc.compile(os.path.join(EX, "document.attn"))
    kern = prog.kernels[0]
    B, H, S, D = 2, 4, 515, 128
    q, k, v = (torch.randn(B, S, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    ins = docs(B, S, S)
    bm = kern.build_block_map(q, k, v, inputs=ins)
    a = kern(q, k, v, inputs=ins)
    b2 = kern(q, k, v, inputs=ins, block_map=bm)
    torch.cuda.synchronize()
    report(torch.equal(a, b2), "document: a reused block map gives the per-call output")
    small = [t[:, :300].contiguous() for t in (q, k, v)]
    bm_small = kern.build_block_map(*small, inputs=docs(B, 300, 300))
    bad = None
    try:
        kern(q, k, v, inputs=ins, block_map=bm_small)
    except attnc.AttncError as e:
        bad = str(e)
    report(bad is not None and "other sizes" in bad,
           "document: a block map of other sizes is refused (%s)" % bad)

    # GQA example (its patterns fix their heads) and varlen.
    prog = attnc.compile(os.path.join(EX, "gqa.attn"))
    print("gqa patterns:", [(kk.name, kk.spec["heads"], kk.spec["kv_heads"]) for kk in prog])
    prog = attnc.compile(os.path.join(EX, "varlen.attn"))
    kern = prog.kernels[0]
    lens_q, lens_k = [5, 130, 1, 77], [9, 130, 300, 64]
    cu_q = torch.tensor([0] + list(np.cumsum(lens_q)), dtype=torch.int32, device="cuda")
    cu_k = torch.tensor([0] + list(np.cumsum(lens_k)), dtype=torch.int32, device="cuda")
    Hq, Hkv, D = kern.spec["heads"] or 4, kern.spec["kv_heads"] or 2, kern.spec["head_dim"]
    q = torch.randn(sum(lens_q), Hq, D, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(sum(lens_k), Hkv, D, device="cuda", dtype=torch.bfloat16)
    v = torch.randn(sum(lens_k), Hkv, D, device="cuda", dtype=torch.bfloat16)
    out, lse = kern(q, k, v, cu_seqlens_q=cu_q, cu_seqlens_k=cu_k, max_seqlen_q=max(lens_q),
                    max_seqlen_k=max(lens_k), lse=True)
    torch.cuda.synchronize()
    worst = 0.0
    for i in range(len(lens_q)):
        qs, ks = slice(cu_q[i].item(), cu_q[i + 1].item()), slice(cu_k[i].item(), cu_k[i + 1].item())
        ref, ref_lse = reference(q[None, qs], k[None, ks], v[None, ks],
                                 mask=lambda b, h, qi, ki: ki <= qi)
        worst = max(worst, rel(out[qs], ref[0]))
    report(worst < 1e-2, "varlen (%s) Hq%d Hkv%d: worst err %.2e" % (kern.name, Hq, Hkv, worst))

    # numpy in, numpy out (float32 values converted to bf16 by the package).
    kern = attnc.compile(os.path.join(EX, "causal.attn")).kernels[0]
    rng = np.random.default_rng(0)
    qn, kn, vn = (rng.standard_normal((1, 70, 2, 128)).astype(np.float32) for _ in range(3))
    on, lsen = kern(qn, kn, vn, lse=True)
    tq, tk, tv = (torch.from_numpy(x).to(torch.bfloat16).cuda() for x in (qn, kn, vn))
    ref, ref_lse = reference(tq, tk, tv, mask=lambda b, h, qi, ki: ki <= qi)
    report(isinstance(on, np.ndarray) and rel(torch.from_numpy(on), ref.cpu()) < 1e-2,
           "numpy path: err %.2e" % rel(torch.from_numpy(on), ref.cpu()))

    # Errors are raised with a message, not crashes.
    def raises(fn, needle, what):
        try:
            fn()
        except attnc.AttncError as e:
            report(needle in str(e), "%s raises: %s" % (what, str(e).splitlines()[0]))
            return
        report(False, what + " did not raise")
    q = torch.randn(1, 64, 2, 128, device="cuda", dtype=torch.bfloat16)
    raises(lambda: kern(q.float(), q, q), "f32", "a float32 q")
    raises(lambda: kern(q[..., :64], q, q), "head dim 64", "a wrong head dim")
    raises(lambda: kern(q, q, q, out=torch.empty(1, 64, 1, 128, device="cuda",
                                                 dtype=torch.bfloat16).expand(1, 64, 2, 128)),
           "outputs would overlap", "an output whose heads alias")
    # A zero-stride (broadcast) k is a legal read: both heads see the same keys.
    kb = q[:, :, :1].expand(1, 64, 2, 128)
    got = kern(q, kb, kb)
    want = kern(q, kb.contiguous(), kb.contiguous())
    torch.cuda.synchronize()
    report(torch.equal(got, want), "a broadcast (stride 0) k and v read like their copies")
    raises(lambda: attnc.compile("attention x { mask k <= q +* 1 }", file_name="x.attn"),
           "x.attn:1:", "a syntax error")
    raises(lambda: attnc.compile("attention x { mask k <= q }", head_dim=96).kernels[0].load(),
           "96", "head dim 96")

    linear_checks()
    feature_map_checks()
    composite_checks()
    based_composite_checks()

    print("\n%d checks, %d failed" % (checks, len(failures)))
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
