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

/// One warp's phi(x) of R rows x of head h at once: lane l holds x_r[l + 32 c] in xr[r][c] (0
/// past D); calls store(r, f, value) for every row r and feature f in [0, RowMap::kRows) (zeros
/// past F), lanes taking f = l, l + 32, ...
///   taylor2:  [1, x_i D^(-1/4), x_i x_j c_ij (i <= j, row-major)], c_ii = 1/sqrt(2D),
///             c_ij = 1/sqrt(D): phi(q) . phi(k) = 1 + z + z^2 / 2, z = q.k / sqrt(D)
///   hedgehog: y = x W_h (M = F / 2 values), [softmax(y), softmax(-y)]; each weight loaded
///             once for the R rows
template <class Pattern, int R, class Store>
ATTNC_DEVICE void rowFeaturesWarp(const FwdParams &p, int h,
                                  const float (&xr)[R][(Pattern::kHeadDim + 31) / 32], int lane,
                                  Store &&store) {
  constexpr int D = Pattern::kHeadDim, F = RowMap<Pattern>::kDim, kRows = RowMap<Pattern>::kRows;
  if constexpr (RowMap<Pattern>::kMap == kFeatureMapTaylor2) {
    static_assert(D <= 32, "taylor2's features of D > 32 exceed the supported 256");
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
      const int linearIndex = max(min(f - 1, D - 1), 0);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float xi = __shfl_sync(0xffffffffu, xr[r][0], ii);
        const float xj = __shfl_sync(0xffffffffu, xr[r][0], j);
        const float xf = __shfl_sync(0xffffffffu, xr[r][0], linearIndex);
        float value = 0.f;
        if (f == 0)
          value = 1.f;
        else if (f <= D)
          value = xf * linearScale;
        else if (f < F)
          value = xi * xj * (ii == j ? square : cross);
        store(r, f, value);
      }
    }
  } else {
    static_assert(RowMap<Pattern>::kMap == kFeatureMapHedgehog, "a map of whole rows");
    constexpr int M = F / 2, kCols = (M + 31) / 32;
    const float *w = Pattern::featureWeights(p) + i64(h) * D * M;
    float y[R][kCols];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int c = 0; c < kCols; ++c)
        y[r][c] = 0.f;
        // x_i from lane i % 32's register i / 32 (a constant index: no local memory).
#pragma unroll
    for (int reg = 0; reg < (D + 31) / 32; ++reg)
#pragma unroll 4
      for (int l = 0; l < min(32, D - 32 * reg); ++l) {
        const int i = 32 * reg + l;
        float wv[kCols];
#pragma unroll
        for (int c = 0; c < kCols; ++c)
          wv[c] = lane + 32 * c < M ? __ldg(w + i * M + lane + 32 * c) : 0.f;
#pragma unroll
        for (int r = 0; r < R; ++r) {
          const float xi = __shfl_sync(0xffffffffu, xr[r][reg], l);
#pragma unroll
          for (int c = 0; c < kCols; ++c)
            y[r][c] = fmaf(xi, wv[c], y[r][c]);
        }
      }
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int sign = 0; sign < 2; ++sign) {
        const float s = sign ? -1.f : 1.f;
        float top = -3.0e38f, total = 0.f; // below any finite y
#pragma unroll
        for (int c = 0; c < kCols; ++c)
          if (lane + 32 * c < M)
            top = fmaxf(top, s * y[r][c]);
#pragma unroll
        for (int offset = 16; offset > 0; offset /= 2)
          top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, offset));
        float e[kCols];
#pragma unroll
        for (int c = 0; c < kCols; ++c) {
          e[c] = lane + 32 * c < M ? __expf(s * y[r][c] - top) : 0.f;
          total += e[c];
        }
#pragma unroll
        for (int offset = 16; offset > 0; offset /= 2)
          total += __shfl_xor_sync(0xffffffffu, total, offset);
        const float inverse = 1.f / total;
#pragma unroll
        for (int c = 0; c < kCols; ++c)
          if (lane + 32 * c < M)
            store(r, sign * M + lane + 32 * c, e[c] * inverse);
      }
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int f = F + lane; f < kRows; f += 32)
        store(r, f, 0.f);
  }
}

