//===- AttnLowerToKernel.cpp - Pattern level to kernel level ------------------===//
//
// Creates one `attn.kernel` per `attn.pattern` for a target (arch, element type, head dims):
// picks the device-library template and its tiling (TileConfig.cpp) and clones the pattern's
// hooks into the kernel. The pattern stays in the module, so the CPU reference and the kernel
// are always built from the same IR.
//
//===----------------------------------------------------------------------===//
#include "TileConfig.h"
#include "attn/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERTOKERNELPASS
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

/// Parses the element-type option; null on an unknown name.
static Type parseElementType(MLIRContext *ctx, StringRef name) {
  if (name == "bf16")
    return BFloat16Type::get(ctx);
  if (name == "f16" || name == "fp16")
    return Float16Type::get(ctx);
  return nullptr;
}

/// Kernel symbol: <pattern>_<type>_d<D>[_dv<Dv>], also the CUDA entry point's suffix.
static std::string kernelName(PatternOp pattern, StringRef type, int64_t d, int64_t dv) {
  std::string name = (pattern.getSymName() + "_" + type + "_d" + Twine(d)).str();
  if (dv != d)
    name += ("_dv" + Twine(dv)).str();
  return name;
}

static LogicalResult lowerPattern(PatternOp pattern, const KernelTarget &target, Type elementType) {
  auto normalize = pattern.getUnique<NormalizeOp>();
  if (normalize.getKind() != NormalizerKind::Softmax)
    return normalize.emitOpError("normaliser '") << stringifyNormalizerKind(normalize.getKind())
                                                 << "' has no kernel template yet (only softmax)";
  if (!pattern.getUnique<KvRangeOp>() || !pattern.getUnique<TileFullOp>())
    return pattern.emitOpError("must be classified first (run attn-classify-blocks)");

  int64_t d = target.headDim;
  int64_t dv = target.headDimV ? target.headDimV : d;
  FailureOr<TileConfig> config = selectTileConfig(target.arch, elementType, d, dv);
  if (failed(config))
    return pattern.emitOpError("no kernel configuration for arch ")
           << target.arch << ", " << elementType << ", head dims " << d << "/" << dv;

  auto module = pattern->getParentOfType<ModuleOp>();
  std::string name =
      kernelName(pattern, target.elementType == "fp16" ? "f16" : target.elementType, d, dv);
  if (SymbolTable::lookupSymbolIn(module, name))
    return success(); // already lowered for this target

  OpBuilder builder(pattern);
  builder.setInsertionPointAfter(pattern);
  MLIRContext *ctx = pattern.getContext();
  auto kernel = KernelOp::create(
      builder, pattern.getLoc(), builder.getStringAttr(name),
      FlatSymbolRefAttr::get(pattern.getSymNameAttr()), TypeAttr::get(elementType),
      builder.getI64IntegerAttr(d), builder.getI64IntegerAttr(dv),
      builder.getI64IntegerAttr(config->blockM), builder.getI64IntegerAttr(config->blockN),
      builder.getI64IntegerAttr(config->warps), builder.getI64IntegerAttr(config->stages),
      TileTemplateAttr::get(ctx, config->kernelTemplate), normalize.getScaleAttr());
  Block *body = builder.createBlock(&kernel.getBody());
  builder.setInsertionPointToEnd(body);
  for (Operation &op : pattern.getBody().front())
    if (isa<MaskOp, ScoreModOp, KvRangeOp, TileFullOp>(op))
      builder.clone(op);
  return success();
}

namespace {
struct AttnLowerToKernelPass : mlir::attn::impl::AttnLowerToKernelPassBase<AttnLowerToKernelPass> {
  using Base::Base;

  void runOnOperation() override {
    Type elemType = parseElementType(&getContext(), elementType);
    if (!elemType) {
      getOperation().emitError("unknown element type '")
          << elementType << "' (expected bf16 or f16)";
      return signalPassFailure();
    }
    KernelTarget target{elementType, headDim, headDimV, arch};
    SmallVector<PatternOp> patterns(getOperation().getOps<PatternOp>());
    for (PatternOp pattern : patterns)
      if (failed(lowerPattern(pattern, target, elemType)))
        return signalPassFailure();
  }
};
} // namespace
