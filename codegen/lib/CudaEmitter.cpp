//===- CudaEmitter.cpp - Kernel-level attn IR to CUDA C++ ---------------------===//
//
// Prints each attn.kernel as (linear kernels: emitLinearKernel)
//   #include "attnc/fwd_sm80.cuh"
//   struct <name>_hooks { kHasMask, kHasScoreMod, kvRange, tileFull, mask, scoreMod };
//   extern "C" __global__ void attnc_<name>(const attnc::FwdParams p) { template<...>(p); }
// The template carries the machinery; the emitter adds only the pattern's expressions.
//
//===----------------------------------------------------------------------===//
#include "attn/Codegen/CudaEmitter.h"
#include "RegionPrinter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::attn;

KernelLaunchSpec mlir::attn::getLaunchSpec(KernelOp kernel) {
  KernelLaunchSpec spec;
  spec.pattern = kernel.getPattern().str();
  spec.entryName = ("attnc_" + kernel.getSymName()).str();
  spec.normalizer = stringifyNormalizerKind(kernel.getNormalizer()).str();
  if (auto pattern = SymbolTable::lookupNearestSymbolFrom<PatternOp>(
          kernel, StringAttr::get(kernel.getContext(), kernel.getPattern()))) {
    spec.heads = pattern.getHeads().value_or(0);
    spec.kvHeads = pattern.getKvHeads().value_or(spec.heads);
  }
  spec.elementType = kernel.getElementType().isBF16() ? "bf16" : "f16";
  spec.headDim = kernel.getHeadDim();
  spec.headDimV = kernel.getHeadDimV();
  spec.blockM = kernel.getBlockM();
  spec.blockN = kernel.getBlockN();
  spec.warps = kernel.getWarps();
  spec.stages = kernel.getStages();
  spec.kernelTemplate = stringifyTileTemplate(kernel.getKernelTemplate()).str();
  spec.scale = kernel.getScale().convertToDouble();
  spec.varlen = kernel.getVarlen();
  spec.evenWork = hasEvenWorkTiles(kernel);
  if (auto linear = kernel.getUnique<LinearOp>()) {
    spec.stepEntry = spec.entryName + "_step";
    spec.causal = linear.getCausal();
    auto decay = kernel.getUnique<DecayOp>();
    spec.gatePerKeyDim = decay && decay.readsKeyDim();
    spec.gatePerToken = decay && decay.readsPosition() && !decay.readsKeyDim();
    if (getFeatureMap(linear) != FeatureMap::Elementwise) {
      spec.featureMap = linear.getFeatureMap()->str();
      spec.stateDim = getLinearStateDim(linear, spec.headDim);
      spec.featureEntry = spec.entryName + "_features";
    }
  } else if (spec.headDim <= 128 && spec.headDimV <= 128) { // decode_sm80.cuh's limits
    spec.decodeEntry = spec.entryName + "_decode";
    spec.mergeEntry = spec.entryName + "_merge";
  }
  if (kernel.getBlockMap()) {
    spec.blockMapEntry = spec.entryName + "_blockmap";
    auto mask = kernel.getUnique<MaskOp>();
    spec.blockMapPerHead = mask && !mask.getBody().getArgument(1).use_empty();
  }
  for (Operation &op : kernel.getBody().front()) {
    if (auto input = dyn_cast<InputOp>(op)) {
      KernelLaunchSpec::Input in;
      in.name = input.getName().str();
      in.isFloat = input.getElementType().isF32();
      in.isElem = isa<NoneType>(input.getElementType());
      for (Attribute dim : input.getShape())
        in.shape.push_back(isa<IntegerAttr>(dim) ? std::to_string(cast<IntegerAttr>(dim).getInt())
                                                 : cast<StringAttr>(dim).getValue().str());
      spec.inputs.push_back(std::move(in));
    } else if (auto scalar = dyn_cast<ScalarOp>(op)) {
      KernelLaunchSpec::ScalarArg arg;
      arg.name = scalar.getName().str();
      if (FloatAttr value = scalar.getDefaultValueAttr())
        arg.defaultValue = value.getValueAsDouble();
      spec.scalars.push_back(std::move(arg));
    }
  }
  return spec;
}

static const char *kParams = "const attnc::FwdParams &p";

