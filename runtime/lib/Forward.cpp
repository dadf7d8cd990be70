//===- Forward.cpp - Launching generated forward kernels ----------------------===//
#include "attnc/Forward.h"

#include "Driver.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

using namespace attnc;

void attnc::setContiguousStrides(FwdParams &p, int headDim, int headDimV) {
  p.q_head_stride = headDim;
  p.q_row_stride = static_cast<long long>(p.heads) * headDim;
  p.q_batch_stride = p.q_row_stride * p.seqlen_q;
  p.k_head_stride = headDim;
  p.k_row_stride = static_cast<long long>(p.kv_heads) * headDim;
  p.k_batch_stride = p.k_row_stride * p.seqlen_k;
  p.v_head_stride = headDimV;
  p.v_row_stride = static_cast<long long>(p.kv_heads) * headDimV;
  p.v_batch_stride = p.v_row_stride * p.seqlen_k;
  p.o_head_stride = headDimV;
  p.o_row_stride = static_cast<long long>(p.heads) * headDimV;
  p.o_batch_stride = p.o_row_stride * p.seqlen_q;
}

const char *attnc::kernelTemplateName(KernelTemplate t) {
  return t == KernelTemplate::Sm90 ? "sm90" : t == KernelTemplate::Linear ? "linear" : "sm80";
}

std::optional<KernelTemplate> attnc::parseKernelTemplate(const std::string &name) {
  if (name == "sm80")
    return KernelTemplate::Sm80;
  if (name == "sm90")
    return KernelTemplate::Sm90;
  if (name == "linear")
    return KernelTemplate::Linear;
  return std::nullopt;
}

namespace {
/// One tensor's view for a TMA map: [batch, rows, heads, cols] with element strides.
struct TmaTensor {
  const char *name;
  const void *base;
  long long rows, heads, batch, cols;
  long long rowStride, headStride, batchStride;
  int boxRows;
};
} // namespace

