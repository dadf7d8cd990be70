//===- AttnClassifyBlocks.cpp - Derive kv_range / tile_full of patterns -------===//
//
// Block classification: for every pattern, build the two tile functions the kernel template
// calls per (query tile, key tile):
//   kv_range(b, h, q0, q1, sq, skv) -> [lo, hi): key tiles outside are EMPTY (never visited);
//   tile_full(b, h, q0, q1, k0, k1, sq, skv): the mask keeps the whole tile (FULL, no mask code).
// Everything else is PARTIAL. Both functions are built as regions of arith ops so the same IR
// drives the kernel (printed by codegen) and the CPU tools (`attnc explain`, the reference).
//
// A pattern without a mask is dense (all keys, every tile FULL, none EMPTY). For a mask,
// MaskAnalysis builds the three functions from the mask region itself: interval analysis over
// the tile for tile_full / tile_empty, and a closed form for kv_range from the bounds the mask
// puts on k. What the analysis cannot bound (input tensors, floats) stays PARTIAL, which is
// always correct. The pattern is also labelled with what its mask was recognised as, and a
// mask that reads input tensors or scalars gets `block_map`: the kernel then classifies tiles
// from a map built at run time by evaluating the same mask region on every pair.
//
//===----------------------------------------------------------------------===//
#include "MaskAnalysis.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCLASSIFYBLOCKSPASS
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

/// The (b, h, q, k, sq, skv) intervals of a tile function's box: q in [q0, q1 - 1] and, for
/// tile functions, k in [k0, min(k1, skv) - 1]; the others are points.
static ArgIntervals boxOf(OpBuilder &builder, Location loc, Block *block, bool hasKeys) {
  ArgIntervals box;
  Value one = arith::ConstantIndexOp::create(builder, loc, 1);
  auto point = [&](unsigned slot, Value v) { box.lo[slot] = box.hi[slot] = v; };
  point(0, block->getArgument(0));
  point(1, block->getArgument(1));
  box.lo[2] = block->getArgument(2);
  box.hi[2] = arith::SubIOp::create(builder, loc, block->getArgument(3), one);
  unsigned sizes = 4;
  if (hasKeys) {
    // Keys at or past Skv are never kept, so the box stops at min(k1, Skv) - 1.
    Value k1 = arith::MinSIOp::create(builder, loc, block->getArgument(5), block->getArgument(7));
    box.lo[3] = block->getArgument(4);
    box.hi[3] = arith::SubIOp::create(builder, loc, k1, one);
    sizes = 6;
  }
  point(4, block->getArgument(sizes));
  point(5, block->getArgument(sizes + 1));
  return box;
}

/// Appends the kv_range, tile_full and tile_empty functions of `pattern` to its body.
static void classify(PatternOp pattern) {
  OpBuilder builder(pattern.getContext());
  builder.setInsertionPointToEnd(&pattern.getBody().front());
  Location loc = pattern.getLoc();
  MaskOp mask = pattern.getUnique<MaskOp>();

  auto range = KvRangeOp::create(builder, loc);
  {
    OpBuilder::InsertionGuard guard(builder);
    Block *block = createRegionBlock(builder, range.getBody(), getRegionSignature(range), loc);
    Value skv = block->getArgument(5);
    Value lo = arith::ConstantIndexOp::create(builder, loc, 0), hi = skv;
    if (mask)
      std::tie(lo, hi) =
          buildKeyRange(builder, loc, mask, boxOf(builder, loc, block, /*hasKeys=*/false), skv);
    YieldOp::create(builder, loc, ValueRange{lo, hi});
  }
  for (bool full : {true, false}) {
    OpBuilder::InsertionGuard guard(builder);
    Operation *op = full ? TileFullOp::create(builder, loc).getOperation()
                         : TileEmptyOp::create(builder, loc).getOperation();
    Block *block = createRegionBlock(builder, op->getRegion(0), getRegionSignature(op), loc);
    Value answer;
    if (mask) {
      auto [must, may] =
          buildTileTruth(builder, loc, mask, boxOf(builder, loc, block, /*hasKeys=*/true));
      answer = full ? must
                    : arith::XOrIOp::create(builder, loc, may,
                                            arith::ConstantIntOp::create(builder, loc, 1, 1));
    } else {
      answer = arith::ConstantIntOp::create(builder, loc, full ? 1 : 0, 1);
    }
    YieldOp::create(builder, loc, ValueRange{answer});
  }
  pattern.setMaskClassAttr(builder.getStringAttr(mask ? describeMask(mask) : "full"));
  // A mask that reads tensors or run-time scalars cannot be bounded at compile time: the
  // kernels classify tiles from a map built at run time from the same mask region.
  bool readsData = false;
  if (mask)
    mask.walk([&](Operation *op) { readsData |= isa<LoadOp, GetScalarOp>(op); });
  pattern.setBlockMap(readsData);
}

namespace {
struct AttnClassifyBlocksPass
    : mlir::attn::impl::AttnClassifyBlocksPassBase<AttnClassifyBlocksPass> {
  void runOnOperation() override {
    for (PatternOp pattern : getOperation().getOps<PatternOp>()) {
      if (pattern.getUnique<LinearOp>())
        continue; // a linear form has no mask to classify
      bool any = pattern.getUnique<KvRangeOp>() || pattern.getUnique<TileFullOp>() ||
                 pattern.getUnique<TileEmptyOp>();
      bool all = pattern.getUnique<KvRangeOp>() && pattern.getUnique<TileFullOp>() &&
                 pattern.getUnique<TileEmptyOp>();
      if (all)
        continue; // already classified
      if (any) {
        pattern.emitOpError("is partly classified: it has some but not all of kv_range, "
                            "tile_full and tile_empty");
        return signalPassFailure();
      }
      classify(pattern);
    }
  }
};
} // namespace
