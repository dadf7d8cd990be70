//===- tile_scores.cuh - One key tile's scores to weights, for every template ---===//
//
// The per-tile hook sequence both kernel templates run on their fp32 score accumulators. The
// mma.sync m16n8 fragment (fwd_sm80.cuh) and the wgmma m64nN fragment (fwd_sm90.cuh) give a
// thread the same view of a tile: rows qHook[0] and qHook[1] (registers e = 0,1 and 2,3 of
// every n8 column tile j) and, in column tile j, the keys k0 + 8j + 2t and k0 + 8j + 2t + 1
// (t = lane % 4). So one function serves both:
//   FULL tiles:    t = score_mod(c*s); softmax without mask code (the -inf check only when a
//                  score mod may produce -inf);
//   PARTIAL tiles: score mod -> mask -> bounds (k < seqlen_k) -> softmax with the -inf check;
//                  where both rows have row bounds (blockmap.cuh), lo <= k <= hi stands for
//                  the mask and the bounds;
//   sigmoid / none normalisers: p = sigmoid(t + bias) or t, 0 where masked, alpha = 1;
//   Pattern::weight then multiplies p (the softmax row sums stay unweighted).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_TILE_SCORES_CUH
#define ATTNC_DEVICE_TILE_SCORES_CUH

#include "attnc/blockmap.cuh"
#include "attnc/params.cuh"
#include "attnc/softmax.cuh"

#ifndef ATTNC_EXP2_EMULATION
#define ATTNC_EXP2_EMULATION 0 // off: on the H100 it cost softcap 3-6% (bench/RESULTS.md)
#endif

