//===- linear_sm80.cuh - Chunked linear attention and its recurrent step -----===//
//
// The kernels of linear patterns (attn.linear), on mma.sync tensor cores (any sm_80+ GPU).
// With phi the pattern's feature map, gamma its decay (1 without one) and c the scale, one
// sequence and head computes
//   o_t = c * sum_{s <= t} gamma^(t-s) (phi(q_t) . phi(k_s)) v_s  (+ c gamma^(t+1) phi(q_t)^T S0)
// and its final state S = gamma^L S0 + sum_s gamma^(L-1-s) phi(k_s) v_s^T (D x Dv, float32).
// A per-token gate (Pattern::kDecayPerToken: the decay reads the position t) replaces each
// gamma^m by the product of the m gates it spans: G_i, the log2 decay accumulated over chunk
// rows 0 .. i, comes from the gate-log pass (linearGateLogPass, its own launch over every
// chunk at once) by cp.async with the chunk's tiles into shared memory, and every factor below
// becomes 2^(G_i - G_j) <= 1 (gamma^(i+1) -> 2^G_i, gamma^n -> 2^G_(n-1)).
//
// A gate per key dimension (Pattern::kDecayPerKeyDim: the decay reads d) gives every row d of the
// state its own G_(i,d), so the intra-chunk weight sum_d q_id k_jd 2^(G_id - G_jd) no longer
// factors into one matrix product with factors <= 1. The chunk is cut into sub-chunks I of 16
// rows (one per warp) with midpoints m(I) = 16 I + 7 and last rows e(I) = 16 I + 15. A gate
// pass (linearGatePass, its own launch over every chunk at once) writes Q and K as bf16
//   Q^_id = q_id 2^(G_id - G_m(I)d),  K^_jd = k_jd 2^(G_m(J)d - G_jd)     (i in I, j in J)
// to a workspace, with a table of the chunk's factors below; the prefill loads those in place
// of Q and K (the table into the state buffer that the chunk's update writes last). Every log2
// gate is floored at -15, so these factors, of at most 8 rows' decay each way, stay inside
// bf16's range. Then, per d, with every other factor <= 1:
//   I = J:  Q^ K^T is the weight itself;
//   J < I:  (Q^ 2^(G_m(I) - G_e(J))) (K^ 2^(G_e(J) - G_m(J)))^T, each side at most |q| or |k|;
//   carry:  Q^ 2^G_m(I) times S_prev;
//   update: ((K^ 2^(G_e(J) - G_m(J))) 2^(G_last - G_e(J)))^T V, and row d of S by 2^G_last,d.
// A factor that underflows to 0 drops a product below 2^-21 of |q| |k| (the amplification of
// Q^ is at most 2^105); the update multiplies in two steps, because K^'s reaches 2^120.
// The scaled fragments are rounded to Elem for the products with S and V (fp16 patterns keep
// the gated tiles in bf16 for its range). The sum normaliser's key sum takes the same factors
// as the state (the carry q . z, the update of z by column d). A sequence split's pass 0 writes
// each segment's gate sums per key dimension, and pass 1 decays row d of the earlier segments'
// states by those of column d.
//
// linearSm80: the chunked form (Lightning Attention-2). One block per (Dv slice of 64 columns,
// head, sequence) walks the sequence in chunks of 64 rows, carrying its D x 64 slice of S in
// registers (fp32, rows split over the 4 warps) and a 16-bit copy in shared memory as the
// tensor-core operand. Per chunk, with Q, K the chunk's feature-mapped rows and i, j positions
// inside it (n rows valid):
//   O  = c (Lambda Q S_prev + (Q K^T . M) V),  Lambda = diag(gamma^(i+1)),
//        M_ij = gamma^(i-j) for j <= i, else 0            (the intra-chunk part, quadratic)
//   S  = gamma^n S_prev + (Gamma K)^T V,       Gamma = diag(gamma^(n-1-j))
// Each warp owns 16 chunk rows for O and D/4 state rows for the update. The chunk's Q, K, V
// arrive by cp.async, double-buffered; a feature map is applied in shared memory once per
// chunk. Without `causal` there is no intra-chunk part: a first pass sums S over every chunk,
// a second computes O = c Q S. With the sum normaliser a key sum z = sum gamma^.. phi(k) rides
// along (fp32 in shared memory) and divides each row.
//
// Sequence split (FwdParams::linear_splits > 1, chosen by launchForward when too few blocks
// would fill the GPU; causal forms without the sum normaliser): blocks (slice, segment) run
// twice; pass 0 computes each segment's own state from zero into a workspace (and copies S0
// there, so that an in-place final state cannot overwrite it under pass 1), pass 1 starts
// segment q from gamma^r0 S0 + sum_{q' < q} gamma^(r0 - end(q')) S(q') and computes its rows.
// Pass 0 has no output to compute: without a gate per key dimension its chunks of K and V
// stream through a ring over the whole shared memory, several in flight.
//
// The recurrent step (decode) of the same patterns is linear_step.cuh.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_LINEAR_SM80_CUH
#define ATTNC_DEVICE_LINEAR_SM80_CUH

#include "attnc/linear_features.cuh"
#include "attnc/linear_gates.cuh"
#include "attnc/math.cuh"
#include "attnc/mma_sm80.cuh"
#include "attnc/params.cuh"
#include "attnc/tile_scores.cuh"
#include "attnc/tiles.cuh"

namespace attnc {

/// Both 16-bit halves of x times those of f.
template <class Elem> ATTNC_DEVICE u32 mulPacked(u32 x, u32 f) {
  u32 r;
  if constexpr (Elem::kIsBf16)
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(x), "r"(f), "r"(0x80008000u));
  else
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(r) : "r"(x), "r"(f));
  return r;
}

/// x, through an opaque move: a value that is cheap to recompute but that the compiler would
/// otherwise hoist out of the chunk loop (a table of decay factors kept live across iterations)
/// is laundered once per iteration instead.
template <class T> ATTNC_DEVICE T opaque(T x) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "32- or 64-bit values");
  if constexpr (sizeof(T) == 4)
    asm volatile("mov.b32 %0, %0;" : "+r"(*reinterpret_cast<u32 *>(&x)));
  else
    asm volatile("mov.b64 %0, %0;" : "+l"(*reinterpret_cast<u64 *>(&x)));
  return x;
}

