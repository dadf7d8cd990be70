//===- blockmap.cuh - Run-time block maps of tensor-dependent masks --------===//
//
// For a mask the compiler cannot bound (it reads input tensors or scalars), the generated
// source holds a second entry point that evaluates the same mask hook on every pair of every
// (query tile, key tile) and writes one byte per tile: kTileEmpty, kTileFull or kTilePartial
// (params.cuh). The forward kernel's tileEmpty / tileFull hooks then read the map, so EMPTY
// tiles (other documents, streaming heads' middle) are skipped and FULL ones run without mask
// code. Launch: grid (key tiles, query tiles, B * block_map_heads), kBlockMapThreads threads.
//
// A second launch of the same entry point (buildRowBounds, pass 1) then writes each query
// row's bounds after the tile entries: {lo, hi} when the keys the mask keeps on that row are
// exactly [lo, hi] (a document's causal span, a window: most tensor-dependent masks), {1, 0}
// when it keeps none, {-1, -1} when they are not one interval. The Hopper forward kernel then
// masks the PARTIAL tiles of rows with bounds by two comparisons per score instead of the
// mask's loads (rowBounds). Launch: grid (query tiles * kBlockM / 4, 1, B * block_map_heads),
// kBlockMapThreads threads (a warp per row).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_BLOCKMAP_CUH
#define ATTNC_DEVICE_BLOCKMAP_CUH

#include "attnc/params.cuh"
#include "attnc/types.cuh"

