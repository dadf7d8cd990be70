//===- fwd_sm80.cuh - FA2-style attention forward kernel template ----------===//
//
// `fwdSm80<Pattern, Elem, D, Dv, kBlockM, kBlockN, kWarps, kStages>` computes, for one q-tile
// of kBlockM rows of one (batch, query head),
//   t = score_mod(c * q.k) (or c * q.k),  t = -inf where masked or k >= seqlen_k,
//   O = softmax(t) V,  LSE = ln sum_k e^t        (O = 0, LSE = -inf for a row with no key)
// or, with Pattern::kNormalizer sigmoid / none, O = sum_k sigmoid(t + kBias) v_k / sum_k t v_k
// (no LSE written); Pattern::weight, when kHasWeight, multiplies each weight before P V.
// with mma.sync m16n8k16 (KERNELS.md §2.1). Launch: grid (ceil(Sq / kBlockM), Hq, B), kWarps*32
// threads, fwdSm80SmemBytes(...) bytes of dynamic shared memory (params.cuh). Each warp owns 16
// query rows, so softmax rows never cross warps. K/V tiles stream through a kStages-deep
// cp.async ring in swizzled shared memory, visited from the highest key tile to the lowest. Q
// is held in registers as mma A fragments (D <= 128; re-read from shared memory otherwise). The
// S accumulator, packed to Elem pairs, is directly the A operand of P V.
// Each key tile is FULL (Pattern::tileFull and entirely below seqlen_k: no mask code, no -inf
// check unless a score mod runs) or PARTIAL (per-element mask, bounds and -inf check).
// Assumes: 16-byte aligned rows (base pointers 16-byte aligned, row/head/batch strides multiples
// of 8 elements, unit stride along D); D, Dv multiples of 64.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_FWD_SM80_CUH
#define ATTNC_DEVICE_FWD_SM80_CUH

#include "attnc/combine.cuh"
#include "attnc/mma_sm80.cuh"
#include "attnc/params.cuh"
#include "attnc/tile_scores.cuh"
#include "attnc/tiles.cuh"

