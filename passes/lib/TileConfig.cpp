//===- TileConfig.cpp - Kernel tiling per arch, type and head dim -------------===//
//
// One table of the tilings the device library is tuned for. The mma.sync template (sm80)
// runs on every arch from sm_80 on; register pressure grows with the head dim, so wider heads
// take narrower key tiles.
//
//===----------------------------------------------------------------------===//
#include "TileConfig.h"

using namespace mlir;
using namespace mlir::attn;

/// Parses "sm_XY" or "sm_XYa" into XY; 0 on anything else.
static int parseSmVersion(StringRef arch) {
  if (!arch.consume_front("sm_"))
    return 0;
  arch.consume_back("a");
  int version = 0;
  if (arch.getAsInteger(10, version))
    return 0;
  return version;
}

FailureOr<TileConfig> mlir::attn::selectTileConfig(StringRef arch, Type elementType,
                                                   int64_t headDim, int64_t headDimV) {
  if (parseSmVersion(arch) < 80)
    return failure();
  if (!elementType.isBF16() && !elementType.isF16())
    return failure();
  if (headDimV != 64 && headDimV != 128)
    return failure();
  switch (headDim) {
  case 64:
    return TileConfig{TileTemplate::Sm80, /*blockM=*/128, /*blockN=*/64, /*warps=*/8,
                      /*stages=*/2};
  case 128:
    return TileConfig{TileTemplate::Sm80, /*blockM=*/128, /*blockN=*/64, /*warps=*/8,
                      /*stages=*/2};
  default:
    return failure();
  }
}