/// Lane l's share of a row of D values for rowFeaturesWarp (xr[c] = x[l + 32 c], 0 past D).
template <class Elem, int D>
ATTNC_DEVICE void loadRowLanes(const Elem *row, int lane, float (&xr)[(D + 31) / 32]) {
#pragma unroll
  for (int c = 0; c < (D + 31) / 32; ++c)
    xr[c] = lane + 32 * c < D ? toFloat(row[lane + 32 * c]) : 0.f;
}

/// Taylor-2's features of one row by one thread (the feature pass: every index is a
/// compile-time constant, so the row and each group of 8 features stay in registers): the same
/// values as rowFeaturesWarp, handed 8 at a time to store(f, packed) (f: the group's first).
template <class Pattern, class Elem, class Store>
ATTNC_DEVICE void taylor2Row(const Elem *src, Store &&store) {
  constexpr int D = Pattern::kHeadDim, F = RowMap<Pattern>::kDim, kRows = RowMap<Pattern>::kRows;
  static_assert(D % 8 == 0 && kRows % 8 == 0, "rows of whole 16-byte groups");
  float x[D];
#pragma unroll
  for (int c = 0; c < D / 8; ++c) {
    const uint4 v = __ldg(reinterpret_cast<const uint4 *>(src) + c);
    const Elem *e = reinterpret_cast<const Elem *>(&v);
#pragma unroll
    for (int u = 0; u < 8; ++u)
      x[8 * c + u] = toFloat(e[u]);
  }
  const float linearScale = rsqrtf(sqrtf(float(D))), cross = rsqrtf(float(D));
  const float square = rsqrtf(2.f * float(D));
  float group[8];
  int n = 0; // features so far (a constant at every use once the loops unroll)
  auto put = [&](float value) {
    group[n % 8] = value;
    if (++n % 8 == 0) {
      store(n - 8,
            uint4{packFloat2<Elem>(group[0], group[1]), packFloat2<Elem>(group[2], group[3]),
                  packFloat2<Elem>(group[4], group[5]), packFloat2<Elem>(group[6], group[7])});
    }
  };
  put(1.f);
#pragma unroll
  for (int i = 0; i < D; ++i)
    put(x[i] * linearScale);
#pragma unroll
  for (int i = 0; i < D; ++i)
#pragma unroll
    for (int j = i; j < D; ++j)
      put(x[i] * x[j] * (i == j ? square : cross));
#pragma unroll
  for (int f = F; f < kRows; ++f)
    put(0.f);
}