namespace attnc {

/// Pattern::kNormalizer values (the order of the dialect's NormalizerKind).
constexpr int kNormalizeSoftmax = 0, kNormalizeSigmoid = 1, kNormalizeNone = 2, kNormalizeSum = 3;

/// Softmax units: raw scores s with f = c*log2(e), or what the score mod yields, t, with f =
/// log2(e) times the factor taken out of it (Pattern::kScoreOutScale: the score is that times t).
template <class Pattern> ATTNC_DEVICE float softmaxLog2Factor(const FwdParams &p) {
  return Pattern::kHasScoreMod ? kLog2e * Pattern::kScoreOutScale : p.scale_log2;
}

/// What the score mod takes: the dot product times c and the factor taken out of its input.
template <class Pattern> ATTNC_DEVICE float scoreModInputScale(const FwdParams &p) {
  return Pattern::kScoreInScale == 1.f ? p.scale : p.scale * Pattern::kScoreInScale;
}

/// Sigmoid / none weight of a score x (the raw dot product unless a score mod ran).
template <class Pattern> ATTNC_DEVICE float unnormalizedWeight(const FwdParams &p, float x) {
  const float tScore = Pattern::kHasScoreMod ? x * Pattern::kScoreOutScale : x * p.scale;
  if constexpr (Pattern::kNormalizer == kNormalizeSigmoid)
    return rcpApprox(1.f + exp2Approx(-(tScore + Pattern::kBias) * kLog2e));
  else
    return tScore;
}

/// Overwrites the scores `s` of key tile [k0, k0 + 8 kTilesN) with the tile's weights P and sets
/// `alpha` to the factor the caller rescales its O rows by. `full`: the tile is entirely below
/// seqlen_k and Pattern::tileFull holds for both rows (no mask code runs). Row r of this
/// thread is query qHook[r] of head hHook[r] (the decode template packs several heads of one
/// KV head into a tile; the forward templates pass one head twice). `rb`: the rows' bounds,
/// where valid.
template <class Pattern, int kTilesN>
ATTNC_DEVICE void scoresToWeights(const FwdParams &p, float (&s)[kTilesN][4],
                                  OnlineSoftmax<kTilesN> &softmax, float (&alpha)[2], bool full,
                                  int b, const int (&hHook)[2], const int (&qHook)[2], int k0,
                                  int t, int seqlenQ, int seqlenK, RowBounds rb = RowBounds{}) {
  constexpr bool kSoftmax = Pattern::kNormalizer == kNormalizeSoftmax;
  // A score modifier that uses the MUFU unit (tanh, exp, log) competes with the softmax's
  // exponentials for it: then every ATTNC_EXP2_EMULATION-th column tile's exponentials run
  // on the FMA pipe instead (0: never).
  constexpr int kEmulateEvery = Pattern::kMufuScoreOps > 0 ? ATTNC_EXP2_EMULATION : 0;
  const float f = softmaxLog2Factor<Pattern>(p), sIn = scoreModInputScale<Pattern>(p);
  alpha[0] = alpha[1] = 1.f;
  if (full) {
    if constexpr (Pattern::kHasScoreMod) {
#pragma unroll
      for (int j = 0; j < kTilesN; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          s[j][e] = Pattern::scoreMod(p, s[j][e] * sIn, b, hHook[e / 2], qHook[e / 2],
                                      k0 + 8 * j + 2 * t + (e & 1), seqlenQ, seqlenK);
    }
    if constexpr (kSoftmax) {
      // A score mod may return -inf, so it keeps the check.
      softmax.template update<Pattern::kHasScoreMod, kEmulateEvery>(s, f, alpha);
    } else {
#pragma unroll
      for (int j = 0; j < kTilesN; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          s[j][e] = unnormalizedWeight<Pattern>(p, s[j][e]);
    }
  } else if (Pattern::kBlockMapN > 0 && rb.valid()) {
    // Both rows are one interval of keys each (inside [0, seqlen_k)).
#pragma unroll
    for (int j = 0; j < kTilesN; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int k = k0 + 8 * j + 2 * t + (e & 1);
        float x = s[j][e];
        if constexpr (Pattern::kHasScoreMod)
          x = Pattern::scoreMod(p, x * sIn, b, hHook[e / 2], qHook[e / 2], min(k, seqlenK - 1),
                                seqlenQ, seqlenK);
        const bool keep = (k >= rb.lo[e / 2]) & (k <= rb.hi[e / 2]);
        if constexpr (kSoftmax)
          s[j][e] = keep ? x : negInfinity();
        else
          s[j][e] = keep ? unnormalizedWeight<Pattern>(p, x) : 0.f;
      }
    }
    if constexpr (kSoftmax)
      softmax.template update<true, kEmulateEvery>(s, f, alpha);
  } else {
    // Column 8j+e of this thread is key k0 + 2t + 8j + e.
    const int colLimit = seqlenK - k0 - 2 * t;
#pragma unroll
    for (int j = 0; j < kTilesN; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int k = min(k0 + 8 * j + 2 * t + (e & 1), seqlenK - 1); // hooks see valid keys
        float x = s[j][e];
        if constexpr (Pattern::kHasScoreMod)
          x = Pattern::scoreMod(p, x * sIn, b, hHook[e / 2], qHook[e / 2], k, seqlenQ, seqlenK);
        bool keep = 8 * j + (e & 1) < colLimit;
        if constexpr (Pattern::kHasMask)
          keep = keep & Pattern::mask(p, b, hHook[e / 2], qHook[e / 2], k, seqlenQ, seqlenK);
        if constexpr (kSoftmax)
          s[j][e] = keep ? x : negInfinity();
        else
          s[j][e] = keep ? unnormalizedWeight<Pattern>(p, x) : 0.f;
      }
    }
    if constexpr (kSoftmax)
      softmax.template update<true, kEmulateEvery>(s, f, alpha);
  }
  if constexpr (Pattern::kHasWeight) {
#pragma unroll
    for (int j = 0; j < kTilesN; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        s[j][e] *=
            Pattern::weight(p, b, hHook[e / 2], qHook[e / 2],
                            min(k0 + 8 * j + 2 * t + (e & 1), seqlenK - 1), seqlenQ, seqlenK);
  }
}

/// scoresToWeights for two rows of one head h.
template <class Pattern, int kTilesN>
ATTNC_DEVICE void scoresToWeights(const FwdParams &p, float (&s)[kTilesN][4],
                                  OnlineSoftmax<kTilesN> &softmax, float (&alpha)[2], bool full,
                                  int b, int h, const int (&qHook)[2], int k0, int t, int seqlenQ,
                                  int seqlenK, RowBounds rb = RowBounds{}) {
  const int hHook[2] = {h, h};
  scoresToWeights<Pattern>(p, s, softmax, alpha, full, b, hHook, qHook, k0, t, seqlenQ, seqlenK,
                           rb);
}

/// Rescales O rows by alpha (the online softmax moved the running max).
template <int kTilesV>
ATTNC_DEVICE void rescaleRows(float (&acc)[kTilesV][4], const float (&alpha)[2]) {
#pragma unroll
  for (int j = 0; j < kTilesV; ++j) {
    acc[j][0] *= alpha[0];
    acc[j][1] *= alpha[0];
    acc[j][2] *= alpha[1];
    acc[j][3] *= alpha[1];
  }
}

/// Packs weights P of key slice ks (16 keys: column tiles 2ks, 2ks+1) into the A fragment of
/// an m16 / m64 x k16 product.
template <class Elem, int kTilesN>
ATTNC_DEVICE void packWeights(const float (&s)[kTilesN][4], int ks, u32 (&a)[4]) {
  a[0] = packFloat2<Elem>(s[2 * ks][0], s[2 * ks][1]);
  a[1] = packFloat2<Elem>(s[2 * ks][2], s[2 * ks][3]);
  a[2] = packFloat2<Elem>(s[2 * ks + 1][0], s[2 * ks + 1][1]);
  a[3] = packFloat2<Elem>(s[2 * ks + 1][2], s[2 * ks + 1][3]);
}

} // namespace attnc

#endif // ATTNC_DEVICE_TILE_SCORES_CUH
