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

/// Score modifiers longer than this many ops take narrower key tiles on sm_90a: evaluating them
/// per element of a 64 x 128 tile needs more registers than the consumers have (T5's bucketed
/// bias, 59 ops, spilled; 96-key tiles do not).
constexpr int64_t kHeavyScoreModOps = 32;

/// The configuration for `arch` (sm_80 ... sm_90a), or failure when none is supported.
/// `scoreModOps` is the size of the pattern's score modifier (0 without one).
FailureOr<TileConfig> selectTileConfig(StringRef arch, Type elementType, int64_t headDim,
                                       int64_t headDimV, int64_t scoreModOps = 0);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_TILECONFIG_H
