//===- MaskAnalysis.h - Interval analysis of mask regions ------------*- C++ -*-===//
//
// The analyses behind block classification. Both read the mask region of a pattern and *build*
// arith IR into a destination block (a tile function region), so that the answer is computed
// at run time from the tile's bounds and the sequence lengths, by the kernel and by the CPU
// tools alike:
//
//   buildTileTruth    abstract interpretation of the mask over a box of (q, k): every int value
//                     becomes an interval [lo, hi], every bool a pair (must, may). `must` true
//                     means the mask holds on the whole box (FULL); `may` false means it holds
//                     nowhere (EMPTY). Anything the analysis cannot bound (input loads, floats,
//                     division by a non-constant) is "unknown", which is always sound.
//   buildKeyRange     a closed form [lo, hi) of the keys that rows [q0, q1) may see: comparisons
//                     linear in k (k + g(q) < 0, ...) give bounds, |x| <= y gives a band,
//                     x / C == y gives a block; && intersects, || takes the hull, ! flips.
//
// Both describe what they recognised (describeMask) for `attnc explain` and `mask_class`.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TRANSFORMS_MASKANALYSIS_H
#define ATTN_TRANSFORMS_MASKANALYSIS_H

#include "attn/Dialect/AttnOps.h"
#include "mlir/IR/Builders.h"

#include <string>

namespace mlir::attn {

/// An interval of index values [lo, hi] for each argument of the mask region, in the order of
/// the mask's block arguments (b h q k sq skv), as values of the destination block.
struct ArgIntervals {
  Value lo[kMaskIndexArgs];
  Value hi[kMaskIndexArgs];
};

/// Builds, at the builder's insertion point, the (must, may) pair of the mask over the box given
/// by `args`. Values of the mask that the analysis cannot bound are treated as unknown.
std::pair<Value, Value> buildTileTruth(OpBuilder &builder, Location loc, MaskOp mask,
                                       const ArgIntervals &args);

/// Builds [lo, hi): keys outside cannot be kept for any row in the box `args` (whose k entry is
/// ignored). Unbounded sides are 0 and `skv`; the result is clamped to [0, skv].
std::pair<Value, Value> buildKeyRange(OpBuilder &builder, Location loc, MaskOp mask,
                                      const ArgIntervals &args, Value skv);

/// A short name for what the mask was recognised as: "causal", "causal_bottom_right",
/// "causal_offset(c)", "sliding_window(w)", "band(w)", "prefix_keys(n)", "prefix_lm(n)",
/// "sinks(n)+sliding_window(w)", "block_diagonal(C)", "block_causal(C)", or "general" for
/// anything else (documents, dilations, per-head tables, ...).
std::string describeMask(MaskOp mask);

/// Whether every row provably keeps a prefix of the keys, [0, hi(q)): the mask is upper bounds
/// on k joined by && and || (causal, prefix-LM, prefix keys, ...). Taller query tiles then
/// waste keys only where their rows' prefixes differ; under windows or blocks they waste more.
bool keepsKeyPrefixes(MaskOp mask);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_MASKANALYSIS_H
