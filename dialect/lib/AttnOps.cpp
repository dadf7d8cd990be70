//===- AttnOps.cpp - attn dialect operations and verifiers --------------------===//
//
// Verifiers for every structural constraint of the dialect: region signatures, the parts a
// pattern may hold, and the kernel configurations the device library supports.
//
//===----------------------------------------------------------------------===//
#include "attn/Dialect/AttnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <array>
#include <cmath>

using namespace mlir;
using namespace mlir::attn;

#define GET_OP_CLASSES
#include "attn/Dialect/AttnOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Region signatures
//===----------------------------------------------------------------------===//

RegionSignature mlir::attn::getRegionSignature(Operation *regionOp) {
  MLIRContext *ctx = regionOp->getContext();
  Type idx = IndexType::get(ctx);
  Type i1 = IntegerType::get(ctx, 1);
  Type f32 = Float32Type::get(ctx);
  RegionSignature sig;
  if (isa<MaskOp>(regionOp)) {
    sig.args.assign(kMaskIndexArgs, idx);
    sig.results = {i1};
  } else if (isa<ScoreModOp>(regionOp)) {
    sig.args.push_back(f32);
    sig.args.append(kScoreModIndexArgs, idx);
    sig.results = {f32};
  } else if (isa<KvRangeOp>(regionOp)) {
    sig.args.assign(kKvRangeArgs, idx);
    sig.results = {idx, idx};
  } else if (isa<TileFullOp, TileEmptyOp>(regionOp)) {
    sig.args.assign(kTileFullArgs, idx);
    sig.results = {i1};
  } else if (isa<WeightOp>(regionOp)) {
    sig.args.assign(kMaskIndexArgs, idx);
    sig.results = {f32};
  } else if (isa<FeatureOp>(regionOp)) {
    sig.args = {f32};
    sig.results = {f32};
  } else if (isa<DecayOp>(regionOp)) {
    sig.args.assign(kDecayArgs, idx);
    sig.results = {f32};
  } else if (isa<CombineOp>(regionOp)) {
    auto composite = dyn_cast_or_null<CompositeOp>(regionOp->getParentOp());
    sig.args.assign(kCombineIndexArgs, idx);
    sig.args.append(composite ? composite.getBranches().size() : 0, f32);
    sig.results = {f32};
  }
  return sig;
}

Block *mlir::attn::createRegionBlock(OpBuilder &builder, Region &region, const RegionSignature &sig,
                                     Location loc) {
  SmallVector<Location> locs(sig.args.size(), loc);
  return builder.createBlock(&region, region.end(), sig.args, locs);
}

/// Checks that the single block of `op`'s region has the signature of its kind and ends in an
/// attn.yield of the right types.
static LogicalResult verifyRegionSignature(Operation *op) {
  RegionSignature sig = getRegionSignature(op);
  Region &region = op->getRegion(0);
  if (region.empty())
    return op->emitOpError("expects a non-empty region");
  Block &block = region.front();
  if (block.getArgumentTypes() != TypeRange(sig.args))
    return op->emitOpError("expects ")
           << sig.args.size() << " region arguments of types (" << TypeRange(sig.args) << "), got ("
           << block.getArgumentTypes() << ")";
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op->emitOpError("region must end in attn.yield");
  if (yield.getValues().getTypes() != TypeRange(sig.results))
    return yield.emitOpError("must yield (") << TypeRange(sig.results) << ") in '" << op->getName()
                                             << "', got (" << yield.getValues().getTypes() << ")";
  return success();
}

LogicalResult MaskOp::verify() { return verifyRegionSignature(*this); }
LogicalResult ScoreModOp::verify() { return verifyRegionSignature(*this); }
LogicalResult KvRangeOp::verify() { return verifyRegionSignature(*this); }
LogicalResult TileFullOp::verify() { return verifyRegionSignature(*this); }
LogicalResult TileEmptyOp::verify() { return verifyRegionSignature(*this); }
LogicalResult WeightOp::verify() { return verifyRegionSignature(*this); }
LogicalResult FeatureOp::verify() { return verifyRegionSignature(*this); }
LogicalResult DecayOp::verify() { return verifyRegionSignature(*this); }
LogicalResult CombineOp::verify() { return verifyRegionSignature(*this); }

//===----------------------------------------------------------------------===//
// Containers
//===----------------------------------------------------------------------===//

