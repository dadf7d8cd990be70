//===- params.cuh - Kernel argument blocks shared by host and device ------===//
//
// The argument structs that every generated attention kernel takes by value, and the
// launch-geometry helpers the host uses for them. This header is compiled both by NVRTC (inside
// the device library, with no system headers at all) and by the host C++ compiler, so it uses
// only built-in types and no CUDA keywords outside `ATTNC_HD`.
//
// Layout conventions (all strides in elements, not bytes):
//   Q [B, Sq, Hq, D], K [B, Skv, Hkv, D], V [B, Skv, Hkv, Dv], O [B, Sq, Hq, Dv]
//   LSE [B, Hq, Sq] float32, natural log; -inf for a row that sees no key.
// With `cu_seqlens_q/k` set (variable length), B is the number of sequences, the tensors are
// packed along the sequence dimension (batch stride unused) and sequence b occupies rows
// [cu_seqlens[b], cu_seqlens[b+1]). LSE is then [Hq, total_q] with total_q = cu_seqlens_q[B]:
// row q of sequence b, head h is lse[h * total_q + cu_seqlens_q[b] + q]. cu_seqlens_q and
// cu_seqlens_k are independent (either may be null). seqlen_q sizes the grid (max over the batch).
// The sm80 kernel needs 16-byte aligned rows: 16-byte aligned base pointers, strides that are
// multiples of 8 elements, contiguous head dimension.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_PARAMS_CUH
#define ATTNC_DEVICE_PARAMS_CUH

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define ATTNC_HD __host__ __device__
#else
#define ATTNC_HD
#endif

namespace attnc {

/// Maximum number of extra input tensors (document ids, slopes, bias tables) a pattern reads.
constexpr int kMaxExtraInputs = 8;
/// Maximum number of run-time float scalars a pattern takes.
constexpr int kMaxRuntimeScalars = 8;

/// Arguments of the softmax-family forward kernel.
struct FwdParams {
  const void *q;
  const void *k;
  const void *v;
  void *o;
  float *lse; // may be null: no log-sum-exp side output

  long long q_batch_stride, q_row_stride, q_head_stride;
  long long k_batch_stride, k_row_stride, k_head_stride;
  long long v_batch_stride, v_row_stride, v_head_stride;
  long long o_batch_stride, o_row_stride, o_head_stride;

  int batch;     // B (number of sequences when varlen)
  int heads;     // Hq
  int kv_heads;  // Hkv; Hq % Hkv == 0 (GQA/MQA)
  int seqlen_q;  // Sq (max over the batch when varlen)
  int seqlen_k;  // Skv (max over the batch when varlen)

  const int *cu_seqlens_q; // null unless varlen: B+1 prefix sums
  const int *cu_seqlens_k;

  float scale;      // c: softmax scale applied to q.k (1/sqrt(D) by default)
  float scale_log2; // c * log2(e), folded into the exp2 of the online softmax

  const void *inputs[kMaxExtraInputs];  // extra input tensors, in declaration order
  float scalars[kMaxRuntimeScalars];    // run-time scalars, in declaration order
};

/// Shared memory bytes of the mma.sync forward kernel (fwd_sm80.cuh): one Q tile plus `stages`
/// K and V tiles, 2-byte elements. Above 48 KiB the host must raise the kernel's
/// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES before launching.
ATTNC_HD constexpr int fwdSm80SmemBytes(int headDim, int headDimV, int blockM, int blockN,
                                        int stages) {
  return 2 * (blockM * headDim + stages * blockN * (headDim + headDimV));
}

} // namespace attnc

#endif // ATTNC_DEVICE_PARAMS_CUH