/// Encodes `t` as a 4-D map (cols, rows, heads, batch) of 16-bit elements (TMA only copies them,
/// so bf16 and f16 need no distinction; zero fill is 0.0 in both) with a box of 64 x boxRows,
/// swizzle 128B and zero fill. A dimension of stride 0 (broadcast) gets extent 1. `collapsed`
/// gets a bit for each dimension of extent 1 (heads: 1, batch: 2), where the kernel uses
/// coordinate 0: broadcast ones, and the batch of packed (varlen) tensors.
static Status encodeTmaMap(const detail::DriverApi &api, const TmaTensor &t, TmaMap &map,
                           unsigned &collapsed) {
  if (t.rowStride == 0)
    return Status::error(std::string("forward launch: the Hopper kernel loads ") + t.name +
                         " with TMA, which needs a nonzero row stride");
  // Extents: at least 1 (an empty tensor is never read); broadcast dims collapse to 1.
  const long long heads = t.headStride == 0 ? 1 : t.heads;
  const long long batch = t.batchStride == 0 ? 1 : t.batch;
  collapsed = (heads == 1 ? 1u : 0u) | (batch == 1 ? 2u : 0u);
  cuuint64_t dims[4] = {cuuint64_t(t.cols), cuuint64_t(std::max<long long>(t.rows, 1)),
                        cuuint64_t(heads), cuuint64_t(batch)};
  // Byte strides of dims 1..3; a collapsed or single-extent dim gets a harmless valid stride.
  auto bytes = [&](long long stride) {
    return cuuint64_t(stride > 0 ? stride * 2 : t.rowStride * 2);
  };
  cuuint64_t strides[3] = {bytes(t.rowStride), bytes(t.headStride), bytes(t.batchStride)};
  cuuint32_t box[4] = {64, cuuint32_t(t.boxRows), 1, 1};
  cuuint32_t elementStrides[4] = {1, 1, 1, 1};
  CUtensorMap encoded;
  CUresult rc = api.cuTensorMapEncodeTiled(
      &encoded, CU_TENSOR_MAP_DATA_TYPE_UINT16, 4, const_cast<void *>(t.base), dims, strides, box,
      elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (rc != CUDA_SUCCESS)
    return Status::error(std::string("forward launch: TMA map of ") + t.name + ": " +
                         detail::check(api, rc, "cuTensorMapEncodeTiled").message());
  static_assert(sizeof(CUtensorMap) == sizeof(TmaMap), "TmaMap mirrors CUtensorMap");
  std::memcpy(&map, &encoded, sizeof(map));
  return Status::success();
}

Status attnc::encodeTmaMaps(const ForwardConfig &c, const FwdParams &p, FwdTmaMaps &maps) {
  ATTNC_ASSIGN_OR_RETURN(const detail::DriverApi *api, detail::driver());
  // Packed (varlen) tensors are one batch of total rows.
  long long rowsQ = p.cu_seqlens_q ? p.total_q : p.seqlen_q;
  long long rowsK = p.cu_seqlens_k ? p.total_k : p.seqlen_k;
  int batchQ = p.cu_seqlens_q ? 1 : p.batch, batchK = p.cu_seqlens_k ? 1 : p.batch;
  TmaTensor q{"q",
              p.q,
              rowsQ,
              p.heads,
              batchQ,
              c.headDim,
              p.q_row_stride,
              p.q_head_stride,
              p.q_batch_stride,
              c.blockM};
  TmaTensor k{"k",
              p.k,
              rowsK,
              p.kv_heads,
              batchK,
              c.headDim,
              p.k_row_stride,
              p.k_head_stride,
              p.k_batch_stride,
              c.blockN};
  TmaTensor v{"v",
              p.v,
              rowsK,
              p.kv_heads,
              batchK,
              c.headDimV,
              p.v_row_stride,
              p.v_head_stride,
              p.v_batch_stride,
              c.blockN};
  unsigned bq = 0, bk = 0, bv = 0;
  ATTNC_TRY(encodeTmaMap(*api, q, maps.q, bq));
  ATTNC_TRY(encodeTmaMap(*api, k, maps.k, bk));
  ATTNC_TRY(encodeTmaMap(*api, v, maps.v, bv));
  maps.collapsed = bq | (bk << 2) | (bv << 4);
  return Status::success();
}

/// The checks every launch makes on a problem's sizes and pointers.
static Status checkLaunchSizes(const FwdParams &p) {
  if (p.batch <= 0 || p.heads <= 0 || p.kv_heads <= 0 || p.seqlen_q < 0 || p.seqlen_k < 0)
    return Status::error("forward launch: sizes must be positive (batch " +
                         std::to_string(p.batch) + ", heads " + std::to_string(p.heads) +
                         ", kv heads " + std::to_string(p.kv_heads) + ")");
  if (p.heads % p.kv_heads != 0)
    return Status::error("forward launch: heads (" + std::to_string(p.heads) +
                         ") must be a multiple of kv heads (" + std::to_string(p.kv_heads) + ")");
  if (!p.q || !p.k || !p.v || !p.o)
    return Status::error("forward launch: q, k, v and o must be set");
  return Status::success();
}

/// The grid of the linear kernels: one block per (slice of kLinearSlice state columns, head,
/// sequence).
static Status linearGrid(const ForwardConfig &c, const FwdParams &p, Dim3 &grid) {
  ATTNC_TRY(checkLaunchSizes(p));
  if (c.kernelTemplate != KernelTemplate::Linear)
    return Status::error("linear launch: the kernel's template is " +
                         std::string(kernelTemplateName(c.kernelTemplate)));
  if (p.seqlen_q != p.seqlen_k)
    return Status::error("linear launch: queries and keys must have the same lengths (got " +
                         std::to_string(p.seqlen_q) + " and " + std::to_string(p.seqlen_k) + ")");
  if (c.headDimV % kLinearSlice != 0)
    return Status::error("linear launch: Dv must be a multiple of " + std::to_string(kLinearSlice));
  grid = Dim3{static_cast<unsigned>(c.headDimV / kLinearSlice), static_cast<unsigned>(p.heads),
              static_cast<unsigned>(p.batch)};
  return Status::success();
}

Status attnc::launchLinearStep(const Kernel &step, const ForwardConfig &c, const FwdParams &p,
                               void *stream) {
  Dim3 grid;
  ATTNC_TRY(linearGrid(c, p, grid));
  if (p.seqlen_q > 1)
    return Status::error("linear step launch: a step takes sequences of length 1, got " +
                         std::to_string(p.seqlen_q));
  FwdParams copy = p;
  void *args[] = {&copy};
  return step.launch(grid, Dim3{static_cast<unsigned>(kLinearStepThreads), 1, 1}, 0, stream, args);
}

int attnc::fixedLinearSplits() {
  const char *env = std::getenv("ATTNC_LINEAR_SPLITS");
  return env ? std::max(0, std::atoi(env)) : 0;
}

int attnc::linearSplitCount(const ForwardConfig &c, long long blocks, int seqlen, int smCount) {
  // The kernel compiles the split out of bidirectional forms and of the sum normaliser.
  if (!c.causal || c.keySum || blocks <= 0)
    return 1;
  const int chunks = (seqlen + kLinearChunk - 1) / kLinearChunk;
  if (const int fixed = fixedLinearSplits())
    return std::max(1, std::min(fixed, chunks));
  // At most half the blocks the GPU holds at once (two per SM): cut long sequences into as
  // many segments as fill it (the state pass costs about a third of the work again), of at
  // least 4 chunks each.
  const long long slots = 2LL * smCount;
  if (2 * blocks > slots)
    return 1;
  return int(std::max<long long>(1, std::min<long long>(slots / blocks, chunks / 4)));
}

bool attnc::sm90Persistent() {
  const char *v = std::getenv("ATTNC_SM90_PERSISTENT");
  return !v || std::string(v) != "0";
}

int attnc::fixedSm90WorkGroup() {
  const char *v = std::getenv("ATTNC_SM90_WORK_GROUP");
  return v && *v ? std::max(1, std::atoi(v)) : 0;
}

/// The bytes of keys and values of one KV head (16-bit elements, at least 1), and how many query
/// heads share them (a GQA group).
static std::pair<long long, long long> kvHeadBytes(const ForwardConfig &c, const FwdParams &p) {
  return {std::max(1LL, static_cast<long long>(p.seqlen_k) * (c.headDim + c.headDimV) * 2),
          p.kv_heads > 0 ? std::max(1, p.heads / p.kv_heads) : 1};
}

long long attnc::sm90WorkGroupBytes(const ForwardConfig &c, const FwdParams &p, int group) {
  const auto [bytes, shared] = kvHeadBytes(c, p);
  return (group + shared - 1) / shared * bytes;
}

int attnc::sm90WorkGroup(const ForwardConfig &c, const FwdParams &p) {
  const long long pairs = std::max(1LL, static_cast<long long>(p.heads) * p.batch);
  if (const int fixed = fixedSm90WorkGroup())
    return int(std::min<long long>(fixed, pairs));
  if (c.evenWork)
    return 1; // no tail of short tiles to gain; grouping only spreads the reads over L2
  const auto [bytes, shared] = kvHeadBytes(c, p);
  return int(std::min(pairs, std::max(1LL, kSm90WorkGroupBytes / bytes) * shared));
}

Status attnc::launchForward(const Kernel &kernel, const ForwardConfig &c, const FwdParams &p,
                            void *stream, const Kernel *rowPasses) {
  if (reinterpret_cast<uintptr_t>(p.block_map) % 16 != 0)
    return Status::error("forward launch: the block map must be 16-byte aligned");
  if (reinterpret_cast<uintptr_t>(p.o) % 16 != 0 || p.o_row_stride % 8 != 0 ||
      p.o_head_stride % 8 != 0 || p.o_batch_stride % 8 != 0)
    return Status::error("forward launch: o and its strides must keep rows 16-byte aligned");
  if (c.kernelTemplate == KernelTemplate::Linear) {
    Dim3 grid;
    ATTNC_TRY(linearGrid(c, p, grid));
    if (p.seqlen_q == 0 && !p.state_out)
      return Status::success(); // nothing to compute or pass through
    FwdParams copy = p;
    copy.linear_splits = 1;
    copy.linear_pass = 1;
    copy.linear_gated = nullptr;
    copy.linear_gate_table = nullptr;
    copy.linear_feature_slices = 1;
    copy.linear_partial = nullptr;
    copy.linear_gate_log = nullptr;
    void *args[] = {&copy};
    const Dim3 block{static_cast<unsigned>(kLinearThreads), 1, 1};
    // A map of whole rows: the chunked kernel's key dim is a slice of kLinearSlice features.
    const int keyDim = c.featureRows > 0 ? kLinearSlice : c.headDim;
    const unsigned smem = static_cast<unsigned>(linearSm80SmemBytes(keyDim, c.keySum));
    const long long blocks = static_cast<long long>(grid.x) * grid.y * grid.z;
    const int chunks = (p.seqlen_q + kLinearChunk - 1) / kLinearChunk;
    const int splits = linearSplitCount(c, blocks, p.seqlen_q, kernel.device().smCount());
    // Stream-ordered workspaces, freed after the launches whatever they return.
    StreamScratch scratch(kernel.device(), stream);
    auto run = [&]() -> Status {
      if (c.gatePerToken && chunks > 0) {
        // The gate-log pass: a warp per (chunk, head, sequence), its prefixes into a workspace
        // that the prefill's (and the split's passes') tile loads read.
        ATTNC_ASSIGN_OR_RETURN(
            DevicePtr prefixes,
            scratch.allocate(size_t(linearGateLogBytes(p.batch, p.heads, p.seqlen_q))));
        copy.linear_gate_log = reinterpret_cast<float *>(prefixes);
        copy.linear_pass = kLinearGateLogPass;
        const int perBlock = kLinearThreads / 32;
        const Dim3 logGrid{static_cast<unsigned>((chunks + perBlock - 1) / perBlock),
                           static_cast<unsigned>(p.heads), static_cast<unsigned>(p.batch)};
        ATTNC_TRY(kernel.launch(logGrid, block, 0, stream, args));
        copy.linear_pass = 1;
      }
      if (c.featureRows > 0) {
        // The feature pass, the prefill over Hq x slices blocks, and with more than one slice
        // the reduce pass (linear_features.cuh); no sequence split.
        const int slices = c.featureRows / kLinearSlice;
        const Kernel &passes = rowPasses ? *rowPasses : kernel;
        // The feature and reduce passes: a block per (chunk, head, sequence).
        const Dim3 rowGrid{static_cast<unsigned>(chunks), static_cast<unsigned>(p.heads),
                           static_cast<unsigned>(p.batch)};
        copy.linear_feature_slices = slices;
        if (chunks > 0) {
          const long long features =
              linearFeatureBytes(p.batch, p.heads, p.seqlen_q, c.featureRows);
          const long long partial =
              slices > 1 ? linearPartialBytes(p.batch, p.heads, p.seqlen_q, slices, c.headDimV) : 0;
          ATTNC_ASSIGN_OR_RETURN(DevicePtr buffer, scratch.allocate(size_t(features + partial)));
          copy.linear_gated = reinterpret_cast<void *>(buffer);
          copy.linear_partial = slices > 1 ? reinterpret_cast<float *>(buffer + features) : nullptr;
          copy.linear_pass = kLinearFeaturePass;
          const unsigned passSmem =
              static_cast<unsigned>(linearFeaturePassSmem(c.featureMap, c.featureRows));
          ATTNC_TRY(passes.launch(rowGrid, block, passSmem, stream, args));
        }
        copy.linear_pass = 1;
        Dim3 sliceGrid = grid;
        sliceGrid.y *= unsigned(slices);
        ATTNC_TRY(kernel.launch(sliceGrid, block, smem, stream, args));
        if (slices == 1 || chunks == 0)
          return Status::success();
        copy.linear_pass = kLinearReducePass;
        return passes.launch(rowGrid, block, 0, stream, args);
      }
      if (c.gatePerKeyDim && chunks > 0) {
        const long long gated = linearGatedBytes(p.batch, p.heads, p.seqlen_q, c.headDim);
        ATTNC_ASSIGN_OR_RETURN(
            DevicePtr buffer,
            scratch.allocate(
                size_t(gated + linearGateTableBytes(p.batch, p.heads, p.seqlen_q, c.headDim))));
        copy.linear_gated = reinterpret_cast<void *>(buffer);
        copy.linear_gate_table = reinterpret_cast<float *>(buffer + gated);
        copy.linear_pass = kLinearGatePass;
        const int perBlock = 2 * kLinearThreads / c.headDim; // chunks (linearGatePass)
        const Dim3 gateGrid{static_cast<unsigned>((chunks + perBlock - 1) / perBlock),
                            static_cast<unsigned>(p.heads), static_cast<unsigned>(p.batch)};
        ATTNC_TRY(kernel.launch(gateGrid, block, 0, stream, args));
        copy.linear_pass = 1;
      }
      if (splits <= 1)
        return kernel.launch(grid, block, smem, stream, args);
      copy.linear_segment_rows = ((chunks + splits - 1) / splits) * kLinearChunk;
      // At least 2 segments: splits > 1 only with 2 chunks or more, and each segment then holds
      // fewer chunks than the sequence.
      copy.linear_splits = (p.seqlen_q + copy.linear_segment_rows - 1) / copy.linear_segment_rows;
      ATTNC_ASSIGN_OR_RETURN(
          DevicePtr workspace,
          scratch.allocate(size_t(linearWorkspaceFloats(p.batch, p.heads, copy.linear_splits,
                                                        c.headDim, c.headDimV)) *
                           sizeof(float)));
      copy.linear_workspace = reinterpret_cast<float *>(workspace);
      // Pass 0 over the segments but the last (whose state no segment reads), pass 1 over every
      // segment. Launched over the last segment too (its blocks return at once), pass 0 was
      // 5-7% slower at B4 H16 T16384 on the H100, likely because the working blocks then
      // shared SMs two by two (bench/RESULTS.md).
      for (int pass = 0; pass < 2; ++pass) {
        Dim3 splitGrid = grid;
        splitGrid.x *= unsigned(copy.linear_splits - (pass == 0 ? 1 : 0));
        copy.linear_pass = pass;
        ATTNC_TRY(kernel.launch(splitGrid, block, smem, stream, args));
      }
      return Status::success();
    };
    return scratch.release(run());
  }
  ATTNC_TRY(checkLaunchSizes(p));
  if (p.seqlen_q == 0)
    return Status::success(); // nothing to compute
  Dim3 grid{static_cast<unsigned>((p.seqlen_q + c.blockM - 1) / c.blockM),
            static_cast<unsigned>(p.heads), static_cast<unsigned>(p.batch)};
  FwdParams copy = p;
  if (c.kernelTemplate == KernelTemplate::Sm90) {
    FwdTmaMaps maps;
    ATTNC_TRY(encodeTmaMaps(c, p, maps));
    Dim3 block{static_cast<unsigned>(fwdSm90Threads(c.blockM)), 1, 1};
    unsigned smem = static_cast<unsigned>(
        fwdSm90SmemBytes(c.headDim, c.headDimV, c.blockM, c.blockN, c.stages));
    void *args[] = {&copy, &maps};
    // One CTA per work tile (q-tile, head, batch), or a persistent grid of one CTA per SM that
    // takes the tiles past its first from a counter zeroed in stream order.
    const long long work = static_cast<long long>(grid.x) * grid.y * grid.z;
    const int sms = kernel.device().smCount();
    copy.work_counter = nullptr;
    copy.work_group = sm90WorkGroup(c, p);
    if (!sm90Persistent() || work <= sms)
      return kernel.launch(Dim3{static_cast<unsigned>(work), 1, 1}, block, smem, stream, args);
    StreamScratch scratch(kernel.device(), stream);
    auto run = [&]() -> Status {
      ATTNC_ASSIGN_OR_RETURN(DevicePtr counter, scratch.allocate(sizeof(int)));
      ATTNC_TRY(kernel.device().memsetAsync(counter, 0, sizeof(int), stream));
      copy.work_counter = reinterpret_cast<int *>(counter);
      return kernel.launch(Dim3{static_cast<unsigned>(sms), 1, 1}, block, smem, stream, args);
    };
    return scratch.release(run());
  }
  Dim3 block{static_cast<unsigned>(c.warps * 32), 1, 1};
  unsigned smem =
      static_cast<unsigned>(fwdSm80SmemBytes(c.headDim, c.headDimV, c.blockM, c.blockN, c.stages));
  void *args[] = {&copy};
  return kernel.launch(grid, block, smem, stream, args);
}

bool attnc::useDecode(const ForwardConfig &c, const FwdParams &p) {
  return c.kernelTemplate != KernelTemplate::Linear && p.kv_heads > 0 && p.seqlen_q > 0 &&
         p.seqlen_q <= 16 && (p.heads / p.kv_heads) * p.seqlen_q <= 64;
}

Status attnc::launchDecode(const Kernel &decode, const Kernel &merge, const ForwardConfig &c,
                           const FwdParams &p, void *stream) {
  ATTNC_TRY(checkLaunchSizes(p));
  if (c.kernelTemplate == KernelTemplate::Linear)
    return Status::error("decode launch: linear patterns decode with their step kernel");
  if (p.seqlen_q == 0)
    return Status::success(); // nothing to compute
  const int rowGroups = decodeRowGroups(p.heads, p.kv_heads, p.seqlen_q);
  const long long blocks = static_cast<long long>(rowGroups) * p.kv_heads * p.batch;
  const int tiles = (p.seqlen_k + kDecodeBlockN - 1) / kDecodeBlockN;
  // Split only when the (row group, KV head, sequence) blocks leave SMs idle, into about one
  // block per SM (two fit, but an SM's second block or a split beyond one wave gained less than
  // the merge and the extra blocks' start cost: bench/decode_splits.py, bench/RESULTS.md).
  int splits = int(std::min<long long>(std::max<long long>(1, decode.device().smCount() / blocks),
                                       std::max(1, tiles / 4)));
  if (const char *env = std::getenv("ATTNC_DECODE_SPLITS"); env && std::atoi(env) > 0)
    splits = std::min(std::atoi(env), std::max(1, tiles));
  splits = std::min(splits, 65535);
  FwdParams copy = p;
  copy.decode_splits = splits;
  copy.decode_workspace = nullptr;
  const Dim3 grid{static_cast<unsigned>(splits), static_cast<unsigned>(p.kv_heads * rowGroups),
                  static_cast<unsigned>(p.batch)};
  const Dim3 block{static_cast<unsigned>(kDecodeThreads), 1, 1};
  const unsigned smem = static_cast<unsigned>(
      decodeSm80SmemBytes(c.headDim, c.headDimV, decodeStages(c.headDim, c.headDimV)));
  void *args[] = {&copy};
  // Both grids start behind the kernel before them (they wait for it first thing): the merge's
  // launch hides behind the decode grid's tail. ATTNC_DECODE_EARLY_START=0 launches them plainly.
  const char *early = std::getenv("ATTNC_DECODE_EARLY_START");
  const LaunchOrder order =
      early && std::atoi(early) == 0 ? LaunchOrder::Serial : LaunchOrder::EarlyStart;
  if (splits == 1)
    return decode.launch(grid, block, smem, stream, args, order);
  const size_t bytes =
      size_t(decodeWorkspaceFloats(splits, p.batch, p.heads, p.seqlen_q, c.headDimV)) *
      sizeof(float);
  StreamScratch scratch(decode.device(), stream);
  ATTNC_ASSIGN_OR_RETURN(DevicePtr workspace, scratch.allocate(bytes));
  copy.decode_workspace = reinterpret_cast<float *>(workspace);
  Status st = decode.launch(grid, block, smem, stream, args, order);
  if (st.ok()) {
    const long long rows = static_cast<long long>(p.batch) * p.heads * p.seqlen_q;
    const long long rowsPerBlock = kDecodeMergeThreads / 32;
    const Dim3 mergeGrid{static_cast<unsigned>((rows + rowsPerBlock - 1) / rowsPerBlock), 1, 1};
    st = merge.launch(mergeGrid, Dim3{static_cast<unsigned>(kDecodeMergeThreads), 1, 1}, 0, stream,
                      args, order);
  }
  return scratch.release(st);
}

Status attnc::launchBlockMap(const Kernel &builder, const ForwardConfig &c, const FwdParams &p,
                             void *map, void *stream) {
  if (!map)
    return Status::error("block map launch: no map buffer");
  if (reinterpret_cast<uintptr_t>(map) % 16 != 0)
    return Status::error("block map launch: the map must be 16-byte aligned");
  if (p.block_map_heads != 1 && p.block_map_heads != p.heads)
    return Status::error("block map launch: block_map_heads must be 1 or heads (" +
                         std::to_string(p.heads) + "), got " + std::to_string(p.block_map_heads));
  if (p.batch <= 0 || p.seqlen_q <= 0 || p.seqlen_k <= 0)
    return Status::success(); // no tile
  Dim3 grid{static_cast<unsigned>((p.seqlen_k + c.blockN - 1) / c.blockN),
            static_cast<unsigned>((p.seqlen_q + c.blockM - 1) / c.blockM),
            static_cast<unsigned>(p.batch * p.block_map_heads)};
  Dim3 block{static_cast<unsigned>(kBlockMapThreads), 1, 1};
  FwdParams copy = p;
  void *mapArg = map;
  int pass = 0;
  void *args[] = {&copy, &mapArg, &pass};
  ATTNC_TRY(builder.launch(grid, block, 0, stream, args)); // the tile entries
  pass = 1;
  const Dim3 rowsGrid{grid.y * static_cast<unsigned>(c.blockM) / (kBlockMapThreads / 32), 1,
                      grid.z};                             // a warp per query row
  return builder.launch(rowsGrid, block, 0, stream, args); // the row bounds, from the entries
}

uint16_t attnc::floatToBits(float value, ElementType type) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  if (type == ElementType::BF16) {
    if (std::isnan(value))
      return 0x7fc0;
    uint32_t rounding = 0x7fff + ((x >> 16) & 1); // round to nearest, ties to even
    return static_cast<uint16_t>((x + rounding) >> 16);
  }
  // IEEE binary16 from binary32, round to nearest even, with subnormals and
  // overflow to inf.
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absBits = x & 0x7fffffff;
  if (absBits >= 0x7f800000) // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00 | (absBits > 0x7f800000 ? 0x200 : 0));
  if (absBits >= 0x477ff000) // rounds to >= 65520: overflow
    return static_cast<uint16_t>(sign | 0x7c00);
  if (absBits < 0x38800000) { // subnormal half (or zero)
    float magnitude;
    std::memcpy(&magnitude, &absBits, 4);
    // Multiply into the subnormal grid (2^-24 units) and round to nearest even.
    float scaled = magnitude * 16777216.0f;
    uint32_t units = static_cast<uint32_t>(std::nearbyint(scaled));
    return static_cast<uint16_t>(sign | units);
  }
  uint32_t exponent = ((absBits >> 23) - 127 + 15) << 10;
  uint32_t mantissa = absBits & 0x7fffff;
  uint32_t half = exponent | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half; // carries into the exponent correctly
  return static_cast<uint16_t>(sign | half);
}

float attnc::bitsToFloat(uint16_t bits, ElementType type) {
  uint32_t x;
  if (type == ElementType::BF16) {
    x = static_cast<uint32_t>(bits) << 16;
  } else {
    uint32_t sign = (bits & 0x8000u) << 16;
    uint32_t exponent = (bits >> 10) & 0x1f;
    uint32_t mantissa = bits & 0x3ff;
    if (exponent == 0) {
      float value = std::ldexp(static_cast<float>(mantissa), -24);
      return sign ? -value : value;
    }
    if (exponent == 31)
      x = sign | 0x7f800000 | (mantissa << 13);
    else
      x = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &x, 4);
  return value;
}
