"""Driven by api.test: the Python package on a machine without a GPU."""
import attnc

SPEC = """attention causal { mask k <= q }
attention doc {
  input d: int[B, Skv]
  scalar w = 2.0
  mask d[b, q] == d[b, k] && float(q - k) < w * 100.0
}
"""
prog = attnc.compile(SPEC, dtype="f16", head_dim=64)
print("names", prog.names)
print(prog["causal"])
doc = prog["doc"]
print("doc inputs", [(i["name"], i["dtype"], i["shape"]) for i in doc.spec["inputs"]],
      "scalars", [(s["name"], s["default"]) for s in doc.spec["scalars"]],
      "block map", doc.needs_block_map)
w = attnc.compile("attention w { param window: int = 3\n mask q - k < window }",
                  params={"window": 7})
print("params {'window': 7}: window", 7 if "7" in w.kernels[0].source else "?", "in the source")
for text, kw in (("attention x { mask k <= qq }", {"file_name": "x.attn"}),
                 ("attention x { param w: int = 3\n mask k <= q }", {"params": {"z": 3}}),
                 ("attention x { mask k <= q }", {"dtype": "f32"})):
    try:
        attnc.compile(text, **kw)
    except attnc.AttncError as e:
        print("error:", e)
before = attnc.cache_stats()["program_hits"]
attnc.compile(SPEC, dtype="f16", head_dim=64)
print("program hits", attnc.cache_stats()["program_hits"] - before)
try:
    prog["causal"].load()
except attnc.AttncError as e:
    print("load:", e)
try:
    import numpy as np
    x = np.zeros((1, 4, 2, 64), dtype=np.float32)
    prog["causal"](x, x, x)
except ImportError as e:
    print("numpy call:", e)
except attnc.AttncError as e:
    print("numpy call:", e)
try:
    attnc.load_bundle("/nonexistent")
except attnc.AttncError as e:
    print("bundle:", e)
# A composite: its branches' kernels and one more entry named after it, whose spec names them.
hybrid = attnc.compile("""attention mixed {
  branch lin { linear { decay 0.9; causal } }
  branch win { mask k <= q && q - k < 8 }
  combine 0.5 * lin + 0.5 * win
}""", head_dim=64)
print("composite names", hybrid.names, "branches", hybrid["mixed"].spec["branches"],
      "entry", hybrid["mixed"].spec["entry"])
try:
    hybrid["mixed"].load()
except attnc.AttncError as e:
    print("composite load:", e)
