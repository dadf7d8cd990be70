#!/usr/bin/env python3
"""A .npy and PNG helper for the attnc driver tests (standard library only: no numpy).

  npy.py write FILE DESCR SHAPE VALUES [--version M] [--fortran]
      SHAPE and VALUES are comma-separated ("" for a 0-d shape or no values; "X*N" is N
      copies of X), e.g.  npy.py write q.npy '<f4' 1,3,1,2 0.5,-1,2,0.25,1,1
  npy.py random FILE DESCR SHAPE SEED [--sorted-ints N]
      uniform values in [-1, 1) (or non-decreasing integers in [0, N): document ids)
  npy.py show FILE                 prints "descr shape" then the values, one per line
  npy.py attention --q Q --k K --v V [--causal] [--doc-q F --doc-k F] [--scale C]
                   [--cu-seqlens-q F --cu-seqlens-k F] --out OUT [--lse LSE] [--tol T]
      softmax attention by plain loops (float64; scale 1/sqrt(D) by default; causal aligned
      bottom right; --doc-q/--doc-k: only pairs with equal document ids), compared with
      attnc ref's OUT (and LSE); prints expected and actual values and the largest relative
      error, exits 1 on a mismatch
  npy.py linear --q Q --k K --v V [--gate G] [--state-in S0] --scale C --out OUT
                --state-out S [--tol T]
      a causal linear pattern token by token (S <- g_t S + k v^T, o = C q^T S), compared
      with attnc ref's OUT and final state like `attention`
  npy.py mix --a A --b B --mix M --out OUT [--tol T]
      a composite's per-head mix of two branch outputs, M[h] A + (1 - M[h]) B, compared
      with attnc ref's OUT like `attention`
  npy.py png FILE ROWS COLS        checks the signature, every CRC and the zlib stream, then
      prints the size, the chunks, the IDAT size and the map read back at the centre of each
      of ROWS x COLS cells
      ('#' dark blue, '+' light blue, '.' white)
"""
import ast
import math
import struct
import sys
import zlib

FORMATS = {"f2": "e", "f4": "f", "f8": "d", "i1": "b", "i2": "h", "i4": "i", "i8": "q",
           "u1": "B", "u2": "H", "u4": "I", "u8": "Q", "b1": "?"}


