//===- decode_sm80.cuh - Split-KV decode for a few query rows, GQA packed ---===//
//
// `decodeSm80<Pattern, Elem, D, Dv, kStages>` computes the same output as the forward templates
// when each sequence has only a few query rows (decode, speculative verification): there the
// forward kernels' 64- or 128-row query tiles would be nearly empty, and every query head would
// stream its KV head again. Here one block holds kDecodeRows packed rows: the Hq / Hkv query
// heads that share KV head hk, times the query positions (packed row R is query R / group of
// head hk * group + R % group), so K and V are read once per KV head. The keys the rows may see
// (the union of Pattern::kvRange over the rows) are cut into decode_splits parts of whole
// kDecodeBlockN-key tiles, one per block (grid: splits x (Hkv x row groups) x B), so that a
// handful of (sequence, KV head) pairs still fills the GPU.
//
// Inside a block, the tiles stream through a kStages-deep cp.async ring; each of the 4 warps
// takes 16 keys of a tile with mma.sync m16n8k16 (Q in registers) and keeps its
// own online softmax, so no warp waits on another until the end. A tile every row finds EMPTY
// (Pattern::tileEmpty, block maps included) is skipped; one every row finds FULL runs with no
// mask code. At the end the warps' (max, sum, O) are combined through shared memory, and the
// block writes either O and LSE (one split) or its split's O, normalised over its own keys, and
// LSE to decode_workspace, which decodeMerge<Pattern, Elem, Dv> reduces:
//   LSE = log sum_s e^{LSE_s},  O = sum_s e^{LSE_s - LSE} O_s
// (sigmoid / none normalisers: O = sum_s O_s, no LSE). Launch: kDecodeThreads threads,
// decodeSm80SmemBytes(...) bytes of dynamic shared memory; the merge one warp per (b, h, q) row.
// Both start early behind the kernel before them in the stream (LaunchOrder::EarlyStart) and wait
// for it in their first instruction, which hides the merge's launch behind the decode grid's end.
// Assumes what fwd_sm80.cuh assumes (16-byte aligned rows); D and Dv in {64, 128} (with 256 a
// warp's O row and its fragments need more than 255 registers: such patterns decode with the
// forward kernel).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_DECODE_SM80_CUH
#define ATTNC_DEVICE_DECODE_SM80_CUH

#include "attnc/mma_sm80.cuh"
#include "attnc/params.cuh"
#include "attnc/tile_scores.cuh"
#include "attnc/tiles.cuh"

