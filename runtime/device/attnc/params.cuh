//===- params.cuh - Kernel argument blocks shared by host and device ------===//
//
// The argument structs that every generated attention kernel takes by value, and the
// launch-geometry helpers the host uses for them. This header is compiled both by NVRTC (inside
// the device library, with no system headers at all) and by the host C++ compiler, so it uses
// only built-in types and no CUDA keywords outside `ATTNC_HD`.
//
// Layout conventions (all strides in elements, not bytes):
//   Q [B, Sq, Hq, D], K [B, Skv, Hkv, D], V [B, Skv, Hkv, Dv], O [B, Sq, Hq, Dv]
//   LSE [B, Hq, Sq] float32, natural log; -inf for a row that sees no key.
// With `cu_seqlens_q/k` set (variable length), B is the number of sequences, the tensors are
// packed along the sequence dimension (batch stride unused) and sequence b occupies rows
// [cu_seqlens[b], cu_seqlens[b+1]). LSE is then [Hq, total_q] with total_q = cu_seqlens_q[B]:
// row q of sequence b, head h is lse[h * total_q + cu_seqlens_q[b] + q]. cu_seqlens_q and
// cu_seqlens_k are independent (either may be null). seqlen_q sizes the grid (max over the batch).
// The sm80 kernel needs 16-byte aligned rows: 16-byte aligned base pointers, strides that are
// multiples of 8 elements, contiguous head dimension.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_PARAMS_CUH
#define ATTNC_DEVICE_PARAMS_CUH

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define ATTNC_HD __host__ __device__
#else
#define ATTNC_HD
#endif

namespace attnc {

/// Maximum number of extra input tensors (document ids, slopes, bias tables) a pattern reads.
constexpr int kMaxExtraInputs = 8;
/// Maximum number of run-time float scalars a pattern takes.
constexpr int kMaxRuntimeScalars = 8;
/// Maximum number of branches of a composite.
constexpr int kMaxBranches = 4;

/// Arguments of the softmax-family forward kernel.
struct FwdParams {
  const void *q;
  const void *k;
  const void *v;
  void *o;
  float *lse; // may be null: no log-sum-exp side output

  long long q_batch_stride, q_row_stride, q_head_stride;
  long long k_batch_stride, k_row_stride, k_head_stride;
  long long v_batch_stride, v_row_stride, v_head_stride;
  long long o_batch_stride, o_row_stride, o_head_stride;
  // Every row of q, k, v and o starts 16-byte aligned (strides multiples of 8 elements): TMA
  // loads them, and the kernels store O 16 bytes at a time (launchForward checks o's).

  int batch;    // B (number of sequences when varlen)
  int heads;    // Hq
  int kv_heads; // Hkv; Hq % Hkv == 0 (GQA/MQA)
  int seqlen_q; // Sq (max over the batch when varlen)
  int seqlen_k; // Skv (max over the batch when varlen)

  const int *cu_seqlens_q; // null unless varlen: B+1 prefix sums
  const int *cu_seqlens_k;
  // Varlen: rows of the packed q/o and k/v tensors (cu_seqlens_q[B], cu_seqlens_k[B]); the
  // Hopper template's TMA maps need them on the host. Unused otherwise.
  long long total_q, total_k;

  float scale;      // c: softmax scale applied to q.k (1/sqrt(D) by default)
  float scale_log2; // c * log2(e), folded into the exp2 of the online softmax

  const void *inputs[kMaxExtraInputs]; // extra input tensors, in declaration order
  float scalars[kMaxRuntimeScalars];   // run-time scalars, in declaration order

  // Run-time block map (patterns whose mask reads tensors): one byte per (batch, map head,
  // query tile, key tile), kTileEmpty / kTileFull / kTilePartial, written by the pattern's
  // block-map builder kernel before the forward kernel runs, followed by each query row's
  // bounds (blockMapBytes, blockmap.cuh). block_map_heads is Hq when the mask depends on the
  // head, else 1. Null for patterns without one.
  const unsigned char *block_map;
  int block_map_heads;

  // Linear patterns: the recurrent state S, float32 contiguous [B, Hq, D, Dv] (B sequences when
  // varlen). A prefill or step starts from state_in (null: zero) and writes the final state to
  // state_out (null: not written); the two may be the same buffer.
  const float *state_in;
  float *state_out;
  // Linear patterns with the sum normaliser: the key sum z = sum_s gamma^(L-1-s) phi(k_s) that
  // divides the output, float32 contiguous [B, Hq, D], carried like the state.
  const float *key_sum_in;
  float *key_sum_out;

