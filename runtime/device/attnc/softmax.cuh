//===- softmax.cuh - Online softmax over mma.sync accumulator rows ----------===//
//
// Per-thread state of the online softmax (KERNELS.md §3) for the two rows a thread holds in an
// m16n8 accumulator: row g in registers c0,c1 and row g+8 in c2,c3 of every n8 tile, the other
// columns of the row living in the 3 other lanes of the quad. Scores x are kept in their own
// units and the base-2 factor f is folded into one FFMA per element:
//   p = 2^(x*f - m*f)      f = c*log2(e) for raw scores, log2(e) for already-modified scores.
// The running max m is quad-reduced every tile; the running sum l stays a per-thread partial sum
// (rescaling is linear) and is quad-reduced once in finalize.
// The -inf rule: where the new max is -inf (every key seen so far masked), use 0 in its place,
// so 2^(-inf - 0) = 0 and no NaN appears; rows that end with l = 0 get O = 0, LSE = -inf.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_SOFTMAX_CUH
#define ATTNC_DEVICE_SOFTMAX_CUH

#include "attnc/math.cuh"

namespace attnc {

/// max over the 4 lanes of a quad (lanes 4g..4g+3), result in all four.
ATTNC_DEVICE float quadMax(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

/// sum over the 4 lanes of a quad, result in all four.
ATTNC_DEVICE float quadSum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

/// Online-softmax state of two accumulator rows over S tiles of kTilesN n8 column tiles.
template <int kTilesN> struct OnlineSoftmax {
  float rowMax[2]; // m: running max of the scores, in score units
  float rowSum[2]; // l: this thread's partial running sum of p

  ATTNC_DEVICE void init() {
    for (int r = 0; r < 2; ++r) {
      rowMax[r] = negInfinity();
      rowSum[r] = 0.f;
    }
  }

  /// Folds one tile of scores `s` into the state and overwrites `s` with p. `alpha` receives the
  /// factor by which the caller must rescale its O rows. kCheckInf applies the -inf rule; leave
  /// it off only when every score of the tile is finite. With kEmulateEvery = n > 0, column
  /// tiles j with j % n == n - 1 take their exponentials on the FMA pipe (exp2Fma).
  template <bool kCheckInf, int kEmulateEvery = 0>
  ATTNC_DEVICE void update(float (&s)[kTilesN][4], float f, float (&alpha)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      // m_new = max(m_old, rowmax(S))
      float mNew = rowMax[r];
#pragma unroll
      for (int j = 0; j < kTilesN; ++j)
        mNew = fmaxf(mNew, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
      mNew = quadMax(mNew);
      // m_new*f, with 0 standing in for an all-masked row's -inf
      const float mScaled = (kCheckInf && mNew == negInfinity()) ? 0.f : mNew * f;
      // alpha = 2^(m_old*f - m_new*f); m_old = -inf gives 0
      alpha[r] = exp2Approx(rowMax[r] * f - mScaled);
      rowMax[r] = mNew;
      // p = 2^(x*f - m_new*f); l = alpha*l + sum(p)
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < kTilesN; ++j) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float y = fmaf(s[j][2 * r + e], f, -mScaled);
          const float pe = (kEmulateEvery > 0 && j % kEmulateEvery == kEmulateEvery - 1)
                               ? exp2Fma(y)
                               : exp2Approx(y);
          s[j][2 * r + e] = pe;
          sum += pe;
        }
      }
      rowSum[r] = rowSum[r] * alpha[r] + sum;
    }
  }

  /// Ends the row: `invSum` = 1/l (0 for a row with no visible key) and
  /// `lse` = ln(sum_k e^x_k) = (m*f + log2 l) * ln 2 (natural log; -inf for an empty row).
  ATTNC_DEVICE void finalize(float f, float (&invSum)[2], float (&lse)[2]) const {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float l = quadSum(rowSum[r]);
      const bool empty = !(l > 0.f); // l == 0 or NaN
      invSum[r] = empty ? 0.f : rcpApprox(l);
      lse[r] = empty ? negInfinity() : (rowMax[r] * f + log2Approx(l)) * kLn2;
    }
  }
};

} // namespace attnc

#endif // ATTNC_DEVICE_SOFTMAX_CUH