/// At most one op of each kind in `body` (declarations aside); returns failure on a duplicate.
static LogicalResult verifyUniqueParts(Operation *container, Block &body) {
  llvm::SmallDenseMap<OperationName, Operation *> seen;
  for (Operation &op : body) {
    if (isa<InputOp, ScalarOp>(op))
      continue;
    auto [it, inserted] = seen.try_emplace(op.getName(), &op);
    if (!inserted)
      return op.emitOpError("may appear only once in '") << container->getName() << "'";
  }
  return success();
}

/// Input and scalar names are unique within a container and fit the kernel argument block.
static LogicalResult verifyDeclarations(Operation *container, Block &body) {
  llvm::StringMap<Operation *> names;
  unsigned inputs = 0, scalars = 0;
  for (Operation &op : body) {
    StringRef name;
    if (auto input = dyn_cast<InputOp>(op)) {
      name = input.getName();
      ++inputs;
    } else if (auto scalar = dyn_cast<ScalarOp>(op)) {
      name = scalar.getName();
      ++scalars;
    } else {
      continue;
    }
    if (!names.try_emplace(name, &op).second)
      return op.emitOpError("redeclares '") << name << "'";
  }
  if (inputs > kMaxInputs)
    return container->emitOpError("reads ")
           << inputs << " input tensors, at most " << kMaxInputs << " are supported";
  if (scalars > kMaxScalars)
    return container->emitOpError("takes ")
           << scalars << " run-time scalars, at most " << kMaxScalars << " are supported";
  return success();
}

/// The parts of a linear pattern or kernel: no softmax-family hooks, a normaliser of the linear
/// family, and no decay without causality.
static LogicalResult verifyLinearParts(Operation *container, Block &body, NormalizeOp normalize) {
  for (Operation &op : body)
    if (isa<MaskOp, ScoreModOp, WeightOp, KvRangeOp, TileFullOp, TileEmptyOp>(op))
      return op.emitOpError("is not a part of a linear pattern");
  if (normalize && normalize.getKind() != NormalizerKind::None &&
      normalize.getKind() != NormalizerKind::Sum)
    return normalize.emitOpError("a linear pattern normalises with 'none' or 'sum'");
  LinearOp linear;
  DecayOp decay;
  for (Operation &op : body) {
    linear = linear ? linear : dyn_cast<LinearOp>(op);
    decay = decay ? decay : dyn_cast<DecayOp>(op);
  }
  if (decay && !linear.getCausal())
    return decay.emitOpError("needs a causal linear pattern (a decay weighs keys by their "
                             "distance to an earlier query)");
  if (linear.getFeatureWeights() && !linear.getFeatureMap())
    return linear.emitOpError("feature_weights goes with the \"hedgehog\" map, and only with it");
  if (std::optional<StringRef> map = linear.getFeatureMap()) {
    if (*map != "taylor2" && *map != "hedgehog")
      return linear.emitOpError("feature_map must be \"taylor2\" or \"hedgehog\", got \"")
             << *map << "\"";
    for (Operation &op : body)
      if (isa<FeatureOp>(op))
        return op.emitOpError("cannot go with a feature_map (one map per pattern)");
    if (decay && decay.readsKeyDim())
      return decay.emitOpError("a gate per key dimension cannot go with a feature_map (its "
                               "features are not the key dimensions)");
    if ((*map == "hedgehog") != linear.getFeatureWeights().has_value())
      return linear.emitOpError("feature_weights goes with the \"hedgehog\" map, and only with it");
    if (*map == "hedgehog") {
      InputOp weights = getFeatureWeights(linear);
      if (!weights)
        return linear.emitOpError("feature_weights names no input: '")
               << *linear.getFeatureWeights() << "'";
      ArrayAttr shape = weights.getShape();
      auto named = [&](unsigned i, StringRef size) {
        auto s = dyn_cast<StringAttr>(shape[i]);
        return s && s.getValue() == size;
      };
      auto width = shape.size() == 3 ? dyn_cast<IntegerAttr>(shape[2]) : IntegerAttr();
      if (!weights.getElementType().isF32() || !width || width.getInt() < 1 || !named(0, "H") ||
          !named(1, "D"))
        return weights.emitOpError("holds a hedgehog map's weights: it must be float[H, D, M] "
                                   "with M a number");
      if (2 * width.getInt() > kMaxFeatureDim)
        return weights.emitOpError("gives ") << 2 * width.getInt() << " features (2 M); at most "
                                             << kMaxFeatureDim << " are supported";
    }
  }
  return success();
}

