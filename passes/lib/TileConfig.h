//===- TileConfig.h - Kernel tiling per arch, type and head dim ------*- C++ -*-===//
#ifndef ATTN_TRANSFORMS_TILECONFIG_H
#define ATTN_TRANSFORMS_TILECONFIG_H

#include "attn/Dialect/AttnOps.h"

namespace mlir::attn {

/// The compile-time parameters of a device-library kernel template.
struct TileConfig {
  TileTemplate kernelTemplate;
  int64_t blockM; // query rows per CTA (sm80: 16 per warp; sm90: 64 per consumer warpgroup)
  int64_t blockN; // keys per tile
  int64_t warps;
  int64_t stages; // K/V pipeline depth
};

/// Patterns whose mask and score modifier cost more than this per element (one per op, 16 per
/// tensor read) take narrower key tiles on sm_90a: evaluated on a 64 x 128 tile while the
/// previous tile's P V is in flight they need more registers than the consumers have. T5's
/// bucketed bias (cost 75) and the document mask (40) spilled at 128 keys; at 96 they do not.
constexpr int64_t kHeavyHookCost = 32;

/// The key tile ATTNC_SM90_BLOCK_N asks of the Hopper template for these head dims, query
/// tile and K/V stages (a measurement knob: one of the N scripts/gen_wgmma.py wraps whose tiles
/// fit shared memory), or 0: unset, or a value that does not fit.
int64_t sm90BlockNOverride(int64_t headDim, int64_t headDimV, int64_t blockM, int64_t stages);

/// The configuration for `arch` (sm_80 ... sm_90a), or failure when none is supported.
/// `hookCost` is the per-element cost of the pattern's mask and score modifier.
FailureOr<TileConfig> selectTileConfig(StringRef arch, Type elementType, int64_t headDim,
                                       int64_t headDimV, int64_t hookCost = 0);

/// The configuration of the chunked linear template (linear_sm80.cuh) for `arch`, or failure.
/// The chunk (block_m) is 64 rows: the intra-chunk product costs 64 x 64 per row pair and the
/// state update a D x Dv product per chunk, balanced at D = Dv = 128; each thread block carries
/// 64 of the state's Dv columns (block_n), so D x 64 fp32 state fits four warps' registers.
FailureOr<TileConfig> selectLinearConfig(StringRef arch, Type elementType, int64_t headDim,
                                         int64_t headDimV);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_TILECONFIG_H
