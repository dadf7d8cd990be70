//===- BlockMap.cpp - Tile classification of a pattern on the CPU -------------===//
#include "attn/Codegen/BlockMap.h"
#include "RegionEvaluator.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::attn;

double BlockMap::density(int64_t seqQ, int64_t seqK) const {
  if (seqQ == 0 || seqK == 0)
    return 0;
  int64_t visited = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (at(r, c) != TileKind::Empty)
        visited += (std::min((r + 1) * blockM, seqQ) - r * blockM) *
                   (std::min((c + 1) * blockN, seqK) - c * blockN);
  return double(visited) / double(seqQ * seqK);
}

int64_t BlockMap::count(TileKind kind) const {
  return std::count(tiles.begin(), tiles.end(), kind);
}

static BlockMap emptyMap(int64_t sq, int64_t skv, int64_t blockM, int64_t blockN) {
  BlockMap map;
  map.blockM = blockM;
  map.blockN = blockN;
  map.rows = (sq + blockM - 1) / blockM;
  map.cols = (skv + blockN - 1) / blockN;
  map.tiles.assign(map.rows * map.cols, TileKind::Empty);
  return map;
}

FailureOr<BlockMap> mlir::attn::classifyTiles(PatternOp pattern, const ReferenceProblem &p,
                                              int64_t b, int64_t h, int64_t blockM,
                                              int64_t blockN) {
  if (pattern.getBlockMap()) {
    // The kernel reads the map its builder computes from the mask: the exact map, except
    // that a tile crossing Skv is never FULL (the kernel checks its bounds).
    FailureOr<BlockMap> map = bruteForceTiles(pattern, p, b, h, blockM, blockN);
    if (succeeded(map))
      for (int64_t r = 0; r < map->rows; ++r)
        for (int64_t c = 0; c < map->cols; ++c)
          if ((c + 1) * blockN > p.length(b, true) && map->at(r, c) == TileKind::Full)
            map->tiles[r * map->cols + c] = TileKind::Partial;
    return map;
  }
  auto rangeOp = pattern.getUnique<KvRangeOp>();
  auto fullOp = pattern.getUnique<TileFullOp>();
  auto emptyOp = pattern.getUnique<TileEmptyOp>();
  if (!rangeOp || !fullOp || !emptyOp)
    return pattern.emitOpError("is not classified (run attn-classify-blocks)");
  auto range = RegionEvaluator::create(rangeOp.getBody(), &p);
  auto full = RegionEvaluator::create(fullOp.getBody(), &p);
  auto empty = RegionEvaluator::create(emptyOp.getBody(), &p);
  if (failed(range) || failed(full) || failed(empty))
    return failure();
  const int64_t sq = p.length(b, false), skv = p.length(b, true);
  BlockMap map = emptyMap(sq, skv, blockM, blockN);
  using S = Scalar;
  for (int64_t r = 0; r < map.rows; ++r) {
    int64_t q0 = r * blockM, q1 = std::min(q0 + blockM, sq);
    auto bounds = range->run({S{b}, S{h}, S{q0}, S{q1}, S{sq}, S{skv}});
    int64_t lo = std::max<int64_t>(bounds[0].i, 0), hi = std::min(bounds[1].i, skv);
    int64_t cLo = lo / blockN, cHi = hi > lo ? (hi + blockN - 1) / blockN : cLo;
    for (int64_t c = cLo; c < cHi; ++c) {
      int64_t k0 = c * blockN, k1 = k0 + blockN;
      std::vector<S> args = {S{b}, S{h}, S{q0}, S{q1}, S{k0}, S{k1}, S{sq}, S{skv}};
      TileKind &kind = map.tiles[r * map.cols + c];
      if (empty->run(args)[0].i)
        kind = TileKind::Empty;
      else if (k1 <= skv && full->run(args)[0].i)
        kind = TileKind::Full;
      else
        kind = TileKind::Partial;
    }
  }
  return map;
}