/// Whether the kernel's tile_empty can ever be true (anything but `yield false`).
static bool hasTileEmpty(KernelOp kernel) {
  auto empty = kernel.getUnique<TileEmptyOp>();
  Value answer = empty.getBody().front().getTerminator()->getOperand(0);
  auto constant = answer.getDefiningOp<arith::ConstantOp>();
  auto value = constant ? dyn_cast<IntegerAttr>(constant.getValue()) : IntegerAttr();
  return !value || !value.getValue().isZero();
}

/// Prints `static __device__ __forceinline__ <ret> <name>(<params>) { <region> }`, or the
/// `fallback` body when the kernel has no such hook.
static LogicalResult printHook(Operation *hook, StringRef ret, StringRef name, StringRef params,
                               ArrayRef<std::string> argNames, ArrayRef<std::string> resultTargets,
                               StringRef fallback, llvm::raw_ostream &os) {
  os << "  static __device__ __forceinline__ " << ret << " " << name << "(" << params << ") {\n";
  if (hook) {
    if (failed(printRegionBody(hook->getRegion(0), argNames, resultTargets, os, "    ")))
      return failure();
  } else {
    os << "    " << fallback << "\n";
  }
  os << "  }\n";
  return success();
}

/// `composite`'s combine as the hook `combine<kCols>(p, b, h, q, x, y)` over kCols columns of
/// query row q: y[c] = combine(b, h, q, x[0][c], ..., x[n-1][c]), x the branches' outputs. What
/// does not read x (a per-head mixing gate) is computed once per call, not once per column.
static LogicalResult printCombineHook(CompositeOp composite, llvm::raw_ostream &os) {
  const size_t branches = composite.getBranches().size();
  SmallVector<std::string> argNames = {"b", "h", "q"};
  for (size_t i = 0; i < branches; ++i)
    argNames.push_back("x[" + std::to_string(i) + "][c]");
  os << "  template <int kCols>\n  static __device__ __forceinline__ void combine(" << kParams
     << ", int b, int h, int q, const float (&x)[" << branches
     << "][kCols], float (&y)[kCols]) {\n";
  if (failed(printRegionBodyHoisted(composite.getUnique<CombineOp>().getBody(), argNames,
                                    /*firstVarying=*/3,
                                    "#pragma unroll\n    for (int c = 0; c < kCols; ++c)", "y[c]",
                                    os, "    ")))
    return failure();
  os << "  }\n";
  return success();
}

/// The composite whose plan runs its combine in `kernel`'s epilogue (epilogue_branch names
/// kernel's pattern), with that branch's index.
static std::optional<std::pair<CompositeOp, unsigned>> epilogueComposite(KernelOp kernel) {
  auto module = kernel->getParentOfType<ModuleOp>();
  if (!module)
    return std::nullopt;
  for (CompositeOp composite : module.getOps<CompositeOp>()) {
    std::optional<int64_t> branch = composite.getEpilogueBranch();
    if (branch &&
        cast<FlatSymbolRefAttr>(composite.getBranches()[*branch]).getValue() == kernel.getPattern())
      return std::pair{composite, unsigned(*branch)};
  }
  return std::nullopt;
}

