//===- linear_gates.cuh - The gate pass of a gate per key dimension ---------===//
//
// A gate per key dimension (GLA; the decay reads d): launchForward runs linearGatePass over
// every chunk before the prefill (linear_sm80.cuh, whose header gives the arithmetic). It
// writes Q^ and K^ as bf16, scaled around each 16-row sub-chunk's midpoint, and each chunk's
// table of the factors the prefill applies. Also the helpers both kernels share: decayLog2,
// the gates' floor, packed-pair arithmetic.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_LINEAR_GATES_CUH
#define ATTNC_DEVICE_LINEAR_GATES_CUH

#include "attnc/linear_features.cuh"
#include "attnc/math.cuh"
#include "attnc/mma_sm80.cuh"
#include "attnc/params.cuh"
#include "attnc/tiles.cuh"

namespace attnc {

/// log2 of the pattern's decay for (b, h), token t of the call's sequence and key dimension d;
/// 0 without one.
template <class Pattern>
ATTNC_DEVICE float decayLog2(const FwdParams &p, int b, int h, int t, int d = 0) {
  if constexpr (Pattern::kHasDecay)
    return Pattern::decayLog2(p, b, h, t, d);
  return 0.f;
}

/// The floor of a gate per key dimension's log2 (a gate of 2^-15, about 3e-5, per token): the
/// gated tiles hold factors of up to 8 rows' decay, 2^120 at most, inside bf16's range.
constexpr float kGateLog2Floor = -15.f;

/// Two bf16 of a packed register times (flo, fhi), then times (glo, ghi), rounded to Elem as a
/// packed pair.
template <class Elem>
ATTNC_DEVICE u32 scaledPair(u32 x, float flo, float fhi, float glo = 1.f, float ghi = 1.f) {
  return packFloat2<Elem>(__uint_as_float(x << 16) * flo * glo,
                          __uint_as_float(x & 0xffff0000u) * fhi * ghi);
}

/// Rows of a gate per key dimension's table (kLinearGateTableRows x kHeadDim floats per chunk),
/// the factors the prefill applies, with m(I), e(I) the midpoint and last row of sub-chunk I
/// and `last` the chunk's last row: 2^G_m(I) (kGateCarry + I); 2^(G_m(I) - G_e(J)) for J < I
/// (kGateCross + I (I - 1) / 2 + J); 2^(G_e(J) - G_m(J)) (kGateKey + J); 2^(G_last - G_e(J))
/// (kGateToLast + J); 2^G_last (kGateLast); G_last itself (kGateLastLog).
constexpr int kGateCarry = 0, kGateCross = 4, kGateKey = 10, kGateToLast = 14, kGateLast = 18,
              kGateLastLog = 19;
static_assert(kGateLastLog + 1 == kLinearGateTableRows, "the table's rows");

/// Row `row` of (b, h)'s gated Q^ (K^ after every Q^) in the gate pass's buffer, bf16.
template <int kHeadDim>
ATTNC_DEVICE bf16 *linearGatedRow(const FwdParams &p, bool keys, int b, int h, int row) {
  const i64 rows = i64(p.seqlen_q + kLinearChunk - 1) / kLinearChunk * kLinearChunk;
  const i64 plane = i64(p.batch) * p.heads * rows * kHeadDim;
  return static_cast<bf16 *>(p.linear_gated) + (keys ? plane : 0) +
         ((i64(b) * p.heads + h) * rows + row) * kHeadDim;
}

/// Chunk `chunk` of (b, h)'s table in the gate pass's buffer.
template <int kHeadDim>
ATTNC_DEVICE float *linearGateTable(const FwdParams &p, int b, int h, int chunk) {
  const i64 chunks = (p.seqlen_q + kLinearChunk - 1) / kLinearChunk;
  return p.linear_gate_table +
         ((i64(b) * p.heads + h) * chunks + chunk) * kLinearGateTableRows * kHeadDim;
}

/// Chunk `chunk` of (b, h)'s prefix of log2 gates in the gate-log pass's buffer.
ATTNC_DEVICE float *linearGateLog(const FwdParams &p, int b, int h, int chunk) {
  const i64 chunks = (p.seqlen_q + kLinearChunk - 1) / kLinearChunk;
  return p.linear_gate_log + ((i64(b) * p.heads + h) * chunks + chunk) * kLinearChunk;
}

/// The gate-log pass of a scalar gate per token (launchForward runs it before the prefill, over
/// a grid of chunks / 4 x Hq x B): warp w of a block takes one chunk and writes its inclusive
/// prefix G_i = sum of log2(gamma_(c0 + r)) over rows r = 0 .. i, rows at or past the
/// sequence's end contributing 0. Lane l owns rows 2l and 2l + 1. Computed once here, the
/// prefixes reach the prefill by the same asynchronous copies as its tiles, so that no warp
/// there waits on the gate's loads.
template <class Pattern> ATTNC_DEVICE void linearGateLogPass(const FwdParams &p) {
  static_assert(kLinearChunk == 64, "two rows per lane");
  const int lane = threadIdx.x % 32;
  const int chunk = blockIdx.x * (kLinearThreads / 32) + threadIdx.x / 32;
  const int h = blockIdx.y, b = blockIdx.z;
  const int c0 = chunk * kLinearChunk, n = min(kLinearChunk, sequenceView(p, b, h).seqlenQ - c0);
  if (n <= 0)
    return;
  const int r = 2 * lane;
  const float a = r < n ? decayLog2<Pattern>(p, b, h, c0 + r) : 0.f;
  const float c = r + 1 < n ? decayLog2<Pattern>(p, b, h, c0 + r + 1) : 0.f;
  float sum = a + c;
#pragma unroll
  for (int offset = 1; offset < 32; offset *= 2) {
    const float up = __shfl_up_sync(0xffffffffu, sum, offset);
    if (lane >= offset)
      sum += up;
  }
  *reinterpret_cast<Float2 *>(linearGateLog(p, b, h, chunk) + r) = Float2{sum - c, sum};
}

/// The gate pass of a gate per key dimension (launchForward runs it before the prefill, over
/// a grid of chunks / (2 kLinearThreads / kHeadDim) x Hq x B): thread (chunk, d) takes columns
/// d, d + 1 of one chunk's Q and K (feature map applied and rounded to Elem, as the prefill
/// would), accumulates G over the chunk's rows, and writes Q^ and K^ as bf16 around each 16-row
/// sub-chunk's midpoint (see the top of this file) and the chunk's table of factors (above).
/// Rows past the sequence's end are not written: the prefill's tile loads
/// zero-fill them. The pass shares the prefill's registers (255, two blocks per SM), so each
/// thread keeps the next sub-chunk's loads in flight while it rewrites the current one; every
/// load takes the read-only path, which the stores between them do not order.
template <class Pattern, class Elem, int kHeadDim>
ATTNC_DEVICE void linearGatePass(const FwdParams &p) {
  constexpr int kThreadsPerChunk = kHeadDim / 2, kSubs = kLinearChunk / 16;
  static_assert(kLinearThreads % kThreadsPerChunk == 0, "whole chunks per block");
  constexpr int kChunksPerBlock = kLinearThreads / kThreadsPerChunk;
  const int d = 2 * (threadIdx.x % kThreadsPerChunk);
  const int chunk = blockIdx.x * kChunksPerBlock + threadIdx.x / kThreadsPerChunk;
  const int h = blockIdx.y, b = blockIdx.z;
  const SequenceView seq = sequenceView(p, b, h);
  const int c0 = chunk * kLinearChunk, n = min(kLinearChunk, seq.seqlenQ - c0);
  if (n <= 0)
    return;
  const int hk = h / (p.heads / p.kv_heads);
  // Columns d, d + 1 as one 32-bit word per row (rows are 16-byte aligned, d is even).
  const u32 *q = reinterpret_cast<const u32 *>(static_cast<const Elem *>(p.q) + seq.qOff +
                                               h * p.q_head_stride + i64(c0) * p.q_row_stride + d);
  const u32 *k = reinterpret_cast<const u32 *>(static_cast<const Elem *>(p.k) + seq.kOff +
                                               hk * p.k_head_stride + i64(c0) * p.k_row_stride + d);
  const i64 qStride = p.q_row_stride / 2, kStride = p.k_row_stride / 2;
  u32 *qHat = reinterpret_cast<u32 *>(linearGatedRow<kHeadDim>(p, false, b, h, c0) + d);
  u32 *kHat = reinterpret_cast<u32 *>(linearGatedRow<kHeadDim>(p, true, b, h, c0) + d);
  float *table = linearGateTable<kHeadDim>(p, b, h, chunk) + d;
  // The feature-mapped pair as the prefill's tiles hold it (rounded to Elem), as floats.
  auto unpack = [](u32 x, float &lo, float &hi) {
    unpackFloat2<Elem>(x, lo, hi);
    if constexpr (Pattern::kHasFeature)
      unpackFloat2<Elem>(packFloat2<Elem>(Pattern::feature(lo), Pattern::feature(hi)), lo, hi);
  };
  float gates[16][2];
  u32 qv[16], kv[16];
  auto load = [&](int sub) {
#pragma unroll
    for (int r = 0; r < 16; ++r) {
      const int row = 16 * sub + r;
      const bool valid = row < n;
#pragma unroll
      for (int c = 0; c < 2; ++c)
        gates[r][c] =
            valid ? fmaxf(decayLog2<Pattern>(p, b, h, c0 + row, d + c), kGateLog2Floor) : 0.f;
      qv[r] = valid ? __ldg(q + row * qStride) : 0u;
      kv[r] = valid ? __ldg(k + row * kStride) : 0u;
    }
  };
  float base[2] = {0.f, 0.f}; // G over the rows before the current sub-chunk
  float mids[kSubs][2], ends[kSubs][2];
  load(0);
  // Unrolled: mids and ends stay in registers (rolled, they went to local memory).
#pragma unroll
  for (int sub = 0; sub < kSubs; ++sub) {
    float G[16][2];
    u32 qc[16], kc[16];
#pragma unroll
    for (int r = 0; r < 16; ++r) {
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        base[c] += gates[r][c];
        G[r][c] = base[c];
      }
      qc[r] = qv[r];
      kc[r] = kv[r];
    }
    if (sub + 1 < kSubs)
      load(sub + 1);
    const float mid[2] = {G[7][0], G[7][1]};
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      mids[sub][c] = mid[c];
      ends[sub][c] = base[c];
    }
#pragma unroll
    for (int r = 0; r < 16; ++r) {
      const int row = 16 * sub + r;
      if (row < n) {
        float ql[2], kl[2];
        unpack(qc[r], ql[0], ql[1]);
        unpack(kc[r], kl[0], kl[1]);
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const float e = G[r][c] - mid[c]; // |e| <= 8 * 15
          ql[c] *= exp2Approx(e);
          kl[c] *= exp2Approx(-e);
        }
        qHat[row * (kHeadDim / 2)] = packFloat2<bf16>(ql[0], ql[1]);
        kHat[row * (kHeadDim / 2)] = packFloat2<bf16>(kl[0], kl[1]);
      }
    }
  }
  // The table: factors of at most 8 rows' decay each way, in float's range (G >= -15 per row).
  auto put = [&](int row, auto &&f) {
    *reinterpret_cast<Float2 *>(table + row * kHeadDim) = Float2{f(0), f(1)};
  };
  const float(&last)[2] = ends[kSubs - 1];
#pragma unroll
  for (int I = 0; I < kSubs; ++I) {
    put(kGateCarry + I, [&](int c) { return exp2Approx(mids[I][c]); });
#pragma unroll
    for (int J = 0; J < I; ++J)
      put(kGateCross + I * (I - 1) / 2 + J,
          [&](int c) { return exp2Approx(mids[I][c] - ends[J][c]); });
    put(kGateKey + I, [&](int c) { return exp2Approx(ends[I][c] - mids[I][c]); });
    put(kGateToLast + I, [&](int c) { return exp2Approx(last[c] - ends[I][c]); });
  }
  put(kGateLast, [&](int c) { return exp2Approx(last[c]); });
  put(kGateLastLog, [&](int c) { return last[c]; });
}

} // namespace attnc

#endif // ATTNC_DEVICE_LINEAR_GATES_CUH
