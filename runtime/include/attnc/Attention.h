//===- Attention.h - Attention kernels launched on tensors -----------*- C++ -*-===//
//
// The runtime's user-level object: an AttentionKernel is one generated forward kernel (and its
// block-map builder, for masks that read tensors) loaded on a device, together with the
// AttentionSpec that says how to launch it. It is made either by JIT from generated source
// (attnc/attnc.h compiles a spec into these) or from the CUBIN of an AOT bundle (Bundle.h),
// without the compiler. `forward` takes strided tensor views, checks every shape, dtype,
// stride and alignment against the spec, and launches on the caller's stream.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_ATTENTION_H
#define ATTNC_ATTENTION_H

#include "attnc/Forward.h"
#include "attnc/Runtime.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace attnc {

/// Element types of the tensors that cross the API.
enum class DType { BF16, F16, F32, I32 };
const char *dtypeName(DType type);
size_t dtypeBytes(DType type);
/// BF16 or F16: the element types of q, k, v (an input of one is a composite branch's own q
/// or k).
bool isElementDType(DType type);

/// A strided view of device memory. Shape and strides count elements; rank 0 means "not
/// given" (an optional tensor left out).
struct TensorRef {
  const void *data = nullptr;
  DType dtype = DType::BF16;
  int rank = 0;
  int64_t shape[4] = {0, 0, 0, 0};
  int64_t strides[4] = {0, 0, 0, 0};

  /// A row-major contiguous view of `shape` (at most 4 dims).
  static TensorRef contiguous(const void *data, DType dtype, const std::vector<int64_t> &shape);
  bool given() const { return rank > 0; }
  bool isContiguous() const;
  int64_t numel() const;
};

/// What the host needs to launch one generated attention kernel without the compiler: the
/// entry points, the kernel's configuration and the arguments its pattern declares. It is the
/// runtime's copy of codegen's launch description and the per-kernel entry of a bundle's
/// manifest (toJson / fromJson).
struct AttentionSpec {
  std::string pattern;       ///< the pattern's name in its spec
  std::string entry;         ///< the forward kernel's extern "C" name
  std::string blockMapEntry; ///< the block-map builder; empty: tiles classified at compile time
  bool blockMapPerHead = false;
  ElementType dtype = ElementType::BF16;
  ForwardConfig config;
  double scale = 0;                   ///< default c of s = c * q.k (temperature folded in)
  std::string normalizer = "softmax"; ///< softmax | sigmoid | none; the LSE is softmax's
  bool varlen = false;                ///< packed sequences with cu_seqlens
  int heads = 0, kvHeads = 0;         ///< fixed by the pattern; 0: any
  struct Input {
    std::string name;
    DType dtype = DType::I32;       ///< I32 or F32
    std::vector<std::string> shape; ///< B H Hkv Sq Skv D or an integer, per dimension
  };
  std::vector<Input> inputs; ///< in slot order
  /// Whether `slot` names an input of the element type: a composite branch's own q or k.
  bool isElementInput(int slot) const {
    return slot >= 0 && slot < int(inputs.size()) && isElementDType(inputs[size_t(slot)].dtype);
  }
  struct Scalar {
    std::string name;
    std::optional<double> defaultValue;
  };
  std::vector<Scalar> scalars; ///< in slot order
  /// Linear patterns (template "linear"): the recurrent step's entry point, launched instead of
  /// `entry` (the chunked prefill) for sequences of length 1. Empty otherwise.
  std::string stepEntry;
  /// Linear patterns with a map of whole rows: the entry point of their feature and reduce
  /// passes (registers of their own; empty: the prefill's entry runs them).
  std::string featureEntry;
  /// Softmax-family patterns: the split-KV decode kernel and the merge of its splits, launched
  /// instead of `entry` when every sequence has a few query rows (useDecode in Forward.h).
  /// Empty in manifests written before them: those calls run `entry`.
  std::string decodeEntry, mergeEntry;
  /// A composite (several branch patterns combined per output element): its branches'
  /// patterns, in order; `entry` is then its combine kernel (combine.cuh), and the other
  /// fields are those of its first branch. Empty for a pattern.
  std::vector<std::string> branches;
  /// A composite whose branches may have queries and keys of their own: per branch, the
  /// slots among `inputs` of its q and k (inputs of the element type, [B, Sq, H, N] and
  /// [B, Skv, Hkv, N]), or {-1, -1} for the call's. Empty: every branch takes the call's.
  std::vector<std::pair<int, int>> branchOwnQK;
  /// A composite whose combine runs in a branch's epilogue (CompositeOp::epilogue_branch): that
  /// branch's index; -1 (and in manifests written before it): the combine kernel runs last.
  int epilogueBranch = -1;

  std::string toJson() const;
  static StatusOr<AttentionSpec> fromJson(const std::string &json);
};