/// Applies the pattern's feature map to every element of a swizzled kLinearChunk-row tile in
/// place; rows at or past `rowsValid` become 0 (phi(0) need not be 0).
template <class Pattern, class Elem, int kChunks>
ATTNC_DEVICE void applyFeatureMap(u32 tile, int rowsValid, int tid) {
  static_assert((kLinearChunk * kChunks) % kLinearThreads == 0, "tile splits over the threads");
#pragma unroll 4
  for (int i = 0; i < kLinearChunk * kChunks / kLinearThreads; ++i) {
    const int idx = tid + i * kLinearThreads;
    const int row = idx / kChunks, chunk = idx % kChunks;
    const u32 addr = tile + swizzledOffset<kChunks>(row, chunk);
    u32 v[4];
    ldShared16(v, addr);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float lo, hi;
      unpackFloat2<Elem>(v[e], lo, hi);
      v[e] = row < rowsValid ? packFloat2<Elem>(Pattern::feature(lo), Pattern::feature(hi)) : 0u;
    }
    stShared16(addr, v);
  }
}

/// The sequence split's workspace (FwdParams::linear_workspace): segment q's own state of
/// (b, h), D x Dv; q = -1 is pass 0's copy of the initial state.
ATTNC_DEVICE float *linearSegmentState(const FwdParams &p, int b, int h, int q, int d, int dv) {
  return p.linear_workspace + ((i64(b) * p.heads + h) * (p.linear_splits + 1) + q + 1) * d * dv;
}

/// The split's log2 decay over segment q of (b, h) in key dimension `col` (gates; written by pass
/// 0; a scalar gate per token uses column 0).
ATTNC_DEVICE float *linearSegmentLog(const FwdParams &p, int b, int h, int q, int col, int d,
                                     int dv) {
  return p.linear_workspace + i64(p.batch) * p.heads * (p.linear_splits + 1) * d * dv +
         ((i64(b) * p.heads + h) * p.linear_splits + q) * d + col;
}

/// The chunked kernel's constants (linearSm80), shared by its state update and its split's
/// state pass.
template <class Pattern, int kHeadDim> struct LinearShape {
  static constexpr int kChunk = kLinearChunk, kSlice = kLinearSlice, kThreads = kLinearThreads;
  static constexpr int kChunksQK = kHeadDim / 8;  // 16-byte chunks per Q/K row
  static constexpr int kChunksV = kSlice / 8;     // per V / state row (the block's 64 columns)
  static constexpr int kStepsC = kChunk / 16;     // k16 steps over the chunk's rows
  static constexpr int kTiles = 8;                // n8 tiles over 64 keys or 64 state columns
  static constexpr int kStateRows = kHeadDim / 4; // state rows per warp
  static constexpr int kStateTiles = kStateRows / 16;
  static constexpr u32 kBytesQK = kChunk * kHeadDim * 2, kBytesV = kChunk * kSlice * 2;
  static constexpr bool kDecay = Pattern::kHasDecay;
  static constexpr bool kGateDim = kDecay && Pattern::kDecayPerKeyDim; // a gate per key dimension
  static constexpr bool kGate = kDecay && Pattern::kDecayPerToken && !kGateDim; // per token
  static constexpr bool kConstDecay = kDecay && !kGate && !kGateDim;            // gamma^n
};

/// Multiplies every element of a state slice by f (a decay over the rows it is carried across).
template <int kStateTiles>
ATTNC_DEVICE void scaleLinearState(float (&state)[kStateTiles][8][4], float f) {
#pragma unroll
  for (int mt = 0; mt < kStateTiles; ++mt)
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        state[mt][j][e] *= f;
}

/// Calls fn(x, y, offset) for each pair of adjacent columns of the state slice that lane `lane`
/// of warp `warp` holds (rows warp * D/4 + 16 mt + g (+8), columns 8 j + 2t (+1)), offset =
/// row * Dv + column of the pair in a [D, Dv] float array.
template <int kHeadDim, int kHeadDimV, class Fn>
ATTNC_DEVICE void forEachLinearStatePair(float (&state)[kHeadDim / 64][8][4], int warp, int lane,
                                         Fn &&fn) {
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < kHeadDim / 64; ++mt)
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int r = 0; r < 2; ++r)
        fn(state[mt][j][2 * r], state[mt][j][2 * r + 1],
           (warp * (kHeadDim / 4) + 16 * mt + g + 8 * r) * kHeadDimV + 8 * j + 2 * t);
}

/// S = gamma^n S + (Gamma K)^T V for the chunk of n rows in swizzled tiles sKt, sVt, on the
/// D x 64 state slice as warp `warp` holds it in linearSm80 (rows warp * D/4 + 16 mt + g (+8),
/// columns 8 j + 2t (+1)); a per-token gate's prefix G is at sGt, a gate per key dimension's
/// table at sT, lg is log2 of a constant decay. Returns log2 of the decay over the chunk.
template <class Pattern, class Elem, int kHeadDim>
ATTNC_DEVICE float linearUpdateState(float (&state)[kHeadDim / 64][8][4], u32 sKt, u32 sVt, u32 sGt,
                                     u32 sT, int n, float lg, int warp, int lane) {
  using S = LinearShape<Pattern, kHeadDim>;
  constexpr int kStepsC = S::kStepsC, kTiles = S::kTiles, kStateTiles = S::kStateTiles;
  constexpr int kStateRows = S::kStateRows, kChunksQK = S::kChunksQK, kChunksV = S::kChunksV;
  constexpr bool kGate = S::kGate, kGateDim = S::kGateDim, kConstDecay = S::kConstDecay;
  const int g = lane / 4, t = lane % 4;
  const int rowV = (lane & 7) + ((lane >> 3) & 1) * 8; // V (trans): tiles j, j+1
  const int chunkV = lane >> 4;
  const int rowKt = (lane & 7) + ((lane >> 4) & 1) * 8; // K^T (trans): A fragment of K^T
  const int chunkKt = (lane >> 3) & 1;
  auto gateLog = [&](int row) { return __uint_as_float(ldShared32(sGt + 4 * row)); };
  auto tableAt = [&](int row, int d) {
    return __uint_as_float(ldShared32(sT + 4 * (row * kHeadDim + d)));
  };
  // S = gamma^n S + (Gamma K)^T V. Key j's factor gamma^(n-1-j) (0 past the chunk's end)
  // scales the 16-bit K^T fragment: keys 16 ks + 2t, +1 (a0, a1) and +8, +9 (a2, a3).
  const float lastLog = kGate ? gateLog(n - 1) : float(n) * lg; // the decay over the chunk
  if constexpr (kGate || kConstDecay)
    scaleLinearState(state, exp2Approx(lastLog));
  if constexpr (kGateDim) { // row d by 2^G_last,d
#pragma unroll
    for (int mt = 0; mt < kStateTiles; ++mt)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float f = tableAt(kGateLast, warp * kStateRows + 16 * mt + g + 8 * r);
#pragma unroll
        for (int j = 0; j < kTiles; ++j) {
          state[mt][j][2 * r] *= f;
          state[mt][j][2 * r + 1] *= f;
        }
      }
  }
  auto keyFactor = [&](int key) {
    if constexpr (kGate)
      return key < n ? exp2Approx(lastLog - gateLog(key)) : 0.f;
    return key < n ? exp2Approx(float(n - 1 - key) * lg) : 0.f;
  };