int64_t mlir::attn::countMufuOps(ScoreModOp scoreMod) {
  int64_t count = 0;
  scoreMod.getBody().walk([&](Operation *op) {
    count +=
        isa<math::TanhOp, math::ExpOp, math::Exp2Op, math::LogOp, math::Log2Op, math::PowFOp>(op);
  });
  return count;
}

FeatureMap mlir::attn::getFeatureMap(LinearOp linear) {
  std::optional<StringRef> map = linear.getFeatureMap();
  if (!map)
    return FeatureMap::Elementwise;
  return *map == "taylor2" ? FeatureMap::Taylor2 : FeatureMap::Hedgehog;
}

InputOp mlir::attn::getFeatureWeights(LinearOp linear) {
  std::optional<StringRef> name = linear.getFeatureWeights();
  if (!name)
    return nullptr;
  for (Operation &op : *linear->getBlock())
    if (auto input = dyn_cast<InputOp>(op); input && input.getName() == *name)
      return input;
  return nullptr;
}

int64_t mlir::attn::getFeatureDim(LinearOp linear, int64_t headDim) {
  switch (getFeatureMap(linear)) {
  case FeatureMap::Elementwise:
    return headDim;
  case FeatureMap::Taylor2:
    return 1 + headDim + headDim * (headDim + 1) / 2;
  case FeatureMap::Hedgehog:
    if (InputOp weights = getFeatureWeights(linear))
      if (weights.getShape().size() == 3)
        if (auto width = dyn_cast<IntegerAttr>(weights.getShape()[2]))
          return 2 * width.getInt();
    return 0;
  }
  return 0;
}

int64_t mlir::attn::getLinearStateDim(LinearOp linear, int64_t headDim) {
  const int64_t f = getFeatureDim(linear, headDim);
  return getFeatureMap(linear) == FeatureMap::Elementwise ? f : (f + 63) / 64 * 64;
}

LogicalResult PatternOp::verify() {
  Block &body = getBody().front();
  if (failed(verifyUniqueParts(*this, body)))
    return failure();
  for (Operation &op : body)
    if (!isa<MaskOp, ScoreModOp, WeightOp, NormalizeOp, KvRangeOp, TileFullOp, TileEmptyOp, InputOp,
             ScalarOp, LinearOp, FeatureOp, DecayOp>(op))
      return op.emitOpError("is not a part of an attention pattern");
  auto normalize = getUnique<NormalizeOp>();
  if (!normalize)
    return emitOpError("needs an 'attn.normalize' op");
  if (getUnique<LinearOp>()) {
    if (failed(verifyLinearParts(*this, body, normalize)))
      return failure();
    if (getLse())
      return emitOpError("a linear pattern has no log-sum-exp output");
  } else {
    for (Operation &op : body)
      if (isa<FeatureOp, DecayOp>(op))
        return op.emitOpError("needs 'attn.linear' in the pattern");
    if (normalize.getKind() == NormalizerKind::Sum)
      return normalize.emitOpError("'sum' normalises linear patterns only");
  }
  if (failed(verifyDeclarations(*this, body)))
    return failure();
  auto positive = [&](std::optional<uint64_t> v, StringRef what) -> LogicalResult {
    if (v && static_cast<int64_t>(*v) <= 0)
      return emitOpError(what) << " must be positive, got " << static_cast<int64_t>(*v);
    return success();
  };
  if (failed(positive(getHeadDim(), "head_dim")) || failed(positive(getHeadDimV(), "head_dim_v")) ||
      failed(positive(getHeads(), "heads")) || failed(positive(getKvHeads(), "kv_heads")))
    return failure();
  if (getHeadDimV() && !getHeadDim())
    return emitOpError("head_dim_v needs head_dim");
  if (getKvHeads() && !getHeads())
    return emitOpError("kv_heads needs heads");
  if (getHeads() && getKvHeads() && *getHeads() % *getKvHeads() != 0)
    return emitOpError("heads (") << *getHeads() << ") must be a multiple of kv_heads ("
                                  << *getKvHeads() << ")";
  return success();
}