def encode(descr, shape, values, version=(1, 0), fortran=False):
    order = "<" if descr[0] in "<|" else ">"
    fmt = FORMATS[descr[1:]]
    shape_text = "(" + "".join("%d, " % d for d in shape).rstrip(" ")
    if len(shape) > 1:
        shape_text = shape_text.rstrip(",")
    shape_text += ")"
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape_text)
    preamble = 10 if version[0] == 1 else 12
    total = -(-(preamble + len(header) + 1) // 64) * 64
    header = header + " " * (total - preamble - len(header) - 1) + "\n"
    out = b"\x93NUMPY" + bytes(version)
    out += struct.pack("<H" if version[0] == 1 else "<I", len(header))
    out += header.encode("latin1")
    cast = float if fmt in "efd" else (bool if fmt == "?" else int)
    out += struct.pack(order + fmt * len(values), *[cast(v) for v in values])
    return out


def decode(data):
    assert data[:6] == b"\x93NUMPY", "bad magic"
    major = data[6]
    if major == 1:
        (length,), start = struct.unpack("<H", data[8:10]), 10
    else:
        (length,), start = struct.unpack("<I", data[8:12]), 12
    header = ast.literal_eval(data[start:start + length].decode("latin1"))
    assert not header["fortran_order"]
    descr, shape = header["descr"], header["shape"]
    count = 1
    for d in shape:
        count *= d
    fmt = ("<" if descr[0] in "<|" else ">") + FORMATS[descr[1:]] * count
    body = data[start + length:]
    assert len(body) == struct.calcsize(fmt), "data size"
    return descr, list(shape), list(struct.unpack(fmt, body))


def read(path):
    with open(path, "rb") as f:
        return decode(f.read())


def parse_list(text, conv):
    """"1,2,3"; an item "X*N" stands for N copies of X."""
    out = []
    for item in text.split(","):
        if not item.strip():
            continue
        value, _, count = item.partition("*")
        out += [conv(value)] * (int(count) if count else 1)
    return out


def cmd_write(args):
    version, fortran = (1, 0), False
    rest = args[4:]
    while rest:
        if rest[0] == "--version":
            version = (int(rest[1]), 0)
            rest = rest[2:]
        elif rest[0] == "--fortran":
            fortran = True
            rest = rest[1:]
        else:
            sys.exit("unknown argument " + rest[0])
    path, descr = args[0], args[1]
    shape, values = parse_list(args[2], int), parse_list(args[3], float)
    with open(path, "wb") as f:
        f.write(encode(descr, shape, values, version, fortran))


def cmd_random(args):
    """random PATH DESCR SHAPE SEED [--sorted-ints N]: uniform values in [-1, 1), or integers in
    [0, N) in non-decreasing order (document ids)."""
    import random
    path, descr, shape, seed = args[0], args[1], parse_list(args[2], int), int(args[3])
    rng = random.Random(seed)
    count = 1
    for d in shape:
        count *= d
    if len(args) > 5 and args[4] == "--sorted-ints":
        values = sorted(float(rng.randrange(int(args[5]))) for _ in range(count))
    else:
        values = [rng.uniform(-1, 1) for _ in range(count)]
    with open(path, "wb") as f:
        f.write(encode(descr, shape, values))


def cmd_show(args):
    descr, shape, values = read(args[0])
    print(descr, shape)
    for v in values:
        print("%.6f" % v)


def options(args):
    opts, i = {}, 0
    while i < len(args):
        key = args[i].lstrip("-")
        if key == "causal":
            opts[key] = True
            i += 1
        else:
            opts[key] = args[i + 1]
            i += 2
    return opts


def attention(q, qs, k, ks, v, vs, causal, scale, cu_q, cu_k, doc_q=None, doc_k=None):
    """Plain loops over [rows, heads, dim] tensors with per-sequence offsets. With doc_q and
    doc_k ([B, Sq] and [B, Skv] document ids, dense only) a pair needs equal ids."""
    hq, d = qs[-2], qs[-1]
    hkv, dv = ks[-2], vs[-1]
    group = hq // hkv
    total_q = len(q) // (hq * d)
    out = [0.0] * (total_q * hq * dv)
    lse = {}
    for b in range(len(cu_q) - 1):
        sq, skv = cu_q[b + 1] - cu_q[b], cu_k[b + 1] - cu_k[b]
        for h in range(hq):
            hk = h // group
            for i in range(sq):
                row = cu_q[b] + i
                scores = []
                for j in range(skv):
                    if causal and j > i + skv - sq:
                        continue
                    if doc_q and doc_q[b * sq + i] != doc_k[b * skv + j]:
                        continue
                    key = cu_k[b] + j
                    dot = sum(q[(row * hq + h) * d + x] * k[(key * hkv + hk) * d + x]
                              for x in range(d))
                    scores.append((key, scale * dot))
                if not scores:
                    lse[(b, h, i)] = -math.inf
                    continue
                m = max(s for _, s in scores)
                denom = sum(math.exp(s - m) for _, s in scores)
                lse[(b, h, i)] = m + math.log(denom)
                for key, s in scores:
                    p = math.exp(s - m) / denom
                    for x in range(dv):
                        out[(row * hq + h) * dv + x] += p * v[(key * hkv + hk) * dv + x]
    return out, lse


def cmd_attention(args):
    o = options(args)
    _, qs, q = read(o["q"])
    _, ks, k = read(o["k"])
    _, vs, v = read(o["v"])
    varlen = "cu-seqlens-q" in o
    if varlen:
        cu_q = [int(x) for x in read(o["cu-seqlens-q"])[2]]
        cu_k = [int(x) for x in read(o["cu-seqlens-k"])[2]]
    else:
        cu_q = [b * qs[1] for b in range(qs[0] + 1)]
        cu_k = [b * ks[1] for b in range(ks[0] + 1)]
    scale = float(o["scale"]) if "scale" in o else 1.0 / math.sqrt(qs[-1])
    doc_q = read(o["doc-q"])[2] if "doc-q" in o else None
    doc_k = read(o["doc-k"])[2] if "doc-k" in o else None
    want, want_lse = attention(q, qs, k, ks, v, vs, o.get("causal", False), scale, cu_q, cu_k,
                               doc_q, doc_k)
    tol = float(o.get("tol", "1e-6"))
    descr, shape, got = read(o["out"])
    print("out", descr, shape)
    expected_shape = qs[:-1] + [vs[-1]]
    worst = 0.0
    ok = shape == expected_shape and len(got) == len(want)
    for w, g in zip(want, got):
        print("%.6f %.6f" % (w, g))
        worst = max(worst, abs(w - g) / max(1.0, abs(w)))
    if "lse" in o:
        descr, lse_shape, got_lse = read(o["lse"])
        print("lse", descr, lse_shape)
        hq = qs[-2]
        batch = len(cu_q) - 1
        if varlen:
            expected_lse_shape = [hq, cu_q[-1]]
            index = lambda b, h, i: h * cu_q[-1] + cu_q[b] + i
        else:
            expected_lse_shape = [batch, hq, qs[1]]
            index = lambda b, h, i: (b * hq + h) * qs[1] + i
        ok = ok and lse_shape == expected_lse_shape
        for (b, h, i), w in sorted(want_lse.items()):
            g = got_lse[index(b, h, i)]
            print("%.6f %.6f" % (w, g))
            if math.isinf(w) or math.isinf(g):
                ok = ok and w == g
            else:
                worst = max(worst, abs(w - g) / max(1.0, abs(w)))
    ok = ok and worst <= tol
    print("max error %.3g: %s" % (worst, "OK" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


def cmd_linear(args):
    """linear --q Q --k K --v V [--gate G] [--state-in S0] --scale C --out O --state-out S:
    a causal linear pattern token by token over dense [B, T, H, D] tensors (GQA), S <- g_t S +
    k_t v_t^T, o_t = C q_t^T S, with g [B, H, T] (1 without --gate); compares O and the final
    state [B, H, D, Dv]."""
    o = options(args)
    _, qs, q = read(o["q"])
    _, ks, k = read(o["k"])
    _, vs, v = read(o["v"])
    B, T, hq, d = qs
    hkv, dv = ks[2], vs[3]
    gate = read(o["gate"])[2] if "gate" in o else None
    s0 = read(o["state-in"])[2] if "state-in" in o else [0.0] * (B * hq * d * dv)
    scale = float(o["scale"])
    out, state = [0.0] * (B * T * hq * dv), []
    for b in range(B):
        for h in range(hq):
            hk = h // (hq // hkv)
            base = (b * hq + h) * d * dv
            S = list(s0[base:base + d * dv])
            for t in range(T):
                g = gate[(b * hq + h) * T + t] if gate else 1.0
                krow = k[((b * T + t) * hkv + hk) * d:][:d]
                vrow = v[((b * T + t) * hkv + hk) * dv:][:dv]
                for x in range(d):
                    for y in range(dv):
                        S[x * dv + y] = g * S[x * dv + y] + krow[x] * vrow[y]
                qrow = q[((b * T + t) * hq + h) * d:][:d]
                for y in range(dv):
                    out[((b * T + t) * hq + h) * dv + y] = scale * sum(
                        qrow[x] * S[x * dv + y] for x in range(d))
            state += S
    ok, worst = True, 0.0
    for name, want, shape in (("out", out, [B, T, hq, dv]), ("state-out", state, [B, hq, d, dv])):
        descr, got_shape, got = read(o[name])
        print(name, descr, got_shape)
        ok = ok and got_shape == shape
        for w, g in zip(want, got):
            print("%.6f %.6f" % (w, g))
            worst = max(worst, abs(w - g) / max(1.0, abs(w)))
    ok = ok and worst <= float(o.get("tol", "1e-6"))
    print("max error %.3g: %s" % (worst, "OK" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


def cmd_mix(args):
    """mix --a A --b B --mix M --out O: O[..., h, :] = M[h] A[..., h, :] + (1 - M[h]) B[..., h, :]
    over [rows..., H, Dv] outputs (a composite's per-head mix of two branches)."""
    o = options(args)
    _, shape, a = read(o["a"])
    _, _, b = read(o["b"])
    _, _, mix = read(o["mix"])
    heads, dv = shape[-2], shape[-1]
    want = [mix[(i // dv) % heads] * x + (1 - mix[(i // dv) % heads]) * y
            for i, (x, y) in enumerate(zip(a, b))]
    descr, got_shape, got = read(o["out"])
    print("out", descr, got_shape)
    worst = max(abs(w - g) / max(1.0, abs(w)) for w, g in zip(want, got))
    ok = got_shape == shape and len(got) == len(want) and worst <= float(o.get("tol", "1e-6"))
    print("max error %.3g: %s" % (worst, "OK" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


def cmd_png(args):
    with open(args[0], "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), "bad CRC in " + kind.decode()
        chunks.append((kind, body))
        pos += 12 + length
    kinds = [c[0] for c in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND", kinds
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, interlace) == (8, 2, 0)
    pixels = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))  # checks Adler-32
    stride = width * 3 + 1
    assert len(pixels) == height * stride
    assert all(pixels[y * stride] == 0 for y in range(height))
    idat = sum(len(b) for k, b in chunks if k == b"IDAT")
    print("PNG %d x %d, chunks %s" % (width, height, " ".join(k.decode() for k in kinds)))
    print("IDAT %d bytes" % idat)
    rows, cols = int(args[1]), int(args[2])
    names = {(255, 255, 255): ".", (31, 58, 147): "#", (158, 197, 240): "+"}
    for r in range(rows):
        y = (2 * r + 1) * height // (2 * rows)
        line = ""
        for c in range(cols):
            x = (2 * c + 1) * width // (2 * cols)
            p = y * stride + 1 + 3 * x
            line += names.get(tuple(pixels[p:p + 3]), "?")
        print(line)


if __name__ == "__main__":
    commands = {"write": cmd_write, "random": cmd_random, "show": cmd_show, "attention": cmd_attention,
                "linear": cmd_linear, "mix": cmd_mix, "png": cmd_png}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])
