#!/usr/bin/env python3
"""attnc next to FlexAttention on the same tensors: causal attention with a tanh soft cap.

    ATTNC_LIBRARY=build/lib/libattnc.so python3 examples/python/side_by_side.py

The spec is three lines; attnc compiles it (CPU), JIT-compiles the kernel on first use and runs
it on strided views of PyTorch's [B, H, S, D] tensors. bench/compare.py does this for every
row of the performance table."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))

import torch  # noqa: E402
import triton.testing as tt  # noqa: E402
from torch.nn.attention.flex_attention import create_block_mask, flex_attention  # noqa: E402

import attnc  # noqa: E402

SPEC = """
attention softcap {
  mask k <= q
  score 30.0 * tanh(s / 30.0)
}
"""

B, H, S, D = 4, 16, 4096, 128
q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))

kernel = attnc.compile(SPEC)["softcap"]
out = torch.empty(B, S, H, D, device="cuda", dtype=torch.bfloat16)
ours = kernel.bind(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), out)

flex = torch.compile(flex_attention)
mask = create_block_mask(lambda b, h, qi, ki: qi >= ki, None, None, S, S)
theirs = lambda: flex(q, k, v, block_mask=mask,  # noqa: E731
                      score_mod=lambda s, b, h, qi, ki: 30.0 * torch.tanh(s / 30.0))

ref = theirs()
ours()
torch.cuda.synchronize()
err = (out.transpose(1, 2).float() - ref.float()).norm() / ref.float().norm()
t_ours = tt.do_bench(ours, return_mode="median")
t_flex = tt.do_bench(theirs, return_mode="median")
print("attnc %.3f ms, FlexAttention %.3f ms: %.2fx; |attnc - flex| / |flex| = %.1e"
      % (t_ours, t_flex, t_flex / t_ours, err))