  // The linear prefill's sequence split (set by launchForward, not by callers): with
  // linear_splits > 1 each (slice, head, sequence) is cut into segments of linear_segment_rows
  // rows (a multiple of kLinearChunk) and the kernel runs twice: pass 0 writes each segment's
  // own state (from zero) to linear_workspace, [B, Hq, splits + 1, D, Dv] floats after a copy
  // of the initial state, followed by [B, Hq, splits] log2 decays of the segments (per-token
  // gates); pass 1 starts each segment from the decayed sum of the states before it and
  // computes its outputs. Causal forms without the sum normaliser only.
  int linear_splits;
  int linear_segment_rows;
  int linear_pass;
  float *linear_workspace;
  // A gate per key dimension (set by launchForward): the gate pass (linear_pass ==
  // kLinearGatePass) writes the gated Q^ and K^ of every chunk, bf16 [B, Hq, rows, D] each
  // (rows: seqlen_q rounded up to kLinearChunk, Q^ first), to linear_gated, and each chunk's
  // table of the factors the prefill applies (linear_sm80.cuh), [B, Hq, chunks,
  // kLinearGateTableRows, D] floats, to linear_gate_table; the prefill then reads those instead
  // of Q and K and of computing the factors.
  void *linear_gated;
  float *linear_gate_table;

  // The decode kernel's split of the keys (set by launchDecode, not by callers): with
  // decode_splits > 1 each block writes its rows' partial output, normalised over its own
  // keys, and their LSE to decode_workspace (decodeWorkspaceFloats floats: O partials
  // [splits, B, Hq, seqlen_q, Dv], then LSE partials [splits, B, Hq, seqlen_q]), and the merge
  // kernel combines them into O and LSE.
  int decode_splits;
  float *decode_workspace;

  // Appended, like every new field (a bundle's CUBIN reads the block of its own version):
  // a map of whole rows (taylor2, hedgehog; set by launchForward): the feature pass
  // (kLinearFeaturePass) writes phi(q) and phi(k) of every row, Elem [B, Hq, slices, rows, 64]
  // each (phi(q) first; F features padded to slices x 64 by zeros), to linear_gated; the
  // prefill runs on grid.y = Hq x linear_feature_slices, one block per 64 features (its state
  // rows), and with more than one slice writes its unnormalised output to linear_partial,
  // [B, Hq, slices, rows, Dv] floats then the denominators [B, Hq, slices, rows], which the
  // reduce pass (kLinearReducePass) sums into O.
  int linear_feature_slices;
  float *linear_partial;
  // A scalar gate per token (set by launchForward): the gate-log pass (linear_pass ==
  // kLinearGateLogPass) writes each chunk's inclusive prefix of log2 gates G_i (rows 0 .. i of
  // the chunk; rows past the sequence's end repeat its last), [B, Hq, chunks, kLinearChunk]
  // floats, which the prefill's tile loads bring in beside K and V.
  float *linear_gate_log;
  // A composite whose combine runs in this branch's epilogue (set by CompositeKernel, not by
  // callers; the kernel's Hooks::kCombineBranches > 0): the other branches' outputs, as
  // CombineParams::parts, this branch's own slot null. All null: O is this branch's output.
  const void *combine_parts[kMaxBranches];

