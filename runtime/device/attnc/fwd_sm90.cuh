//===- fwd_sm90.cuh - Hopper attention forward kernel template (wgmma + TMA) ===//
//
// `fwdSm90<Pattern, Elem, D, Dv, kBlockM, kBlockN, kStages>` computes what fwdSm80 computes (same
// hooks, same conventions: fwd_sm80.cuh's header) for q-tiles of kBlockM (128 or 192) rows of
// one (batch, query head), with the Hopper machinery of KERNELS.md:
// - fwdSm90Threads(kBlockM) threads: a producer warpgroup and one consumer warpgroup per 64
//   query rows. Warpgroup 0 is the producer: one thread issues every TMA load (a tile's Q, then
//   K and V of each visited key tile into a kStages-deep ring) and the warpgroup gives its
//   registers away (setmaxnreg 40 beside two consumers, 32 beside three: the work tile loop
//   fits without spilling). The consumers take the rest (setmaxnreg 232 or 160).
// - Each ring stage has a FULL barrier per tensor (the producer's arrive with the byte count,
//   completed by the TMA transactions) and an EMPTY barrier per tensor (all consumer threads
//   arrive after their products that read the stage have completed).
// - S = Q K^T is wgmma m64 x kBlockN x 16 with both operands in shared memory (K-major,
//   128B swizzle); the hooks and the online softmax run on the S accumulator (tile_scores.cuh);
//   P, packed to Elem in registers, is the A operand of O += P V (wgmma RS, V MN-major).
// - The softmax of tile i runs while P V of tile i-1 is in flight (ATTNC_SM90_OVERLAP), and the
//   consumer warpgroups take turns issuing their products (ATTNC_SM90_PINGPONG).
// - A CTA runs work tiles (q-tile, query head, batch) in turn: with a persistent grid (the
//   host's default, one CTA per SM, tiles taken from a counter) the producer loads the next
//   tile's Q (behind a Q EMPTY barrier the consumers arrive at once their last S is done) and
//   K/V tiles while the consumers finish the last tile's P V and epilogue; the ring's stages
//   and phases run on across tiles.
// Launch: grid (G, 1, 1) for any G >= 1 (ceil(Sq / kBlockM) * Hq * B: one work tile per CTA),
// fwdSm90Threads(kBlockM) threads, fwdSm90SmemBytes(...) bytes of dynamic shared memory, and the
// tensor maps of params.cuh (FwdTmaMaps) made by the host.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_FWD_SM90_CUH
#define ATTNC_DEVICE_FWD_SM90_CUH

#include "attnc/combine.cuh"
#include "attnc/hopper.cuh"
#include "attnc/tile_scores.cuh"
#include "attnc/tiles.cuh"
#include "attnc/wgmma_sm90.cuh"

// Mechanisms that can be switched off to measure what each buys (ATTNC_NVRTC_OPTIONS=-D...).
#ifndef ATTNC_SM90_OVERLAP
#define ATTNC_SM90_OVERLAP 1 // softmax of tile i overlaps P V of tile i-1
#endif
#ifndef ATTNC_SM90_PINGPONG
#define ATTNC_SM90_PINGPONG 1 // the consumer warpgroups alternate their GEMM issue
#endif
#ifndef ATTNC_SM90_VECTOR_STORES
#define ATTNC_SM90_VECTOR_STORES 1 // O rows stored 16 bytes a thread (quadTranspose)
#endif
#ifndef ATTNC_SM90_TILES_FROM_END
#define ATTNC_SM90_TILES_FROM_END 1 // q-tiles laid from the sequence's end (workTile)
#endif
// The register split (setmaxnreg) of the producer warpgroup and the consumer warpgroups:
// together at most the registers per thread of the launch (65536 / threads, rounded down to 8:
// 168 with two consumers, 128 with three).
#ifndef ATTNC_SM90_PRODUCER_REGS
#define ATTNC_SM90_PRODUCER_REGS 40
#endif
#ifndef ATTNC_SM90_CONSUMER_REGS
#define ATTNC_SM90_CONSUMER_REGS 232
#endif
#ifndef ATTNC_SM90_PRODUCER_REGS_3
#define ATTNC_SM90_PRODUCER_REGS_3 32
#endif
#ifndef ATTNC_SM90_CONSUMER_REGS_3
#define ATTNC_SM90_CONSUMER_REGS_3 160
#endif