FailureOr<BlockMap>
mlir::attn::bruteForceTiles(PatternOp pattern, const ReferenceProblem &p, int64_t b, int64_t h,
                            int64_t blockM, int64_t blockN,
                            llvm::function_ref<void(int64_t, int64_t)> progress) {
  const int64_t sq = p.length(b, false), skv = p.length(b, true);
  BlockMap map = emptyMap(sq, skv, blockM, blockN);
  auto maskOp = pattern.getUnique<MaskOp>();
  if (!maskOp) {
    std::fill(map.tiles.begin(), map.tiles.end(), TileKind::Full);
    map.keptPairs = sq * skv;
    return map;
  }
  auto mask = RegionEvaluator::create(maskOp.getBody(), &p);
  if (failed(mask))
    return failure();
  std::vector<int64_t> kept(map.cols);
  using S = Scalar;
  for (int64_t r = 0; r < map.rows; ++r) {
    const int64_t q0 = r * blockM, q1 = std::min(q0 + blockM, sq);
    std::fill(kept.begin(), kept.end(), 0);
    for (int64_t q = q0; q < q1; ++q) {
      for (int64_t c = 0; c < map.cols; ++c)
        for (int64_t k = c * blockN, k1 = std::min(k + blockN, skv); k < k1; ++k)
          kept[c] += mask->run({S{b}, S{h}, S{q}, S{k}, S{sq}, S{skv}})[0].i != 0;
      if (progress)
        progress(q + 1, sq);
    }
    for (int64_t c = 0; c < map.cols; ++c) {
      int64_t area = (q1 - q0) * (std::min((c + 1) * blockN, skv) - c * blockN);
      map.tiles[r * map.cols + c] = kept[c] == 0      ? TileKind::Empty
                                    : kept[c] == area ? TileKind::Full
                                                      : TileKind::Partial;
      map.keptPairs += kept[c];
    }
  }
  map.outOfBounds = mask->outOfBounds();
  return map;
}

std::string mlir::attn::checkSoundness(const BlockMap &claimed, const BlockMap &truth) {
  if (claimed.rows != truth.rows || claimed.cols != truth.cols)
    return "block maps differ in size";
  for (int64_t r = 0; r < truth.rows; ++r)
    for (int64_t c = 0; c < truth.cols; ++c) {
      TileKind got = claimed.at(r, c), want = truth.at(r, c);
      if (got == TileKind::Empty && want != TileKind::Empty)
        return llvm::formatv("tile ({0}, {1}) claimed EMPTY but the mask keeps pairs in it", r, c);
      if (got == TileKind::Full && want != TileKind::Full)
        return llvm::formatv("tile ({0}, {1}) claimed FULL but the mask drops pairs in it", r, c);
    }
  return "";
}

FailureOr<double> mlir::attn::keptFraction(PatternOp pattern, const ReferenceProblem &p,
                                           int64_t rowStep,
                                           llvm::function_ref<void(double)> progress) {
  auto maskOp = pattern.getUnique<MaskOp>();
  if (!maskOp)
    return 1.0;
  auto mask = RegionEvaluator::create(maskOp.getBody(), &p);
  if (failed(mask))
    return failure();
  rowStep = std::max<int64_t>(rowStep, 1);
  int64_t kept = 0, total = 0, done = 0, work = p.batch * p.heads;
  using S = Scalar;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t sq = p.length(b, false), skv = p.length(b, true);
    for (int64_t h = 0; h < p.heads; ++h, ++done) {
      // Rows at the middle of each stride, so that sampling is unbiased for masks that vary
      // linearly with q (causal: every row 0, S, 2S, ... would undercount).
      for (int64_t q = std::min(rowStep / 2, sq - 1); q >= 0 && q < sq; q += rowStep)
        for (int64_t k = 0; k < skv; ++k) {
          kept += mask->run({S{b}, S{h}, S{q}, S{k}, S{sq}, S{skv}})[0].i != 0;
          ++total;
        }
      if (progress)
        progress(double(done + 1) / double(work));
    }
  }
  if (mask->outOfBounds())
    return pattern.emitError(*mask->outOfBounds());
  return total ? double(kept) / double(total) : 0.0;
}