namespace attnc {

template <class Pattern, class Elem, int kHeadDim, int kHeadDimV, int kStages>
__device__ void decodeSm80(const FwdParams &p) {
  constexpr int kWarps = kDecodeThreads / 32;
  constexpr int kChunksQK = kHeadDim / 8, kChunksV = kHeadDimV / 8;
  constexpr int kTilesV = kHeadDimV / 8;  // n8 column tiles of O
  constexpr int kStepsQK = kHeadDim / 16; // k16 steps of S = Q K^T
  constexpr u32 kBytesQ = kDecodeRows * kHeadDim * 2;
  constexpr u32 kTileBytesK = kDecodeBlockN * kHeadDim * 2;
  constexpr u32 kTileBytesV = kDecodeBlockN * kHeadDimV * 2;
  constexpr int kAccStride = kHeadDimV + 8; // floats per row of the combine buffer (padded)
  constexpr bool kSoftmax = Pattern::kNormalizer == kNormalizeSoftmax;
  static_assert(sizeof(Elem) == 2, "Elem is a 16-bit storage type");
  static_assert(kDecodeBlockN == 16 * kWarps, "each warp takes 16 keys of a tile");
  static_assert(kDecodeRows == 16, "the rows are one m16 tile");
  static_assert((kHeadDim == 64 || kHeadDim == 128) && (kHeadDimV == 64 || kHeadDimV == 128),
                "the decode kernel takes D and Dv in {64, 128} (an O row per warp in registers)");
  static_assert(kStages >= 2, "the K/V ring needs at least two stages");
  static_assert(decodeSm80SmemBytes(kHeadDim, kHeadDimV, kStages) >=
                    int(kBytesQ + kStages * (kTileBytesK + kTileBytesV)),
                "decodeSm80SmemBytes too small for this layout");
  static_assert(kWarps * kDecodeRows * kAccStride * 4 <= int(kStages * (kTileBytesK + kTileBytesV)),
                "the warps' partial outputs must fit in the K/V ring");

  gridDependencyWait();    // q, k, v and the sequence tables may come from the kernel before
  gridDependencyRelease(); // the merge's blocks wait for this grid's end anyway
  const int split = blockIdx.x, b = blockIdx.z;
  const int group = p.heads / p.kv_heads;
  const int rowGroups = decodeRowGroups(p.heads, p.kv_heads, p.seqlen_q);
  const int hk = blockIdx.y / rowGroups, r0 = (blockIdx.y % rowGroups) * kDecodeRows;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4;

  const SequenceView seq = sequenceView(p, b, 0);
  const int seqlenQ = seq.seqlenQ, seqlenK = seq.seqlenK;
  const int rows = min(kDecodeRows, group * seqlenQ - r0); // valid packed rows of this block
  if (rows <= 0)
    return;
  // Packed row r of this block: query position rowQuery(r) of head rowHead(r); rows past
  // `rows` stand in for the last valid one (computed, never stored).
  auto rowQuery = [&](int r) { return (r0 + min(r, rows - 1)) / group; };
  auto rowHead = [&](int r) { return hk * group + (r0 + min(r, rows - 1)) % group; };

  // The keys any row may see: the hull of kvRange over the rows (lane i asks for row i).
  const int qLane = rowQuery(lane), hLane = rowHead(lane);
  int lo = 0, hi = seqlenK;
  Pattern::kvRange(p, b, hLane, qLane, qLane + 1, seqlenQ, seqlenK, lo, hi);
  if (lane >= rows) {
    lo = seqlenK;
    hi = 0;
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, offset));
    hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, offset));
  }
  lo = max(lo, 0);
  hi = min(hi, seqlenK);
  const int nMin = lo / kDecodeBlockN;
  const int nMax = hi > lo ? (hi + kDecodeBlockN - 1) / kDecodeBlockN : nMin;
  const int perSplit = (nMax - nMin + p.decode_splits - 1) / p.decode_splits;
  const int nBegin = nMin + split * perSplit, nEnd = min(nMax, nBegin + perSplit);

  // Tile n is skipped when every row finds it EMPTY, and FULL when every row finds it FULL and
  // it lies below seqlen_k. Every warp evaluates the same votes, so the walk is CTA-uniform. A
  // run-time block map's tile functions answer for the map tile (Pattern::kBlockMapN keys)
  // holding their k0, and a decode tile may straddle two: each one it touches is asked.
  constexpr int kMapN = Pattern::kBlockMapN > 0 ? Pattern::kBlockMapN : kDecodeBlockN;
  auto everyRow = [&](int n, auto tileHook) -> bool {
    const int k0 = n * kDecodeBlockN, kEnd = min(k0 + kDecodeBlockN, seqlenK);
    bool all = true;
    if (lane < rows)
      for (int m = k0 - k0 % kMapN; m < kEnd; m += kMapN)
        all = all && tileHook(max(m, k0), Pattern::kBlockMapN > 0 ? m + kMapN : k0 + kDecodeBlockN);
    return __all_sync(0xffffffffu, all);
  };
  auto skipped = [&](int n) -> bool {
    if constexpr (!Pattern::kHasTileEmpty)
      return false;
    return everyRow(n, [&](int k0, int k1) {
      return Pattern::tileEmpty(p, b, hLane, qLane, qLane + 1, k0, k1, seqlenQ, seqlenK);
    });
  };
  auto full = [&](int n) -> bool {
    bool all = (n + 1) * kDecodeBlockN <= seqlenK;
    if constexpr (Pattern::kHasMask)
      all = everyRow(n,
                     [&](int k0, int k1) {
                       return Pattern::tileFull(p, b, hLane, qLane, qLane + 1, k0, k1, seqlenQ,
                                                seqlenK);
                     }) &&
            all;
    return all;
  };
  // The next tile to visit after n (start with nBegin - 1); nEnd or more when there is none.
  auto next = [&](int n) {
    ++n;
    while (n < nEnd && skipped(n))
      ++n;
    return n;
  };
  int numTiles = 0;
  for (int n = next(nBegin - 1); n < nEnd; n = next(n))
    ++numTiles;

  extern __shared__ __attribute__((aligned(128))) u8 attncDecodeSmem[];
  const u32 sQ = smemAddress(attncDecodeSmem);
  const u32 sK = sQ + kBytesQ;
  const u32 sV = sK + kStages * kTileBytesK;

  const Elem *kPtr = static_cast<const Elem *>(p.k) + seq.kOff + hk * p.k_head_stride;
  const Elem *vPtr = static_cast<const Elem *>(p.v) + seq.vOff + hk * p.v_head_stride;
  auto loadKV = [&](int n, int slot) {
    const int k0 = n * kDecodeBlockN;
    loadTileAsync<kDecodeBlockN, kChunksQK, kDecodeThreads>(
        sK + slot * kTileBytesK, kPtr + k0 * p.k_row_stride, p.k_row_stride, seqlenK - k0, tid);
    loadTileAsync<kDecodeBlockN, kChunksV, kDecodeThreads>(
        sV + slot * kTileBytesV, vPtr + k0 * p.v_row_stride, p.v_row_stride, seqlenK - k0, tid);
  };

  // Prologue: group 0 = the Q rows + the first tile, group s = the (s+1)-th (s < kStages-1).
  int loadN = nBegin - 1, computeN = nBegin - 1;
  if (numTiles > 0) {
    const Elem *qBase = static_cast<const Elem *>(p.q) + seq.qOff;
    static_assert((kDecodeRows * kChunksQK) % kDecodeThreads == 0, "Q rows split evenly");
#pragma unroll
    for (int i = 0; i < kDecodeRows * kChunksQK / kDecodeThreads; ++i) {
      const int idx = tid + i * kDecodeThreads;
      const int row = idx / kChunksQK, chunk = idx % kChunksQK;
      const bool valid = row < rows;
      const Elem *src =
          qBase + (valid ? rowQuery(row) * p.q_row_stride + rowHead(row) * p.q_head_stride : 0) +
          chunk * 8;
      cpAsync16(sQ + swizzledOffset<kChunksQK>(row, chunk), src, valid);
    }
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < numTiles) {
        loadN = next(loadN);
        loadKV(loadN, s);
      }
      cpAsyncCommit();
    }
  }

  // ldmatrix row addresses (lanes 8i..8i+7 address matrix i), as in fwd_sm80.cuh; the Q rows
  // are the same 16 for every warp, the keys are warp w's 16 of the tile.
  const int rowQ = (lane & 7) + ((lane >> 3) & 1) * 8, chunkQ = lane >> 4;
  const int rowK = 16 * warp + (lane & 7) + (lane >> 4) * 8, chunkK = (lane >> 3) & 1;
  const int rowV = 16 * warp + (lane & 7) + ((lane >> 3) & 1) * 8, chunkV = lane >> 4;
  const int qHook[2] = {min(rowQuery(g), seqlenQ - 1), min(rowQuery(g + 8), seqlenQ - 1)};
  const int hHook[2] = {rowHead(g), rowHead(g + 8)};

  float acc[kTilesV][4];
