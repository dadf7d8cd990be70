/*===- attnc_c.h - The stable C API of attnc -------------------------------===*
 *
 * Compile an attention spec (or load an AOT bundle), then launch its kernels on tensors that
 * live in device memory, on the caller's CUDA stream. Plain C99; no CUDA header needed.
 *
 * Libraries: libattnc.so has everything. The static runtime (attnc_runtime, no LLVM) has all
 * but attnc_compile: what an application running AOT bundles links.
 *
 * Conventions:
 *  - Functions returning int return 0 on success and nonzero on failure; attnc_last_error()
 *    then holds the message (per thread, valid until the next failing call on that thread).
 *    Spec errors carry file:line:col and the source line.
 *  - Objects are opaque; each *_free accepts NULL. Kernels belong to their program.
 *  - Structs that may grow start with `struct_size`: set it to sizeof(the struct). Fields are
 *    only ever appended; a library reads the fields the caller's size covers and rejects a
 *    size smaller than its version-1 struct.
 *  - ABI: ATTNC_C_API_VERSION grows when functions or fields are added; nothing is removed or
 *    reordered. Check attnc_c_api_version() >= the version you need.
 *
 *===----------------------------------------------------------------------===*/
#ifndef ATTNC_C_H
#define ATTNC_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTNC_API __attribute__((visibility("default")))
#define ATTNC_C_API_VERSION 2

typedef enum attnc_dtype {
  ATTNC_BF16 = 0,
  ATTNC_F16 = 1,
  ATTNC_F32 = 2,
  ATTNC_I32 = 3
} attnc_dtype;

/* A strided view of device memory; shape and strides in elements. rank 0: not given. */
typedef struct attnc_tensor {
  const void *data;
  int32_t dtype; /* attnc_dtype */
  int32_t rank;  /* 0..4 */
  int64_t shape[4];
  int64_t strides[4];
} attnc_tensor;

/* The tensors of one forward call (layouts as in attnc/Attention.h):
 *   q [B, Sq, Hq, D], k [B, Skv, Hkv, D], v [B, Skv, Hkv, Dv], o [B, Sq, Hq, Dv];
 *   varlen: [total, heads, dim] with cu_seqlens_q/k int32 [B + 1] and max_seqlen_q/k;
 *   lse: optional float32 [B, Hq, Sq] (varlen [Hq, total_q]), softmax patterns only;
 *   inputs: the pattern's input tensors in declaration order;
 *   scalars: the pattern's run-time scalars in declaration order, NaN = the default;
 *   scale: 0 = the pattern's (1/sqrt(D) with its temperature folded in);
 *   state_in, state_out (version 2): linear patterns' recurrent state, optional float32
 *     [B, Hq, D, Dv] ([B, Hq, F', Dv] for a map of whole rows, F' its features rounded up to
 *     64), possibly the same tensor; sequences of length 1 run the decode step. */
typedef struct attnc_forward_args {
  int32_t struct_size;
  attnc_tensor q, k, v, o, lse;
  attnc_tensor cu_seqlens_q, cu_seqlens_k;
  int32_t max_seqlen_q, max_seqlen_k;
  const attnc_tensor *inputs;
  int32_t num_inputs;
  const double *scalars;
  int32_t num_scalars;
  double scale;
  attnc_tensor state_in, state_out;     /* version 2 */
  attnc_tensor key_sum_in, key_sum_out; /* version 2: float32 [B, Hq, D] (F'), 'normalize sum' */
} attnc_forward_args;

typedef struct attnc_compile_options {
  int32_t struct_size;
  const char *dtype;         /* "bf16" (NULL) or "f16" */
  int32_t head_dim;          /* 0: the pattern's, else 128 */
  int32_t head_dim_v;        /* 0: the pattern's, else head_dim */
  const char *arch;          /* NULL: the current device's, sm_90a without one */
  const char *file_name;     /* in diagnostics; NULL: "<spec>" */
  const char *const *params; /* "NAME=VALUE" overrides of the spec's params */
  int32_t num_params;
} attnc_compile_options;

