//===- tiles.cuh - The work of one query tile, shared by the kernel templates ---===//
//
// `SequenceView`: where sequence b lives in the tensors (batch strides, or cu_seqlens offsets
// when variable-length) and its lengths. `KeyTiles`: the key tiles a query tile visits, from
// the pattern's kv_range (a closed form) narrowed by tile_empty (or the block map), walked from
// the highest tile to the lowest. Producer and consumers of the Hopper template walk the same
// sequence with the same code, which keeps their mbarrier phases in step. A block map over the
// kernel's own tiles is read a row segment at a time (16 entries per load), so neither the
// count of a query tile's key tiles nor the step past a run of EMPTY ones is a chain of one
// dependent load per tile.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_TILES_CUH
#define ATTNC_DEVICE_TILES_CUH

#include "attnc/params.cuh"
#include "attnc/types.cuh"

// Switch for measurements (ATTNC_NVRTC_OPTIONS=-DATTNC_MAP_ROW_LOADS=0): walk a block map one
// tile (one dependent load) at a time.
#ifndef ATTNC_MAP_ROW_LOADS
#define ATTNC_MAP_ROW_LOADS 1
#endif

namespace attnc {

struct SequenceView {
  int seqlenQ, seqlenK;
  int qRow0, kRow0;           // first row of the sequence in the (packed) row dimension
  i64 qOff, oOff, kOff, vOff; // element offsets of row 0 of the sequence
  i64 lseOff;                 // LSE [B, Hq, Sq], or [Hq, total_q] when varlen
};

ATTNC_DEVICE SequenceView sequenceView(const FwdParams &p, int b, int h) {
  SequenceView s;
  s.seqlenQ = p.seqlen_q;
  s.seqlenK = p.seqlen_k;
  s.qRow0 = s.kRow0 = 0;
  s.qOff = b * p.q_batch_stride;
  s.oOff = b * p.o_batch_stride;
  s.kOff = b * p.k_batch_stride;
  s.vOff = b * p.v_batch_stride;
  s.lseOff = (i64(b) * p.heads + h) * p.seqlen_q;
  if (p.cu_seqlens_q) {
    s.qRow0 = p.cu_seqlens_q[b];
    s.seqlenQ = p.cu_seqlens_q[b + 1] - s.qRow0;
    s.qOff = s.qRow0 * p.q_row_stride;
    s.oOff = s.qRow0 * p.o_row_stride;
    s.lseOff = i64(h) * p.cu_seqlens_q[p.batch] + s.qRow0;
  }
  if (p.cu_seqlens_k) {
    s.kRow0 = p.cu_seqlens_k[b];
    s.seqlenK = p.cu_seqlens_k[b + 1] - s.kRow0;
    s.kOff = s.kRow0 * p.k_row_stride;
    s.vOff = s.kRow0 * p.v_row_stride;
  }
  return s;
}

/// The key tiles of kBlockN keys that query rows [q0, q1) of (b, h) visit.
template <class Pattern, int kBlockN> struct KeyTiles {
  const FwdParams &p;
  int b, h, q0, q1, seqlenQ, seqlenK;
  int nMin, nMax; // tiles [nMin, nMax) cover the keys the pattern may show the rows
  // The query tile's row of the run-time block map, when the pattern's tile functions read one
  // over tiles of kBlockN keys (blockmap.cuh; rows 16-byte aligned, blockMapIndex).
  const unsigned char *mapRow = nullptr;
  // The FULL entries of the 16 that prev() read last, so that full() of the tile prev()
  // returned needs no load of its own: bit i for tile 16 * chunk + i, the chunk in bits 16-31
  // (one register; ~0: none).
  mutable u32 fullBits = ~0u;

  ATTNC_DEVICE KeyTiles(const FwdParams &params, int b_, int h_, int q0_, int q1_, int sq, int sk)
      : p(params), b(b_), h(h_), q0(q0_), q1(q1_), seqlenQ(sq), seqlenK(sk) {
    int lo = 0, hi = seqlenK;
    Pattern::kvRange(p, b, h, q0, q1, seqlenQ, seqlenK, lo, hi);
    lo = max(lo, 0);
    hi = min(hi, seqlenK);
    nMin = lo / kBlockN;
    nMax = hi > lo ? (hi + kBlockN - 1) / kBlockN : nMin;
    if constexpr (readsMapRow())
      mapRow = p.block_map +
               blockMapIndex(p, b, h, q0 / Pattern::kBlockMapM, 0, Pattern::kBlockMapM, kBlockN);
  }

  ATTNC_HD static constexpr bool readsMapRow() {
    if constexpr (Pattern::kHasTileEmpty)
      return ATTNC_MAP_ROW_LOADS && Pattern::kBlockMapN == kBlockN;
    return false;
  }

  /// Whether the keys of tiles [from, to] are all EMPTY for the rows.
  ATTNC_DEVICE bool empty(int from, int to) const {
    return Pattern::tileEmpty(p, b, h, q0, q1, from * kBlockN, (to + 1) * kBlockN, seqlenQ,
                              seqlenK);
  }

  /// Bit i set: the map does not mark tile 16 * chunk + i EMPTY, for the tiles in [nMin, last].
  /// With `keepFull`, the chunk's FULL entries go to fullBits.
  ATTNC_DEVICE u32 mapVisible(int chunk, int last, bool keepFull = false) const {
    u32 w[4];
    ldGlobal16(w, mapRow + 16 * chunk);
    // Bit 4i + j: byte j of w[i] of `mask` (a byte of 0xff or 0).
    auto byteBits = [&](auto mask) {
      u32 bits = 0;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const u32 set = mask(w[i]);
        bits |= ((set >> 7 & 1u) | (set >> 14 & 2u) | (set >> 21 & 4u) | (set >> 28 & 8u)) << 4 * i;
      }
      return bits;
    };
    const u32 bits = byteBits([](u32 x) { return __vcmpne4(x, kTileEmpty * 0x01010101u); });
    if (keepFull)
      fullBits = byteBits([](u32 x) { return __vcmpeq4(x, kTileFull * 0x01010101u); }) |
                 u32(chunk) << 16;
    const int first = max(nMin - 16 * chunk, 0), top = min(last - 16 * chunk, 15);
    return bits & (0xffffu >> (15 - top)) & (0xffffu << first);
  }

