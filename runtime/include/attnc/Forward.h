//===- Forward.h - Launching generated forward kernels ---------------*- C++ -*-===//
//
// The host side of the forward-kernel contract in runtime/device/attnc/params.cuh: launch
// geometry and shared memory from a kernel's configuration, and host conversions of the 16-bit
// element types (one place maps a dtype to its bits).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_FORWARD_H
#define ATTNC_FORWARD_H

#include "attnc/Runtime.h"
#include "attnc/params.cuh"

#include <cstdint>
#include <optional>
#include <string>

namespace attnc {

enum class ElementType { BF16, F16 };

/// The device-library template a forward kernel instantiates (runtime/device/attnc/).
enum class KernelTemplate {
  Sm80,   // fwd_sm80.cuh: mma.sync, cp.async; any sm_80+ GPU; one argument (FwdParams)
  Sm90,   // fwd_sm90.cuh: wgmma, TMA, warp specialisation; sm_90a; FwdParams + FwdTmaMaps
  Linear, // linear_sm80.cuh: chunked linear attention and its recurrent step; any sm_80+ GPU
};

/// "sm80" / "sm90" / "linear", and back (nullopt for anything else).
const char *kernelTemplateName(KernelTemplate t);
std::optional<KernelTemplate> parseKernelTemplate(const std::string &name);

/// The compile-time configuration a generated forward kernel was built with.
struct ForwardConfig {
  int headDim = 128, headDimV = 128;
  int blockM = 128, blockN = 64, warps = 8, stages = 2;
  KernelTemplate kernelTemplate = KernelTemplate::Sm80;
  bool keySum = false;        ///< Linear: the sum normaliser (the kernel carries a key sum)
  bool causal = false;        ///< Linear: a causal form (its prefill may split long sequences)
  bool gatePerKeyDim = false; ///< Linear: a gate per key dimension (the prefill's gate pass)
  bool gatePerToken = false;  ///< Linear: a scalar gate per token (the gate-log pass)
  /// Linear with a map of whole rows (taylor2, hedgehog): the state's rows, its features padded
  /// to slices of kLinearSlice (the prefill's feature pass); 0: the map is per element and the
  /// state has headDim rows.
  int featureRows = 0;
  int featureMap = 0; ///< kFeatureMapTaylor2 / kFeatureMapHedgehog with featureRows
  /// Softmax family: every work tile visits every key tile (no mask, sequences not packed), so
  /// the Sm90 grid takes them pair by pair (sm90WorkGroup).
  bool evenWork = false;
  /// The rows of the state (and key sum) of a linear kernel.
  int stateDim() const { return featureRows > 0 ? featureRows : headDim; }
};

/// Launches `kernel` over `params` on `stream` (null: default stream). Checks the shapes
/// against the configuration first and returns an error instead of launching on a mismatch.
/// For the Sm90 template it also encodes the TMA tensor maps of q, k and v (needs a current
/// context); for the Linear template it launches the chunked prefill (seqlen_q == seqlen_k),
/// cutting long sequences of a causal form into segments when there are too few (slice, head,
/// sequence) blocks to fill the GPU: two passes over a workspace in stream-ordered memory. A
/// gate per key dimension first runs the kernel's gate pass over every chunk, into a second
/// workspace (linearGatedBytes + linearGateTableBytes: about the size of Q and K again); a
/// scalar gate per token first runs its gate-log pass (linearGateLogBytes: 4 bytes per token
/// and head).
/// A map of whole rows (config.featureRows) runs its feature pass first and, with more than
/// one slice of 64 features, a reduce pass after: on `rowPasses` (the `_features` entry, with
/// registers of its own) when given, else on `kernel`.
Status launchForward(const Kernel &kernel, const ForwardConfig &config, const FwdParams &params,
                     void *stream = nullptr, const Kernel *rowPasses = nullptr);

/// Whether the Sm90 template runs as a persistent grid (one CTA per SM, each taking work tiles
/// from a counter in stream-ordered memory) rather than one CTA per (q-tile, head, batch): on
/// unless the environment sets ATTNC_SM90_PERSISTENT=0 (measurements).
bool sm90Persistent();

/// The bytes of keys and values that the (head, batch) pairs whose work tiles the Sm90 template
/// interleaves may read between them (sm90WorkGroup): a third of an H100's 50 MB L2.
constexpr long long kSm90WorkGroupBytes = 16LL << 20;

/// FwdParams::work_group of an Sm90 launch: how many (head, batch) pairs the work order
/// interleaves q-tile by q-tile (fwd_sm90.cuh), as many as keep their keys and values within
/// kSm90WorkGroupBytes (the query heads of a GQA group count once), at least 1 and at most
/// every pair; 1 (pair by pair) when config.evenWork: then every tile takes the same time and
/// a group only spreads the reads over L2 (3-5% slower, full B4 H16 S4096 D128 on an H100).
/// ATTNC_SM90_WORK_GROUP=N fixes N (1: pair by pair; for measurements).
int sm90WorkGroup(const ForwardConfig &config, const FwdParams &params);

/// The group ATTNC_SM90_WORK_GROUP fixes (at least 1); 0 when it is unset.
int fixedSm90WorkGroup();

/// The bytes of keys and values that `group` consecutive (head, batch) pairs of `params` read,
/// starting on a GQA group's first query head (the KV heads they span; attnc explain).
long long sm90WorkGroupBytes(const ForwardConfig &config, const FwdParams &params, int group);

/// The number of segments launchForward cuts each sequence of a linear prefill into (1: no
/// split), for `blocks` (Dv slice, head, sequence) blocks over sequences of `seqlen` rows on a
/// GPU of `smCount` SMs: only causal forms without the sum normaliser, only when the blocks
/// would fill at most half the GPU's block slots (two per SM), as many as fill them, each at
/// least four chunks. ATTNC_LINEAR_SPLITS=N in the environment fixes the count.
int linearSplitCount(const ForwardConfig &config, long long blocks, int seqlen, int smCount);

/// The split count ATTNC_LINEAR_SPLITS fixes (bench/linear_splits.py); 0 when it is unset.
int fixedLinearSplits();

/// Whether a softmax-family call on `params` runs the decode kernel rather than the forward
/// one: every sequence has at most 16 query rows, and a KV head's query heads times them make
/// at most 64 packed rows (more would re-read each KV head more often than the forward tiles).
bool useDecode(const ForwardConfig &config, const FwdParams &params);

/// Launches the split-KV decode kernel of a softmax-family pattern (its `_decode` entry point)
/// over `params` and, when it splits the keys, the merge of the splits (`_merge`) with a
/// workspace in stream-ordered memory. The keys are split only when there are fewer blocks
/// than SMs, into about one block per SM, each split at least four key tiles;
/// ATTNC_DECODE_SPLITS=N in the environment fixes the count (bench/decode_splits.py).
Status launchDecode(const Kernel &decode, const Kernel &merge, const ForwardConfig &config,
                    const FwdParams &params, void *stream = nullptr);

/// Launches the recurrent step of a linear pattern (its `_step` entry point) over `params`,
/// whose sequences have length at most 1 (decode); launchForward runs the chunked prefill.
Status launchLinearStep(const Kernel &step, const ForwardConfig &config, const FwdParams &params,
                        void *stream = nullptr);

/// The TMA tensor maps of q, k, v for the Sm90 template (launchForward makes them itself).
Status encodeTmaMaps(const ForwardConfig &config, const FwdParams &params, FwdTmaMaps &maps);

/// Launches a pattern's block-map builder (the `_blockmap` entry point the emitter adds for
/// masks that read tensors; two launches: the tile entries, then each query row's bounds) to
/// fill `map` (blockMapBytes(batch, params.block_map_heads, seqlen_q, seqlen_k, blockM,
/// blockN) bytes of device memory, 16-byte aligned, as every allocation of the driver is) for
/// `params`; the forward kernel then runs with params.block_map = map.
/// params.block_map_heads must be 1 or params.heads.
Status launchBlockMap(const Kernel &builder, const ForwardConfig &config, const FwdParams &params,
                      void *map, void *stream = nullptr);

/// Fills the strides of `params` for contiguous [B, S, H, D] tensors (and [B, Sq, Hq, Dv] O).
void setContiguousStrides(FwdParams &params, int headDim, int headDimV);

/// Round-to-nearest-even conversions between float and the 16-bit storage types.
uint16_t floatToBits(float value, ElementType type);
float bitsToFloat(uint16_t bits, ElementType type);

} // namespace attnc

#endif // ATTNC_FORWARD_H