LogicalResult KernelOp::verify() {
  Block &body = getBody().front();
  if (failed(verifyUniqueParts(*this, body)))
    return failure();
  for (Operation &op : body)
    if (!isa<MaskOp, ScoreModOp, WeightOp, KvRangeOp, TileFullOp, TileEmptyOp, InputOp, ScalarOp,
             LinearOp, FeatureOp, DecayOp>(op))
      return op.emitOpError("is not a kernel hook");
  const bool linear = getKernelTemplate() == TileTemplate::Linear;
  if (linear != bool(getUnique<LinearOp>()))
    return emitOpError("the linear template goes with 'attn.linear', and only with it");
  if (linear) {
    if (failed(verifyLinearParts(*this, body, nullptr)))
      return failure();
    if (getNormalizer() != NormalizerKind::None && getNormalizer() != NormalizerKind::Sum)
      return emitOpError("a linear kernel normalises with 'none' or 'sum'");
  } else {
    for (Operation &op : body)
      if (isa<FeatureOp, DecayOp>(op))
        return op.emitOpError("is a hook of the linear template only");
    if (!getUnique<KvRangeOp>() || !getUnique<TileFullOp>() || !getUnique<TileEmptyOp>())
      return emitOpError("needs 'attn.kv_range', 'attn.tile_full' and 'attn.tile_empty' hooks");
  }
  if (failed(verifyDeclarations(*this, body)))
    return failure();
  Type elem = getElementType();
  if (!elem.isBF16() && !elem.isF16())
    return emitOpError("element type must be bf16 or f16, got ") << elem;
  auto supportedHeadDim = [](int64_t d) { return d == 64 || d == 128 || d == 256; };
  LinearOp linearOp = getUnique<LinearOp>();
  const bool rowMap = linearOp && getFeatureMap(linearOp) != FeatureMap::Elementwise;
  if (rowMap) {
    // A row map's feature pass reads q and k (head dims 16 .. 128); the chunked kernel sees
    // its features, in slices of 64 rows.
    const int64_t d = getHeadDim(), f = getLinearStateDim(linearOp, d);
    if (d != 16 && d != 32 && d != 64 && d != 128)
      return emitOpError("a feature_map takes head dims 16, 32, 64 or 128, got ") << d;
    if (f <= 0 || f > kMaxFeatureDim)
      return emitOpError("its feature_map gives ")
             << getFeatureDim(linearOp, d) << " features at head dim " << d << "; at most "
             << kMaxFeatureDim << " are supported";
    if (!supportedHeadDim(getHeadDimV()))
      return emitOpError("head dim v must be 64, 128 or 256, got ") << getHeadDimV();
  } else if (!supportedHeadDim(getHeadDim()) || !supportedHeadDim(getHeadDimV())) {
    return emitOpError("head dims must be 64, 128 or 256, got ")
           << getHeadDim() << " and " << getHeadDimV();
  }
  if (linear) {
    // linear_sm80.cuh: 4 warps of 16 chunk rows; each thread block carries a block_n slice of
    // the state's Dv columns.
    if (getWarps() != 4 || getBlockM() != 64)
      return emitOpError("the linear template runs 4 warps on chunks of 64 rows, got block_m = ")
             << getBlockM() << " with " << getWarps() << " warps";
    if (getBlockN() != 64 || getHeadDimV() % getBlockN() != 0)
      return emitOpError("the linear template carries 64 state columns per block, got block_n = ")
             << getBlockN();
    if (!rowMap && getHeadDim() > 128)
      return emitOpError("the linear template supports head dims 64 and 128, got ") << getHeadDim();
  } else if (getKernelTemplate() == TileTemplate::Sm90) {
    // fwd_sm90.cuh: a producer warpgroup and two or three consumer warpgroups of 64 rows.
    if ((getBlockM() != 128 && getBlockM() != 192) || getWarps() != 4 * (1 + getBlockM() / 64))
      return emitOpError("the sm90 template runs 12 warps on 128 rows or 16 on 192, got block_m = ")
             << getBlockM() << " with " << getWarps() << " warps";
    if (getBlockN() % 16 != 0 || getBlockN() < 16 || getBlockN() > 256)
      return emitOpError("block_n must be a multiple of 16 in [16, 256], got ") << getBlockN();
  } else {
    if (getWarps() <= 0 || getBlockM() != 16 * getWarps())
      return emitOpError("block_m must be 16 rows per warp, got block_m = ")
             << getBlockM() << " with " << getWarps() << " warps";
    if (getBlockN() <= 0 || getBlockN() % 16 != 0)
      return emitOpError("block_n must be a positive multiple of 16, got ") << getBlockN();
  }
  if (getStages() < 1 || getStages() > 4)
    return emitOpError("stages must be in [1, 4], got ") << getStages();
  if (!(getScale().convertToDouble() > 0.0))
    return emitOpError("scale must be positive, got ") << getScale().convertToDouble();
  if (getBiasAttr() && getNormalizer() != NormalizerKind::Sigmoid)
    return emitOpError("a bias needs the sigmoid normaliser");
  return success();
}