#pragma unroll
  for (int j = 0; j < kTilesV; ++j)
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  OnlineSoftmax<2> softmax;
  softmax.init();
  u32 qFrag[kStepsQK][4];

#pragma unroll 1
  for (int i = 0; i < numTiles; ++i) {
    cpAsyncWait<kStages - 2>();
    __syncthreads();
    if (i == 0) {
#pragma unroll
      for (int kk = 0; kk < kStepsQK; ++kk)
        ldmatrixX4(qFrag[kk], sQ + swizzledOffset<kChunksQK>(rowQ, 2 * kk + chunkQ));
    }
    if (i + kStages - 1 < numTiles) {
      loadN = next(loadN);
      loadKV(loadN, (i + kStages - 1) % kStages);
    }
    cpAsyncCommit();

    const int slot = i % kStages;
    const u32 sKt = sK + slot * kTileBytesK, sVt = sV + slot * kTileBytesV;
    computeN = next(computeN);

    float s[2][4];
#pragma unroll
    for (int j = 0; j < 2; ++j)
      s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < kStepsQK; ++kk) {
      u32 kf[4];
      ldmatrixX4(kf, sKt + swizzledOffset<kChunksQK>(rowK, 2 * kk + chunkK));
      mmaM16n8k16<Elem>(s[0], qFrag[kk], kf[0], kf[1]);
      mmaM16n8k16<Elem>(s[1], qFrag[kk], kf[2], kf[3]);
    }

    float alpha[2];
    scoresToWeights<Pattern>(p, s, softmax, alpha, full(computeN), b, hHook, qHook,
                             computeN * kDecodeBlockN + 16 * warp, t, seqlenQ, seqlenK);
    rescaleRows(acc, alpha);
    u32 a[4];
    packWeights<Elem>(s, 0, a);
