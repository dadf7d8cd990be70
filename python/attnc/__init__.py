"""attnc from Python: attention kernels compiled from .attn specs.

A pure-Python package over the C API of libattnc.so (ctypes): nothing is compiled at install
time and any Python 3 works. Kernels take PyTorch CUDA tensors (launched on the current torch
stream, no copy, any strides with a contiguous last dimension) or numpy arrays (copied to the
GPU and back; float32/float16 in, float32 out).

    import attnc
    prog = attnc.compile("attention causal { mask k <= q }")
    out = prog["causal"](q, k, v)          # q [B, Sq, H, D], k/v [B, Skv, Hkv, D]; out [B, Sq, H, Dv]
    out, lse = prog["causal"](q, k, v, lse=True)

The library is found through $ATTNC_LIBRARY, next to this package, or in the build tree
(build/lib/libattnc.so beside python/).
"""

import ctypes
import json
import math
import os

__all__ = ["compile", "load_bundle", "AttncError", "Program", "Kernel", "BlockMap",
           "cache_stats", "clear_memory_cache", "device_info", "library_version"]


class AttncError(RuntimeError):
    """An error reported by attnc (a spec error holds file:line:col and the source line)."""


# ---------------------------------------------------------------------------------------------
# The C API (runtime/include/attnc/attnc_c.h)
# ---------------------------------------------------------------------------------------------

_BF16, _F16, _F32, _I32 = 0, 1, 2, 3
_C_API_VERSION = 2


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * 4), ("strides", ctypes.c_int64 * 4)]


class _ForwardArgs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_int32),
                ("q", _Tensor), ("k", _Tensor), ("v", _Tensor), ("o", _Tensor), ("lse", _Tensor),
                ("cu_seqlens_q", _Tensor), ("cu_seqlens_k", _Tensor),
                ("max_seqlen_q", ctypes.c_int32), ("max_seqlen_k", ctypes.c_int32),
                ("inputs", ctypes.POINTER(_Tensor)), ("num_inputs", ctypes.c_int32),
                ("scalars", ctypes.POINTER(ctypes.c_double)), ("num_scalars", ctypes.c_int32),
                ("scale", ctypes.c_double),
                ("state_in", _Tensor), ("state_out", _Tensor),
                ("key_sum_in", _Tensor), ("key_sum_out", _Tensor)]


class _CompileOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_int32), ("dtype", ctypes.c_char_p),
                ("head_dim", ctypes.c_int32), ("head_dim_v", ctypes.c_int32),
                ("arch", ctypes.c_char_p), ("file_name", ctypes.c_char_p),
                ("params", ctypes.POINTER(ctypes.c_char_p)), ("num_params", ctypes.c_int32)]


class _CacheStats(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "memory_hits", "disk_hits", "misses", "disk_rejected", "disk_writes",
        "disk_write_failures", "program_hits")]


_lib = None


def _library_candidates():
    env = os.environ.get("ATTNC_LIBRARY")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.join(here, "libattnc.so"),
            os.path.join(here, "..", "..", "build", "lib", "libattnc.so")]


