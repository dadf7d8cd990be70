//===- linear_step.cuh - The recurrent step of linear patterns --------------===//
//
// linearStep: one recurrent step of a linear pattern (a sequence of length 1: decode), beside
// the chunked prefill of linear_sm80.cuh, whose hooks and helpers it shares; memory-bound on S:
//   S <- gamma S + phi(k) v^T,   o = c phi(q)^T S
// 8 warps per block split the D rows of the block's 64 columns; each lane owns 2 columns.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_LINEAR_STEP_CUH
#define ATTNC_DEVICE_LINEAR_STEP_CUH

#include "attnc/linear_sm80.cuh"

namespace attnc {

template <class Pattern, class Elem, int kHeadDim, int kHeadDimV>
__device__ void linearStep(const FwdParams &p) {
  constexpr int kWarps = kLinearStepThreads / 32, kRows = kHeadDim / kWarps;
  static_assert(kHeadDim % kWarps == 0, "D rows split over the warps");
  constexpr bool kSum = Pattern::kNormalizer == kNormalizeSum;
  static_assert(kSum || Pattern::kNormalizer == kNormalizeNone, "normalise with none or sum");
  const int slice = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int e0 = slice * kLinearSlice;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const SequenceView seq = sequenceView(p, b, h);
  const bool present = seq.seqlenQ > 0; // a varlen sequence may be empty: S passes through
  const int hk = h / (p.heads / p.kv_heads);

  __shared__ float fq[kHeadDim], fk[kHeadDim];
  __shared__ float partial[kWarps][kLinearSlice];
  __shared__ float qz[kSum ? kHeadDim : 1]; // sum normaliser: phi(q)_d z_d
  const Elem *q = static_cast<const Elem *>(p.q) + seq.qOff + h * p.q_head_stride;
  const Elem *k = static_cast<const Elem *>(p.k) + seq.kOff + hk * p.k_head_stride;
  if constexpr (RowMap<Pattern>::kMap != kFeatureMapElementwise) {
    // A map of whole rows (linear_features.cuh): warp 0 maps q, warp 1 k, into kHeadDim (the
    // state's rows) features, rounded to Elem like the feature pass's.
    static_assert(kHeadDim == RowMap<Pattern>::kRows, "the step's rows are the features");
    if (warp < 2 && present) {
      float xr[1][(Pattern::kHeadDim + 31) / 32];
      loadRowLanes<Elem, Pattern::kHeadDim>(warp ? k : q, lane, xr[0]);
      float *dst = warp ? fk : fq;
      rowFeaturesWarp<Pattern, 1>(p, h, xr, lane, [&](int, int f, float value) {
        dst[f] = toFloat(fromFloat<Elem>(value));
      });
    }
  } else if (tid < kHeadDim && present) {
    float x = toFloat(q[tid]), y = toFloat(k[tid]);
    if constexpr (Pattern::kHasFeature) {
      // Rounded to Elem like the chunked kernel's shared-memory tiles.
      x = toFloat(fromFloat<Elem>(Pattern::feature(x)));
      y = toFloat(fromFloat<Elem>(Pattern::feature(y)));
    }
    fq[tid] = x;
    fk[tid] = y;
  }
  // The call's only token is position 0 of its sequence (a gate input holds this step's gate).
  // A gate per key dimension: one per row d, floored like the chunked kernel's.
  constexpr bool kGateDim = Pattern::kHasDecay && Pattern::kDecayPerKeyDim;
  __shared__ float gammaRow[kGateDim ? kHeadDim : 1];
  if (kGateDim && tid < kHeadDim)
    gammaRow[tid] = exp2f(fmaxf(decayLog2<Pattern>(p, b, h, 0, tid), kGateLog2Floor));
  const float gamma = Pattern::kHasDecay && !kGateDim ? Pattern::decay(p, b, h, 0, 0) : 1.f;
  if constexpr (RowMap<Pattern>::kMap != kFeatureMapElementwise)
    __syncthreads(); // the features are written
  if (kSum && tid < kHeadDim) {
    // z <- gamma z + phi(k); only the first slice's block writes it back.
    const i64 off = (i64(b) * p.heads + h) * kHeadDim + tid;
    float z = p.key_sum_in ? p.key_sum_in[off] : 0.f;
    if (present)
      z = fmaf(kGateDim ? gammaRow[tid] : gamma, z, fk[tid]);
    qz[tid] = present ? fq[tid] * z : 0.f;
    if (p.key_sum_out && slice == 0)
      p.key_sum_out[off] = z;
  }
  float v0 = 0.f, v1 = 0.f;
  if (present) {
    const Elem *v = static_cast<const Elem *>(p.v) + seq.vOff + hk * p.v_head_stride + e0;
    v0 = toFloat(v[2 * lane]);
    v1 = toFloat(v[2 * lane + 1]);
  }
  const i64 stateOff = (i64(b) * p.heads + h) * kHeadDim * kHeadDimV + e0 + 2 * lane;
  Float2 s[kRows];
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int d = warp * kRows + i;
    s[i] = p.state_in ? *reinterpret_cast<const Float2 *>(p.state_in + stateOff + d * kHeadDimV)
                      : Float2{0.f, 0.f};
  }
  __syncthreads();
  float acc0 = 0.f, acc1 = 0.f;
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int d = warp * kRows + i;
    if (present) {
      const float gd = kGateDim ? gammaRow[d] : gamma;
      s[i].x = fmaf(gd, s[i].x, fk[d] * v0);
      s[i].y = fmaf(gd, s[i].y, fk[d] * v1);
      acc0 = fmaf(fq[d], s[i].x, acc0);
      acc1 = fmaf(fq[d], s[i].y, acc1);
    }
    if (p.state_out)
      *reinterpret_cast<Float2 *>(p.state_out + stateOff + d * kHeadDimV) = s[i];
  }
  partial[warp][2 * lane] = acc0;
  partial[warp][2 * lane + 1] = acc1;
  __syncthreads();
  if (present && tid < kLinearSlice) {
    float sum = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w)
      sum += partial[w][tid];
    float factor = p.scale;
    if constexpr (kSum) {
      float den = 0.f;
      for (int d = 0; d < kHeadDim; ++d)
        den += qz[d];
      factor = den != 0.f ? 1.f / den : 0.f;
    }
    Elem *o = static_cast<Elem *>(p.o) + seq.oOff + h * p.o_head_stride + e0;
    o[tid] = fromFloat<Elem>(sum * factor);
  }
}

} // namespace attnc

#endif // ATTNC_DEVICE_LINEAR_STEP_CUH