/// The tensors and values of one forward call. Layouts (any strides with a contiguous last
/// dimension; rows 16-byte aligned):
///   q [B, Sq, Hq, D], k [B, Skv, Hkv, D], v [B, Skv, Hkv, Dv], o [B, Sq, Hq, Dv];
///   varlen patterns: q [total_q, Hq, D], k/v [total_k, Hkv, D|Dv], o [total_q, Hq, Dv] with
///   cuSeqlensQ/K int32 [B + 1] and maxSeqlenQ/K.
///   lse (optional, softmax only): float32 contiguous [B, Hq, Sq], varlen [Hq, total_q].
///   inputs: the pattern's input tensors in declaration order, contiguous, int32 or float32,
///   shaped as declared (B H Hkv Sq Skv D resolved for this call; Sq/Skv the longest sequences).
///   Linear patterns: k and v have q's sequence lengths (varlen: the same cu_seqlens); stateIn
///   (optional: zero) and stateOut (optional: not written) are float32 contiguous
///   [B, Hq, D, Dv], 16-byte aligned, and may be the same tensor (an update in place). A call
///   whose sequences have length 1 runs the recurrent step (decode), any other the chunked
///   prefill; either way stateOut receives the state after the call's tokens.
struct ForwardArgs {
  TensorRef q, k, v, o, lse;
  TensorRef stateIn, stateOut;
  /// Linear patterns with `normalize sum`: the key sum carried with the state, float32
  /// contiguous [B, Hq, D] (same rules as the state, but keySumOut must not be keySumIn).
  TensorRef keySumIn, keySumOut;
  TensorRef cuSeqlensQ, cuSeqlensK;
  int maxSeqlenQ = 0, maxSeqlenK = 0;
  std::vector<TensorRef> inputs;
  /// By slot; a missing or empty entry takes the scalar's default (an error without one).
  std::vector<std::optional<double>> scalars;
  /// Replaces the spec's scale c when set.
  std::optional<double> scale;
  /// Set by CompositeKernel alone, on the call of its epilogue branch: the other branches'
  /// outputs, which that branch's kernel combines with its own into O. Leave it empty.
  CombineParams combine{};
};

/// Checks `args` against `spec` (shapes, dtypes, strides, alignment, inputs, scalars) and fills
/// the kernel's argument block; the error names the tensor and what is wrong. No GPU needed.
Status bindForwardArgs(const AttentionSpec &spec, const ForwardArgs &args, FwdParams &params);

/// A run-time block map built for one problem shape, reusable by every forward call on the
/// same masks inputs and sizes (as FlexAttention reuses a BlockMask).
class BlockMap {
public:
  BlockMap() = default;
  DevicePtr data() const { return buffer_.ptr(); }
  size_t bytes() const { return buffer_.size(); }

private:
  friend class AttentionKernel;
  DeviceBuffer buffer_;
  int batch_ = 0, mapHeads_ = 0, seqlenQ_ = 0, seqlenK_ = 0;
};

class AttentionKernel {
public:
  /// JIT: compiles `source` (through the kernel cache) for `target` and loads its entry points.
  static StatusOr<std::shared_ptr<AttentionKernel>>
  fromSource(AttentionSpec spec, const std::string &source, const JitTarget &target = {});
  /// AOT: loads the entry points from a CUBIN built for the device.
  static StatusOr<std::shared_ptr<AttentionKernel>> fromCubin(AttentionSpec spec, std::string cubin,
                                                              Device *device = nullptr);

  const AttentionSpec &spec() const { return spec_; }
  Device &device() const { return forward_->device(); }
  const Kernel &forwardKernel() const { return *forward_; }

  /// bindForwardArgs with this kernel's spec (no launch).
  Status bind(const ForwardArgs &args, FwdParams &params) const {
    return bindForwardArgs(spec_, args, params);
  }
  /// Whether forward needs a block map (the mask reads tensors or scalars).
  bool needsBlockMap() const { return builder_ != nullptr; }
  /// Builds the block map for `args` on `stream` (the forward kernel must run after it on the
  /// same stream, or after a synchronisation).
  StatusOr<BlockMap> buildBlockMap(const ForwardArgs &args, void *stream = nullptr) const;
  /// Launches the forward pass on `stream`. A pattern with a run-time block map uses `map`
  /// when given (built for the same sizes), else builds one in stream-ordered memory first.
  Status forward(const ForwardArgs &args, void *stream = nullptr,
                 const BlockMap *map = nullptr) const;
  /// Whether forward on `params` (bound by bind) runs the split-KV decode kernels, which every
  /// sequence's few query rows select (useDecode), rather than the forward kernel.
  bool runsDecode(const FwdParams &params) const {
    return !spec_.decodeEntry.empty() && useDecode(spec_.config, params);
  }

private:
  AttentionKernel(AttentionSpec spec, std::shared_ptr<Kernel> forward,
                  std::shared_ptr<Kernel> builder, std::shared_ptr<Kernel> step,
                  std::shared_ptr<Kernel> rowPasses)
      : spec_(std::move(spec)), forward_(std::move(forward)), builder_(std::move(builder)),
        step_(std::move(step)), rowPasses_(std::move(rowPasses)) {}
  /// The decode and merge kernels: loaded from the CUBIN with the others, or JIT-compiled from
  /// `source_` on the first call that needs them.
  struct DecodeKernels {
    std::shared_ptr<Kernel> decode, merge;
  };
  StatusOr<DecodeKernels> decodeKernels() const;
  /// The forward or the decode kernels on `p` (its block map, if any, already set).
  Status launch(const FwdParams &p, void *stream) const;