LogicalResult NormalizeOp::verify() {
  if (std::optional<double> scale = getScaleValue(); scale && !(*scale > 0.0))
    return emitOpError("scale must be positive, got ") << *scale;
  if (FloatAttr t = getTemperatureAttr(); t && !(t.getValueAsDouble() > 0.0))
    return emitOpError("temperature must be positive, got ") << t.getValueAsDouble();
  if (getTemperatureAttr() &&
      (getKind() == NormalizerKind::None || getKind() == NormalizerKind::Sum))
    return emitOpError("a temperature needs a softmax or sigmoid normaliser");
  if (getBiasAttr() && getKind() != NormalizerKind::Sigmoid)
    return emitOpError("a bias needs the sigmoid normaliser");
  return success();
}

double NormalizeOp::getEffectiveScale(int64_t headDim) {
  double scale = getScaleValue().value_or(1.0 / std::sqrt(static_cast<double>(headDim)));
  if (FloatAttr t = getTemperatureAttr())
    scale /= t.getValueAsDouble();
  return scale;
}

//===----------------------------------------------------------------------===//
// Inputs and scalars
//===----------------------------------------------------------------------===//

LogicalResult InputOp::verify() {
  Type elem = getElementType();
  if (!elem.isInteger(32) && !elem.isF32() && !isa<NoneType>(elem))
    return emitOpError("element type must be i32, f32 or none (the kernel's), got ") << elem;
  if (getShape().empty() || getShape().size() > 4)
    return emitOpError("must have 1 to 4 dimensions, got ") << getShape().size();
  for (Attribute dim : getShape()) {
    if (auto name = dyn_cast<StringAttr>(dim)) {
      if (!llvm::is_contained(kProblemSizes, name.getValue()))
        return emitOpError("unknown size '") << name.getValue() << "' (known: B H Hkv Sq Skv D)";
    } else if (auto size = dyn_cast<IntegerAttr>(dim)) {
      if (size.getInt() <= 0)
        return emitOpError("dimension sizes must be positive, got ") << size.getInt();
    } else {
      return emitOpError("dimensions are problem sizes or integers, got ") << dim;
    }
  }
  return success();
}

/// The pattern or kernel that (transitively) holds `op`.
static Operation *getContainer(Operation *op) {
  for (Operation *parent = op->getParentOp(); parent; parent = parent->getParentOp())
    if (isa<PatternOp, KernelOp, CompositeOp>(parent))
      return parent;
  return nullptr;
}