typedef struct attnc_cache_stats {
  uint64_t memory_hits, disk_hits, misses, disk_rejected, disk_writes, disk_write_failures;
  uint64_t program_hits; /* attnc_compile calls answered from the in-process spec cache */
} attnc_cache_stats;

typedef struct attnc_program attnc_program;
typedef struct attnc_kernel attnc_kernel;
typedef struct attnc_block_map attnc_block_map;

ATTNC_API int attnc_c_api_version(void);
ATTNC_API const char *attnc_version(void);
ATTNC_API const char *attnc_last_error(void);

/* Compiles every pattern of a spec (parse, passes, CUDA source; no GPU needed). The kernels
 * are JIT-compiled and loaded on first use, or by attnc_kernel_load. A composite is one more
 * kernel, named after it, whose forward runs its branches' kernels and its combine (its spec
 * JSON lists its "branches"). Only in libattnc.so. */
ATTNC_API int attnc_compile(const char *spec_text, const attnc_compile_options *options,
                            attnc_program **out);
/* Loads the manifest of an AOT bundle (attnc compile --emit=bundle); no compiler needed. */
ATTNC_API int attnc_bundle_load(const char *directory, attnc_program **out);
ATTNC_API void attnc_program_free(attnc_program *program);
ATTNC_API int32_t attnc_program_size(const attnc_program *program);
/* Owned by the program; NULL (and an error) when out of range / not found. */
ATTNC_API attnc_kernel *attnc_program_kernel(const attnc_program *program, int32_t index);
ATTNC_API attnc_kernel *attnc_program_find(const attnc_program *program, const char *pattern);

/* The kernel's launch description as JSON (pattern, entry, dtype, head_dim, head_dim_v,
 * normalizer, varlen, heads, kv_heads, inputs, scalars, ...) and its CUDA source (empty for a
 * bundle without sources). Owned by the kernel. */
ATTNC_API const char *attnc_kernel_spec_json(const attnc_kernel *kernel);
ATTNC_API const char *attnc_kernel_source(const attnc_kernel *kernel);
/* Loads on the current device (a bundle's CUBIN, else NVRTC through the kernel cache). */
ATTNC_API int attnc_kernel_load(attnc_kernel *kernel);

/* Launches on `stream` (a CUstream / cudaStream_t; NULL: the legacy default stream). */
ATTNC_API int attnc_forward(attnc_kernel *kernel, const attnc_forward_args *args, void *stream);
/* Run-time block maps (masks that read tensors): build once, reuse for calls of one shape. */
ATTNC_API int attnc_kernel_needs_block_map(attnc_kernel *kernel);
ATTNC_API int attnc_block_map_build(attnc_kernel *kernel, const attnc_forward_args *args,
                                    void *stream, attnc_block_map **out);
ATTNC_API int attnc_forward_with_map(attnc_kernel *kernel, const attnc_forward_args *args,
                                     const attnc_block_map *map, void *stream);
ATTNC_API void attnc_block_map_free(attnc_block_map *map);

/* Device memory for callers without a CUDA runtime of their own (current device). */
ATTNC_API int attnc_device_alloc(size_t bytes, uint64_t *ptr);
ATTNC_API int attnc_device_free(uint64_t ptr);
ATTNC_API int attnc_copy_to_device(uint64_t dst, const void *src, size_t bytes);
ATTNC_API int attnc_copy_to_host(void *dst, uint64_t src, size_t bytes);
ATTNC_API int attnc_synchronize(void);
/* Name and compute capability of the current device; an error without one. */
ATTNC_API int attnc_device_info(char *name, size_t name_size, int *cc_major, int *cc_minor);

ATTNC_API int attnc_cache_stats_get(attnc_cache_stats *stats);
/* Forgets the in-process caches (compiled specs, kernel cache); the disk cache stays. Kernels
 * already loaded stay loaded. */
ATTNC_API void attnc_cache_clear_memory(void);

#ifdef __cplusplus
}
#endif

#endif /* ATTNC_C_H */