#pragma unroll 1
  for (int ks = 0; ks < kStepsC; ++ks) {
    u32 factor[2];
    if constexpr (kGate || kConstDecay) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int key = 16 * ks + 8 * half + 2 * t;
        factor[half] = packFloat2<Elem>(keyFactor(key), keyFactor(key + 1));
      }
    }
    u32 vf[kTiles / 2][4];
#pragma unroll
    for (int j = 0; j < kTiles; j += 2)
      ldmatrixX4Trans(vf[j / 2], sVt + swizzledOffset<kChunksV>(16 * ks + rowV, j + chunkV));
#pragma unroll
    for (int mt = 0; mt < kStateTiles; ++mt) {
      u32 kt[4];
      ldmatrixX4Trans(kt, sKt + swizzledOffset<kChunksQK>(
                                    16 * ks + rowKt, (warp * kStateRows + 16 * mt) / 8 + chunkKt));
      if constexpr (kGate || kConstDecay) {
        kt[0] = mulPacked<Elem>(kt[0], factor[0]);
        kt[1] = mulPacked<Elem>(kt[1], factor[0]);
        kt[2] = mulPacked<Elem>(kt[2], factor[1]);
        kt[3] = mulPacked<Elem>(kt[3], factor[1]);
      }
      if constexpr (kGateDim) {
        // Rows d (g in kt[0], kt[2], g + 8 in kt[1], kt[3]) of K^^T by 2^(G_e(J) - G_m(J)),
        // then by 2^(G_last - G_e(J)), for key sub-chunk J = ks.
        const int d = warp * kStateRows + 16 * mt + g;
        float f[2], fl[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          f[r] = tableAt(kGateKey + ks, d + 8 * r);
          fl[r] = tableAt(kGateToLast + ks, d + 8 * r);
        }
        kt[0] = scaledPair<Elem>(kt[0], f[0], f[0], fl[0], fl[0]);
        kt[1] = scaledPair<Elem>(kt[1], f[1], f[1], fl[1], fl[1]);
        kt[2] = scaledPair<Elem>(kt[2], f[0], f[0], fl[0], fl[0]);
        kt[3] = scaledPair<Elem>(kt[3], f[1], f[1], fl[1], fl[1]);
      }
#pragma unroll
      for (int j = 0; j < kTiles; j += 2) {
        mmaM16n8k16<Elem>(state[mt][j], kt, vf[j / 2][0], vf[j / 2][1]);
        mmaM16n8k16<Elem>(state[mt][j + 1], kt, vf[j / 2][2], vf[j / 2][3]);
      }
    }
  }
  return lastLog;
}

/// A sequence split's pass 0 for forms without a gate per key dimension (linearSm80's block
/// (slice, segment) of rows [r0, r1)): the segment's own state from zero, and with a per-token
/// gate its log2 decay, to the workspace. It computes no output, so its chunks of K and V (and
/// gate prefixes) stream through a ring of kRing stages over the prefill's shared memory,
/// kRing - 1 chunks in flight while one updates the state. It keeps a state of its own and
/// returns: nothing the output pass holds is live across it (inside linearSm80's body, its
/// ring's addresses pushed the kernel past 255 registers).
template <class Pattern, class Elem, int kHeadDim, int kHeadDimV>
ATTNC_DEVICE void linearStatePass(const FwdParams &p, int b, int h, int split, int e0, int r0,
                                  int r1, const Elem *kPtr, i64 kStride, const Elem *vPtr,
                                  float lgHead) {
  using S = LinearShape<Pattern, kHeadDim>;
  constexpr int kChunk = S::kChunk, kThreads = S::kThreads, kChunksQK = S::kChunksQK;
  constexpr int kChunksV = S::kChunksV, kTiles = S::kTiles, kStateTiles = S::kStateTiles;
  constexpr u32 kBytesQK = S::kBytesQK, kBytesV = S::kBytesV;
  constexpr int kStageBytes = kBytesQK + kBytesV + 4 * kChunk;
  constexpr int kFit = linearSm80SmemBytes(kHeadDim, false) / kStageBytes;
  constexpr int kRing = kFit < 4 ? kFit : 4;
  static_assert(kRing >= 3, "pass 0's ring keeps two chunks in flight");
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  extern __shared__ __attribute__((aligned(128))) u8 attncSmem[];
  const u32 ring = smemAddress(attncSmem);
  const int nChunks = (r1 - r0 + kChunk - 1) / kChunk;
  float state[kStateTiles][kTiles][4] = {};
  float segmentLog = 0.f;
  // (tid laundered per copy: held, the copies' per-thread offsets spill the state's registers)
  auto loadStage = [&](int step) {
    const int c0 = r0 + step * kChunk, valid = r1 - c0, me = opaque(tid);
    const u32 base = ring + (step % kRing) * kStageBytes;
    loadTileAsync<kChunk, kChunksQK, kThreads>(base, kPtr + c0 * kStride, kStride, valid, me);
    loadTileAsync<kChunk, kChunksV, kThreads>(base + kBytesQK, vPtr + c0 * p.v_row_stride,
                                              p.v_row_stride, valid, me);
    if constexpr (S::kGate)
      if (me < kChunk / 4)
        cpAsync16(base + kBytesQK + kBytesV + 16 * me, linearGateLog(p, b, h, 0) + 4 * me + c0,
                  true);
  };
  for (int step = 0; step < kRing - 1; ++step) {
    if (step < nChunks)
      loadStage(step);
    cpAsyncCommit();
  }
#pragma unroll 1
  for (int step = 0; step < nChunks; ++step) {
    // Chunk `step` has landed; every warp is done with chunk step - 1, whose stage the load
    // below overwrites.
    cpAsyncWait<kRing - 2>();
    __syncthreads();
    if (step + kRing - 1 < nChunks)
      loadStage(step + kRing - 1);
    cpAsyncCommit();
    const u32 base = ring + (step % kRing) * kStageBytes;
    const int n = min(kChunk, r1 - (r0 + step * kChunk));
    if constexpr (Pattern::kHasFeature) {
      applyFeatureMap<Pattern, Elem, kChunksQK>(base, n, tid);
      __syncthreads();
    }
    segmentLog += linearUpdateState<Pattern, Elem, kHeadDim>(
        state, base, base + kBytesQK, base + kBytesQK + kBytesV, 0u, n, opaque(lgHead), warp, lane);
  }
  cpAsyncWait<0>();
  if (S::kGate && e0 == 0 && tid == 0)
    *linearSegmentLog(p, b, h, split, 0, kHeadDim, kHeadDimV) = segmentLog;
  float *w = linearSegmentState(p, b, h, split, kHeadDim, kHeadDimV) + e0;
  forEachLinearStatePair<kHeadDim, kHeadDimV>(state, warp, lane, [&](float x, float y, int off) {
    *reinterpret_cast<Float2 *>(w + off) = Float2{x, y};
  });
}