/// A linear kernel: the hooks of linear_sm80.cuh / linear_step.cuh (feature map, decay) and two
/// entry points, the chunked prefill and the recurrent step.
static LogicalResult emitLinearKernel(KernelOp kernel, const KernelLaunchSpec &spec,
                                      llvm::raw_ostream &os) {
  std::string hooks = (kernel.getSymName() + "_hooks").str();
  auto feature = kernel.getUnique<FeatureOp>();
  auto decay = kernel.getUnique<DecayOp>();
  os << "// attnc kernel " << spec.entryName << ": linear pattern @" << kernel.getPattern() << ", "
     << spec.elementType << ", head dims " << spec.headDim << "/" << spec.headDimV << ", chunk "
     << spec.blockM << ", " << spec.blockN << " state columns per block, " << spec.warps
     << " warps\n";
  os << "#include \"attnc/linear_sm80.cuh\"\n#include \"attnc/linear_step.cuh\"\n"
        "#include \"attnc/hooks.cuh\"\n\n";
  os << "struct " << hooks << " {\n";
  os << "  static constexpr int kHeadDim = " << spec.headDim << "; // an input's extent D\n";
  os << "  static constexpr bool kCausal = "
     << (kernel.getUnique<LinearOp>().getCausal() ? "true" : "false") << ";\n";
  os << "  static constexpr bool kHasFeature = " << (feature ? "true" : "false") << ";\n";
  os << "  static constexpr bool kHasDecay = " << (decay ? "true" : "false") << ";\n";
  // A decay that reads the token position is a per-token gate: the template accumulates it
  // along each chunk instead of raising one gamma to powers.
  const bool perToken = decay && decay.readsPosition();
  os << "  static constexpr bool kDecayPerToken = " << (perToken ? "true" : "false") << ";\n";
  // One that reads the key dimension d is a gate per key dimension (a row of the state each).
  const bool perKeyDim = decay && decay.readsKeyDim();
  os << "  static constexpr bool kDecayPerKeyDim = " << (perKeyDim ? "true" : "false") << ";\n";
  os << "  static constexpr int kNormalizer = attnc::kNormalize"
     << (kernel.getNormalizer() == NormalizerKind::Sum ? "Sum" : "None") << ";\n";
  // A map of whole rows (linear_features.cuh): its kind, F, and a hedgehog map's weights.
  LinearOp linear = kernel.getUnique<LinearOp>();
  const FeatureMap map = getFeatureMap(linear);
  int64_t stateRows = spec.headDim;
  if (map != FeatureMap::Elementwise) {
    stateRows = getLinearStateDim(linear, spec.headDim);
    os << "  static constexpr int kFeatureMap = attnc::kFeatureMap"
       << (map == FeatureMap::Taylor2 ? "Taylor2" : "Hedgehog") << ";\n";
    os << "  static constexpr int kFeatureDim = " << getFeatureDim(linear, spec.headDim) << ";\n";
    if (InputOp weights = getFeatureWeights(linear)) {
      int slot = 0;
      for (Operation &op : kernel.getBody().front())
        if (auto input = dyn_cast<InputOp>(op)) {
          if (input == weights)
            break;
          ++slot;
        }
      os << "  static __device__ __forceinline__ const float *featureWeights(" << kParams
         << ") {\n    return static_cast<const float *>(p.inputs[" << slot << "]);\n  }\n";
    }
  }
  if (failed(
          printHook(feature, "float", "feature", "float x", {"x"}, {"return"}, "return x;", os)) ||
      failed(printHook(decay, "float", "decay",
                       Twine(kParams).concat(", int b, int h, int t, int d").str(),
                       {"b", "h", "t", "d"}, {"return"}, "return 1.f;", os)))
    return failure();
  // log2 of the decay, which the chunked kernel works with: exp(x) yields x log2(e) directly.
  os << "  static __device__ __forceinline__ float decayLog2(" << kParams
     << ", int b, int h, int t, int d) {\n";
  if (!decay)
    os << "    return 0.f;\n";
  else if (failed(printRegionBodyLog2(decay.getBody(), {"b", "h", "t", "d"}, os, "    ")))
    return failure();
  os << "  }\n";
  os << "};\n\n";
  const char *elem = spec.elementType == "bf16" ? "attnc::bf16" : "attnc::half";
  // The chunked kernel's key dim is D, or a row map's slice of 64 features; the step's the
  // state's rows.
  auto args = [&](int64_t keyDim) {
    return llvm::formatv("<{0}, {1}, {2}, {3}>(p);\n", hooks, elem, keyDim, spec.headDimV).str();
  };
  os << "extern \"C\" __global__ void __launch_bounds__(attnc::kLinearThreads, 2) "
     << spec.entryName << "(const attnc::FwdParams p) {\n  attnc::linearSm80"
     << args(map == FeatureMap::Elementwise ? spec.headDim : 64) << "}\n\n";
  os << "extern \"C\" __global__ void __launch_bounds__(attnc::kLinearStepThreads) "
     << spec.stepEntry << "(const attnc::FwdParams p) {\n  attnc::linearStep" << args(stateRows)
     << "}\n";
  if (!spec.featureEntry.empty())
    os << "\nextern \"C\" __global__ void __launch_bounds__(attnc::kLinearThreads) "
       << spec.featureEntry << "(const attnc::FwdParams p) {\n  attnc::linearRowPasses<" << hooks
       << ", " << elem << ", " << spec.headDimV << ">(p);\n}\n";
  return success();
}