  // The Hopper template's persistent grid (set by launchForward): a counter the host zeroes
  // before each launch, from which the CTAs take work tiles past their first (null: CTA i
  // takes tiles i, i + gridDim.x, ...).
  int *work_counter;
  // The Hopper template's work order (set by launchForward): the (head, batch) pairs, in order
  // of b * Hq + h, go in groups of work_group; a group's work tiles are taken q-tile by q-tile,
  // the last q-tile of every pair of the group first (0 or 1: pair by pair).
  int work_group;
};

/// Entries of a block map.
constexpr unsigned char kTileEmpty = 0, kTileFull = 1, kTilePartial = 2;
/// Threads per block of the block-map builder (blockmap.cuh).
constexpr int kBlockMapThreads = 128;
/// The builder's minimum resident blocks per SM: named in its launch bounds so that ptxas
/// gives it the registers it needs (with a thread count alone it stopped at 40 and spilled).
constexpr int kBlockMapMinBlocks = 8;

/// Entries of one row of a block map: one per key tile, padded to 16 so that every row starts
/// 16-byte aligned (the kernels read a row 16 entries at a time, tiles.cuh).
ATTNC_HD inline long long blockMapRowBytes(int seqlenK, int blockN) {
  return ((seqlenK + blockN - 1) / blockN + 15) / 16 * 16;
}

/// Index of tile (mTile, nTile) of (b, h) in a block map over tiles of blockM x blockN, sized
/// by the longest sequences (seqlen_q, seqlen_k).
ATTNC_HD inline long long blockMapIndex(const FwdParams &p, int b, int h, int mTile, int nTile,
                                        int blockM, int blockN) {
  const long long rows = (p.seqlen_q + blockM - 1) / blockM;
  const long long cols = blockMapRowBytes(p.seqlen_k, blockN);
  const int mapHead = p.block_map_heads > 1 ? h : 0;
  return ((static_cast<long long>(b) * p.block_map_heads + mapHead) * rows + mTile) * cols + nTile;
}

/// Bytes of the tile entries of a block map: every row of every (batch, map head).
ATTNC_HD inline long long blockMapTileBytes(int batch, int mapHeads, int seqlenQ, int seqlenK,
                                            int blockM, int blockN) {
  return static_cast<long long>(batch) * mapHeads * ((seqlenQ + blockM - 1) / blockM) *
         blockMapRowBytes(seqlenK, blockN);
}

/// Bytes of the block map of a problem (its base must be 16-byte aligned): the tile entries,
/// then the row bounds (blockmap.cuh): two ints per query row of every (batch, map head),
/// ceil(seqlen_q / blockM) * blockM rows each.
ATTNC_HD inline long long blockMapBytes(int batch, int mapHeads, int seqlenQ, int seqlenK,
                                        int blockM, int blockN) {
  const long long rows =
      static_cast<long long>(batch) * mapHeads * ((seqlenQ + blockM - 1) / blockM) * blockM;
  return blockMapTileBytes(batch, mapHeads, seqlenQ, seqlenK, blockM, blockN) + 8 * rows;
}

/// Index (in int pairs past the tile entries) of the row bounds of query row q of (b, h).
ATTNC_HD inline long long blockMapBoundsIndex(const FwdParams &p, int b, int h, int q, int blockM) {
  const long long rows = (p.seqlen_q + blockM - 1) / blockM * static_cast<long long>(blockM);
  const int mapHead = p.block_map_heads > 1 ? h : 0;
  return (static_cast<long long>(b) * p.block_map_heads + mapHead) * rows + q;
}

/// Shared memory bytes of the mma.sync forward kernel (fwd_sm80.cuh): one Q tile plus `stages`
/// K and V tiles, 2-byte elements. Above 48 KiB the host must raise the kernel's
/// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES before launching.
ATTNC_HD constexpr int fwdSm80SmemBytes(int headDim, int headDimV, int blockM, int blockN,
                                        int stages) {
  return 2 * (blockM * headDim + stages * blockN * (headDim + headDimV));
}

/// A TMA tensor map (CUtensorMap): 128 opaque bytes made on the host by cuTensorMapEncodeTiled.
struct alignas(64) TmaMap {
  unsigned long long data[16];
};

/// The tensor maps of the Hopper template (fwd_sm90.cuh), its second kernel argument (passed as
/// `const __grid_constant__`, so the TMA unit reads them from the parameter space). Each is a
/// 4-D map over (D, rows, heads, batch) of a bf16/f16 tensor with a box of 64 columns (128
/// bytes, the 128B swizzle span) by blockM (q) or blockN (k, v) rows, swizzle 128B and zero fill
/// out of bounds. With cu_seqlens the rows dimension is the packed one and batch is 1.
struct FwdTmaMaps {
  TmaMap q, k, v;
  /// Dimensions of extent 1 in their map, read at coordinate 0: bit 2*i (heads) and 2*i+1
  /// (batch) of tensor i = q, k, v. Broadcast dimensions (stride 0) and the batch of packed
  /// (varlen) tensors are collapsed to extent 1.
  unsigned collapsed;
};

/// Bytes the Hopper template's barriers take: Q full, per stage K/V full and empty, Q empty,
/// and 16 bytes for the work tile whose Q is loaded (q-tile, head, batch).
ATTNC_HD constexpr int fwdSm90BarrierBytes(int stages) { return 8 * (4 + 4 * stages); }

/// Shared memory bytes of the Hopper forward kernel (fwd_sm90.cuh): 1024 bytes of alignment
/// slack (swizzled tiles start on 1024-byte boundaries), the Q tile, `stages` K and V tiles and
/// the mbarriers.
ATTNC_HD constexpr int fwdSm90SmemBytes(int headDim, int headDimV, int blockM, int blockN,
                                        int stages) {
  return 1024 + 2 * (blockM * headDim + stages * blockN * (headDim + headDimV)) +
         fwdSm90BarrierBytes(stages);
}

/// Threads of the Hopper forward kernel: a producer warpgroup and one consumer warpgroup per 64
/// rows of its q-tiles (blockM 128: 384 threads, 192: 512).
ATTNC_HD constexpr int fwdSm90Threads(int blockM) { return 128 * (1 + blockM / 64); }

/// Work tile w < numM * pairs of the Hopper forward kernel's order: (head, batch) pairs (b * Hq +
/// h) in groups of `group` (the last may hold fewer), inside a group q-tile major from the last
/// q-tile, pair minor. Sets the pair and the q-tile; a bijection onto [0, pairs) x [0, numM).
ATTNC_HD inline void sm90WorkTile(int w, int numM, int pairs, int group, int &pair, int &mBlock) {
  group = group > 1 ? group : 1;
  const int first = w / (numM * group) * group;
  const int inGroup = w - first * numM;
  const int size = pairs - first < group ? pairs - first : group;
  pair = first + inGroup % size;
  mBlock = numM - 1 - inGroup / size;
}

/// The decode template (decode_sm80.cuh): blocks of kDecodeThreads threads (4 warps), each
/// holding kDecodeRows packed query rows (the query heads of one KV head times the few query
/// positions) and streaming key tiles of kDecodeBlockN keys (16 per warp) through a cp.async
/// ring; grid (splits, Hkv x row groups, B). Its merge kernel runs kDecodeMergeThreads threads,
/// one warp per output row.
constexpr int kDecodeThreads = 128;
constexpr int kDecodeRows = 16;
constexpr int kDecodeBlockN = 64;
constexpr int kDecodeMergeThreads = 128;

/// Stages of the decode kernel's K/V ring: as many as keep two blocks (three at D = Dv = 64)
/// resident per SM.
ATTNC_HD constexpr int decodeStages(int headDim, int headDimV) {
  return headDim + headDimV <= 128 ? 4 : headDim + headDimV <= 256 ? 3 : 2;
}

/// Shared memory bytes of the decode kernel: the Q rows and `stages` K and V tiles, 2-byte
/// elements (the end-of-kernel combine of the four warps reuses the ring).
ATTNC_HD constexpr int decodeSm80SmemBytes(int headDim, int headDimV, int stages) {
  return 2 * (kDecodeRows * headDim + stages * kDecodeBlockN * (headDim + headDimV));
}

/// Query rows the decode kernel packs for a KV head: its query heads times the query positions.
ATTNC_HD inline int decodeRowGroups(int heads, int kvHeads, int seqlenQ) {
  return ((heads / kvHeads) * seqlenQ + kDecodeRows - 1) / kDecodeRows;
}

/// Floats of the decode split's workspace.
ATTNC_HD inline long long decodeWorkspaceFloats(int splits, int batch, int heads, int seqlenQ,
                                                int headDimV) {
  return static_cast<long long>(splits) * batch * heads * seqlenQ * (headDimV + 1);
}

/// The chunked linear template (linear_sm80.cuh): chunks of kLinearChunk rows, kLinearThreads
/// threads per block, each block carrying kLinearSlice of the state's Dv columns (grid
/// Dv / kLinearSlice x Hq x B); its decode step runs kLinearStepThreads per block on the same
/// grid.
constexpr int kLinearChunk = 64;
constexpr int kLinearSlice = 64;
constexpr int kLinearThreads = 128;
constexpr int kLinearStepThreads = 256;
/// Floats of the sequence split's workspace: a D x Dv state per segment and a copy of the
/// initial state, then each segment's log2 decay per key dimension (gates; linearSegmentLog).
ATTNC_HD inline long long linearWorkspaceFloats(int batch, int heads, int splits, int headDim,
                                                int headDimV) {
  return static_cast<long long>(batch) * heads * (splits + 1) * headDim * (headDimV + 1);
}

/// A composite's combine kernel (combine.cuh): kCombineThreads per block over kCombineRows
/// query rows of one (head, sequence) (grid ceil(seqlen_q / kCombineRows) x Hq x B), for at
/// most kMaxBranches branches.
constexpr int kCombineThreads = 128, kCombineRows = 16;

/// The branch outputs a combine kernel reads (its second argument): each the Elem output of one
/// branch, contiguous [rows, Hq, Dv] over the rows of O (B x seqlen_q dense, total_q varlen).
struct CombineParams {
  const void *parts[kMaxBranches];
};

/// linear_pass of the gate pass of a gate per key dimension (passes 0 and 1 are the split's).
constexpr int kLinearGatePass = 2;
/// linear_pass of a row map's feature pass and of its reduce pass over the feature slices.
constexpr int kLinearFeaturePass = 3, kLinearReducePass = 4;
/// linear_pass of a scalar gate per token's gate-log pass.
constexpr int kLinearGateLogPass = 5;
/// Bytes of the gate-log pass's prefixes (FwdParams::linear_gate_log).
ATTNC_HD inline long long linearGateLogBytes(int batch, int heads, int seqlen) {
  const long long chunks = (seqlen + kLinearChunk - 1) / kLinearChunk;
  return static_cast<long long>(batch) * heads * chunks * kLinearChunk * 4;
}
/// A linear pattern's map (the hooks' kFeatureMap): per element, or of whole rows.
constexpr int kFeatureMapElementwise = 0, kFeatureMapTaylor2 = 1, kFeatureMapHedgehog = 2;

/// Bytes of a row map's features (FwdParams::linear_gated): phi(q) and phi(k), 2-byte
/// elements, `stateDim` (slices x 64) per row.
ATTNC_HD inline long long linearFeatureBytes(int batch, int heads, int seqlen, int stateDim) {
  const long long chunks = (seqlen + kLinearChunk - 1) / kLinearChunk;
  return static_cast<long long>(batch) * heads * chunks * kLinearChunk * stateDim * 2 * 2;
}
/// Dynamic shared memory of the feature pass: Taylor-2 stages a chunk's q and k features
/// (2 x kLinearChunk rows of `stateDim` 2-byte elements); Hedgehog stores from registers.
ATTNC_HD inline int linearFeaturePassSmem(int featureMap, int stateDim) {
  return featureMap == kFeatureMapTaylor2 ? 2 * kLinearChunk * stateDim * 2 : 0;
}
/// Bytes of the feature slices' partial outputs and denominators (FwdParams::linear_partial).
ATTNC_HD inline long long linearPartialBytes(int batch, int heads, int seqlen, int slices,
                                             int headDimV) {
  const long long chunks = (seqlen + kLinearChunk - 1) / kLinearChunk;
  return static_cast<long long>(batch) * heads * slices * chunks * kLinearChunk * (headDimV + 1) *
         4;
}

/// Rows of a gate per key dimension's table per chunk (its factors, linear_sm80.cuh).
constexpr int kLinearGateTableRows = 20;

/// Bytes of the gate pass's two buffers (FwdParams::linear_gated, linear_gate_table) for
/// sequences of at most `seqlen` rows: the bf16 Q^ and K^, then the tables.
ATTNC_HD inline long long linearGatedBytes(int batch, int heads, int seqlen, int headDim) {
  const long long chunks = (seqlen + kLinearChunk - 1) / kLinearChunk;
  return static_cast<long long>(batch) * heads * chunks * kLinearChunk * headDim * 2 * 2;
}
ATTNC_HD inline long long linearGateTableBytes(int batch, int heads, int seqlen, int headDim) {
  const long long chunks = (seqlen + kLinearChunk - 1) / kLinearChunk;
  return static_cast<long long>(batch) * heads * chunks * kLinearGateTableRows * headDim * 4;
}

/// Shared memory bytes of the chunked linear kernel: two stages of the Q, K (kLinearChunk x D)
/// and V (kLinearChunk x kLinearSlice) chunks, and two D x kLinearSlice copies of the state as
/// the tensor-core operand (read one, write the other), 2-byte elements; with the sum
/// normaliser two float32 copies of the key sum (D); two chunks' accumulated log2 decays
/// (kLinearChunk float32 each, read by per-token gates).
ATTNC_HD constexpr int linearSm80SmemBytes(int headDim, bool keySum) {
  return 2 * (2 * (2 * kLinearChunk * headDim + kLinearChunk * kLinearSlice) +
              2 * headDim * kLinearSlice) +
         (keySum ? 2 * 4 * headDim : 0) + 2 * 4 * kLinearChunk;
}

} // namespace attnc

#endif // ATTNC_DEVICE_PARAMS_CUH