template <typename DeclOp> static DeclOp findDeclaration(Operation *user, StringRef name) {
  Operation *container = getContainer(user);
  if (!container)
    return nullptr;
  for (Operation &op : container->getRegion(0).front())
    if (auto decl = dyn_cast<DeclOp>(op); decl && decl.getName() == name)
      return decl;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

SmallVector<PatternOp> mlir::attn::getBranchPatterns(CompositeOp composite) {
  SmallVector<PatternOp> patterns;
  for (Attribute name : composite.getBranches())
    patterns.push_back(SymbolTable::lookupNearestSymbolFrom<PatternOp>(
        composite, cast<FlatSymbolRefAttr>(name).getAttr()));
  return patterns;
}

PatternOp mlir::attn::getStatefulBranch(CompositeOp composite) {
  PatternOp stateful;
  for (PatternOp branch : getBranchPatterns(composite))
    if (branch && branch.getUnique<LinearOp>()) {
      if (stateful)
        return nullptr; // several
      stateful = branch;
    }
  return stateful;
}

std::optional<std::pair<unsigned, unsigned>> mlir::attn::getBranchOwnQK(CompositeOp composite,
                                                                        unsigned index) {
  ArrayAttr qs = composite.getBranchQAttr(), ks = composite.getBranchKAttr();
  if (!qs || !ks || index >= qs.size() || index >= ks.size())
    return std::nullopt;
  StringRef q = cast<StringAttr>(qs[index]).getValue(), k = cast<StringAttr>(ks[index]).getValue();
  std::optional<unsigned> qSlot, kSlot;
  unsigned slot = 0;
  for (InputOp input : composite.getBody().front().getOps<InputOp>()) {
    if (input.getName() == q)
      qSlot = slot;
    if (input.getName() == k)
      kSlot = slot;
    ++slot;
  }
  if (!qSlot || !kSlot)
    return std::nullopt;
  return std::pair{*qSlot, *kSlot};
}

unsigned mlir::attn::getCallBranch(CompositeOp composite) {
  unsigned i = 0;
  while (i + 1 < composite.getBranches().size() && getBranchOwnQK(composite, i))
    ++i;
  return i;
}

/// Checks composite `op`'s `branch_q` / `branch_k` against its inputs and branch `index`'s
/// pattern `branch`.
static LogicalResult verifyOwnQK(CompositeOp op, unsigned index, PatternOp branch) {
  ArrayAttr qs = op.getBranchQAttr(), ks = op.getBranchKAttr();
  StringRef q = cast<StringAttr>(qs[index]).getValue(), k = cast<StringAttr>(ks[index]).getValue();
  if (q.empty() && k.empty())
    return success();
  if (q.empty() || k.empty())
    return op.emitOpError("branch ") << index << " has its own q or k but not both";
  if (branch.getVarlen())
    return op.emitOpError("branch ") << index << " has q and k of its own: dense sequences only";
  for (InputOp input : op.getBody().front().getOps<InputOp>())
    for (Attribute dim : input.getShape())
      if (auto size = dyn_cast<StringAttr>(dim); size && size.getValue() == "D")
        return op.emitOpError("input '")
               << input.getName() << "' is sized by D, which branch " << index
               << " (q and k of its own) reads as its own head dim";
  for (auto [name, dims] : {std::pair{q, std::array<StringRef, 3>{"B", "Sq", "H"}},
                            std::pair{k, std::array<StringRef, 3>{"B", "Skv", "Hkv"}}}) {
    InputOp input;
    for (InputOp in : op.getBody().front().getOps<InputOp>())
      if (in.getName() == name)
        input = in;
    if (!input)
      return op.emitOpError("branch ") << index << "'s q or k '" << name << "' is not an input";
    ArrayAttr shape = input.getShape();
    auto dimIs = [&](unsigned i, StringRef size) {
      auto n = dyn_cast<StringAttr>(shape[i]);
      return n && n.getValue() == size;
    };
    auto width = shape.size() == 4 ? dyn_cast<IntegerAttr>(shape[3]) : IntegerAttr();
    if (!isa<NoneType>(input.getElementType()) || !width || !dimIs(0, dims[0]) ||
        !dimIs(1, dims[1]) || !dimIs(2, dims[2]))
      return op.emitOpError("input '") << name << "' is not a branch's q or k: none [" << dims[0]
                                       << ", " << dims[1] << ", " << dims[2] << ", N]";
    if (!branch.getHeadDim() || int64_t(*branch.getHeadDim()) != width.getInt())
      return op.emitOpError("branch ")
             << index << "'s head_dim must be " << width.getInt() << ", the width of its q and k";
  }
  return success();
}

/// The (name, element type, shape) of each input and the name of each scalar of `container`,
/// in order.
static SmallVector<std::tuple<StringRef, Type, ArrayAttr>> inputSignature(Operation *container) {
  SmallVector<std::tuple<StringRef, Type, ArrayAttr>> signature;
  for (Operation &op : container->getRegion(0).front())
    if (auto input = dyn_cast<InputOp>(op))
      signature.emplace_back(input.getName(), input.getElementType(), input.getShape());
    else if (auto scalar = dyn_cast<ScalarOp>(op))
      signature.emplace_back(scalar.getName(), Type(), ArrayAttr());
  return signature;
}

LogicalResult CompositeOp::verify() {
  Block &body = getBody().front();
  if (failed(verifyUniqueParts(*this, body)) || failed(verifyDeclarations(*this, body)))
    return failure();
  for (Operation &op : body)
    if (!isa<CombineOp, InputOp, ScalarOp>(op))
      return op.emitOpError("is not a part of a composite (its branches are patterns)");
  if (!getUnique<CombineOp>())
    return emitOpError("needs an 'attn.combine' op");
  if (getBranches().size() < 2 || getBranches().size() > kMaxBranches)
    return emitOpError("needs two to ")
           << kMaxBranches << " branches, has " << getBranches().size();
  if (bool(getBranchQAttr()) != bool(getBranchKAttr()) ||
      (getBranchQAttr() && (getBranchQAttr().size() != getBranches().size() ||
                            getBranchKAttr().size() != getBranches().size())))
    return emitOpError("branch_q and branch_k name one input (or \"\") per branch");
  if (std::optional<int64_t> fused = getEpilogueBranch();
      fused && (*fused < 0 || uint64_t(*fused) >= getBranches().size()))
    return emitOpError("epilogue_branch ") << *fused << " names no branch";
  llvm::StringSet<> seen;
  PatternOp first, callQK; // the first branch, the first on the call's q and k
  auto signature = inputSignature(*this);
  unsigned index = 0;
  for (auto [name, pattern] : llvm::zip(getBranches(), getBranchPatterns(*this))) {
    const unsigned i = index++;
    StringRef symbol = cast<FlatSymbolRefAttr>(name).getValue();
    if (!pattern)
      return emitOpError("branch '@") << symbol << "' is not an attn.pattern of the module";
    if (!seen.insert(symbol).second)
      return emitOpError("names branch '@") << symbol << "' twice";
    if (getEpilogueBranch() == int64_t(i) && pattern.getUnique<LinearOp>())
      return emitOpError("epilogue_branch '@")
             << symbol << "' is linear; only a softmax-family branch applies the combine";
    if (pattern.getLse())
      return emitOpError("branch '@")
             << symbol << "' has a log-sum-exp output; a composite has none";
    if (inputSignature(pattern) != signature)
      return emitOpError("branch '@")
             << symbol << "' must declare the composite's inputs and scalars, in the same order";
    if (getBranchQAttr() && failed(verifyOwnQK(*this, i, pattern)))
      return failure();
    // A branch with q and k of its own has their head_dim (checked above), not the call's.
    const bool ownQK = getBranchOwnQK(*this, i).has_value();
    if (!ownQK && !callQK)
      callQK = pattern;
    else if (!ownQK && pattern.getHeadDimAttr() != callQK.getHeadDimAttr())
      return emitOpError("branches '@")
             << callQK.getSymName() << "' and '@" << symbol << "' differ in head_dim";
    if (!first) {
      first = pattern;
      continue;
    }
    if (pattern.getHeadDimVAttr() != first.getHeadDimVAttr() ||
        pattern.getHeadsAttr() != first.getHeadsAttr() ||
        pattern.getKvHeadsAttr() != first.getKvHeadsAttr() ||
        pattern.getVarlen() != first.getVarlen())
      return emitOpError("branches '@")
             << first.getSymName() << "' and '@" << symbol
             << "' differ in their problem shape (head_dim_v, heads or varlen)";
  }
  if (!callQK)
    return emitOpError("has no branch on the call's q and k (every one has its own)");
  return success();
}

InputOp LoadOp::getDeclaration() { return findDeclaration<InputOp>(*this, getInput()); }
ScalarOp GetScalarOp::getDeclaration() { return findDeclaration<ScalarOp>(*this, getScalar()); }

LogicalResult LoadOp::verify() {
  InputOp decl = getDeclaration();
  if (!decl)
    return emitOpError("reads undeclared input '") << getInput() << "'";
  if (decl.getShape().size() != getIndices().size())
    return emitOpError("input '") << getInput() << "' has " << decl.getShape().size()
                                  << " dimensions, indexed with " << getIndices().size();
  if (decl.getElementType() != getType())
    return emitOpError("input '") << getInput() << "' holds " << decl.getElementType()
                                  << ", the load yields " << getType();
  return success();
}

LogicalResult GetScalarOp::verify() {
  if (!getDeclaration())
    return emitOpError("reads undeclared scalar '") << getScalar() << "'";
  return success();
}
