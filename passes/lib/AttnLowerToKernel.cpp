//===- AttnLowerToKernel.cpp - Pattern level to kernel level ------------------===//
//
// Creates one `attn.kernel` per `attn.pattern` for a target (arch, element type, head dims):
// picks the device-library template and its tiling (TileConfig.cpp) and clones the pattern's
// hooks into the kernel. The pattern stays in the module, so the CPU reference and the kernel
// are always built from the same IR.
//
//===----------------------------------------------------------------------===//
#include "MaskAnalysis.h"
#include "TileConfig.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERTOKERNELPASS
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

#include <cmath>

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

/// The head dims a pattern is compiled with: its own when it fixes them, else the target's.
static std::pair<int64_t, int64_t> headDimsFor(PatternOp pattern, const KernelTarget &target) {
  if (pattern.getHeadDim())
    return {int64_t(*pattern.getHeadDim()), int64_t(*pattern.getHeadDimV())};
  return {target.headDim, target.headDimV ? target.headDimV : target.headDim};
}

/// What the tile configuration needs to know of the pattern's mask and score modifier.
static HookProfile hookProfile(PatternOp pattern) {
  constexpr int64_t kLoadCost = 16;
  HookProfile profile;
  auto mask = pattern.getUnique<MaskOp>();
  auto scoreMod = pattern.getUnique<ScoreModOp>();
  auto costOf = [&](Operation *hook) {
    int64_t cost = 0;
    if (hook)
      hook->getRegion(0).walk([&](Operation *op) { cost += isa<LoadOp>(op) ? kLoadCost : 1; });
    return cost;
  };
  profile.scoreModCost = costOf(scoreMod);
  profile.cost = costOf(mask) + profile.scoreModCost;
  if (scoreMod)
    profile.mufuScoreOps = countMufuOps(scoreMod);
  profile.keyPrefixes = !mask || keepsKeyPrefixes(mask);
  return profile;
}

/// The template and tiling of `pattern`: the chunked linear template for a linear form, else
/// the softmax family's per-arch table.
static FailureOr<TileConfig> selectConfig(PatternOp pattern, StringRef arch, Type elementType,
                                          int64_t d, int64_t dv, std::string *why = nullptr) {
  if (auto linear = pattern.getUnique<LinearOp>()) {
    if (getFeatureMap(linear) == FeatureMap::Elementwise)
      return selectLinearConfig(arch, elementType, d, dv);
    // A row map: the chunked kernel runs on its features, 64 at a time (feature slices).
    const int64_t f = getLinearStateDim(linear, d);
    if ((d != 16 && d != 32 && d != 64 && d != 128) || f <= 0 || f > kMaxFeatureDim)
      return failure();
    return selectLinearConfig(arch, elementType, 64, dv);
  }
  return selectTileConfig(arch, elementType, d, dv, hookProfile(pattern), why);
}

std::optional<TilingDescription> mlir::attn::describeTiling(PatternOp pattern,
                                                            const KernelTarget &target) {
  Type elementType = parseElementType(pattern.getContext(), target.elementType);
  if (!elementType || pattern.getUnique<LinearOp>())
    return std::nullopt;
  auto [d, dv] = headDimsFor(pattern, target);
  std::string why;
  FailureOr<TileConfig> config = selectConfig(pattern, target.arch, elementType, d, dv, &why);
  if (failed(config))
    return std::nullopt;
  TilingDescription tiling;
  tiling.text = llvm::formatv("template {0}: tile {1} x {2}, {3} warps, {4} stages; {5}",
                              stringifyTileTemplate(config->kernelTemplate), config->blockM,
                              config->blockN, config->warps, config->stages, why)
                    .str();
  tiling.hopper = config->kernelTemplate == TileTemplate::Sm90;
  tiling.blockM = config->blockM;
  tiling.blockN = config->blockN;
  return tiling;
}

