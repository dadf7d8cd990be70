//===- Passes.h - attnc passes and the default pipeline --------------*- C++ -*-===//
#ifndef ATTN_TRANSFORMS_PASSES_H
#define ATTN_TRANSFORMS_PASSES_H

#include "attn/Dialect/AttnOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <optional>
#include <string>

namespace mlir::attn {

#define GEN_PASS_DECL
#include "attn/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "attn/Transforms/Passes.h.inc"

/// What a pattern is compiled for.
struct KernelTarget {
  std::string elementType = "bf16"; // bf16 | f16
  int64_t headDim = 128;
  int64_t headDimV = 0; // 0: same as headDim
  std::string arch = "sm_90a";
  bool skipUnsupported = false; // leave patterns with no kernel template unlowered
};

/// Why `pattern` cannot be lowered for `target` (no template for its normaliser, no tiling for
/// its head dims, ...), or nullopt when it can.
std::optional<std::string> unsupportedReason(PatternOp pattern, const KernelTarget &target);

/// The template and tiling a softmax-family pattern gets: in words with the reasons for its
/// tiles, and the tile's query rows and keys.
struct TilingDescription {
  std::string text;
  bool hopper = false; // the sm90 template (wgmma, TMA, a persistent grid)
  int64_t blockM = 0, blockN = 0;
};

/// The template and tiling `pattern` gets for `target` (`attnc explain`); nullopt for a linear
/// form or where it cannot be lowered.
std::optional<TilingDescription> describeTiling(PatternOp pattern, const KernelTarget &target);

/// The default pipeline: pattern level -> kernel level for `target`.
void buildAttnPipeline(OpPassManager &pm, const KernelTarget &target);

/// Registers every attnc pass and the `attn-pipeline` pipeline (one place for all).
void registerAttnPassesAndPipelines();

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_PASSES_H