  /// The next tile to visit below n (start with n = nMax); below nMin when there is none.
  /// Tiles Pattern::tileEmpty declares EMPTY are skipped (uniform over the CTA). Closed-form
  /// tile functions judge any box of keys, so a run of EMPTY tiles is skipped by doubling its
  /// length: a window's gap down to its sink keys costs O(log) calls, not one per tile. A
  /// block map of the kernel's tiles is read 16 entries at a time.
  ATTNC_DEVICE int prev(int n) const {
    --n;
    if constexpr (readsMapRow()) {
      while (n >= nMin) {
        const int chunk = n >> 4;
        const u32 bits = mapVisible(chunk, n, true);
        if (bits)
          return 16 * chunk + 31 - __clz(bits);
        n = 16 * chunk - 1;
      }
    } else if constexpr (Pattern::kHasTileEmpty) {
      while (n >= nMin && empty(n, n)) {
        int run = 1;
        if constexpr (Pattern::kBlockMapN == 0)
          while (n - 2 * run + 1 >= nMin && empty(n - 2 * run + 1, n))
            run *= 2;
        n -= run;
      }
    }
    return n;
  }

  /// How many tiles prev() visits.
  ATTNC_DEVICE int count() const {
    if constexpr (!Pattern::kHasTileEmpty)
      return nMax - nMin;
    int c = 0;
    if constexpr (readsMapRow()) {
      if (nMax > nMin)
        for (int chunk = nMin >> 4; chunk <= (nMax - 1) >> 4; ++chunk)
          c += __popc(mapVisible(chunk, nMax - 1)); // independent loads
    } else {
      for (int n = prev(nMax); n >= nMin; n = prev(n))
        ++c;
    }
    return c;
  }

  /// Whether tile n needs no mask code: below seqlen_k and Pattern::tileFull (for a map row,
  /// the entries prev() read when it returned n).
  ATTNC_DEVICE bool full(int n) const {
    const int k0 = n * kBlockN;
    bool f = k0 + kBlockN <= seqlenK;
    if constexpr (readsMapRow()) {
      if (fullBits >> 16 == u32(n >> 4))
        return f && (fullBits >> (n & 15) & 1u);
    }
    if constexpr (Pattern::kHasMask)
      f = f && Pattern::tileFull(p, b, h, q0, q1, k0, k0 + kBlockN, seqlenQ, seqlenK);
    return f;
  }
};

} // namespace attnc

#endif // ATTNC_DEVICE_TILES_CUH