  AttentionSpec spec_;
  std::shared_ptr<Kernel> forward_, builder_;
  std::shared_ptr<Kernel> step_;      // linear patterns: the recurrent step (decode)
  std::shared_ptr<Kernel> rowPasses_; // maps of whole rows: the feature and reduce passes
  std::string source_;                // JIT: the source, for the decode kernels
  JitTarget target_;
  mutable std::mutex decodeMutex_;
  mutable std::optional<DecodeKernels> decode_;
};

/// A generated kernel not yet loaded: its spec, its CUDA source and/or CUBINs per arch. `load`
/// makes the AttentionKernel for a device once (a CUBIN of the device's arch when there is
/// one, else JIT from the source) and returns the same one afterwards. The compiler's
/// `attnc::compile` returns these, and so does a bundle. Thread-safe.
class CompositeKernel;

class KernelImage {
public:
  KernelImage(AttentionSpec spec, std::string source,
              std::vector<std::pair<std::string, std::string>> cubins = {})
      : spec_(std::move(spec)), source_(std::move(source)), cubins_(std::move(cubins)) {}
  /// A composite's image: its combine kernel's source (and CUBINs) and its branches' images,
  /// in order.
  KernelImage(AttentionSpec spec, std::string source,
              std::vector<std::shared_ptr<const KernelImage>> branches,
              std::vector<std::pair<std::string, std::string>> cubins = {})
      : spec_(std::move(spec)), source_(std::move(source)), cubins_(std::move(cubins)),
        branches_(std::move(branches)) {}
  /// A composite's branches' images (empty for a pattern).
  const std::vector<std::shared_ptr<const KernelImage>> &branches() const { return branches_; }
  bool isComposite() const { return !branches_.empty(); }
  const AttentionSpec &spec() const { return spec_; }
  const std::string &source() const { return source_; }
  /// (arch, CUBIN bytes) pairs.
  const std::vector<std::pair<std::string, std::string>> &cubins() const { return cubins_; }

  /// Loads (once per device) on `target.device`, default the current device. A composite
  /// has no AttentionKernel: loadComposite.
  StatusOr<std::shared_ptr<AttentionKernel>> load(const JitTarget &target = {}) const;
  /// A composite's branches loaded and its combine JIT-compiled (once per device).
  StatusOr<std::shared_ptr<CompositeKernel>> loadComposite(const JitTarget &target = {}) const;
  /// load() (a composite: loadComposite()) on the current device, then forward. A composite
  /// takes no block map (its branches build their own).
  Status forward(const ForwardArgs &args, void *stream = nullptr,
                 const BlockMap *map = nullptr) const;

private:
  AttentionSpec spec_;
  std::string source_;
  std::vector<std::pair<std::string, std::string>> cubins_;
  mutable std::mutex mutex_;
  /// The CUBIN for `target`'s arch (its device's when empty; the device resolved), or null.
  const std::string *cubinFor(const JitTarget &target) const;
  /// The error of an image with neither a CUBIN for `target` nor a source.
  Status noBinaryFor(const JitTarget &target) const;

  mutable std::vector<std::pair<int, std::shared_ptr<AttentionKernel>>> loaded_; // by ordinal
  std::vector<std::shared_ptr<const KernelImage>> branches_;                     // a composite's
  mutable std::vector<std::pair<int, std::shared_ptr<CompositeKernel>>> composites_;
};

/// The images of compiled specs in this process, keyed by a hash of everything that changes
/// them (spec text, options, compiler version): a repeated compile costs a hash and a lookup.
class ProgramCache {
public:
  using Images = std::vector<std::shared_ptr<KernelImage>>;
  static ProgramCache &global();
  std::optional<Images> lookup(const Hash128 &key);
  void insert(const Hash128 &key, Images images);
  void clear();
  uint64_t hits() const;

private:
  mutable std::mutex mutex_;
  std::map<Hash128, Images> entries_;
  uint64_t hits_ = 0;
};

} // namespace attnc

#endif // ATTNC_ATTENTION_H
