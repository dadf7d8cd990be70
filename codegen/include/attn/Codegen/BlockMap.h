//===- BlockMap.h - Tile classification of a pattern on the CPU ------*- C++ -*-===//
//
// The block map of one (batch, head) of a problem: for every (query tile, key tile) whether
// the kernel skips it (EMPTY), runs it without mask code (FULL) or evaluates the mask per
// element (PARTIAL). `classifyTiles` evaluates the pattern's tile functions (kv_range,
// tile_full, tile_empty: what the kernel runs); `bruteForceTiles` evaluates the mask on every
// pair (the ground truth). A classification is sound when every tile it calls EMPTY has no
// kept pair and every tile it calls FULL has no dropped pair.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CODEGEN_BLOCKMAP_H
#define ATTN_CODEGEN_BLOCKMAP_H

#include "attn/Codegen/Reference.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::attn {

enum class TileKind : uint8_t { Empty, Full, Partial };

struct BlockMap {
  int64_t blockM = 0, blockN = 0, rows = 0, cols = 0; // tiles: rows x cols
  std::vector<TileKind> tiles;                        // row-major
  /// bruteForceTiles only: the pairs the mask keeps, and the first input read past an extent
  /// (clamped, as on the GPU), if any.
  int64_t keptPairs = 0;
  std::optional<std::string> outOfBounds;
  TileKind at(int64_t r, int64_t c) const { return tiles[r * cols + c]; }
  /// Fraction of the Sq x Skv pairs inside visited (non-EMPTY) tiles.
  double density(int64_t seqQ, int64_t seqK) const;
  int64_t count(TileKind kind) const;
};

/// The tile functions of a classified pattern evaluated for batch `b`, head `h` of `problem`
/// (only sizes, inputs and scalars are read; q/k/v may be empty), or for a `block_map` pattern
/// the map its run-time builder makes. Tiles past Skv are PARTIAL like in the kernel.
FailureOr<BlockMap> classifyTiles(PatternOp pattern, const ReferenceProblem &problem, int64_t b,
                                  int64_t h, int64_t blockM, int64_t blockN);

/// The exact map from evaluating the mask on every pair, one query row at a time; `progress`,
/// when given, is called after each row with (rows done, rows in all).
FailureOr<BlockMap> bruteForceTiles(PatternOp pattern, const ReferenceProblem &problem, int64_t b,
                                    int64_t h, int64_t blockM, int64_t blockN,
                                    llvm::function_ref<void(int64_t, int64_t)> progress = nullptr);

/// The fraction of (q, k) pairs the mask of `pattern` keeps over every batch and head of
/// `problem`, evaluating one query row in every `rowStep` (the middle one; 1: exact). `progress`,
/// when given, is called with the fraction done.
FailureOr<double> keptFraction(PatternOp pattern, const ReferenceProblem &problem,
                               int64_t rowStep = 1,
                               llvm::function_ref<void(double)> progress = nullptr);

/// Empty when `claimed` is sound against `truth`, else a description of the first wrong tile.
std::string checkSoundness(const BlockMap &claimed, const BlockMap &truth);

} // namespace mlir::attn

#endif // ATTN_CODEGEN_BLOCKMAP_H
