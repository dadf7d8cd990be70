//===- blockmap.cuh - Run-time block maps of tensor-dependent masks --------===//
//
// For a mask the compiler cannot bound (it reads input tensors or scalars), the generated
// source holds a second entry point that evaluates the same mask hook on every pair of every
// (query tile, key tile) and writes one byte per tile: kTileEmpty, kTileFull or kTilePartial
// (params.cuh). The forward kernel's tileEmpty / tileFull hooks then read the map, so EMPTY
// tiles (other documents, streaming heads' middle) are skipped and FULL ones run without mask
// code. Launch: grid (key tiles, query tiles, B * block_map_heads), kBlockMapThreads threads.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_BLOCKMAP_CUH
#define ATTNC_DEVICE_BLOCKMAP_CUH

#include "attnc/params.cuh"
#include "attnc/types.cuh"

namespace attnc {

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
  if (q0 < seqlenQ && k0 < seqlenK) {
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

/// The map's entry for the tile starting at (q0, k0).
template <int kBlockM, int kBlockN>
ATTNC_DEVICE unsigned char blockMapAt(const FwdParams &p, int b, int h, int q0, int k0) {
  return p.block_map[blockMapIndex(p, b, h, q0 / kBlockM, k0 / kBlockN, kBlockM, kBlockN)];
}

} // namespace attnc

#endif // ATTNC_DEVICE_BLOCKMAP_CUH