LogicalResult mlir::attn::emitKernelSource(KernelOp kernel, llvm::raw_ostream &os) {
  KernelLaunchSpec spec = getLaunchSpec(kernel);
  if (kernel.getKernelTemplate() == TileTemplate::Linear)
    return emitLinearKernel(kernel, spec, os);
  std::string hooks = (kernel.getSymName() + "_hooks").str();
  auto mask = kernel.getUnique<MaskOp>();
  auto scoreMod = kernel.getUnique<ScoreModOp>();

  os << "// attnc kernel " << spec.entryName << ": pattern @" << kernel.getPattern() << ", "
     << spec.elementType << ", head dims " << spec.headDim << "/" << spec.headDimV << ", tile "
     << spec.blockM << "x" << spec.blockN << ", " << spec.warps << " warps, " << spec.stages
     << " stages, template " << stringifyTileTemplate(kernel.getKernelTemplate()) << "\n";
  const bool hopper = kernel.getKernelTemplate() == TileTemplate::Sm90;
  os << "#include \"attnc/" << (hopper ? "fwd_sm90" : "fwd_sm80")
     << ".cuh\"\n#include \"attnc/decode_sm80.cuh\"\n#include \"attnc/hooks.cuh\"\n";
  if (kernel.getBlockMap())
    os << "#include \"attnc/blockmap.cuh\"\n";
  os << "\n";
  os << "struct " << hooks << " {\n";
  os << "  static constexpr int kHeadDim = " << spec.headDim << "; // an input's extent D\n";
  os << "  static constexpr bool kHasMask = " << (mask ? "true" : "false") << ";\n";
  os << "  static constexpr bool kHasScoreMod = " << (scoreMod ? "true" : "false") << ";\n";
  const bool blockMap = kernel.getBlockMap();
  os << "  static constexpr bool kHasTileEmpty = "
     << (blockMap || hasTileEmpty(kernel) ? "true" : "false") << ";\n";
  // MUFU operations per score in the score modifier (the template then moves some of the
  // softmax's exponentials to the FMA pipe).
  const int64_t mufuOps = scoreMod ? countMufuOps(scoreMod) : 0;
  os << "  static constexpr int kMufuScoreOps = " << mufuOps << ";\n";
  // Operations of the score modifier (the Hopper template's epilogue takes extra registers
  // only where the modifier leaves them).
  int64_t scoreModOps = 0;
  if (scoreMod)
    scoreMod.getBody().walk([&](Operation *) { ++scoreModOps; });
  os << "  static constexpr int kScoreModOps = " << scoreModOps << ";\n";
  // The tiles of the run-time block map (0: none): the forward kernels read a query tile's row
  // of it (tiles.cuh), the decode kernel's 64-key tiles may straddle two of its tiles.
  os << "  static constexpr int kBlockMapN = " << (blockMap ? spec.blockN : 0) << ";\n";
  os << "  static constexpr int kBlockMapM = " << (blockMap ? spec.blockM : 0) << ";\n";
  auto weight = kernel.getUnique<WeightOp>();
  os << "  static constexpr bool kHasWeight = " << (weight ? "true" : "false") << ";\n";
  os << "  static constexpr int kNormalizer = attnc::kNormalize"
     << (kernel.getNormalizer() == NormalizerKind::Softmax   ? "Softmax"
         : kernel.getNormalizer() == NormalizerKind::Sigmoid ? "Sigmoid"
                                                             : "None")
     << ";\n";
  // Constant factors attn-lower-to-kernel took out of the score modifier (1 where none).
  auto factor = [](FloatAttr attr) {
    return llvm::formatv("{0:e9}f", attr ? attr.getValueAsDouble() : 1.0).str();
  };
  os << "  static constexpr float kScoreInScale = " << factor(kernel.getScoreInScaleAttr())
     << ";\n";
  os << "  static constexpr float kScoreOutScale = " << factor(kernel.getScoreOutScaleAttr())
     << ";\n";
  os << "  static constexpr float kBias = "
     << llvm::formatv("{0:e9}f",
                      kernel.getBiasAttr() ? kernel.getBiasAttr().getValueAsDouble() : 0.0)
     << ";\n";

  std::string kvParams = (Twine(kParams) + ", int b, int h, int q0, int q1, int seqlenQ, "
                                           "int seqlenK, int &lo, int &hi")
                             .str();
  if (failed(printHook(kernel.getUnique<KvRangeOp>(), "void", "kvRange", kvParams,
                       {"b", "h", "q0", "q1", "seqlenQ", "seqlenK"}, {"lo", "hi"}, "", os)))
    return failure();
  std::string tileParams = (Twine(kParams) + ", int b, int h, int q0, int q1, int k0, int k1, "
                                             "int seqlenQ, int seqlenK")
                               .str();
  if (blockMap) {
    // The tile functions read the map built at run time by the builder entry point below.
    std::string at =
        llvm::formatv("attnc::blockMapAt<{0}, {1}>(p, b, h, q0, k0)", spec.blockM, spec.blockN)
            .str();
    os << "  static __device__ __forceinline__ bool tileFull(" << tileParams << ") {\n    return "
       << at << " == attnc::kTileFull;\n  }\n";
    os << "  static __device__ __forceinline__ bool tileEmpty(" << tileParams << ") {\n    return "
       << at << " == attnc::kTileEmpty;\n  }\n";
  } else if (failed(printHook(kernel.getUnique<TileFullOp>(), "bool", "tileFull", tileParams,
                              {"b", "h", "q0", "q1", "k0", "k1", "seqlenQ", "seqlenK"}, {"return"},
                              "", os)) ||
             failed(printHook(kernel.getUnique<TileEmptyOp>(), "bool", "tileEmpty", tileParams,
                              {"b", "h", "q0", "q1", "k0", "k1", "seqlenQ", "seqlenK"}, {"return"},
                              "", os))) {
    return failure();
  }
  std::string maskParams =
      (Twine(kParams) + ", int b, int h, int q, int k, int seqlenQ, int seqlenK").str();
  if (failed(printHook(mask, "bool", "mask", maskParams, {"b", "h", "q", "k", "seqlenQ", "seqlenK"},
                       {"return"}, "return true;", os)))
    return failure();
  if (failed(printHook(weight, "float", "weight", maskParams,
                       {"b", "h", "q", "k", "seqlenQ", "seqlenK"}, {"return"}, "return 1.f;", os)))
    return failure();
  std::string scoreParams =
      (Twine(kParams) + ", float s, int b, int h, int q, int k, int seqlenQ, int seqlenK").str();
  if (failed(printHook(scoreMod, "float", "scoreMod", scoreParams,
                       {"s", "b", "h", "q", "k", "seqlenQ", "seqlenK"}, {"return"}, "return s;",
                       os)))
    return failure();
  // A composite's epilogue branch: its combine (combine.cuh's combineWithParts), applied when
  // the composite passes the other branches' outputs.
  std::optional<std::pair<CompositeOp, unsigned>> combine = epilogueComposite(kernel);
  os << "  static constexpr int kCombineBranches = "
     << (combine ? combine->first.getBranches().size() : 0) << ";\n";
  if (combine) {
    os << "  static constexpr int kCombineSelf = " << combine->second << "; // composite @"
       << combine->first.getSymName() << "\n";
    if (failed(printCombineHook(combine->first, os)))
      return failure();
  }
  os << "};\n\n";

  const char *elem = spec.elementType == "bf16" ? "attnc::bf16" : "attnc::half";
  // The JIT compiles the forward entry (-DATTNC_NO_DECODE) and, on the first call with few
  // query rows, the decode entries (-DATTNC_DECODE_ONLY) as two programs, so that a pattern
  // used only for prefill does not pay for the decode kernel's compile; AOT compiles all.
  os << "#ifndef ATTNC_DECODE_ONLY\n";
  if (hopper) {
    os << "extern \"C\" __global__ void __launch_bounds__(attnc::fwdSm90Threads(" << spec.blockM
       << "), 1) " << spec.entryName
       << "(const attnc::FwdParams p, const __grid_constant__ attnc::FwdTmaMaps maps) {\n";
    os << "  attnc::fwdSm90<" << hooks << ", " << elem << ", " << spec.headDim << ", "
       << spec.headDimV << ", " << spec.blockM << ", " << spec.blockN << ", " << spec.stages
       << ">(p, maps);\n";
  } else {
    os << "extern \"C\" __global__ void __launch_bounds__(" << spec.warps * 32 << ", 1) "
       << spec.entryName << "(const attnc::FwdParams p) {\n";
    os << "  attnc::fwdSm80<" << hooks << ", " << elem << ", " << spec.headDim << ", "
       << spec.headDimV << ", " << spec.blockM << ", " << spec.blockN << ", " << spec.warps << ", "
       << spec.stages << ">(p);\n";
  }
  os << "}\n#endif\n";
  // Few query rows per sequence (decode): the split-KV kernel and the merge of its splits.
  if (!spec.decodeEntry.empty()) {
    std::string decodeArgs =
        llvm::formatv("<{0}, {1}, {2}, {3}, attnc::decodeStages({2}, {3})>(p);\n", hooks, elem,
                      spec.headDim, spec.headDimV)
            .str();
    os << "\n#ifndef ATTNC_NO_DECODE\nextern \"C\" __global__ void "
          "__launch_bounds__(attnc::kDecodeThreads, 2) "
       << spec.decodeEntry << "(const attnc::FwdParams p) {\n  attnc::decodeSm80" << decodeArgs
       << "}\n";
    os << "\nextern \"C\" __global__ void __launch_bounds__(attnc::kDecodeMergeThreads) "
       << spec.mergeEntry << "(const attnc::FwdParams p) {\n  attnc::decodeMerge<" << hooks << ", "
       << elem << ", " << spec.headDimV << ">(p);\n}\n#endif\n";
  }
  if (blockMap) {
    os << "\nextern \"C\" __global__ void "
          "__launch_bounds__(attnc::kBlockMapThreads, attnc::kBlockMapMinBlocks) "
       << spec.blockMapEntry << "(const attnc::FwdParams p, unsigned char *map, int pass) {\n";
    const std::string args =
        llvm::formatv("<{0}, {1}, {2}>(p, map)", hooks, spec.blockM, spec.blockN).str();
    os << "  if (pass == 0)\n    attnc::buildBlockMap" << args << ";\n";
    os << "  else\n    attnc::buildRowBounds" << args << ";\n";
    os << "}\n";
  }
  return success();
}

