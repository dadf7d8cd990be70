//===- linear_features.cuh - Maps of whole rows for linear patterns --------===//
//
// A linear pattern's feature map may take a whole row of q or k instead of one element
// (FwdParams::linear_feature_slices): Based's second-order Taylor map and Hedgehog's learned
// map give F features per row, F != D. The chunked kernel (linear_sm80.cuh) then runs on
// the features instead of q and k, 64 of them per block (a feature slice: its 64 rows of the
// state), in three launches:
//   1. the feature pass writes phi(q) and phi(k) of every row (Elem, padded by zeros to
//      slices x 64) to a workspace;
//   2. the prefill runs over Hq x slices blocks per sequence, each on its slice of the
//      features: with one slice it writes O, with more its unnormalised output and
//      denominators in float32;
//   3. the reduce pass sums the slices' partials into O (only with more than one slice).
// The recurrent step (linear_step.cuh) computes the one row's features itself.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_LINEAR_FEATURES_CUH
#define ATTNC_DEVICE_LINEAR_FEATURES_CUH

#include "attnc/math.cuh"
#include "attnc/mma_sm80.cuh"
#include "attnc/params.cuh"
#include "attnc/tile_scores.cuh"
#include "attnc/tiles.cuh"

namespace attnc {

/// Two floats moved as one 8-byte access (the state's rows are float32).
struct alignas(8) Float2 {
  float x, y;
};

/// A pattern's map of whole rows: kMap (kFeatureMapElementwise for hooks that declare none),
/// kDim = F and kRows, F rounded up to the 64-row feature slices (the state's rows).
template <class Pattern, class = void> struct RowMap {
  static constexpr int kMap = kFeatureMapElementwise, kDim = 0, kRows = 0;
};
template <class Pattern> struct RowMap<Pattern, decltype(void(Pattern::kFeatureMap))> {
  static constexpr int kMap = Pattern::kFeatureMap, kDim = Pattern::kFeatureDim;
  static constexpr int kRows = (kDim + 63) / 64 * 64;
};

/// Row `row` of feature slice `slice` of (b, h) in the feature pass's buffer (phi(k) after every
/// phi(q)): 64 Elem per row.
template <class Elem>
ATTNC_DEVICE Elem *linearFeatureRow(const FwdParams &p, bool keys, int b, int h, int slice,
                                    int row) {
  const i64 rows = i64(p.seqlen_q + kLinearChunk - 1) / kLinearChunk * kLinearChunk;
  const int slices = p.linear_feature_slices;
  const i64 plane = i64(p.batch) * p.heads * slices * rows * 64;
  return static_cast<Elem *>(p.linear_gated) + (keys ? plane : 0) +
         (((i64(b) * p.heads + h) * slices + slice) * rows + row) * 64;
}

/// One warp's phi(x) of a row x of head h: lane l holds x[l + 32 c] in xr[c] (0 past D); calls
/// store(f, value) for every feature f in [0, RowMap::kRows) (zeros past F), each f once, lanes
/// taking f = l, l + 32, ...
///   taylor2:  [1, x_i D^(-1/4), x_i x_j c_ij (i <= j, row-major)], c_ii = 1/sqrt(2D),
///             c_ij = 1/sqrt(D): phi(q) . phi(k) = 1 + z + z^2 / 2, z = q.k / sqrt(D)
///   hedgehog: y = x W_h (M = F / 2 values), [softmax(y), softmax(-y)]
template <class Pattern, class Store>
ATTNC_DEVICE void rowFeaturesWarp(const FwdParams &p, int h, const float *xr, int lane,
                                  Store &&store) {
  constexpr int D = Pattern::kHeadDim, F = RowMap<Pattern>::kDim, kRows = RowMap<Pattern>::kRows;
  if constexpr (RowMap<Pattern>::kMap == kFeatureMapTaylor2) {
    static_assert(D <= 32, "taylor2's features of D > 32 exceed the supported 256");
    auto x = [&](int i) { return __shfl_sync(0xffffffffu, xr[0], i); };
    const float linearScale = rsqrtf(sqrtf(float(D))), cross = rsqrtf(float(D));
    const float square = rsqrtf(2.f * float(D));
#pragma unroll
    for (int f0 = 0; f0 < kRows; f0 += 32) {
      const int f = f0 + lane;
      // Every lane shuffles (the same number of times): pair (i, j) of f's quadratic term.
      int pair = f - 1 - D, i = 0;
      while (pair >= D - i && i < D) {
        pair -= D - i;
        ++i;
      }
      const int j = min(max(i + pair, 0), D - 1), ii = min(i, D - 1);
      const float xi = x(ii), xj = x(j), xf = x(max(min(f - 1, D - 1), 0));
      float value = 0.f;
      if (f == 0)
        value = 1.f;
      else if (f <= D)
        value = xf * linearScale;
      else if (f < F)
        value = xi * xj * (ii == j ? square : cross);
      store(f, value);
    }
  } else {
    static_assert(RowMap<Pattern>::kMap == kFeatureMapHedgehog, "a map of whole rows");
    constexpr int M = F / 2, kCols = (M + 31) / 32;
    const float *w = Pattern::featureWeights(p) + i64(h) * D * M;
    float y[kCols];
#pragma unroll
    for (int c = 0; c < kCols; ++c)
      y[c] = 0.f;
    // x_i from lane i % 32's register i / 32 (a constant index: no local memory).
#pragma unroll
    for (int r = 0; r < (D + 31) / 32; ++r)
#pragma unroll 4
      for (int l = 0; l < min(32, D - 32 * r); ++l) {
        const int i = 32 * r + l;
        const float xi = __shfl_sync(0xffffffffu, xr[r], l);
#pragma unroll
        for (int c = 0; c < kCols; ++c) {
          const int m = lane + 32 * c;
          if (m < M)
            y[c] = fmaf(xi, __ldg(w + i * M + m), y[c]);
        }
      }
#pragma unroll
    for (int sign = 0; sign < 2; ++sign) {
      const float s = sign ? -1.f : 1.f;
      float top = -3.0e38f, total = 0.f; // below any finite y
#pragma unroll
      for (int c = 0; c < kCols; ++c)
        if (lane + 32 * c < M)
          top = fmaxf(top, s * y[c]);
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2)
        top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, offset));
      float e[kCols];
#pragma unroll
      for (int c = 0; c < kCols; ++c) {
        e[c] = lane + 32 * c < M ? __expf(s * y[c] - top) : 0.f;
        total += e[c];
      }
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2)
        total += __shfl_xor_sync(0xffffffffu, total, offset);
