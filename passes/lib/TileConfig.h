//===- TileConfig.h - Kernel tiling per arch, type and head dim ------*- C++ -*-===//
#ifndef ATTN_TRANSFORMS_TILECONFIG_H
#define ATTN_TRANSFORMS_TILECONFIG_H

#include "attn/Dialect/AttnOps.h"

namespace mlir::attn {

/// The compile-time parameters of a device-library kernel template.
struct TileConfig {
  TileTemplate kernelTemplate;
  int64_t blockM; // query rows per CTA (16 per warp)
  int64_t blockN; // keys per tile
  int64_t warps;
  int64_t stages; // K/V pipeline depth
};

/// The configuration for `arch` (sm_80 ... sm_90a), or failure when none is supported.
FailureOr<TileConfig> selectTileConfig(StringRef arch, Type elementType, int64_t headDim,
                                       int64_t headDimV);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_TILECONFIG_H