std::string mlir::attn::getCombineEntryName(CompositeOp composite, StringRef elementType,
                                            int64_t headDim, int64_t headDimV) {
  return llvm::formatv("attnc_{0}_{1}_d{2}{3}_combine", composite.getSymName(), elementType,
                       headDim,
                       headDimV == headDim ? std::string() : "_" + std::to_string(headDimV))
      .str();
}

LogicalResult mlir::attn::emitCombineSource(CompositeOp composite, StringRef elementType,
                                            int64_t headDim, int64_t headDimV,
                                            llvm::raw_ostream &os) {
  const size_t branches = composite.getBranches().size();
  const std::string entry = getCombineEntryName(composite, elementType, headDim, headDimV);
  const std::string hooks = entry + "_hooks";
  os << "// attnc combine " << entry << ": composite @" << composite.getSymName() << " of "
     << branches << " branches, " << elementType << ", head dims " << headDim << "/" << headDimV
     << "\n";
  os << "#include \"attnc/combine.cuh\"\n#include \"attnc/hooks.cuh\"\n\n";
  os << "struct " << hooks << " {\n";
  os << "  static constexpr int kHeadDim = " << headDim << "; // an input's extent D\n";
  if (failed(printCombineHook(composite, os)))
    return failure();
  os << "};\n\n";
  os << "extern \"C\" __global__ void __launch_bounds__(attnc::kCombineThreads) " << entry
     << "(const attnc::FwdParams p, const attnc::CombineParams c) {\n";
  os << "  attnc::combineOutputs<" << hooks << ", "
     << (elementType == "bf16" ? "attnc::bf16" : "attnc::half") << ", " << headDimV << ", "
     << branches << ">(p, c);\n}\n";
  return success();
}

LogicalResult mlir::attn::emitModuleSource(ModuleOp module, llvm::raw_ostream &os) {
  bool any = false;
  for (KernelOp kernel : module.getOps<KernelOp>()) {
    if (any)
      os << "\n";
    if (failed(emitKernelSource(kernel, os)))
      return failure();
    any = true;
  }
  if (!any)
    return module.emitError("no attn.kernel to emit (run the attn-pipeline first)");
  return success();
}

void mlir::attn::registerToCudaTranslation() {
  TranslateFromMLIRRegistration registration(
      "attn-to-cuda", "Print attn.kernel ops as CUDA C++",
      [](Operation *op, llvm::raw_ostream &os) -> LogicalResult {
        auto module = dyn_cast<ModuleOp>(op);
        if (!module)
          return op->emitError("expected a builtin.module");
        return emitModuleSource(module, os);
      },
      [](DialectRegistry &registry) { registerAttnDialects(registry); });
}