#pragma unroll
      for (int c = 0; c < kCols; ++c)
        if (lane + 32 * c < M)
          store(sign * M + lane + 32 * c, e[c] / total);
    }
#pragma unroll
    for (int f = F + lane; f < kRows; f += 32)
      store(f, 0.f);
  }
}

/// Lane l's share of a row of D values for rowFeaturesWarp (xr[c] = x[l + 32 c], 0 past D).
template <class Elem, int D>
ATTNC_DEVICE void loadRowLanes(const Elem *row, int lane, float (&xr)[(D + 31) / 32]) {
#pragma unroll
  for (int c = 0; c < (D + 31) / 32; ++c)
    xr[c] = lane + 32 * c < D ? toFloat(row[lane + 32 * c]) : 0.f;
}

/// The feature pass (grid chunks x Hq x B, kLinearThreads threads): each warp takes rows of its
/// chunk's q and k in turn and writes their features, rounded to Elem, to every slice. Rows past
/// the sequence's end are not written: the prefill's tile loads zero-fill them.
template <class Pattern, class Elem> ATTNC_DEVICE void linearFeaturePass(const FwdParams &p) {
  constexpr int D = Pattern::kHeadDim, kWarps = kLinearThreads / 32;
  const int chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const SequenceView seq = sequenceView(p, b, h);
  const int c0 = chunk * kLinearChunk, n = min(kLinearChunk, seq.seqlenQ - c0);
  const int hk = h / (p.heads / p.kv_heads);
  const Elem *q = static_cast<const Elem *>(p.q) + seq.qOff + h * p.q_head_stride;
  const Elem *k = static_cast<const Elem *>(p.k) + seq.kOff + hk * p.k_head_stride;
  for (int job = warp; job < 2 * n; job += kWarps) {
    const bool keys = job >= n;
    const int row = c0 + (keys ? job - n : job);
    float xr[(D + 31) / 32];
    loadRowLanes<Elem, D>(keys ? k + i64(row) * p.k_row_stride : q + i64(row) * p.q_row_stride,
                          lane, xr);
    rowFeaturesWarp<Pattern>(p, h, xr, lane, [&](int f, float value) {
      linearFeatureRow<Elem>(p, keys, b, h, f / 64, row)[f % 64] = fromFloat<Elem>(value);
    });
  }
}

