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
  } else if (isa<TileFullOp>(regionOp)) {
    sig.args.assign(kTileFullArgs, idx);
    sig.results = {i1};
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

//===----------------------------------------------------------------------===//
// Containers
//===----------------------------------------------------------------------===//

/// At most one op of each kind in `body`; returns failure on a duplicate.
static LogicalResult verifyUniqueParts(Operation *container, Block &body) {
  llvm::SmallDenseMap<OperationName, Operation *> seen;
  for (Operation &op : body) {
    auto [it, inserted] = seen.try_emplace(op.getName(), &op);
    if (!inserted)
      return op.emitOpError("may appear only once in '") << container->getName() << "'";
  }
  return success();
}

LogicalResult PatternOp::verify() {
  Block &body = getBody().front();
  if (failed(verifyUniqueParts(*this, body)))
    return failure();
  for (Operation &op : body)
    if (!isa<MaskOp, ScoreModOp, NormalizeOp, KvRangeOp, TileFullOp>(op))
      return op.emitOpError("is not a part of an attention pattern");
  if (!getUnique<NormalizeOp>())
    return emitOpError("needs an 'attn.normalize' op");
  return success();
}

LogicalResult KernelOp::verify() {
  Block &body = getBody().front();
  if (failed(verifyUniqueParts(*this, body)))
    return failure();
  for (Operation &op : body)
    if (!isa<MaskOp, ScoreModOp, KvRangeOp, TileFullOp>(op))
      return op.emitOpError("is not a kernel hook");
  if (!getUnique<KvRangeOp>() || !getUnique<TileFullOp>())
    return emitOpError("needs 'attn.kv_range' and 'attn.tile_full' hooks");
  Type elem = getElementType();
  if (!elem.isBF16() && !elem.isF16())
    return emitOpError("element type must be bf16 or f16, got ") << elem;
  auto supportedHeadDim = [](int64_t d) { return d == 64 || d == 128 || d == 256; };
  if (!supportedHeadDim(getHeadDim()) || !supportedHeadDim(getHeadDimV()))
    return emitOpError("head dims must be 64, 128 or 256, got ")
           << getHeadDim() << " and " << getHeadDimV();
  if (getWarps() <= 0 || getBlockM() != 16 * getWarps())
    return emitOpError("block_m must be 16 rows per warp, got block_m = ")
           << getBlockM() << " with " << getWarps() << " warps";
  if (getBlockN() <= 0 || getBlockN() % 16 != 0)
    return emitOpError("block_n must be a positive multiple of 16, got ") << getBlockN();
  if (getStages() < 1 || getStages() > 4)
    return emitOpError("stages must be in [1, 4], got ") << getStages();
  if (std::optional<double> scale = getScaleValue(); scale && !(*scale > 0.0))
    return emitOpError("scale must be positive, got ") << *scale;
  return success();
}

LogicalResult NormalizeOp::verify() {
  if (std::optional<double> scale = getScaleValue(); scale && !(*scale > 0.0))
    return emitOpError("scale must be positive, got ") << *scale;
  if (getScaleAttr() && getKind() == NormalizerKind::None)
    return emitOpError("a scale needs a softmax or sigmoid normaliser");
  return success();
}