std::optional<std::string> mlir::attn::unsupportedReason(PatternOp pattern,
                                                         const KernelTarget &target) {
  MLIRContext *ctx = pattern.getContext();
  Type elementType = parseElementType(ctx, target.elementType);
  if (!elementType)
    return "unknown element type '" + target.elementType + "' (expected bf16 or f16)";
  auto [d, dv] = headDimsFor(pattern, target);
  if (failed(selectConfig(pattern, target.arch, elementType, d, dv))) {
    std::string reason = ("no kernel configuration for arch " + target.arch + ", " +
                          target.elementType + ", head dims " + Twine(d) + "/" + Twine(dv))
                             .str();
    auto linear = pattern.getUnique<LinearOp>();
    if (linear && getFeatureMap(linear) != FeatureMap::Elementwise)
      reason += " (its feature map gives " + std::to_string(getFeatureDim(linear, d)) +
                " features; the kernels take head dims 16, 32, 64, 128 and at most " +
                std::to_string(kMaxFeatureDim) + " features)";
    else {
      const TileTemplate t = linear                    ? TileTemplate::Linear
                             : target.arch == "sm_90a" ? TileTemplate::Sm90
                                                       : TileTemplate::Sm80;
      ArrayRef<int64_t> dims = templateHeadDims(t);
      std::string list;
      for (auto [i, dim] : llvm::enumerate(dims))
        list += (i == 0 ? "" : i + 1 == dims.size() ? " and " : ", ") + std::to_string(dim);
      reason += " (the " +
                std::string(t == TileTemplate::Sm80 ? "mma.sync" : stringifyTileTemplate(t)) +
                " template takes head dims " + list + ")";
    }
    return reason;
  }
  return std::nullopt;
}

/// Rewrites float divisions by a constant in the kernel's hooks as multiplications by its
/// reciprocal: an IEEE f32 division is a dozen instructions with a slow path, per score
/// (softcap's s / cap), a multiplication one; the result differs by at most an ulp. The pattern
/// (and so the float64 reference) keeps the exact division.
static void multiplyByReciprocals(KernelOp kernel) {
  kernel.walk([](arith::DivFOp div) {
    FloatAttr divisor;
    if (!matchPattern(div.getRhs(), m_Constant(&divisor)))
      return;
    double value = divisor.getValueAsDouble();
    if (value == 0.0 || !std::isfinite(value) || !std::isfinite(1.0 / value))
      return;
    OpBuilder b(div);
    Value reciprocal =
        arith::ConstantOp::create(b, div.getLoc(), b.getFloatAttr(div.getType(), 1.0 / value));
    div.replaceAllUsesWith(
        arith::MulFOp::create(b, div.getLoc(), div.getLhs(), reciprocal).getResult());
    div.erase();
  });
}

/// The positive finite constant `value` multiplies by, when it is `x * C` or `C * x` with C
/// such a constant; sets `other` to x.
static std::optional<double> constantFactor(Value value, Value &other) {
  auto mul = value.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return std::nullopt;
  for (auto [c, x] :
       {std::pair(mul.getRhs(), mul.getLhs()), std::pair(mul.getLhs(), mul.getRhs())}) {
    FloatAttr factor;
    if (matchPattern(c, m_Constant(&factor)) && factor.getValueAsDouble() > 0.0 &&
        std::isfinite(factor.getValueAsDouble())) {
      other = x;
      return factor.getValueAsDouble();
    }
  }
  return std::nullopt;
}

/// Takes constant factors out of a softmax kernel's score modifier, onto the kernel
/// (score_in_scale, score_out_scale): where every use of the score s is s * C, the template
/// multiplies by c * C once instead of by c and C per score; where the yielded value is x * C'
/// (C' > 0, so the row maximum is the same key's), the softmax's log2 factor takes C'.
/// Softcap's cap * tanh(s / cap) loses both multiplications. ATTNC_SCORE_SCALE_FOLD=0 leaves the
/// modifier whole (measurements).
static void foldScoreScales(KernelOp kernel) {
  auto scoreMod = kernel.getUnique<ScoreModOp>();
  if (!scoreMod || kernel.getNormalizer() != NormalizerKind::Softmax)
    return;
  if (const char *env = std::getenv("ATTNC_SCORE_SCALE_FOLD"); env && std::string(env) == "0")
    return;
  Block &body = scoreMod.getBody().front();
  Builder builder(kernel);
  // The input: every use of s is a multiplication by the same constant.
  Value s = body.getArgument(0);
  std::optional<double> in;
  for (OpOperand &use : s.getUses()) {
    auto mul = dyn_cast<arith::MulFOp>(use.getOwner());
    Value x;
    std::optional<double> c = mul ? constantFactor(mul.getResult(), x) : std::nullopt;
    if (!c || x != s || (in && *in != *c)) {
      in.reset();
      break;
    }
    in = c;
  }
  if (in) {
    for (Operation *mul : llvm::make_early_inc_range(s.getUsers())) {
      mul->getResult(0).replaceAllUsesWith(s);
      mul->erase();
    }
    kernel.setScoreInScaleAttr(builder.getF64FloatAttr(*in));
  }
  // The output: the yielded value is a multiplication by a positive constant.
  Operation *yield = body.getTerminator();
  Value x;
  if (std::optional<double> out = constantFactor(yield->getOperand(0), x)) {
    Operation *mul = yield->getOperand(0).getDefiningOp();
    yield->setOperand(0, x);
    if (mul->use_empty())
      mul->erase();
    kernel.setScoreOutScaleAttr(builder.getF64FloatAttr(*out));
  }
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (isa<arith::ConstantOp>(op) && op.use_empty())
      op.erase();
}