def _load():
    global _lib
    if _lib is not None:
        return _lib
    errors = []
    for path in _library_candidates():
        if not os.path.exists(path):
            errors.append(path + ": not found")
            continue
        try:
            lib = ctypes.CDLL(os.path.abspath(path))
        except OSError as e:
            errors.append("%s: %s" % (path, e))
            continue
        break
    else:
        raise AttncError("cannot load libattnc.so (set ATTNC_LIBRARY): " + "; ".join(errors))
    P, I, V = ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
    sig = {
        "attnc_c_api_version": ([], I), "attnc_version": ([], ctypes.c_char_p),
        "attnc_last_error": ([], ctypes.c_char_p),
        "attnc_compile": ([ctypes.c_char_p, ctypes.POINTER(_CompileOptions),
                           ctypes.POINTER(P)], I),
        "attnc_bundle_load": ([ctypes.c_char_p, ctypes.POINTER(P)], I),
        "attnc_program_free": ([P], None), "attnc_program_size": ([P], ctypes.c_int32),
        "attnc_program_kernel": ([P, ctypes.c_int32], P),
        "attnc_kernel_spec_json": ([P], ctypes.c_char_p),
        "attnc_kernel_source": ([P], ctypes.c_char_p), "attnc_kernel_load": ([P], I),
        "attnc_forward": ([P, ctypes.POINTER(_ForwardArgs), V], I),
        "attnc_kernel_needs_block_map": ([P], I),
        "attnc_block_map_build": ([P, ctypes.POINTER(_ForwardArgs), V, ctypes.POINTER(P)], I),
        "attnc_forward_with_map": ([P, ctypes.POINTER(_ForwardArgs), P, V], I),
        "attnc_block_map_free": ([P], None),
        "attnc_device_alloc": ([ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint64)], I),
        "attnc_device_free": ([ctypes.c_uint64], I),
        "attnc_copy_to_device": ([ctypes.c_uint64, P, ctypes.c_size_t], I),
        "attnc_copy_to_host": ([P, ctypes.c_uint64, ctypes.c_size_t], I),
        "attnc_synchronize": ([], I),
        "attnc_device_info": ([ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(I),
                               ctypes.POINTER(I)], I),
        "attnc_cache_stats_get": ([ctypes.POINTER(_CacheStats)], I),
        "attnc_cache_clear_memory": ([], None),
    }
    for name, (args, res) in sig.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res
    if lib.attnc_c_api_version() < _C_API_VERSION:
        raise AttncError("libattnc.so has C API version %d; this package needs %d"
                         % (lib.attnc_c_api_version(), _C_API_VERSION))
    _lib = lib
    return lib


def _check(rc):
    if rc != 0:
        raise AttncError(_lib.attnc_last_error().decode("utf-8", "replace"))


def library_version():
    return _load().attnc_version().decode()


def device_info():
    """(name, (major, minor)) of the current CUDA device; AttncError without one."""
    lib = _load()
    name = ctypes.create_string_buffer(256)
    major, minor = ctypes.c_int(), ctypes.c_int()
    _check(lib.attnc_device_info(name, 256, ctypes.byref(major), ctypes.byref(minor)))
    return name.value.decode(), (major.value, minor.value)


def cache_stats():
    """Counters of the kernel cache (memory/disk hits, NVRTC compiles) and the spec cache."""
    stats = _CacheStats()
    _check(_load().attnc_cache_stats_get(ctypes.byref(stats)))
    return {name: getattr(stats, name) for name, _ in _CacheStats._fields_}


def clear_memory_cache():
    """Forgets compiled specs and in-memory CUBINs (the disk cache stays)."""
    _load().attnc_cache_clear_memory()


# ---------------------------------------------------------------------------------------------
# Tensors
# ---------------------------------------------------------------------------------------------

def _is_torch(x):
    return type(x).__module__.startswith("torch")


def _torch_tensor(t, name):
    import torch
    dtypes = {torch.bfloat16: _BF16, torch.float16: _F16, torch.float32: _F32,
              torch.int32: _I32}
    if t.dtype not in dtypes:
        raise AttncError("%s: dtype %s is not supported" % (name, t.dtype))
    if not t.is_cuda:
        raise AttncError("%s: a torch tensor must be on a CUDA device" % name)
    if t.dim() > 4:
        raise AttncError("%s: rank %d (at most 4)" % (name, t.dim()))
    c = _Tensor()
    c.data = t.data_ptr()
    c.dtype = dtypes[t.dtype]
    c.rank = t.dim()
    for i in range(t.dim()):
        c.shape[i] = t.shape[i]
        c.strides[i] = t.stride(i)
    return c