#pragma unroll
    for (int j = 0; j < kTilesV; j += 2) {
      u32 vf[4];
      ldmatrixX4Trans(vf, sVt + swizzledOffset<kChunksV>(rowV, j + chunkV));
      mmaM16n8k16<Elem>(acc[j], a, vf[0], vf[1]);
      mmaM16n8k16<Elem>(acc[j + 1], a, vf[2], vf[3]);
    }
  }

  // Combine the warps. Each row's max (in log2 units, -inf for no key) and sum per warp ...
  cpAsyncWait<0>();
  __syncthreads();
  __shared__ float sMax[kWarps][kDecodeRows], sSum[kWarps][kDecodeRows];
  const float f = softmaxLog2Factor<Pattern>(p);
  if constexpr (kSoftmax) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float l = quadSum(softmax.rowSum[r]);
      const float m = softmax.rowMax[r];
      if (t == 0) {
        sMax[warp][g + 8 * r] = m == negInfinity() ? negInfinity() : m * f;
        sSum[warp][g + 8 * r] = l;
      }
    }
  }
  __syncthreads();
  // ... then each warp's O rows, rescaled to the rows' common max, into the (drained) ring.
  auto rowMax = [&](int row) {
    float m = sMax[0][row];
#pragma unroll
    for (int w = 1; w < kWarps; ++w)
      m = fmaxf(m, sMax[w][row]);
    return m;
  };
  float *sAcc = reinterpret_cast<float *>(attncDecodeSmem + kBytesQ);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = g + 8 * r;
    float factor = 1.f;
    if constexpr (kSoftmax) {
      const float m = rowMax(row);
      factor = m == negInfinity() ? 0.f : exp2Approx(sMax[warp][row] - m);
    }
    float *dst = sAcc + (warp * kDecodeRows + row) * kAccStride + 2 * t;
#pragma unroll
    for (int j = 0; j < kTilesV; ++j) {
      dst[8 * j] = acc[j][2 * r] * factor;
      dst[8 * j + 1] = acc[j][2 * r + 1] * factor;
    }
  }
  __syncthreads();

  // Rows' totals: O = sum_w O_w / L with L = sum_w l_w 2^(m_w - m); LSE (log2 units) m + log2 L.
  const bool merged = p.decode_splits > 1;
  const long long rowsTotal = static_cast<long long>(p.batch) * p.heads * p.seqlen_q;
  Elem *oBase = static_cast<Elem *>(p.o) + seq.oOff;
  constexpr int kChunksOut = kHeadDimV / 8;
  static_assert((kDecodeRows * kChunksOut) % kDecodeThreads == 0, "O rows split evenly");