template <class Pattern, class Elem, int kHeadDim, int kHeadDimV>
__device__ void linearSm80(const FwdParams &p) {
  using S = LinearShape<Pattern, kHeadDim>;
  constexpr int kChunk = S::kChunk, kSlice = S::kSlice, kThreads = S::kThreads;
  constexpr int kChunksQK = S::kChunksQK, kChunksV = S::kChunksV;
  constexpr int kStepsQK = kHeadDim / 16; // k16 steps over D
  constexpr int kStepsC = S::kStepsC, kTiles = S::kTiles;
  constexpr int kStateRows = S::kStateRows, kStateTiles = S::kStateTiles;
  constexpr u32 kBytesQK = S::kBytesQK, kBytesV = S::kBytesV;
  constexpr u32 kBytesS = kHeadDim * kSlice * 2;
  constexpr bool kCausal = Pattern::kCausal, kDecay = S::kDecay;
  constexpr bool kGateDim = S::kGateDim, kGate = S::kGate, kConstDecay = S::kConstDecay;
  constexpr bool kSum = Pattern::kNormalizer == kNormalizeSum;
  static_assert(sizeof(Elem) == 2, "Elem is a 16-bit storage type");
  static_assert(kHeadDim == 64 || kHeadDim == 128, "D must be 64 or 128");
  static_assert(kHeadDimV % kSlice == 0, "Dv must be a multiple of 64");
  static_assert(
      linearSm80SmemBytes(kHeadDim, kSum) ==
          int(2 * (2 * kBytesQK + kBytesV) + 2 * kBytesS + (kSum ? 8 * kHeadDim : 0) + 8 * kChunk),
      "linearSm80SmemBytes does not match the layout");
  static_assert(kSum || Pattern::kNormalizer == kNormalizeNone, "normalise with none or sum");
  static_assert(!kGateDim || kCausal, "a gate per key dimension is causal");
  static_assert(kLinearGateTableRows * 4 * kHeadDim <= kBytesS,
                "the gate table fits a state buffer");
  // The element type of the tiles the Q K^T products read: bf16 when gated per key dimension.
  using QKElem = typename Select<kGateDim, bf16, Elem>::Type;

  if constexpr (kGate)
    if (p.linear_pass == kLinearGateLogPass) {
      linearGateLogPass<Pattern>(p);
      return;
    }
  if constexpr (kGateDim)
    if (p.linear_pass == kLinearGatePass) {
      linearGatePass<Pattern, Elem, kHeadDim>(p);
      return;
    }
  // A map of whole rows (linear_features.cuh): this block's 64 rows of the state are feature
  // slice `fslice` of head h (blockIdx.y = h x slices + fslice).
  constexpr bool kRowMap = RowMap<Pattern>::kMap != kFeatureMapElementwise;
  static_assert(!kRowMap || kHeadDim == 64, "a row map's blocks take 64 features");
  if constexpr (kRowMap) {
    if (p.linear_pass == kLinearFeaturePass) {
      linearFeaturePass<Pattern, Elem>(p);
      return;
    }
    if (p.linear_pass == kLinearReducePass) {
      linearReducePass<Pattern, Elem, kHeadDimV>(p);
      return;
    }
  }
  const int featureSlices = kRowMap ? p.linear_feature_slices : 1;
  const bool partialOut = kRowMap && featureSlices > 1;
  const int slices = kHeadDimV / kSlice;
  const int slice = blockIdx.x % slices, split = blockIdx.x / slices;
  const int h = blockIdx.y / featureSlices, fslice = blockIdx.y % featureSlices, b = blockIdx.z;
  const int e0 = slice * kSlice;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4;

  const SequenceView seq = sequenceView(p, b, h);
  const int L = seq.seqlenQ;
  // This block's rows [r0, r1): the whole sequence, or one segment of a split (causal forms
  // without the sum normaliser: with it the split's registers no longer fit beside the key
  // sum's, and the host does not split).
  const bool splitRun = kCausal && !kSum && p.linear_splits > 1;
  const int r0 = splitRun ? min(L, split * p.linear_segment_rows) : 0;
  const int r1 = splitRun ? min(L, r0 + p.linear_segment_rows) : L;
  const bool statePass = splitRun && p.linear_pass == 0;
  // The segment holding the last row writes the final state (segment 0 of an empty sequence).
  const bool writesState = !splitRun || (r1 == L && (r0 < L || split == 0));
  // Blocks with nothing to do leave at once: pass 0 of the segment holding the last row (no
  // segment with rows comes after it to read its state; the output pass computes the final
  // state; the host launches pass 0 over every segment but the longest sequence's last), and
  // pass 1 of a segment past the end. Segment 0 stays: pass 0 copies S0 there, pass 1 writes
  // an empty sequence's state.
  if (splitRun && split != 0 && (statePass ? r1 >= L : r0 >= L))
    return;
  const int hk = h / (p.heads / p.kv_heads);
  // A gate per key dimension reads the gate pass's Q^ and K^ (bf16, rows kHeadDim apart).
  const QKElem *qPtr, *kPtr;
  i64 qStride = kHeadDim, kStride = kHeadDim;
  if constexpr (kGateDim) {
    qPtr = linearGatedRow<kHeadDim>(p, false, b, h, 0);
    kPtr = linearGatedRow<kHeadDim>(p, true, b, h, 0);
  } else if constexpr (kRowMap) { // the feature pass's phi(q), phi(k): 64 per row
    qPtr = linearFeatureRow<Elem>(p, false, b, h, fslice, 0);
    kPtr = linearFeatureRow<Elem>(p, true, b, h, fslice, 0);
  } else {
    qPtr = static_cast<const Elem *>(p.q) + seq.qOff + h * p.q_head_stride;
    kPtr = static_cast<const Elem *>(p.k) + seq.kOff + hk * p.k_head_stride;
    qStride = p.q_row_stride;
    kStride = p.k_row_stride;
  }
  const Elem *vPtr = static_cast<const Elem *>(p.v) + seq.vOff + hk * p.v_head_stride + e0;
  Elem *oPtr = static_cast<Elem *>(p.o) + seq.oOff + h * p.o_head_stride + e0;
  // The state's rows of this block (a row map's slice: rows fslice x 64 ..).
  const i64 stateHead = (i64(b) * p.heads + h) * featureSlices + fslice;
  const i64 stateOff = stateHead * kHeadDim * kHeadDimV + e0;
  const float lgHead = kConstDecay ? decayLog2<Pattern>(p, b, h, 0) : 0.f;

  extern __shared__ __attribute__((aligned(128))) u8 attncSmem[];
  const u32 sQ = smemAddress(attncSmem);
  const u32 sK = sQ + 2 * kBytesQK;
  const u32 sV = sK + 2 * kBytesQK;
  const u32 sS = sV + 2 * kBytesV;
  // The sum normaliser's key sum z (float32, two buffers like the state's copy); thread d < D
  // owns z[d] in a register.
  const u32 sZ = sS + 2 * kBytesS; // a shared-window address: no 64-bit pointer held
  const i64 keySumOff = stateHead * kHeadDim;
  float z = 0.f;
  // Two chunks' accumulated log2 gates G_i (per-token gates only).
  const u32 sG = sZ + (kSum ? 8 * kHeadDim : 0);
  float segmentLog = 0.f; // a gate per key dimension's split, pass 0: column tid's log2 gate
                          // sum over this segment

  // The state slice: rows warp * kStateRows + 16 mt + g (+8), columns 8 j + 2 t (+1). A
  // split's pass 0 starts from zero; its pass 1 from gamma^r0 S0 plus each earlier segment's
  // own state decayed over the rows after it.
  float state[kStateTiles][kTiles][4];
  // Calls fn(x, y, offset) for each pair of this thread's state elements (adjacent columns),
  // offset = row * Dv + column of the pair in a [D, Dv] float array.
  auto forEachStatePair = [&](auto &&fn) {
    forEachLinearStatePair<kHeadDim, kHeadDimV>(state, warp, lane, fn);
  };
  // A split's pass 1 reads the initial state from pass 0's copy in the workspace, never from
  // state_in: the last segment may write the final state over it (an update in place) while
  // other segments' blocks have not started.
  if (statePass && split == 0) {
    float *copy = linearSegmentState(p, b, h, -1, kHeadDim, kHeadDimV) + e0;
    forEachStatePair([&](float &, float &, int offset) {
      *reinterpret_cast<Float2 *>(copy + offset) =
          p.state_in ? *reinterpret_cast<const Float2 *>(p.state_in + stateOff + offset)
                     : Float2{0.f, 0.f};
    });
  }
  const float *initial = splitRun ? linearSegmentState(p, b, h, -1, kHeadDim, kHeadDimV) + e0
                                  : (p.state_in ? p.state_in + stateOff : nullptr);
#pragma unroll
  for (int mt = 0; mt < kStateTiles; ++mt)
#pragma unroll
    for (int j = 0; j < kTiles; ++j)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int d = warp * kStateRows + 16 * mt + g + 8 * r, e = 8 * j + 2 * t;
        Float2 s0 = {0.f, 0.f};
        if (initial && !statePass)
          s0 = *reinterpret_cast<const Float2 *>(initial + d * kHeadDimV + e);
        state[mt][j][2 * r] = s0.x;
        state[mt][j][2 * r + 1] = s0.y;
      }
  // Per-lane parts of the ldmatrix row addresses (lanes 8i..8i+7 address matrix i).
  const int rowQ = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8; // Q: A fragment order
  const int chunkQ = lane >> 4;
  const int rowK = (lane & 7) + (lane >> 4) * 8; // K: b0/b1 of n8 tile j, then of j+1
  const int chunkK = (lane >> 3) & 1;
  const int rowV = (lane & 7) + ((lane >> 3) & 1) * 8; // V, S (trans): tiles j, j+1
  const int chunkV = lane >> 4;
  const int rowKt = (lane & 7) + ((lane >> 4) & 1) * 8; // K^T (trans): A fragment of K^T
  const int chunkKt = (lane >> 3) & 1;

  // The chunk's state update (linearUpdateState), the split's gate sums beside it.
  // A split's pass 0 (without a gate per key dimension) has no output to compute.
  if constexpr (!kGateDim)
    if (statePass) {
      linearStatePass<Pattern, Elem, kHeadDim, kHeadDimV>(p, b, h, split, e0, r0, r1, kPtr, kStride,
                                                          vPtr, lgHead);
      return;
    }

  if (kGateDim && splitRun && !statePass) {
    // Per state row d: the earlier segments' decays over column d.
#pragma unroll
    for (int mt = 0; mt < kStateTiles; ++mt)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int d = warp * kStateRows + 16 * mt + g + 8 * r;
        float total = 0.f; // over every segment before this one, [0, r0)
#pragma unroll 1
        for (int q = 0; q < split; ++q)
          total += *linearSegmentLog(p, b, h, q, d, kHeadDim, kHeadDimV);
        const float f0 = exp2Approx(total);
        float through = 0.f; // over segments 0 .. q
#pragma unroll
        for (int j = 0; j < kTiles; ++j) {
          state[mt][j][2 * r] *= f0;
          state[mt][j][2 * r + 1] *= f0;
        }
#pragma unroll 1
        for (int q = 0; q < split; ++q) {
          through += *linearSegmentLog(p, b, h, q, d, kHeadDim, kHeadDimV);
          const float f = exp2Approx(total - through);
          const float *w = linearSegmentState(p, b, h, q, kHeadDim, kHeadDimV) + e0 + d * kHeadDimV;
#pragma unroll
          for (int j = 0; j < kTiles; ++j) {
            const Float2 v = *reinterpret_cast<const Float2 *>(w + 8 * j + 2 * t);
            state[mt][j][2 * r] = fmaf(f, v.x, state[mt][j][2 * r]);
            state[mt][j][2 * r + 1] = fmaf(f, v.y, state[mt][j][2 * r + 1]);
          }
        }
      }
  } else if (splitRun && !statePass) {
    // The decay over segment q: its rows times log2(gamma), or pass 0's sum of its gates.
    auto logOf = [&](int q) {
      if constexpr (kGate)
        return *linearSegmentLog(p, b, h, q, 0, kHeadDim, kHeadDimV);
      const int start = q * p.linear_segment_rows;
      return float(min(L, start + p.linear_segment_rows) - start) * lgHead;
    };
    float total = 0.f; // over every segment before this one, [0, r0)
#pragma unroll 1
    for (int q = 0; q < split; ++q)
      total += logOf(q);
    scaleLinearState(state, exp2Approx(total));
    float through = 0.f; // over segments 0 .. q
#pragma unroll 1
    for (int q = 0; q < split; ++q) {
      through += logOf(q);
      const float f = exp2Approx(total - through);
      const float *w = linearSegmentState(p, b, h, q, kHeadDim, kHeadDimV) + e0;
      forEachStatePair([&](float &x, float &y, int offset) {
        const Float2 v = *reinterpret_cast<const Float2 *>(w + offset);
        x = fmaf(f, v.x, x);
        y = fmaf(f, v.y, y);
      });
    }
  }
  // Writes the 16-bit copy of the state slice into buffer `slot` (each warp its own rows).
  auto stageState = [&](int slot) {
#pragma unroll
    for (int mt = 0; mt < kStateTiles; ++mt)
#pragma unroll
      for (int j = 0; j < kTiles; ++j)
#pragma unroll
        for (int r = 0; r < 2; ++r)
          stShared32(sS + slot * kBytesS +
                         swizzledOffset<kChunksV>(warp * kStateRows + 16 * mt + g + 8 * r, j) +
                         4 * t,
                     packFloat2<Elem>(state[mt][j][2 * r], state[mt][j][2 * r + 1]));
  };
  int readS = 0;  // the buffer holding the state before the current chunk
  if (!statePass) // (a split's pass 0 computes no output)
    stageState(readS);
  if constexpr (kSum)
    if (tid < kHeadDim) {
      z = p.key_sum_in ? p.key_sum_in[keySumOff + tid] : 0.f; // never split (splitRun false)
      stShared32(sZ + 4 * tid, __float_as_uint(z));
    }

  const int nChunks = (r1 - r0 + kChunk - 1) / kChunk;
  // Causal: one pass (output and state per chunk; a split's pass 0 the state only). Otherwise
  // pass 0 sums the state over every chunk and pass 1 computes the outputs from it.
  const int steps = kCausal ? nChunks : 2 * nChunks;
  // This thread's piece of a per-token gate's prefixes (the gate-log pass's; chunk c0 / kChunk
  // at gateSrc + c0): 16 threads copy a chunk's 64 floats.
  const float *gateSrc = kGate ? linearGateLog(p, b, h, 0) + 4 * (tid % 16) : nullptr;
  auto loadChunk = [&](int step, int stage) {
    const int c0 = r0 + (step % nChunks) * kChunk, valid = r1 - c0;
    const bool output = (kCausal && !statePass) || step >= nChunks;
    const bool update = kCausal || step < nChunks;
    if (output)
      loadTileAsync<kChunk, kChunksQK, kThreads>(sQ + stage * kBytesQK, qPtr + c0 * qStride,
                                                 qStride, valid, tid);
    if (update) {
      loadTileAsync<kChunk, kChunksQK, kThreads>(sK + stage * kBytesQK, kPtr + c0 * kStride,
                                                 kStride, valid, tid);
      loadTileAsync<kChunk, kChunksV, kThreads>(sV + stage * kBytesV, vPtr + c0 * p.v_row_stride,
                                                p.v_row_stride, valid, tid);
    }
    // A per-token gate's prefix G of the chunk (the gate-log pass's), into buffer `stage`.
    if constexpr (kGate)
      if (tid < kChunk / 4)
        cpAsync16(sG + stage * 4 * kChunk + 16 * tid, gateSrc + c0, true);
  };
  // A gate per key dimension: chunk `step`'s table, from the gate pass, into state buffer `slot`
  // (the one the chunk's update writes last).
  auto loadGateTable = [&](int step, int slot) {
    const float *src = linearGateTable<kHeadDim>(p, b, h, (r0 + step * kChunk) / kChunk);
    constexpr int kPieces = kLinearGateTableRows * kHeadDim / 4; // 16 bytes each
#pragma unroll
    for (int i = tid; i < kPieces; i += kThreads)
      cpAsync16(sS + slot * kBytesS + 16 * i, src + 4 * i, true);
  };
  if (steps > 0) {
    loadChunk(0, 0);
    if constexpr (kGateDim)
      loadGateTable(0, readS ^ 1);
  }
  cpAsyncCommit();
  for (int step = 0; step < steps; ++step) {
    const int stage = step & 1;
    const int c0 = r0 + (step % nChunks) * kChunk, n = min(kChunk, r1 - c0);
    const bool output = (kCausal && !statePass) || step >= nChunks;
    const bool update = kCausal || step < nChunks;
    const u32 sQt = sQ + stage * kBytesQK, sKt = sK + stage * kBytesQK, sVt = sV + stage * kBytesV;
    const float lg = opaque(lgHead); // the per-element decay factors are recomputed per chunk
    // This chunk has landed for every thread, every warp is done with the previous one (whose
    // stage the prefetch below overwrites) and the staged state is visible.
    cpAsyncWait<0>();
    __syncthreads();
    if (step + 1 < steps)
      loadChunk(step + 1, stage ^ 1);
    cpAsyncCommit();
    if constexpr (Pattern::kHasFeature && !kGateDim) { // (the gate pass applied it)
      if (output)
        applyFeatureMap<Pattern, Elem, kChunksQK>(sQt, n, tid);
      if (update)
        applyFeatureMap<Pattern, Elem, kChunksQK>(sKt, n, tid);
      __syncthreads();
    }
    const u32 sGt = sG + (step & 1) * 4 * kChunk;
    auto gateLog = [&](int row) { return __uint_as_float(ldShared32(sGt + 4 * row)); };
    // A gate per key dimension: the table of factors (kGateCarry ..) in the state buffer the
    // update writes last; the tiles hold the gate pass's Q^ and K^.
    const u32 sT = sS + (readS ^ 1) * kBytesS;
    auto tableAt = [&](int row, int d) {
      return __uint_as_float(ldShared32(sT + 4 * (row * kHeadDim + d)));
    };
    if constexpr (kGateDim)
      if (tid < kHeadDim)
        segmentLog += tableAt(kGateLastLog, tid); // G of column tid over the chunk
    // A gate per key dimension's factors f(d) on a bf16 fragment of k16 step kk, rounded to E
    // (every factor is <= 1, read from the gate pass's table; their rounding does not
    // compound, unlike the state's own decay):
    // Q's (A: columns d = 16 kk + 2t, +1 in a0, a1 and +8, +9 in a2, a3) or two n8 tiles of
    // K's (B: d = 16 kk + 2t, +1 in b0 of each, +8, +9 in b1).
    auto scaleFragment = [&](u32(&x)[4], int kk, auto &&f, auto elem, bool operandB) {
      using E = decltype(elem);
      const int d0 = 16 * kk + 2 * t;
      const float lo[2] = {f(d0), f(d0 + 8)}, hi[2] = {f(d0 + 1), f(d0 + 9)};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int half = operandB ? i & 1 : i >> 1;
        x[i] = scaledPair<E>(x[i], lo[half], hi[half]);
      }
    };

    // The k16 loops over D and over the chunk's keys stay rolled (unroll 1): unrolled, ptxas
    // hoists every iteration's fragment loads and the block no longer fits 255 registers
    // beside the state. The Q fragment is re-read per k16 step instead of held.
    if (output) {
      float o[kTiles][4];
#pragma unroll
      for (int j = 0; j < kTiles; ++j)
        o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
      // O += Q S_prev: the state as a K x N = D x 64 row-major operand, like V. First, so that
      // the carry can scale it alone; with a gate per key dimension (carry in the fragments)
      // last, so that O is not live beside the intra-chunk scores.
      auto addCarried = [&] {
        const u32 sSr = sS + readS * kBytesS;
#pragma unroll 1
        for (int kk = 0; kk < kStepsQK; ++kk) {
          u32 qf[4];
          ldmatrixX4(qf, sQt + swizzledOffset<kChunksQK>(rowQ, 2 * kk + chunkQ));
          if constexpr (kGateDim) // q_id 2^G_id = Q^_id 2^G_m(i)d
            scaleFragment(
                qf, kk, [&](int d) { return tableAt(kGateCarry + warp, d); }, Elem{}, false);
#pragma unroll
          for (int j = 0; j < kTiles; j += 2) {
            u32 sf[4];
            ldmatrixX4Trans(sf, sSr + swizzledOffset<kChunksV>(16 * kk + rowV, j + chunkV));
            mmaM16n8k16<Elem>(o[j], qf, sf[0], sf[1]);
            mmaM16n8k16<Elem>(o[j + 1], qf, sf[2], sf[3]);
          }
        }
      };
      if constexpr (!kGateDim)
        addCarried();
      // Rows i = 16 warp + g (+8) of the chunk: the carried part decays by gamma^(i+1).
      float carry[2] = {1.f, 1.f};
      if constexpr (kCausal && kDecay && !kGateDim) {
#pragma unroll
        for (int r = 0; r < 2; ++r)
          carry[r] = exp2Approx(kGate ? gateLog(warp * 16 + g + 8 * r)
                                      : float(warp * 16 + g + 8 * r + 1) * lg);
      }
      // The sum normaliser's denominator: the chunk's own weights (row sums of A, below), then
      // the carried part q_i . z_prev.
      float den[2] = {0.f, 0.f};
      if constexpr (kCausal) {
        if constexpr (kDecay && !kGateDim) {
#pragma unroll
          for (int r = 0; r < 2; ++r)
#pragma unroll
            for (int j = 0; j < kTiles; ++j) {
              o[j][2 * r] *= carry[r];
              o[j][2 * r + 1] *= carry[r];
            }
        }
        // A = Q K^T over the keys up to this warp's last row (n8 tiles 0 .. 2 warp + 1).
        float a[kTiles][4];
#pragma unroll
        for (int j = 0; j < kTiles; ++j)
          a[j][0] = a[j][1] = a[j][2] = a[j][3] = 0.f;
#pragma unroll 1
        for (int kk = 0; kk < kStepsQK; ++kk) {
          u32 qf[4];
          ldmatrixX4(qf, sQt + swizzledOffset<kChunksQK>(rowQ, 2 * kk + chunkQ));
#pragma unroll
          for (int j = 0; j < kTiles; j += 2)
            if (j <= 2 * warp) {
              u32 kf[4], qs[4] = {qf[0], qf[1], qf[2], qf[3]};
              ldmatrixX4(kf, sKt + swizzledOffset<kChunksQK>(8 * j + rowK, 2 * kk + chunkK));
              // A key sub-chunk J = j / 2 before this warp's own: Q^ 2^(G_m(I) - G_e(J)) and
              // K^ 2^(G_e(J) - G_m(J)).
              if constexpr (kGateDim)
                if (j < 2 * warp) {
                  const int J = j / 2;
                  scaleFragment(
                      qs, kk,
                      [&](int d) { return tableAt(kGateCross + warp * (warp - 1) / 2 + J, d); },
                      bf16{}, false);
                  scaleFragment(
                      kf, kk, [&](int d) { return tableAt(kGateKey + J, d); }, bf16{}, true);
                }
              mmaM16n8k16<QKElem>(a[j], qs, kf[0], kf[1]);
              mmaM16n8k16<QKElem>(a[j + 1], qs, kf[2], kf[3]);
            }
        }
        // A_ij *= gamma^(i-j) for j <= i, 0 above the diagonal. i - j = diag + 8 (e / 2) - 8 j -
        // e % 2 for element e of n8 tile j (diag laundered, or the 32 distances would be
        // hoisted out of the chunk loop as constants and held in registers).
        // A per-token gate: 2^(G_i - G_j), G_i for this thread's two rows, G_j, G_j+1 of each
        // n8 tile's columns 2t, 2t + 1.
        const int diag = opaque(warp * 16 + g - 2 * t);
        float rowLog[2] = {0.f, 0.f};
        if constexpr (kGate) {
          rowLog[0] = gateLog(warp * 16 + g);
          rowLog[1] = gateLog(warp * 16 + g + 8);
        }
#pragma unroll
        for (int j = 0; j < kTiles; ++j) {
          float colLog[2] = {0.f, 0.f};
          if constexpr (kGate)
            if (j <= 2 * warp + 1) {
              colLog[0] = gateLog(8 * j + 2 * t);
              colLog[1] = gateLog(8 * j + 2 * t + 1);
            }
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int distance = diag + 8 * (e >> 1) - 8 * j - (e & 1);
            float f = 1.f;
            if constexpr (kGate)
              f = exp2Approx(distance >= 0 ? rowLog[e >> 1] - colLog[e & 1] : 0.f);
            else if constexpr (kConstDecay)
              f = exp2Approx(float(distance) * lg); // (per key dimension: in the tiles)
            a[j][e] = distance >= 0 ? a[j][e] * f : 0.f;
          }
        }
        // O += A V over the keys of k16 steps 0 .. warp; with the sum normaliser also A 1 (an
        // n8 tile of ones as B: every column holds the row sums of the same 16-bit weights).
        float rowSums[4] = {0.f, 0.f, 0.f, 0.f};
        const u32 ones = packFloat2<Elem>(1.f, 1.f);
#pragma unroll
        for (int ks = 0; ks < kStepsC; ++ks)
          if (ks <= warp) {
            u32 af[4];
            packWeights<Elem>(a, ks, af);
            if constexpr (kSum)
              mmaM16n8k16<Elem>(rowSums, af, ones, ones);
#pragma unroll
            for (int j = 0; j < kTiles; j += 2) {
              u32 vf[4];
              ldmatrixX4Trans(vf, sVt + swizzledOffset<kChunksV>(16 * ks + rowV, j + chunkV));
              mmaM16n8k16<Elem>(o[j], af, vf[0], vf[1]);
              mmaM16n8k16<Elem>(o[j + 1], af, vf[2], vf[3]);
            }
          }
        den[0] = rowSums[0];
        den[1] = rowSums[2];
      }
      if constexpr (kGateDim)
        addCarried();
      if constexpr (kSum) {
        // q_i . z_prev: each lane of a quad sums a quarter of D (after the intra-chunk part,
        // whose registers are free by now).
        const u32 zPrev = sZ + readS * kHeadDim * 4;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int row = warp * 16 + g + 8 * r;
          float acc = 0.f;
#pragma unroll 4
          for (int d = t * (kHeadDim / 4); d < (t + 1) * (kHeadDim / 4); d += 2) {
            float lo, hi;
            unpackFloat2<QKElem>(
                ldShared32(sQt + swizzledOffset<kChunksQK>(row, d / 8) + (d % 8) * 2), lo, hi);
            if constexpr (kGateDim) { // q_id 2^G_id = Q^_id 2^G_m(i)d
              lo *= tableAt(kGateCarry + warp, d);
              hi *= tableAt(kGateCarry + warp, d + 1);
            }
            acc = fmaf(lo, __uint_as_float(ldShared32(zPrev + 4 * d)),
                       fmaf(hi, __uint_as_float(ldShared32(zPrev + 4 * d + 4)), acc));
          }
          acc += __shfl_xor_sync(0xffffffffu, acc, 1);
          acc += __shfl_xor_sync(0xffffffffu, acc, 2);
          den[r] += carry[r] * acc;
        }
      }
      if (partialOut) {
        // A feature slice's share, in float32: c O (none) or O and den (sum), which the reduce
        // pass sums over the slices.
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int q = c0 + warp * 16 + g + 8 * r;
          if (q >= r1)
            continue;
          const float c = kSum ? 1.f : p.scale;
          float *row = linearPartialRow(p, b, h, fslice, q, kHeadDimV) + e0;
#pragma unroll
          for (int j = 0; j < kTiles; ++j)
            *reinterpret_cast<Float2 *>(row + 8 * j + 2 * t) =
                Float2{o[j][2 * r] * c, o[j][2 * r + 1] * c};
          if (kSum && slice == 0 && t == 0)
            *linearPartialDen(p, b, h, fslice, q, kHeadDimV) = den[r];
        }
      } else {
        // c O (sum: O / den, 0 where den = 0), staged in this warp's own 16 rows of the Q chunk
        // (only it reads them) so that the global stores are 16-byte and row-contiguous.
        float factor[2] = {p.scale, p.scale};
        if constexpr (kSum) {
#pragma unroll
          for (int r = 0; r < 2; ++r)
            factor[r] = den[r] != 0.f ? 1.f / den[r] : 0.f;
          __syncwarp(); // the denominator's reads of this warp's Q rows are done
        }
        const u32 sO = sQt + warp * 16 * kChunksQK * 16;
#pragma unroll
        for (int j = 0; j < kTiles; ++j)
#pragma unroll
          for (int r = 0; r < 2; ++r)
            stShared32(sO + swizzledOffset<kChunksV>(g + 8 * r, j) + 4 * t,
                       packFloat2<Elem>(o[j][2 * r] * factor[r], o[j][2 * r + 1] * factor[r]));
        __syncwarp();
#pragma unroll
        for (int i = 0; i < 16 * kChunksV / 32; ++i) {
          const int idx = lane + 32 * i, row = idx / kChunksV, chunk = idx % kChunksV;
          const int q = c0 + warp * 16 + row;
          u32 v[4];
          ldShared16(v, sO + swizzledOffset<kChunksV>(row, chunk));
          if (q < r1)
            stGlobal16(oPtr + q * p.o_row_stride + chunk * 8, v);
        }
      }
    }

    if (update) {
      const float lastLog =
          linearUpdateState<Pattern, Elem, kHeadDim>(state, sKt, sVt, sGt, sT, n, lg, warp, lane);
      // z = gamma^n z + sum_j gamma^(n-1-j) k_j, by Horner over the chunk's keys (per-token
      // gates: each key by its own factor, like the state's; per key dimension: the update's
      // factors on K^ of column d).
      if constexpr (kSum && kGateDim)
        if (tid < kHeadDim) {
          z *= tableAt(kGateLast, tid);
#pragma unroll 1
          for (int J = 0; J < kChunk / 16; ++J) {
            const float f = tableAt(kGateKey + J, tid), fl = tableAt(kGateToLast + J, tid);
            for (int j = 16 * J; j < 16 * J + 16; ++j) { // rows past n are 0
              bf16 key;
              key.bits = ldSharedU16(sKt + swizzledOffset<kChunksQK>(j, tid / 8) + (tid % 8) * 2);
              z = fmaf(toFloat(key) * f, fl, z);
            }
          }
          stShared32(sZ + ((readS ^ 1) * kHeadDim + tid) * 4, __float_as_uint(z));
        }
      if constexpr (kSum && !kGateDim)
        if (tid < kHeadDim) {
          const float gamma = kDecay && !kGate ? exp2Approx(lg) : 1.f;
          if constexpr (kGate)
            z *= exp2Approx(lastLog);
          for (int j = 0; j < n; ++j) {
            Elem key;
            key.bits = ldSharedU16(sKt + swizzledOffset<kChunksQK>(j, tid / 8) + (tid % 8) * 2);
            if constexpr (kGate)
              z = fmaf(exp2Approx(lastLog - gateLog(j)), toFloat(key), z);
            else
              z = fmaf(z, gamma, toFloat(key));
          }
          stShared32(sZ + ((readS ^ 1) * kHeadDim + tid) * 4, __float_as_uint(z));
        }
      // The next chunk reads the new state from the other buffer (its reads of this one, from
      // the previous chunk, finished before this chunk's barrier; a gate per key dimension's
      // table there is read by every warp until here). That table's next one goes to the
      // buffer this chunk's carry read.
      if constexpr (kGateDim)
        __syncthreads();
      readS ^= 1;
      if constexpr (kGateDim)
        if (step + 1 < steps) {
          loadGateTable(step + 1, readS ^ 1);
          cpAsyncCommit();
        }
      stageState(readS);
    }
  }
  cpAsyncWait<0>();

  if (statePass) { // a gate per key dimension's pass 0: the segment's own state and gate sums
    if (kGateDim && slice == 0 && tid < kHeadDim)
      *linearSegmentLog(p, b, h, split, tid, kHeadDim, kHeadDimV) = segmentLog;
    float *w = linearSegmentState(p, b, h, split, kHeadDim, kHeadDimV) + e0;
    forEachStatePair([&](float &x, float &y, int offset) {
      *reinterpret_cast<Float2 *>(w + offset) = Float2{x, y};
    });
    return;
  }
  if (!writesState)
    return;
  if (kSum && p.key_sum_out && tid < kHeadDim)
    p.key_sum_out[keySumOff + tid] = z;
  if (p.state_out)
    forEachStatePair([&](float &x, float &y, int offset) {
      *reinterpret_cast<Float2 *>(p.state_out + stateOff + offset) = Float2{x, y};
    });
}

} // namespace attnc

#endif // ATTNC_DEVICE_LINEAR_SM80_CUH