class _DeviceArrays:
    """numpy arrays copied to device memory for one call; freed on close()."""

    def __init__(self):
        self.ptrs = []

    def upload(self, array, dtype_code, name):
        import numpy as np
        array = np.ascontiguousarray(array)
        ptr = ctypes.c_uint64()
        _check(_lib.attnc_device_alloc(max(array.nbytes, 16), ctypes.byref(ptr)))
        self.ptrs.append(ptr.value)
        _check(_lib.attnc_copy_to_device(ptr.value, array.ctypes.data, array.nbytes))
        return self.tensor(ptr.value, array.shape, dtype_code, name)

    def empty(self, shape, dtype_code, itemsize, name):
        count = 1
        for d in shape:
            count *= d
        ptr = ctypes.c_uint64()
        _check(_lib.attnc_device_alloc(max(count * itemsize, 16), ctypes.byref(ptr)))
        self.ptrs.append(ptr.value)
        return self.tensor(ptr.value, shape, dtype_code, name)

    @staticmethod
    def tensor(ptr, shape, dtype_code, name):
        if len(shape) > 4:
            raise AttncError("%s: rank %d (at most 4)" % (name, len(shape)))
        c = _Tensor()
        c.data = ptr
        c.dtype = dtype_code
        c.rank = len(shape)
        stride = 1
        for i in reversed(range(len(shape))):
            c.shape[i] = shape[i]
            c.strides[i] = stride
            stride *= shape[i]
        return c

    def close(self):
        for p in self.ptrs:
            _lib.attnc_device_free(p)
        self.ptrs = []


def _to_bf16_bits(array):
    """float32 -> bfloat16 bits (uint16), round to nearest even."""
    import numpy as np
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    rounded = np.where(np.isnan(array), 0x7FC0, rounded)
    return rounded.astype(np.uint16)


def _from_16bit(bits, dtype_code):
    import numpy as np
    if dtype_code == _F16:
        return bits.view(np.float16).astype(np.float32)
    return (bits.astype(np.uint32) << 16).view(np.float32)


# ---------------------------------------------------------------------------------------------
# Programs and kernels
# ---------------------------------------------------------------------------------------------

class BlockMap:
    """A run-time block map built once for one problem shape (see Kernel.build_block_map)."""

    def __init__(self, handle, keep):
        self._handle = handle
        self._keep = keep  # the tensors it was built from stay alive with it

    def __del__(self):
        if getattr(self, "_handle", None) and _lib is not None:
            _lib.attnc_block_map_free(self._handle)
            self._handle = None


def _states(state_in, state_out, key_sum_in, key_sum_out):
    """A linear pattern's carried tensors, by their C API field names."""
    return {"state_in": state_in, "state_out": state_out, "key_sum_in": key_sum_in,
            "key_sum_out": key_sum_out}