#pragma unroll
  for (int i = 0; i < kDecodeRows * kChunksOut / kDecodeThreads; ++i) {
    const int idx = tid + i * kDecodeThreads;
    const int row = idx / kChunksOut, chunk = idx % kChunksOut;
    if (row >= rows)
      continue;
    float invSum = 1.f, lse2 = 0.f;
    if constexpr (kSoftmax) {
      const float m = rowMax(row);
      float l = 0.f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w)
        l += m == negInfinity() ? 0.f : sSum[w][row] * exp2Approx(sMax[w][row] - m);
      const bool empty = !(l > 0.f);
      invSum = empty ? 0.f : rcpApprox(l);
      lse2 = empty ? negInfinity() : m + log2Approx(l);
    }
    float o[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      float sum = 0.f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w)
        sum += sAcc[(w * kDecodeRows + row) * kAccStride + 8 * chunk + e];
      o[e] = sum * invSum;
    }
    const int q = rowQuery(row), h = rowHead(row);
    if (merged) {
      const long long r =
          ((static_cast<long long>(split) * p.batch + b) * p.heads + h) * p.seqlen_q + q;
      float *dst = p.decode_workspace + r * kHeadDimV + 8 * chunk;
#pragma unroll
      for (int e = 0; e < 8; ++e)
        dst[e] = o[e];
      if (chunk == 0)
        p.decode_workspace[p.decode_splits * rowsTotal * kHeadDimV + r] = lse2;
    } else {
      u32 packed[4];
#pragma unroll
      for (int e = 0; e < 4; ++e)
        packed[e] = packFloat2<Elem>(o[2 * e], o[2 * e + 1]);
      stGlobal16(oBase + q * p.o_row_stride + h * p.o_head_stride + 8 * chunk, packed);
      if (kSoftmax && p.lse && chunk == 0)
        p.lse[sequenceView(p, b, h).lseOff + q] = lse2 * kLn2;
    }
  }
}

/// Reduces the decode kernel's per-split partials (decode_splits > 1) into O and LSE: one warp
/// per row (b, h, q) of [B, Hq, seqlen_q], each lane kHeadDimV / 32 columns.
template <class Pattern, class Elem, int kHeadDimV>
__device__ void decodeMerge(const FwdParams &p) {
  constexpr int kPer = kHeadDimV / 32;
  static_assert(kHeadDimV % 64 == 0, "Dv must be a multiple of 64");
  constexpr bool kSoftmax = Pattern::kNormalizer == kNormalizeSoftmax;
  gridDependencyWait(); // the decode grid's partials
  gridDependencyRelease();
  const int lane = threadIdx.x % 32;
  const long long rowsTotal = static_cast<long long>(p.batch) * p.heads * p.seqlen_q;
  const long long r =
      static_cast<long long>(blockIdx.x) * (kDecodeMergeThreads / 32) + threadIdx.x / 32;
  if (r >= rowsTotal)
    return;
  const int q = int(r % p.seqlen_q), h = int((r / p.seqlen_q) % p.heads);
  const int b = int(r / (static_cast<long long>(p.seqlen_q) * p.heads));
  const SequenceView seq = sequenceView(p, b, h);
  if (q >= seq.seqlenQ)
    return;
  const float *oPart = p.decode_workspace + lane * kPer;
  const float *lsePart = p.decode_workspace + p.decode_splits * rowsTotal * kHeadDimV;
  float m = negInfinity();
  if constexpr (kSoftmax)
    for (int s = 0; s < p.decode_splits; ++s)
      m = fmaxf(m, lsePart[s * rowsTotal + r]);
  float o[kPer], l = 0.f;
#pragma unroll
  for (int e = 0; e < kPer; ++e)
    o[e] = 0.f;
  for (int s = 0; s < p.decode_splits; ++s) {
    float w = 1.f;
    if constexpr (kSoftmax)
      w = m == negInfinity() ? 0.f : exp2Approx(lsePart[s * rowsTotal + r] - m);
    l += w;
    const float *src = oPart + (s * rowsTotal + r) * kHeadDimV;
#pragma unroll
    for (int e = 0; e < kPer; ++e)
      o[e] += w * src[e];
  }
  float invSum = 1.f;
  if constexpr (kSoftmax)
    invSum = l > 0.f ? rcpApprox(l) : 0.f;
  Elem *dst =
      static_cast<Elem *>(p.o) + seq.oOff + q * p.o_row_stride + h * p.o_head_stride + lane * kPer;
#pragma unroll
  for (int e = 0; e < kPer; e += 2)
    reinterpret_cast<u32 *>(dst)[e / 2] = packFloat2<Elem>(o[e] * invSum, o[e + 1] * invSum);
  if (kSoftmax && p.lse && lane == 0)
    p.lse[seq.lseOff + q] = l > 0.f ? (m + log2Approx(l)) * kLn2 : negInfinity();
}

} // namespace attnc

#endif // ATTNC_DEVICE_DECODE_SM80_CUH
