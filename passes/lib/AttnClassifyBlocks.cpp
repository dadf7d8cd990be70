//===- AttnClassifyBlocks.cpp - Derive kv_range / tile_full of patterns -------===//
//
// Block classification: for every pattern, build the two tile functions the kernel template
// calls per (query tile, key tile):
//   kv_range(b, h, q0, q1, sq, skv) -> [lo, hi): key tiles outside are EMPTY (never visited);
//   tile_full(b, h, q0, q1, k0, k1, sq, skv): the mask keeps the whole tile (FULL, no mask code).
// Everything else is PARTIAL. Both functions are built as regions of arith ops so the same IR
// drives the kernel (printed by codegen) and the CPU tools (`attnc explain`, the reference).
//
// Today a pattern without a mask is dense (all keys, every tile FULL) and any mask gets the
// conservative answer (all keys, no tile FULL), which is always correct.
//
//===----------------------------------------------------------------------===//
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCLASSIFYBLOCKSPASS
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

/// Appends `kv_range { yield 0, skv }` to the pattern body.
static void buildFullKvRange(OpBuilder &builder, Location loc) {
  auto range = KvRangeOp::create(builder, loc);
  OpBuilder::InsertionGuard guard(builder);
  Block *block = createRegionBlock(builder, range.getBody(), getRegionSignature(range), loc);
  Value zero = arith::ConstantIndexOp::create(builder, loc, 0);
  Value skv = block->getArgument(5);
  YieldOp::create(builder, loc, ValueRange{zero, skv});
}

/// Appends `tile_full { yield <full> }` to the pattern body.
static void buildConstantTileFull(OpBuilder &builder, Location loc, bool full) {
  auto tileFull = TileFullOp::create(builder, loc);
  OpBuilder::InsertionGuard guard(builder);
  createRegionBlock(builder, tileFull.getBody(), getRegionSignature(tileFull), loc);
  Value value = arith::ConstantIntOp::create(builder, loc, full ? 1 : 0, 1);
  YieldOp::create(builder, loc, ValueRange{value});
}

namespace {
struct AttnClassifyBlocksPass
    : mlir::attn::impl::AttnClassifyBlocksPassBase<AttnClassifyBlocksPass> {
  void runOnOperation() override {
    getOperation().walk([](PatternOp pattern) {
      if (pattern.getUnique<KvRangeOp>() || pattern.getUnique<TileFullOp>())
        return; // already classified
      OpBuilder builder(pattern.getContext());
      builder.setInsertionPointToEnd(&pattern.getBody().front());
      Location loc = pattern.getLoc();
      bool dense = !pattern.getUnique<MaskOp>();
      buildFullKvRange(builder, loc);
      buildConstantTileFull(builder, loc, /*full=*/dense);
    });
  }
};
} // namespace