namespace attnc {

template <class Pattern, class Elem, int kHeadDim, int kHeadDimV, int kBlockM, int kBlockN,
          int kWarps, int kStages>
__device__ void fwdSm80(const FwdParams &p) {
  constexpr int kThreads = 32 * kWarps;
  constexpr int kChunksQK = kHeadDim / 8; // 16-byte chunks per Q/K row
  constexpr int kChunksV = kHeadDimV / 8; // 16-byte chunks per V/O row
  constexpr int kTilesN = kBlockN / 8;    // n8 column tiles of S
  constexpr int kTilesV = kHeadDimV / 8;  // n8 column tiles of O
  constexpr int kStepsQK = kHeadDim / 16; // k16 steps of S = Q K^T
  constexpr int kStepsPV = kBlockN / 16;  // k16 steps of O += P V
  constexpr bool kQInRegs = kHeadDim <= 128;
  constexpr u32 kTileBytesQ = kBlockM * kHeadDim * 2;
  constexpr u32 kTileBytesK = kBlockN * kHeadDim * 2;
  constexpr u32 kTileBytesV = kBlockN * kHeadDimV * 2;
  static_assert(sizeof(Elem) == 2, "Elem is a 16-bit storage type");
  static_assert(kBlockM == 16 * kWarps, "each warp owns 16 query rows");
  static_assert(kHeadDim % 64 == 0 && kHeadDimV % 64 == 0, "head dims must be multiples of 64");
  static_assert(kBlockN % 16 == 0, "kBlockN must be a multiple of 16");
  static_assert(kStages >= 2, "the K/V ring needs at least two stages");
  static_assert(fwdSm80SmemBytes(kHeadDim, kHeadDimV, kBlockM, kBlockN, kStages) >=
                    int(kTileBytesQ + kStages * (kTileBytesK + kTileBytesV)),
                "fwdSm80SmemBytes too small for this layout");
  static_assert(kBlockM * kHeadDimV * 2 <= int(kTileBytesQ + kStages * (kTileBytesK + kTileBytesV)),
                "the O staging tile must fit in shared memory");

  // q-tiles in reverse launch order: with causal-like patterns the last tiles see the most
  // keys, so they start first and the short ones fill the tail.
  const int mBlock = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4; // accumulator row g (and g+8), columns 2t, 2t+1

  // Sequence b's geometry; hook indices q, k are positions inside the sequence.
  const SequenceView seq = sequenceView(p, b, h);
  const int seqlenQ = seq.seqlenQ, seqlenK = seq.seqlenK;
  const int q0 = mBlock * kBlockM;
  if (q0 >= seqlenQ)
    return;
  const int q1 = min(q0 + kBlockM, seqlenQ);
  const int hk = h / (p.heads / p.kv_heads); // GQA: Hq / Hkv query heads share a KV head

  const Elem *qPtr = static_cast<const Elem *>(p.q) + seq.qOff + h * p.q_head_stride;
  const Elem *kPtr = static_cast<const Elem *>(p.k) + seq.kOff + hk * p.k_head_stride;
  const Elem *vPtr = static_cast<const Elem *>(p.v) + seq.vOff + hk * p.v_head_stride;
  Elem *oPtr = static_cast<Elem *>(p.o) + seq.oOff + h * p.o_head_stride;

  // Key tiles, visited from the highest to the lowest, EMPTY ones skipped.
  const KeyTiles<Pattern, kBlockN> tiles(p, b, h, q0, q1, seqlenQ, seqlenK);
  const int numTiles = tiles.count();

  // Shared memory: Q tile, then the K ring, then the V ring; all swizzled.
  extern __shared__ __attribute__((aligned(128))) u8 attncSmem[];
  const u32 sQ = smemAddress(attncSmem);
  const u32 sK = sQ + kTileBytesQ;
  const u32 sV = sK + kStages * kTileBytesK;

  // Loads the K and V tiles of key tile n into ring slot `slot`.
  auto loadKV = [&](int n, int slot) {
    const int k0 = n * kBlockN;
    loadTileAsync<kBlockN, kChunksQK, kThreads>(sK + slot * kTileBytesK, kPtr + k0 * p.k_row_stride,
                                                p.k_row_stride, seqlenK - k0, tid);
    loadTileAsync<kBlockN, kChunksV, kThreads>(sV + slot * kTileBytesV, vPtr + k0 * p.v_row_stride,
                                               p.v_row_stride, seqlenK - k0, tid);
  };

  // Prologue: group 0 = Q + the first visited key tile, group s = the (s+1)-th (s < kStages-1).
  // Every commit happens even when empty, so the group count stays uniform. loadN / computeN
  // are the key tiles last loaded / computed.
  int loadN = tiles.nMax, computeN = tiles.nMax;
  if (numTiles > 0) {
    loadTileAsync<kBlockM, kChunksQK, kThreads>(sQ, qPtr + q0 * p.q_row_stride, p.q_row_stride,
                                                seqlenQ - q0, tid);
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < numTiles) {
        loadN = tiles.prev(loadN);
        loadKV(loadN, s);
      }
      cpAsyncCommit();
    }
  }

  // Per-lane parts of the ldmatrix row addresses (lanes 8i..8i+7 address matrix i).
  const int rowQ = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8; // Q: A fragment order
  const int chunkQ = lane >> 4;
  const int rowK = (lane & 7) + (lane >> 4) * 8; // K: b0/b1 of n8 tile j, then of j+1
  const int chunkK = (lane >> 3) & 1;
  const int rowV = (lane & 7) + ((lane >> 3) & 1) * 8; // V (trans): b0/b1 of tile j, then j+1
  const int chunkV = lane >> 4;

  // Rows this thread holds, clamped so hooks never see a row past the sequence (such rows are
  // computed but never stored).
  int qHook[2];
#pragma unroll
  for (int r = 0; r < 2; ++r)
    qHook[r] = min(q0 + warp * 16 + g + 8 * r, seqlenQ - 1);

  constexpr bool kSoftmax = Pattern::kNormalizer == kNormalizeSoftmax;
  float acc[kTilesV][4]; // O rows g, g+8 of this warp, unnormalised
#pragma unroll
  for (int j = 0; j < kTilesV; ++j)
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  OnlineSoftmax<kTilesN> softmax;
  softmax.init();
  u32 qFrag[kQInRegs ? kStepsQK : 1][4];

  for (int i = 0; i < numTiles; ++i) {
    // Tile i has landed (only the kStages-2 newer groups may be in flight), for every thread;
    // and every warp is done with tile i-1, whose slot the prefetch below overwrites.
    cpAsyncWait<kStages - 2>();
    __syncthreads();
    if (kQInRegs && i == 0) {
#pragma unroll
      for (int kk = 0; kk < kStepsQK; ++kk)
        ldmatrixX4(qFrag[kQInRegs ? kk : 0], sQ + swizzledOffset<kChunksQK>(rowQ, 2 * kk + chunkQ));
    }
    if (i + kStages - 1 < numTiles) {
      loadN = tiles.prev(loadN);
      loadKV(loadN, (i + kStages - 1) % kStages);
    }
    cpAsyncCommit();

    const int slot = i % kStages;
    const u32 sKt = sK + slot * kTileBytesK, sVt = sV + slot * kTileBytesV;
    computeN = tiles.prev(computeN);
    const int k0 = computeN * kBlockN;

    // S = Q K^T (raw dot products, fp32)
    float s[kTilesN][4];
#pragma unroll
    for (int j = 0; j < kTilesN; ++j)
      s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < kStepsQK; ++kk) {
      u32 qSmem[4];
      if constexpr (!kQInRegs)
        ldmatrixX4(qSmem, sQ + swizzledOffset<kChunksQK>(rowQ, 2 * kk + chunkQ));
      const u32(&a)[4] = kQInRegs ? qFrag[kQInRegs ? kk : 0] : qSmem;
#pragma unroll
      for (int j = 0; j < kTilesN; j += 2) {
        u32 kf[4];
        ldmatrixX4(kf, sKt + swizzledOffset<kChunksQK>(8 * j + rowK, 2 * kk + chunkK));
        mmaM16n8k16<Elem>(s[j], a, kf[0], kf[1]);
        mmaM16n8k16<Elem>(s[j + 1], a, kf[2], kf[3]);
      }
    }

    // FULL when every pair is visible and no key passes seqlen_k.
    float alpha[2];
    scoresToWeights<Pattern>(p, s, softmax, alpha, tiles.full(computeN), b, h, qHook, k0, t,
                             seqlenQ, seqlenK);

    // O = alpha * O + P V, with P (now in s) packed to Elem as the A operand.
    rescaleRows(acc, alpha);