static LogicalResult lowerPattern(PatternOp pattern, const KernelTarget &target, Type elementType) {
  const bool linear = bool(pattern.getUnique<LinearOp>());
  if (!linear && (!pattern.getUnique<KvRangeOp>() || !pattern.getUnique<TileFullOp>() ||
                  !pattern.getUnique<TileEmptyOp>()))
    return pattern.emitOpError("must be classified first (run attn-classify-blocks)");
  if (std::optional<std::string> reason = unsupportedReason(pattern, target))
    return pattern.emitOpError(*reason);

  auto [d, dv] = headDimsFor(pattern, target);
  TileConfig config = *selectConfig(pattern, target.arch, elementType, d, dv);
  auto normalize = pattern.getUnique<NormalizeOp>();

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
      builder.getI64IntegerAttr(config.blockM), builder.getI64IntegerAttr(config.blockN),
      builder.getI64IntegerAttr(config.warps), builder.getI64IntegerAttr(config.stages),
      TileTemplateAttr::get(ctx, config.kernelTemplate),
      NormalizerKindAttr::get(ctx, normalize.getKind()),
      builder.getF64FloatAttr(normalize.getEffectiveScale(d)), normalize.getBiasAttr(),
      pattern.getVarlenAttr(), pattern.getBlockMapAttr(), /*score_in_scale=*/FloatAttr(),
      /*score_out_scale=*/FloatAttr());
  Block *body = builder.createBlock(&kernel.getBody());
  builder.setInsertionPointToEnd(body);
  for (Operation &op : pattern.getBody().front())
    if (isa<InputOp, ScalarOp, MaskOp, ScoreModOp, WeightOp, KvRangeOp, TileFullOp, TileEmptyOp,
            LinearOp, FeatureOp, DecayOp>(op))
      builder.clone(op);
  multiplyByReciprocals(kernel);
  foldScoreScales(kernel);
  return success();
}

/// A composite's plan: whether one branch's forward kernel applies the combine in its epilogue
/// (`epilogue_branch`), saving the combine launch and the write and re-read of that branch's
/// output. The softmax-family templates have that epilogue (combineWithParts); the linear
/// template writes O from several passes (the split's, the feature slices' reduce) and has
/// none. The last such branch with a kernel for this target is chosen; the composite runs it
/// after the others. Its branches themselves are never fused into one kernel (attnc explain
/// says why).
static void planComposite(CompositeOp composite) {
  ModuleOp module = composite->getParentOfType<ModuleOp>();
  std::optional<int64_t> chosen;
  for (auto [index, branch] : llvm::enumerate(getBranchPatterns(composite))) {
    if (!branch || branch.getUnique<LinearOp>())
      continue;
    for (KernelOp kernel : module.getOps<KernelOp>())
      if (kernel.getPattern() == branch.getSymName())
        chosen = int64_t(index);
  }
  if (chosen)
    composite.setEpilogueBranchAttr(Builder(composite).getI64IntegerAttr(*chosen));
  else
    composite.removeEpilogueBranchAttr();
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
    KernelTarget target{elementType, headDim, headDimV, arch, skipUnsupported};
    SmallVector<PatternOp> patterns(getOperation().getOps<PatternOp>());
    for (PatternOp pattern : patterns) {
      if (skipUnsupported && unsupportedReason(pattern, target))
        continue;
      if (failed(lowerPattern(pattern, target, elemType)))
        return signalPassFailure();
    }
    for (CompositeOp composite : getOperation().getOps<CompositeOp>())
      planComposite(composite);
  }
};
} // namespace