/// The feature slices' partial output of (b, h), slice `slice`, row `row` (Dv floats), and
/// its denominator.
ATTNC_DEVICE float *linearPartialRow(const FwdParams &p, int b, int h, int slice, int row, int dv) {
  const i64 rows = i64(p.seqlen_q + kLinearChunk - 1) / kLinearChunk * kLinearChunk;
  return p.linear_partial +
         (((i64(b) * p.heads + h) * p.linear_feature_slices + slice) * rows + row) * dv;
}
ATTNC_DEVICE float *linearPartialDen(const FwdParams &p, int b, int h, int slice, int row, int dv) {
  const i64 rows = i64(p.seqlen_q + kLinearChunk - 1) / kLinearChunk * kLinearChunk;
  return p.linear_partial + i64(p.batch) * p.heads * p.linear_feature_slices * rows * dv +
         ((i64(b) * p.heads + h) * p.linear_feature_slices + slice) * rows + row;
}

/// The reduce pass (grid chunks x Hq x B): O = sum of the slices' outputs (already scaled by c),
/// or with the sum normaliser their sum over the sum of their denominators (0 where it is 0).
template <class Pattern, class Elem, int kHeadDimV>
ATTNC_DEVICE void linearReducePass(const FwdParams &p) {
  constexpr bool kSum = Pattern::kNormalizer == kNormalizeSum;
  const int chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const SequenceView seq = sequenceView(p, b, h);
  const int c0 = chunk * kLinearChunk, n = min(kLinearChunk, seq.seqlenQ - c0);
  Elem *o = static_cast<Elem *>(p.o) + seq.oOff + h * p.o_head_stride;
  for (int idx = threadIdx.x; idx < n * (kHeadDimV / 2); idx += kLinearThreads) {
    const int row = c0 + idx / (kHeadDimV / 2), col = 2 * (idx % (kHeadDimV / 2));
    float x = 0.f, y = 0.f, den = 0.f;
    for (int s = 0; s < p.linear_feature_slices; ++s) {
      const Float2 v =
          *reinterpret_cast<const Float2 *>(linearPartialRow(p, b, h, s, row, kHeadDimV) + col);
      x += v.x;
      y += v.y;
      if constexpr (kSum)
        den += *linearPartialDen(p, b, h, s, row, kHeadDimV);
    }
    if constexpr (kSum) {
      const float factor = den != 0.f ? 1.f / den : 0.f;
      x *= factor;
      y *= factor;
    }
    *reinterpret_cast<u32 *>(o + i64(row) * p.o_row_stride + col) = packFloat2<Elem>(x, y);
  }
}

} // namespace attnc

#endif // ATTNC_DEVICE_LINEAR_FEATURES_CUH