/// The feature pass (grid chunks x Hq x B, kLinearThreads threads) over one chunk's q and k
/// rows, writing their features, rounded to Elem, to every slice: taylor2 a row per thread,
/// hedgehog 4 rows per warp at a time. Rows past the sequence's end are not written: the
/// prefill's tile loads zero-fill them.
template <class Pattern, class Elem> ATTNC_DEVICE void linearFeaturePass(const FwdParams &p) {
  constexpr int D = Pattern::kHeadDim, kWarps = kLinearThreads / 32, R = 4;
  static_assert(2 * kLinearChunk == kLinearThreads, "a thread per row of q and k");
  const int chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const SequenceView seq = sequenceView(p, b, h);
  const int c0 = chunk * kLinearChunk, n = min(kLinearChunk, seq.seqlenQ - c0);
  const int hk = h / (p.heads / p.kv_heads);
  const Elem *q = static_cast<const Elem *>(p.q) + seq.qOff + h * p.q_head_stride;
  const Elem *k = static_cast<const Elem *>(p.k) + seq.kOff + hk * p.k_head_stride;
  auto source = [&](bool keys, int row) {
    return keys ? k + i64(row) * p.k_row_stride : q + i64(row) * p.q_row_stride;
  };
  if constexpr (RowMap<Pattern>::kMap == kFeatureMapTaylor2) {
    // Thread t maps row t % 64 of q (t < 64) or k into shared memory (linearFeaturePassSmem:
    // [slice][t][8 groups of 8 features], group g at g ^ (t % 8) against bank conflicts), then
    // the block stores each slice's rows contiguously (a row per 8 consecutive threads).
    constexpr int kSlices = RowMap<Pattern>::kRows / 64;
    extern __shared__ __attribute__((aligned(128))) u8 attncSmem[];
    uint4 *stage = reinterpret_cast<uint4 *>(attncSmem);
    const int t = threadIdx.x, row = t % kLinearChunk;
    if (row < n)
      taylor2Row<Pattern, Elem>(source(t >= kLinearChunk, c0 + row), [&](int f, uint4 packed) {
        stage[((f / 64) * kLinearThreads + t) * 8 + ((f % 64 / 8) ^ (t % 8))] = packed;
      });
    __syncthreads();
    for (int i = t; i < kSlices * kLinearThreads * 8; i += kLinearThreads) {
      const int group = i % 8, r = (i / 8) % kLinearThreads, slice = i / (8 * kLinearThreads);
      if (r % kLinearChunk < n)
        *reinterpret_cast<uint4 *>(
            linearFeatureRow<Elem>(p, r >= kLinearChunk, b, h, slice, c0 + r % kLinearChunk) +
            8 * group) = stage[(slice * kLinearThreads + r) * 8 + (group ^ (r % 8))];
    }
  } else {
    // Jobs 0 .. n - 1 are q's rows, n .. 2n - 1 k's; a warp takes R consecutive jobs.
    for (int j0 = warp * R; j0 < 2 * n; j0 += kWarps * R) {
      float xr[R][(D + 31) / 32];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const int job = min(j0 + r, 2 * n - 1);
        const bool keys = job >= n;
        loadRowLanes<Elem, D>(source(keys, c0 + (keys ? job - n : job)), lane, xr[r]);
      }
      rowFeaturesWarp<Pattern, R>(p, h, xr, lane, [&](int r, int f, float value) {
        const int job = j0 + r;
        if (job < 2 * n) {
          const bool keys = job >= n;
          linearFeatureRow<Elem>(p, keys, b, h, f / 64, c0 + (keys ? job - n : job))[f % 64] =
              fromFloat<Elem>(value);
        }
      });
    }
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
  // Four columns per thread: 16-byte loads of each slice's partials, an 8-byte store to O.
  for (int idx = threadIdx.x; idx < n * (kHeadDimV / 4); idx += kLinearThreads) {
    const int row = c0 + idx / (kHeadDimV / 4), col = 4 * (idx % (kHeadDimV / 4));
    float x[4] = {0.f, 0.f, 0.f, 0.f}, den = 0.f;
    for (int s = 0; s < p.linear_feature_slices; ++s) {
      const float4 v = __ldg(
          reinterpret_cast<const float4 *>(linearPartialRow(p, b, h, s, row, kHeadDimV) + col));
      x[0] += v.x;
      x[1] += v.y;
      x[2] += v.z;
      x[3] += v.w;
      if constexpr (kSum)
        den += __ldg(linearPartialDen(p, b, h, s, row, kHeadDimV));
    }
    if constexpr (kSum) {
      const float factor = den != 0.f ? 1.f / den : 0.f;
#pragma unroll
      for (int e = 0; e < 4; ++e)
        x[e] *= factor;
    }
    *reinterpret_cast<uint2 *>(o + i64(row) * p.o_row_stride + col) =
        uint2{packFloat2<Elem>(x[0], x[1]), packFloat2<Elem>(x[2], x[3])};
  }
}

/// The `_features` entry point: the feature pass or the reduce pass (FwdParams::linear_pass),
/// compiled apart from the prefill so that they run with registers (and occupancy) of their
/// own; the prefill's entry runs them too, for callers that launch only it.
template <class Pattern, class Elem, int kHeadDimV>
ATTNC_DEVICE void linearRowPasses(const FwdParams &p) {
  if (p.linear_pass == kLinearFeaturePass)
    linearFeaturePass<Pattern, Elem>(p);
  else if (p.linear_pass == kLinearReducePass)
    linearReducePass<Pattern, Elem, kHeadDimV>(p);
}

} // namespace attnc

#endif // ATTNC_DEVICE_LINEAR_FEATURES_CUH