class Kernel:
    """One pattern's kernel. Call it on q, k, v (and the pattern's inputs and scalars)."""

    def __init__(self, program, handle):
        self._program = program  # keeps the C program (which owns this kernel) alive
        self._handle = handle
        self.spec = json.loads(_lib.attnc_kernel_spec_json(handle).decode())
        self.name = self.spec["pattern"]

    def __repr__(self):
        s = self.spec
        return "<attnc.Kernel %s: %s D%d Dv%d %s%s>" % (
            self.name, s["dtype"], s["head_dim"], s["head_dim_v"], s["normalizer"],
            ", varlen" if s["varlen"] else "")

    @property
    def source(self):
        """The generated CUDA C++."""
        return _lib.attnc_kernel_source(self._handle).decode()

    @property
    def needs_block_map(self):
        return bool(_lib.attnc_kernel_needs_block_map(self._handle))

    def load(self):
        """JIT-compiles (NVRTC, through the kernel cache) and loads on the current device."""
        _check(_lib.attnc_kernel_load(self._handle))
        return self

    def _args(self, q, k, v, out, lse, inputs, scalars, scale, cu_seqlens_q, cu_seqlens_k,
              max_seqlen_q, max_seqlen_k, arrays, states=None):
        s = self.spec
        a = _ForwardArgs()
        a.struct_size = ctypes.sizeof(_ForwardArgs)
        keep = [q, k, v, out, lse, states]
        torch_mode = _is_torch(q)
        for name, state in (states or {}).items():
            if state is None:
                continue
            if not _is_torch(state):
                raise AttncError("%s takes a torch float32 tensor" % name)
            setattr(a, name, _torch_tensor(state, name))
        if torch_mode:
            a.q, a.k, a.v = (_torch_tensor(t, n) for t, n in ((q, "q"), (k, "k"), (v, "v")))
            a.o = _torch_tensor(out, "out")
            if lse is not None:
                a.lse = _torch_tensor(lse, "lse")
        else:
            import numpy as np
            code = _BF16 if s["dtype"] == "bf16" else _F16
            conv = (_to_bf16_bits if code == _BF16 else
                    (lambda x: np.asarray(x, dtype=np.float16).view(np.uint16)))
            a.q, a.k, a.v = (arrays.upload(conv(t), code, n) for t, n in ((q, "q"), (k, "k"),
                                                                           (v, "v")))
            a.o = out
            if lse is not None:
                a.lse = lse
        if cu_seqlens_q is not None or cu_seqlens_k is not None:
            for name, cu in (("cu_seqlens_q", cu_seqlens_q), ("cu_seqlens_k", cu_seqlens_k)):
                if cu is None:
                    raise AttncError("give both cu_seqlens_q and cu_seqlens_k")
                keep.append(cu)
                if _is_torch(cu):
                    t = _torch_tensor(cu, name)
                else:
                    import numpy as np
                    t = arrays.upload(np.asarray(cu, dtype=np.int32), _I32, name)
                setattr(a, name, t)
            a.max_seqlen_q = int(max_seqlen_q)
            a.max_seqlen_k = int(max_seqlen_k)
        # Inputs and scalars by name (a dict) or in declaration order (a list).
        decl_inputs = [i["name"] for i in s["inputs"]]
        decl_scalars = [x["name"] for x in s["scalars"]]
        inputs = self._ordered(inputs, decl_inputs, "input")
        scalars = self._ordered(scalars, decl_scalars, "scalar")
        if any(t is None for t in inputs):
            missing = [n for n, t in zip(decl_inputs, inputs) if t is None]
            raise AttncError("pattern '%s' needs input(s) %s" % (self.name, ", ".join(missing)))
        if inputs:
            tensors = (_Tensor * len(inputs))()
            for i, (t, decl) in enumerate(zip(inputs, s["inputs"])):
                keep.append(t)
                if _is_torch(t):
                    tensors[i] = _torch_tensor(t, decl["name"])
                elif decl["dtype"] in ("bf16", "f16"):  # a composite branch's own q or k
                    import numpy as np
                    bits = (_to_bf16_bits(t) if decl["dtype"] == "bf16" else
                            np.asarray(t, dtype=np.float16).view(np.uint16))
                    code = _BF16 if decl["dtype"] == "bf16" else _F16
                    tensors[i] = arrays.upload(bits, code, decl["name"])
                else:
                    import numpy as np
                    want = np.float32 if decl["dtype"] == "f32" else np.int32
                    code = _F32 if decl["dtype"] == "f32" else _I32
                    tensors[i] = arrays.upload(np.asarray(t, dtype=want), code, decl["name"])
            a.inputs = tensors
            a.num_inputs = len(inputs)
            keep.append(tensors)
        if scalars:
            values = (ctypes.c_double * len(scalars))(
                *[float("nan") if x is None else float(x) for x in scalars])
            a.scalars = values
            a.num_scalars = len(scalars)
            keep.append(values)
        a.scale = 0.0 if scale is None else float(scale)
        return a, keep

    def _ordered(self, given, declared, what):
        if given is None:
            return [None] * len(declared)
        if isinstance(given, dict):
            unknown = sorted(set(given) - set(declared))
            if unknown:
                raise AttncError("pattern '%s' declares no %s %s (declared: %s)" % (
                    self.name, what, ", ".join(unknown), ", ".join(declared) or "none"))
            return [given.get(n) for n in declared]
        given = list(given)
        if len(given) > len(declared):
            raise AttncError("pattern '%s' takes %d %s(s), got %d" % (
                self.name, len(declared), what, len(given)))
        return given + [None] * (len(declared) - len(given))

    def _shapes(self, q):
        s = self.spec
        rank = 3 if s["varlen"] else 4
        if len(q.shape) != rank:
            raise AttncError("q has shape %s; pattern '%s' takes %s" % (
                tuple(q.shape), self.name, "[total_q, Hq, D] (varlen)" if s["varlen"]
                else "[B, Sq, Hq, D]"))
        shape = tuple(q.shape[:-1]) + (s["head_dim_v"],)
        if s["varlen"]:
            lse_shape = (q.shape[1], q.shape[0])
        else:
            lse_shape = (q.shape[0], q.shape[2], q.shape[1])
        return shape, lse_shape

    def __call__(self, q, k, v, *, out=None, lse=False, inputs=None, scalars=None, scale=None,
                 cu_seqlens_q=None, cu_seqlens_k=None, max_seqlen_q=None, max_seqlen_k=None,
                 block_map=None, stream=None, initial_state=None, final_state=None,
                 initial_key_sum=None, final_key_sum=None):
        """The attention output [B, Sq, Hq, Dv] (varlen: [total_q, Hq, Dv]); with lse=True also
        the log-sum-exp [B, Hq, Sq] (varlen [Hq, total_q]) as float32.

        Linear patterns: initial_state (read; default zero) and final_state (written) are torch
        float32 [B, Hq, D, Dv] tensors, possibly the same one; with `normalize sum` also
        initial_key_sum / final_key_sum, [B, Hq, D]. A call with sequences of length 1 runs the
        recurrent decode step.

        torch tensors: launched on `stream` (default: torch's current stream) without a sync;
        `out` may be given. numpy arrays: float values, synchronous, float32 results.
        inputs/scalars: dicts by name or lists in declaration order; a scalar left out takes
        its default. scale replaces the pattern's softmax scale. block_map: from
        build_block_map with the same sizes and inputs."""
        _load()
        out_shape, lse_shape = self._shapes(q)
        if _is_torch(q):
            import torch
            if out is None:
                out = torch.empty(out_shape, dtype=q.dtype, device=q.device)
            lse_t = (torch.empty(lse_shape, dtype=torch.float32, device=q.device)
                     if lse else None)
            a, keep = self._args(q, k, v, out, lse_t, inputs, scalars, scale, cu_seqlens_q,
                                 cu_seqlens_k, max_seqlen_q, max_seqlen_k, None,
                                 _states(initial_state, final_state, initial_key_sum,
                                         final_key_sum))
            if stream is None:
                stream = torch.cuda.current_stream(q.device).cuda_stream
            self._launch(a, block_map, stream)
            return (out, lse_t) if lse else out
        import numpy as np
        arrays = _DeviceArrays()
        try:
            code = _BF16 if self.spec["dtype"] == "bf16" else _F16
            o = arrays.empty(out_shape, code, 2, "out")
            lse_c = arrays.empty(lse_shape, _F32, 4, "lse") if lse else None
            a, keep = self._args(q, k, v, o, lse_c, inputs, scalars, scale, cu_seqlens_q,
                                 cu_seqlens_k, max_seqlen_q, max_seqlen_k, arrays,
                                 _states(initial_state, final_state, initial_key_sum,
                                         final_key_sum))
            self._launch(a, block_map, stream)
            _check(_lib.attnc_synchronize())
            bits = np.empty(out_shape, dtype=np.uint16)
            _check(_lib.attnc_copy_to_host(bits.ctypes.data, o.data, bits.nbytes))
            result = _from_16bit(bits, code)
            if not lse:
                return result
            lse_out = np.empty(lse_shape, dtype=np.float32)
            _check(_lib.attnc_copy_to_host(lse_out.ctypes.data, lse_c.data, lse_out.nbytes))
            return result, lse_out
        finally:
            arrays.close()

    def bind(self, q, k, v, out, *, lse=None, inputs=None, scalars=None, scale=None,
             cu_seqlens_q=None, cu_seqlens_k=None, max_seqlen_q=None, max_seqlen_k=None,
             block_map=None, initial_state=None, final_state=None, initial_key_sum=None,
             final_key_sum=None):
        """A launcher with every argument converted once (torch tensors only): calling it
        re-launches on the same tensors, for timing loops and CUDA graph capture."""
        if not _is_torch(q):
            raise AttncError("bind takes torch tensors")
        a, keep = self._args(q, k, v, out, lse, inputs, scalars, scale, cu_seqlens_q,
                             cu_seqlens_k, max_seqlen_q, max_seqlen_k, None,
                             _states(initial_state, final_state, initial_key_sum, final_key_sum))
        kernel = self

        def launch(stream=None):
            import torch
            if stream is None:
                stream = torch.cuda.current_stream(q.device).cuda_stream
            kernel._launch(a, block_map, stream)
            return out

        launch.keep = keep  # the tensors stay alive with the launcher
        return launch

    def _launch(self, a, block_map, stream):
        if block_map is not None:
            _check(_lib.attnc_forward_with_map(self._handle, ctypes.byref(a), block_map._handle,
                                               stream))
        else:
            _check(_lib.attnc_forward(self._handle, ctypes.byref(a), stream))

    def build_block_map(self, q, k, v, *, inputs=None, scalars=None, cu_seqlens_q=None,
                        cu_seqlens_k=None, max_seqlen_q=None, max_seqlen_k=None, stream=None):
        """Builds the run-time block map of a mask that reads tensors (torch tensors only), to
        pass as block_map= to calls of the same sizes and inputs."""
        import torch
        out_shape, _ = self._shapes(q)
        out = torch.empty(out_shape, dtype=q.dtype, device=q.device)
        a, keep = self._args(q, k, v, out, None, inputs, scalars, None, cu_seqlens_q,
                             cu_seqlens_k, max_seqlen_q, max_seqlen_k, None)
        if stream is None:
            stream = torch.cuda.current_stream(q.device).cuda_stream
        handle = ctypes.c_void_p()
        _check(_lib.attnc_block_map_build(self._handle, ctypes.byref(a), stream,
                                          ctypes.byref(handle)))
        return BlockMap(handle, keep)