namespace attnc {

/// Pass 0 of the builder: the tile entries.
template <class Pattern, int kBlockM, int kBlockN>
ATTNC_DEVICE void buildBlockMap(const FwdParams &p, unsigned char *map) {
  const int nTile = blockIdx.x, mTile = blockIdx.y;
  const int b = blockIdx.z / p.block_map_heads, h = blockIdx.z % p.block_map_heads;
  int seqlenQ = p.seqlen_q, seqlenK = p.seqlen_k;
  if (p.cu_seqlens_q)
    seqlenQ = p.cu_seqlens_q[b + 1] - p.cu_seqlens_q[b];
  if (p.cu_seqlens_k)
    seqlenK = p.cu_seqlens_k[b + 1] - p.cu_seqlens_k[b];
  const int q0 = mTile * kBlockM, k0 = nTile * kBlockN;
  bool any = false, all = true;
  // Keys outside the closed-form part of the mask (kvRange) are EMPTY without evaluating it.
  int lo = 0, hi = seqlenK;
  if (q0 < seqlenQ)
    Pattern::kvRange(p, b, h, q0, min(q0 + kBlockM, seqlenQ), seqlenQ, seqlenK, lo, hi);
  if (q0 < seqlenQ && k0 < seqlenK && k0 < hi && k0 + kBlockN > lo) {
    const int rows = min(kBlockM, seqlenQ - q0), cols = min(kBlockN, seqlenK - k0);
    for (int i = threadIdx.x; i < rows * cols; i += kBlockMapThreads) {
      const bool keep = Pattern::mask(p, b, h, q0 + i / cols, k0 + i % cols, seqlenQ, seqlenK);
      any |= keep;
      all &= keep;
    }
  }
  any = __syncthreads_or(any);
  all = __syncthreads_and(all);
  if (threadIdx.x == 0)
    map[blockMapIndex(p, b, h, mTile, nTile, kBlockM, kBlockN)] =
        !any ? kTileEmpty : (all ? kTileFull : kTilePartial);
}

/// Pass 1 of the builder: the bounds of query rows, a warp per row (row 4 blockIdx.x + warp of
/// the header's grid, which has exactly a warp per row of the map), from the tile entries pass
/// 0 wrote: FULL tiles count whole, the mask runs on PARTIAL tiles only.
template <class Pattern, int kBlockM, int kBlockN>
ATTNC_DEVICE void buildRowBounds(const FwdParams &p, unsigned char *map) {
  constexpr int kWarps = kBlockMapThreads / 32;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int q = blockIdx.x * kWarps + warp, mTile = q / kBlockM;
  const int b = blockIdx.z / p.block_map_heads, h = blockIdx.z % p.block_map_heads;
  int seqlenQ = p.seqlen_q, seqlenK = p.seqlen_k;
  if (p.cu_seqlens_q)
    seqlenQ = p.cu_seqlens_q[b + 1] - p.cu_seqlens_q[b];
  if (p.cu_seqlens_k)
    seqlenK = p.cu_seqlens_k[b + 1] - p.cu_seqlens_k[b];
  const unsigned char *row = map + blockMapIndex(p, b, h, mTile, 0, kBlockM, kBlockN);
  int *bounds = reinterpret_cast<int *>(
      map + blockMapTileBytes(p.batch, p.block_map_heads, p.seqlen_q, p.seqlen_k, kBlockM,
                              kBlockN));
  const int tiles = (seqlenK + kBlockN - 1) / kBlockN;
  int lo = seqlenK, hi = -1, count = 0; // this lane's kept keys: least, greatest, how many
  if (q < seqlenQ) {
    for (int n0 = 0; n0 < tiles; n0 += 32) {
      const int n = n0 + lane;
      const unsigned char e = n < tiles ? row[n] : kTileEmpty;
      if (e == kTileFull) {
        const int k1 = min(n * kBlockN + kBlockN, seqlenK);
        lo = min(lo, n * kBlockN);
        hi = max(hi, k1 - 1);
        count += k1 - n * kBlockN;
      }
      // The PARTIAL tiles of these 32, one at a time, a key per lane.
      for (u32 partial = __ballot_sync(~0u, e == kTilePartial); partial; partial &= partial - 1) {
        const int k0 = (n0 + __ffs(partial) - 1) * kBlockN, k1 = min(k0 + kBlockN, seqlenK);
        for (int k = k0 + lane; k < k1; k += 32)
          if (Pattern::mask(p, b, h, q, k, seqlenQ, seqlenK)) {
            lo = min(lo, k);
            hi = max(hi, k);
            ++count;
          }
      }
    }
#pragma unroll
    for (int d = 16; d > 0; d /= 2) {
      lo = min(lo, __shfl_xor_sync(~0u, lo, d));
      hi = max(hi, __shfl_xor_sync(~0u, hi, d));
      count += __shfl_xor_sync(~0u, count, d);
    }
  }
  if (lane == 0) {
    const bool interval = count == hi - lo + 1;
    const long long i = 2 * blockMapBoundsIndex(p, b, h, q, kBlockM);
    bounds[i] = count == 0 ? 1 : interval ? lo : -1;
    bounds[i + 1] = count == 0 ? 0 : interval ? hi : -1;
  }
}

/// The bounds of the two query rows q[0], q[1] a thread of the forward kernel holds, when both
/// are one interval of keys (buildRowBounds): then a PARTIAL tile keeps key k of row r exactly
/// when lo[r] <= k <= hi[r]. Patterns without a run-time map have none (valid() is false).
struct RowBounds {
  int lo[2] = {-1, -1}, hi[2] = {-1, -1};
  ATTNC_DEVICE bool valid() const { return (lo[0] | lo[1]) >= 0; }
};

template <class Pattern>
ATTNC_DEVICE RowBounds rowBounds(const FwdParams &p, int b, int h, const int (&q)[2]) {
  RowBounds rb;
  if constexpr (Pattern::kBlockMapN > 0) {
    const int *bounds = reinterpret_cast<const int *>(
        p.block_map + blockMapTileBytes(p.batch, p.block_map_heads, p.seqlen_q, p.seqlen_k,
                                        Pattern::kBlockMapM, Pattern::kBlockMapN));
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int2 v = __ldg(reinterpret_cast<const int2 *>(bounds) +
                           blockMapBoundsIndex(p, b, h, q[r], Pattern::kBlockMapM));
      rb.lo[r] = v.x;
      rb.hi[r] = v.y;
    }
  }
  return rb;
}

/// The map's entry for the tile starting at (q0, k0).
template <int kBlockM, int kBlockN>
ATTNC_DEVICE unsigned char blockMapAt(const FwdParams &p, int b, int h, int q0, int k0) {
  return p.block_map[blockMapIndex(p, b, h, q0 / kBlockM, k0 / kBlockN, kBlockM, kBlockN)];
}

} // namespace attnc

#endif // ATTNC_DEVICE_BLOCKMAP_CUH