#pragma unroll
    for (int ks = 0; ks < kStepsPV; ++ks) {
      u32 a[4];
      packWeights<Elem>(s, ks, a);
#pragma unroll
      for (int j = 0; j < kTilesV; j += 2) {
        u32 vf[4];
        ldmatrixX4Trans(vf, sVt + swizzledOffset<kChunksV>(16 * ks + rowV, j + chunkV));
        mmaM16n8k16<Elem>(acc[j], a, vf[0], vf[1]);
        mmaM16n8k16<Elem>(acc[j + 1], a, vf[2], vf[3]);
      }
    }
  }

  // Epilogue. All copies and all shared-memory reads are done before O is staged over them.
  cpAsyncWait<0>();
  __syncthreads();
  float invSum[2] = {1.f, 1.f}, lse[2];
  if constexpr (kSoftmax)
    softmax.finalize(softmaxLog2Factor<Pattern>(p), invSum, lse);

  // O = acc / l, staged per warp through shared memory (rows 16w..16w+15, swizzled) so that the
  // global stores are 16-byte and row-contiguous.
  const u32 sO = sQ;
#pragma unroll
  for (int j = 0; j < kTilesV; ++j)
#pragma unroll
    for (int r = 0; r < 2; ++r)
      stShared32(sO + swizzledOffset<kChunksV>(warp * 16 + g + 8 * r, j) + 4 * t,
                 packFloat2<Elem>(acc[j][2 * r] * invSum[r], acc[j][2 * r + 1] * invSum[r]));
  __syncwarp();
  static_assert((16 * kChunksV) % 32 == 0, "O rows split evenly over a warp");
  constexpr int kStores = 16 * kChunksV / 32; // 16-byte stores per lane
  // A composite's epilogue branch combines O with the other branches' outputs: all of their
  // loads first (rows past the sequence read its last row), then the combine at each store.
  const bool combine = combineInEpilogue<Pattern>(p);
  u32 parts[kStores][Pattern::kCombineBranches > 0 ? Pattern::kCombineBranches : 1][4];
  if constexpr (Pattern::kCombineBranches > 0) {
    if (combine) {
#pragma unroll
      for (int i = 0; i < kStores; ++i) {
        const int idx = lane + 32 * i;
        const int q = min(q0 + warp * 16 + idx / kChunksV, seqlenQ - 1);
        loadOtherParts<Pattern, Elem>(
            p, combinePartOffset(p, seq, b, h, q, (idx % kChunksV) * 8, kHeadDimV), parts[i]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kStores; ++i) {
    const int idx = lane + 32 * i;
    const int row = idx / kChunksV, chunk = idx % kChunksV;
    const int q = q0 + warp * 16 + row;
    u32 v[4];
    ldShared16(v, sO + swizzledOffset<kChunksV>(warp * 16 + row, chunk));
    if constexpr (Pattern::kCombineBranches > 0) {
      if (combine) {
        float y[8];
#pragma unroll
        for (int e = 0; e < 4; ++e)
          unpackFloat2<Elem>(v[e], y[2 * e], y[2 * e + 1]);
        applyCombine<Pattern, Elem, 8>(p, b, h, min(q, seqlenQ - 1), parts[i], y);
#pragma unroll
        for (int e = 0; e < 4; ++e)
          v[e] = packFloat2<Elem>(y[2 * e], y[2 * e + 1]);
      }
    }
    if (q < seqlenQ)
      stGlobal16(oPtr + q * p.o_row_stride + chunk * 8, v);
  }
  if (kSoftmax && p.lse && t == 0) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int q = q0 + warp * 16 + g + 8 * r;
      if (q < seqlenQ)
        p.lse[seq.lseOff + q] = lse[r];
    }
  }
}

} // namespace attnc

#endif // ATTNC_DEVICE_FWD_SM80_CUH