class Program:
    """The kernels of one spec, by pattern name."""

    def __init__(self, handle):
        self._handle = handle
        self.kernels = [Kernel(self, _lib.attnc_program_kernel(handle, i))
                        for i in range(_lib.attnc_program_size(handle))]

    def __del__(self):
        if getattr(self, "_handle", None) and _lib is not None:
            _lib.attnc_program_free(self._handle)
            self._handle = None

    def __getitem__(self, name):
        for kernel in self.kernels:
            if kernel.name == name:
                return kernel
        raise KeyError("no pattern '%s' (the spec has %s)" % (
            name, ", ".join(k.name for k in self.kernels)))

    def __iter__(self):
        return iter(self.kernels)

    def __len__(self):
        return len(self.kernels)

    @property
    def names(self):
        return [k.name for k in self.kernels]


def compile(spec, *, dtype="bf16", head_dim=128, head_dim_v=0, arch=None, params=None,
            file_name=None):
    """Compiles every pattern of a .attn spec (text, or a path ending in .attn).

    params: {"window": 1024} overrides compile-time params. arch: None for the current
    device's. Kernels JIT-compile on first use (or .load())."""
    lib = _load()
    text = spec
    if isinstance(spec, str) and spec.endswith(".attn") and "\n" not in spec \
            and os.path.exists(spec):
        with open(spec) as f:
            text = f.read()
        file_name = file_name or spec
    opts = _CompileOptions()
    opts.struct_size = ctypes.sizeof(_CompileOptions)
    opts.dtype = dtype.encode()
    opts.head_dim = int(head_dim)
    opts.head_dim_v = int(head_dim_v)
    opts.arch = arch.encode() if arch else None
    opts.file_name = (file_name or "<spec>").encode()
    items = ["%s=%s" % (n, str(v).lower() if isinstance(v, bool) else v)
             for n, v in (params or {}).items()]
    array = (ctypes.c_char_p * max(len(items), 1))(*[i.encode() for i in items])
    opts.params = array
    opts.num_params = len(items)
    handle = ctypes.c_void_p()
    _check(lib.attnc_compile(text.encode(), ctypes.byref(opts), ctypes.byref(handle)))
    return Program(handle)


def load_bundle(directory):
    """The kernels of an AOT bundle (attnc compile SPEC --emit=bundle -o DIR)."""
    lib = _load()
    handle = ctypes.c_void_p()
    _check(lib.attnc_bundle_load(os.fspath(directory).encode(), ctypes.byref(handle)))
    return Program(handle)