namespace attnc {

template <class Pattern, class Elem, int kHeadDim, int kHeadDimV, int kBlockM, int kBlockN,
          int kStages>
__device__ void fwdSm90(const FwdParams &p, const FwdTmaMaps &maps) {
  constexpr int kConsumers = kBlockM / 64; // consumer warpgroups of 64 rows
  constexpr int kThreads = fwdSm90Threads(kBlockM);
  constexpr int kTilesN = kBlockN / 8;    // n8 column tiles of S
  constexpr int kTilesV = kHeadDimV / 8;  // n8 column tiles of O
  constexpr int kStepsQK = kHeadDim / 16; // k16 steps of S = Q K^T
  constexpr int kStepsPV = kBlockN / 16;  // k16 steps of O += P V
  constexpr u32 kBytesQ = kBlockM * kHeadDim * 2;
  constexpr u32 kBytesK = kBlockN * kHeadDim * 2;
  constexpr u32 kBytesV = kBlockN * kHeadDimV * 2;
  constexpr int kConsumerThreads = kThreads - 128;
  constexpr bool kOverlap = ATTNC_SM90_OVERLAP != 0;
  constexpr bool kPingpong = kOverlap && ATTNC_SM90_PINGPONG != 0;
  constexpr int kProducerRegs =
      kConsumers == 2 ? ATTNC_SM90_PRODUCER_REGS : ATTNC_SM90_PRODUCER_REGS_3;
  constexpr int kConsumerRegs =
      kConsumers == 2 ? ATTNC_SM90_CONSUMER_REGS : ATTNC_SM90_CONSUMER_REGS_3;
  static_assert(kConsumers == 2 || kConsumers == 3, "q-tiles of 128 or 192 rows");
  static_assert(128 * kProducerRegs + kConsumerThreads * kConsumerRegs <=
                    (65536 / kThreads / 8 * 8) * kThreads,
                "the register split exceeds the launch's registers");
  static_assert(sizeof(Elem) == 2, "Elem is a 16-bit storage type");
  static_assert(kHeadDim % 64 == 0 && kHeadDimV % 64 == 0, "head dims must be multiples of 64");
  static_assert(kBlockN % 16 == 0 && kBlockN <= 256, "kBlockN: a multiple of 16, at most 256");
  static_assert(kStages >= 1, "the K/V ring needs a stage");
  static_assert(kTilesV % 4 == 0, "O is stored in groups of four n8 tiles");

  const int tid = threadIdx.x, warpgroup = tid / 128;
  // Work tiles: (q-tile, query head, batch), the q-tiles in reverse (with causal-like patterns
  // the last tiles see the most keys, so they start first) over groups of p.work_group (head,
  // batch) pairs (the producer's loop below). CTA i takes
  // work tile i first; with a persistent grid (one CTA per SM, p.work_counter set) it then
  // takes gridDim.x + the counter's next value, in order, so that tiles start in about the
  // order of a grid of one CTA per tile. The producer takes the next tile once it has issued
  // the loads of the current one (near the current one's end, so that the CTAs free first take
  // the next tiles, as the hardware's CTA scheduler would), and hands each tile to the
  // consumers in shared memory beside its Q (sWork: q-tile, head, batch, read after barQ; a
  // negative batch ends).
  struct Work {
    int b, h, q0, q1, seqlenQ, seqlenK;
    SequenceView seq;
  };
  // The work tile of q-tile mBlock of (head h, batch b): rows [q0, q1); false when that q-tile
  // lies past its sequence (varlen), uniformly over the CTA. Without a block map (whose rows
  // are kBlockM-aligned) the q-tiles are laid from the sequence's end, so that the remainder
  // rows (seqlenQ mod kBlockM) form the first tile: under causal-like masks the short tile then
  // sees the fewest keys instead of the most. The first tile still loads and computes kBlockM
  // rows from row 0; only [q0, q1) are stored.
  constexpr bool kTilesFromEnd = ATTNC_SM90_TILES_FROM_END != 0 && Pattern::kBlockMapM == 0;
  auto workTile = [&](int mBlock, int h, int b, Work &x) {
    x.h = h;
    x.b = b;
    x.seq = sequenceView(p, x.b, x.h);
    x.seqlenQ = x.seq.seqlenQ;
    x.seqlenK = x.seq.seqlenK;
    const int shift = kTilesFromEnd ? (kBlockM - x.seqlenQ % kBlockM) % kBlockM : 0;
    x.q0 = max(mBlock * kBlockM - shift, 0);
    x.q1 = min(mBlock * kBlockM - shift + kBlockM, x.seqlenQ);
    return x.q0 < x.seqlenQ;
  };

  // Shared memory, 1024-byte aligned: Q (D/64 column blocks of 128 rows), the K ring, the V
  // ring, then the barriers.
  extern __shared__ __attribute__((aligned(1024))) u8 attncSmem[];
  const u32 sQ = (smemAddress(attncSmem) + 1023u) & ~1023u;
  const u32 sK = sQ + kBytesQ;
  const u32 sV = sK + kStages * kBytesK;
  const u32 barQ = sV + kStages * kBytesV;
  auto barKFull = [&](int s) { return barQ + 8 * (1 + s); };
  auto barVFull = [&](int s) { return barQ + 8 * (1 + kStages + s); };
  auto barKEmpty = [&](int s) { return barQ + 8 * (1 + 2 * kStages + s); };
  auto barVEmpty = [&](int s) { return barQ + 8 * (1 + 3 * kStages + s); };
  const u32 barQEmpty = barQ + 8 * (1 + 4 * kStages); // the consumers are done with Q
  const u32 sWork = barQEmpty + 8; // the work tile whose Q is in sQ: q-tile, head, batch

  if (tid == 0) {
    mbarInit(barQ, 1);
    mbarInit(barQEmpty, kConsumerThreads);
    for (int s = 0; s < kStages; ++s) {
      mbarInit(barKFull(s), 1);
      mbarInit(barVFull(s), 1);
      mbarInit(barKEmpty(s), kConsumerThreads);
      mbarInit(barVEmpty(s), kConsumerThreads);
    }
    fenceBarrierInit();
  }
  __syncthreads();

  // TMA coordinates: (column, row in the packed rows dimension, head, batch).
  // A collapsed dimension (broadcast, or a packed batch) has extent 1: coordinate 0.
  auto coord = [&](int bit, int index) { return (maps.collapsed >> bit) & 1 ? 0 : index; };
  const int group = p.heads / p.kv_heads; // GQA: Hq / Hkv query heads share a KV head

  // Producer and consumers count the key tiles they pass through the ring (`ring`: its stage
  // and phase) and the Q tiles (`uses`: the phase of barQ / barQEmpty) over all work tiles.
  if (warpgroup == 0) {
    // Producer.
    setMaxRegistersDec<kProducerRegs>();
    if (tid == 0) {
      tmaPrefetch(maps.q);
      tmaPrefetch(maps.k);
      tmaPrefetch(maps.v);
      const int numM = (p.seqlen_q + kBlockM - 1) / kBlockM;
      const int numWork = numM * p.heads * p.batch;
      // The work tile after w: the counter's next value past the first gridDim.x tiles.
      auto take = [&](int w) {
        return p.work_counter ? int(gridDim.x) + atomicAdd(p.work_counter, 1) : w + int(gridDim.x);
      };
      // Work tiles are taken once the loads of the last one are issued (its Q load waits for
      // the consumers' last S of the last tile anyway); q-tiles past their sequence (varlen)
      // are passed over.
      int ring = 0, uses = 0;
      // Work tile w (sm90WorkTile): groups of p.work_group (head, batch) pairs, q-tile by
      // q-tile inside a group from the last. Causal-like tiles then end on the groups' short
      // tiles, not on the last pair's long ones, while the keys and values of the pairs
      // running at once stay few enough for L2 (launchForward picks the group).
      for (int w = blockIdx.x;; w = take(w)) {
        int hb = 0, mBlock = 0;
        if (w < numWork)
          sm90WorkTile(w, numM, p.heads * p.batch, p.work_group, hb, mBlock);
        const int b = hb / p.heads, h = hb - b * p.heads;
        Work x;
        if (w < numWork && !workTile(mBlock, h, b, x))
          continue;
        mbarWait(barQEmpty, (uses++ & 1) ^ 1);
        if (w >= numWork) {
          stShared32(sWork + 8, u32(-1));
          mbarArrive(barQ); // no more work: the consumers read the batch -1 and leave
          break;
        }
        stShared32(sWork, u32(mBlock));
        stShared32(sWork + 4, u32(h));
        stShared32(sWork + 8, u32(b));
        tmaLoadTile<kBlockM, kHeadDim>(sQ, maps.q, barQ, x.seq.qRow0 + x.q0, coord(0, x.h),
                                       coord(1, x.b));
        const KeyTiles<Pattern, kBlockN> tiles(p, x.b, x.h, x.q0, x.q1, x.seqlenQ, x.seqlenK);
        const int numTiles = tiles.count();
        const int hk = x.h / group;
        int n = tiles.nMax;
#pragma unroll 1
        for (int i = 0; i < numTiles; ++i, ++ring) {
          n = tiles.prev(n);
          const int s = ring % kStages;
          const u32 phase = (ring / kStages) & 1;
          const int row = x.seq.kRow0 + n * kBlockN;
          mbarWait(barKEmpty(s), phase ^ 1);
          tmaLoadTile<kBlockN, kHeadDim>(sK + s * kBytesK, maps.k, barKFull(s), row, coord(2, hk),
                                         coord(3, x.b));
          mbarWait(barVEmpty(s), phase ^ 1);
          tmaLoadTile<kBlockN, kHeadDimV>(sV + s * kBytesV, maps.v, barVFull(s), row, coord(4, hk),
                                          coord(5, x.b));
        }
      }
    }
    return;
  }

  // Consumers: warpgroup 1 + w takes rows [64 w, 64 w + 64) of the tile.
  setMaxRegistersInc<kConsumerRegs>();
  const int wg = warpgroup - 1, lane = (tid - 128 * warpgroup) % 32;
  const int t = lane % 4; // columns 2t, 2t+1 of the accumulator (its rows: rowInTile below)
  const u32 sQw = sQ + 64 * wg * 128; // this warpgroup's 64 rows inside each column block

  // Pingpong: the consumer warpgroups take turns issuing their products in a ring (warpgroup
  // 1 + w waits at named barrier 1 + w, which the one before it arrives at once it has issued),
  // so one's softmax runs while another's GEMMs hold the tensor cores. All issue the same
  // number of products per work tile, so the turns stay in order across tiles.
  constexpr int kTurnThreads = 2 * 128; // at each barrier: the waiting warpgroup and the one before
  auto schedulerSync = [&] {
    if constexpr (kPingpong)
      namedBarrierSync(1 + wg, kTurnThreads);
  };
  auto schedulerArrive = [&] {
    if constexpr (kPingpong)
      namedBarrierArrive(1 + (wg + 1) % kConsumers, kTurnThreads);
  };
  // This thread's accumulator rows in a q-tile are r and r + 8, r = 64 wg + 16 warp + lane / 4,
  // recomputed where used: held across the loops, r was spilled at 128-key tiles beside a
  // run-time map.
  auto rowInTile = [wg] {
    const int c = threadIndexHere() % 128;
    return 64 * wg + 16 * (c / 32) + (c % 32) / 4;
  };
  if (kPingpong && wg == kConsumers - 1)
    namedBarrierArrive(1, kTurnThreads); // warpgroup 1 (wg 0) goes first

  for (int ring = 0, uses = 0;; ++uses) {
    mbarWait(barQ, uses & 1);
    const int batch = int(ldShared32(sWork + 8));
    if (batch < 0)
      break;
    Work x;
    workTile(int(ldShared32(sWork)), int(ldShared32(sWork + 4)), batch, x);
    const int b = x.b, h = x.h, q0 = x.q0, q1 = x.q1, seqlenQ = x.seqlenQ, seqlenK = x.seqlenK;
    const SequenceView &seq = x.seq;
    const KeyTiles<Pattern, kBlockN> tiles(p, b, h, q0, q1, seqlenQ, seqlenK);
    const int numTiles = tiles.count();
    int qHook[2]; // rows this thread holds, clamped so hooks never see a row past the sequence
#pragma unroll
    for (int r = 0; r < 2; ++r)
      qHook[r] = min(q0 + rowInTile() + 8 * r, seqlenQ - 1);
    // The rows' key bounds stand for a run-time map's mask on PARTIAL tiles where valid; not at
    // head dim 256, whose O accumulator leaves no registers to hold them (ptxas spilled).
    const RowBounds rowKeys = kHeadDimV <= 128 ? rowBounds<Pattern>(p, b, h, qHook) : RowBounds{};

    float acc[kTilesV][4]; // O rows of this thread, unnormalised
#pragma unroll
    for (int j = 0; j < kTilesV; ++j)
      acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
    OnlineSoftmax<kTilesN> softmax;
    softmax.init();
    float sc[kTilesN][4]; // S of the current key tile, then its weights P
    u32 pf[kStepsPV][4];  // P of the tile whose P V is issued next, packed

    // S = Q K^T into sc: k16 step kk reads column block kk/4 at byte 32*(kk%4) of the swizzle
    // span, in Q (this warpgroup's rows) and in stage s of the K ring.
    auto issueQK = [&](int s) {
      fenceOperands(sc);
      wgmmaFence();
#pragma unroll
      for (int kk = 0; kk < kStepsQK; ++kk) {
        wgmmaSS<kBlockN, Elem, 0>(
            sc, smemDescriptor(sQw + (kk / 4) * kBlockM * 128 + (kk % 4) * 32, 0),
            smemDescriptor(sK + s * kBytesK + (kk / 4) * kBlockN * 128 + (kk % 4) * 32, 0), kk > 0);
      }
      wgmmaCommit();
    };
    // O += P V from pf and stage s of the V ring (keys x Dv, Dv contiguous, read MN-major):
    // k16 step ks is 16 key rows = 2048 bytes further; Dv's 64-column blocks are kBlockN*128
    // apart.
    auto issuePV = [&](int s) {
      fenceOperands(acc);
      wgmmaFence();
#pragma unroll
      for (int ks = 0; ks < kStepsPV; ++ks)
        wgmmaRS<kHeadDimV, Elem, 1>(acc, pf[ks],
                                    smemDescriptor(sV + s * kBytesV + ks * 2048, kBlockN * 128), 1);
      wgmmaCommit();
    };
    auto packP = [&] {
#pragma unroll
      for (int ks = 0; ks < kStepsPV; ++ks)
        packWeights<Elem>(sc, ks, pf[ks]);
    };

    int n = tiles.nMax;
    if constexpr (kOverlap) {
      // Intra-warpgroup overlap (KERNELS.md §2.10): S of tile i is computed while P V of tile
      // i-1 runs; O stays in the frame of the running max before tile i until that product
      // has landed, then moves by alpha.
      for (int i = 0; i < numTiles; ++i) {
        n = tiles.prev(n);
        const int cur = ring + i, s = cur % kStages, prev = (cur + kStages - 1) % kStages;
        const u32 phase = (cur / kStages) & 1, prevPhase = ((cur - 1) / kStages) & 1;
        mbarWait(barKFull(s), phase);
        schedulerSync();
        issueQK(s);
        // P V of the previous tile; the first tile commits an empty group instead, so that the
        // wait below retires S in every iteration alike.
        if (i > 0) {
          mbarWait(barVFull(prev), prevPhase);
          issuePV(prev);
        } else {
          wgmmaCommit();
        }
        schedulerArrive();
        wgmmaWait<1>(); // S done, P V may still run
        fenceOperands(sc);
        mbarArrive(barKEmpty(s));
        float alpha[2];
        scoresToWeights<Pattern>(p, sc, softmax, alpha, tiles.full(n), b, h, qHook, n * kBlockN, t,
                                 seqlenQ, seqlenK, rowKeys);
        wgmmaWait<0>();
        fenceOperands(acc);
        fenceOperands(pf);
        if (i > 0)
          mbarArrive(barVEmpty(prev));
        rescaleRows(acc, alpha);
        packP();
      }
      mbarArrive(barQEmpty); // every S of this tile is done: the producer may load the next Q
      if (numTiles > 0) {
        const int last = ring + numTiles - 1;
        const int s = last % kStages;
        mbarWait(barVFull(s), (last / kStages) & 1);
        schedulerSync();
        issuePV(s);
        schedulerArrive();
        wgmmaWait<0>();
        fenceOperands(acc);
        mbarArrive(barVEmpty(s));
      }
    } else {
      for (int i = 0; i < numTiles; ++i) {
        n = tiles.prev(n);
        const int s = (ring + i) % kStages;
        const u32 phase = ((ring + i) / kStages) & 1;
        mbarWait(barKFull(s), phase);
        issueQK(s);
        wgmmaWait<0>();
        fenceOperands(sc);
        mbarArrive(barKEmpty(s));
        float alpha[2];
        scoresToWeights<Pattern>(p, sc, softmax, alpha, tiles.full(n), b, h, qHook, n * kBlockN, t,
                                 seqlenQ, seqlenK, rowKeys);
        rescaleRows(acc, alpha);
        packP();
        mbarWait(barVFull(s), phase);
        issuePV(s);
        wgmmaWait<0>();
        fenceOperands(acc);
        mbarArrive(barVEmpty(s));
      }
      mbarArrive(barQEmpty);
    }
    ring += numTiles;

    // Epilogue: O = acc / l straight from the accumulator (two adjacent columns per store),
    // or in a composite's epilogue branch its combine with the other branches' outputs.
    constexpr bool kSoftmax = Pattern::kNormalizer == kNormalizeSoftmax;
    float invSum[2] = {1.f, 1.f}, lse[2];
    if constexpr (kSoftmax)
      softmax.finalize(softmaxLog2Factor<Pattern>(p), invSum, lse);
    Elem *oPtr = static_cast<Elem *>(p.o) + seq.oOff + h * p.o_head_stride;
    if constexpr (Pattern::kCombineBranches > 0) {
      // A composite's epilogue branch: acc becomes the combine of O with the other branches'
      // outputs, all of whose loads are issued first.
      if (combineInEpilogue<Pattern>(p)) {
        // Word j of row r: the pair of columns 8j + 2t, 8j + 2t + 1 (rows past the sequence
        // read its last row).
        constexpr int kN = Pattern::kCombineBranches;
        u32 wd[2][kN][kTilesV];
#pragma unroll
        for (int r = 0; r < 2; ++r)
#pragma unroll
          for (int i = 0; i < kN; ++i)
#pragma unroll
            for (int j = 0; j < kTilesV; ++j)
              if (i != Pattern::kCombineSelf)
                wd[r][i][j] = ldGlobalNc4(
                    static_cast<const Elem *>(p.combine_parts[i]) +
                    combinePartOffset(p, seq, b, h, qHook[r], 8 * j + 2 * t, kHeadDimV));
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float y[2 * kTilesV];
#pragma unroll
          for (int j = 0; j < kTilesV; ++j) {
            y[2 * j] = acc[j][2 * r] * invSum[r];
            y[2 * j + 1] = acc[j][2 * r + 1] * invSum[r];
          }
          applyCombine<Pattern, Elem, 2 * kTilesV>(p, b, h, qHook[r], wd[r], y);
#pragma unroll
          for (int j = 0; j < kTilesV; ++j) {
            acc[j][2 * r] = y[2 * j];
            acc[j][2 * r + 1] = y[2 * j + 1];
          }
          invSum[r] = 1.f;
        }
      }
    }
    // O rows (16-byte aligned, params.cuh) are stored 16 bytes a thread: the four threads of a
    // quad trade words so that each holds the 8 columns of one n8 tile (quadTranspose). Not
    // at head dim 256 nor beside a score modifier of more than 32 operations (T5's buckets),
    // where the shuffles' registers made ptxas spill.
    constexpr bool vectorStores =
        ATTNC_SM90_VECTOR_STORES && kHeadDimV <= 128 && Pattern::kScoreModOps <= 32;
    const int qRow = q0 + rowInTile(); // rows qRow and qRow + 8
    if constexpr (vectorStores) {
      // Column groups outermost, so that the accumulators of a group die together.
#pragma unroll
      for (int a = 0; a < kTilesV / 4; ++a) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          u32 w[4];
#pragma unroll
          for (int c = 0; c < 4; ++c)
            w[c] = packFloat2<Elem>(acc[4 * a + c][2 * r] * invSum[r],
                                    acc[4 * a + c][2 * r + 1] * invSum[r]);
          quadTranspose(w, t);
          if (qRow + 8 * r < q1)
            stGlobal16(oPtr + (qRow + 8 * r) * p.o_row_stride + 8 * (4 * a + t), w);
        }
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int q = qRow + 8 * r;
      if (q < q1) {
        if constexpr (!vectorStores) {
#pragma unroll
          for (int j = 0; j < kTilesV; ++j)
            *reinterpret_cast<u32 *>(oPtr + q * p.o_row_stride + 8 * j + 2 * t) =
                packFloat2<Elem>(acc[j][2 * r] * invSum[r], acc[j][2 * r + 1] * invSum[r]);
        }
        if (kSoftmax && p.lse && t == 0)
          p.lse[seq.lseOff + q] = lse[r];
      }
    }
  }
}

} // namespace attnc

#endif // ATTNC_DEVICE_FWD_SM90_CUH
