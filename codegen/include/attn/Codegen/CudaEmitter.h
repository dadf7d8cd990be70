//===- CudaEmitter.h - Kernel-level attn IR to CUDA C++ --------------*- C++ -*-===//
//
// The emitter only prints: each `attn.kernel` becomes one struct of hook functions (its
// regions, one C++ statement per arith/math op) and one `extern "C"` entry point that
// instantiates the device-library template named by the kernel's attributes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CODEGEN_CUDAEMITTER_H
#define ATTN_CODEGEN_CUDAEMITTER_H

#include "attn/Dialect/AttnOps.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::attn {

/// What the host needs to launch a generated kernel.
struct KernelLaunchSpec {
  std::string pattern;            // the attn.pattern the kernel implements
  std::string entryName;          // the extern "C" symbol
  std::string normalizer;         // softmax | sigmoid | none; linear patterns: none | sum
  int64_t heads = 0, kvHeads = 0; // fixed by the pattern; 0: any
  std::string elementType;        // "bf16" | "f16"
  int64_t headDim = 0, headDimV = 0;
  int64_t blockM = 0, blockN = 0, warps = 0, stages = 0;
  std::string kernelTemplate; // "sm80" | "sm90" | "linear": the device-library template
  double scale = 0;           // c of s = c * q.k (temperature folded in)
  bool varlen = false;        // the pattern declares packed variable-length sequences
  /// Softmax-family patterns without a mask on sequences that are not packed: every work tile
  /// visits every key tile, so all take the same time (the Sm90 grid's work order).
  bool evenWork = false;
  /// The block-map builder entry point (`(const FwdParams, unsigned char *map)`), empty when
  /// the kernel classifies tiles at compile time; its map has one head when !blockMapPerHead.
  std::string blockMapEntry;
  bool blockMapPerHead = false;
  /// Linear patterns: the recurrent step entry point (decode: sequences of length 1), beside
  /// the chunked prefill `entryName`.
  std::string stepEntry;
  bool causal = false; ///< linear patterns: a causal form
  /// Linear patterns: a gate per key dimension (the prefill runs its gate pass first).
  bool gatePerKeyDim = false;
  /// Linear patterns: a scalar gate per token (the prefill runs its gate-log pass first).
  bool gatePerToken = false;
  /// Linear patterns with a map of whole rows (taylor2, hedgehog): its name and the state's
  /// rows (its features padded to slices of 64; the prefill's feature pass). Empty / 0 else.
  std::string featureMap;
  int64_t stateDim = 0;
  /// Their feature and reduce passes' entry point (registers of their own, not the prefill's).
  std::string featureEntry;
  /// The rows of a linear kernel's state (and key sum).
  int64_t stateRows() const { return stateDim > 0 ? stateDim : headDim; }
  /// Softmax-family patterns: the split-KV decode kernel for sequences of a few query rows
  /// (decode_sm80.cuh) and the merge of its splits.
  std::string decodeEntry, mergeEntry;
  /// Extra input tensors in slot order (FwdParams::inputs); shape entries are problem sizes
  /// (B H Hkv Sq Skv D) or integers.
  struct Input {
    std::string name;
    bool isFloat = false; // f32, else i32
    bool isElem = false;  // the kernel's element type: a composite branch's own q or k
    std::vector<std::string> shape;
  };
  std::vector<Input> inputs;
  /// Run-time scalars in slot order (FwdParams::scalars).
  struct ScalarArg {
    std::string name;
    std::optional<double> defaultValue;
  };
  std::vector<ScalarArg> scalars;
};

/// The launch description of `kernel`.
KernelLaunchSpec getLaunchSpec(KernelOp kernel);

/// Prints the CUDA C++ translation unit of one kernel.
LogicalResult emitKernelSource(KernelOp kernel, llvm::raw_ostream &os);

/// The entry point of `composite`'s combine kernel for one element type and head dims.
std::string getCombineEntryName(CompositeOp composite, llvm::StringRef elementType, int64_t headDim,
                                int64_t headDimV);

/// Prints the CUDA C++ translation unit of `composite`'s combine kernel (combine.cuh): one
/// entry point, (FwdParams, CombineParams), that writes O from the branches' outputs.
LogicalResult emitCombineSource(CompositeOp composite, llvm::StringRef elementType, int64_t headDim,
                                int64_t headDimV, llvm::raw_ostream &os);

/// Prints every kernel of `module` into one translation unit.
LogicalResult emitModuleSource(ModuleOp module, llvm::raw_ostream &os);

/// Registers the `--attn-to-cuda` translation (attn-translate).
void registerToCudaTranslation();

} // namespace mlir::attn

#endif // ATTN_CODEGEN_CUDAEMITTER_H
