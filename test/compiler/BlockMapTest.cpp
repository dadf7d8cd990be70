//===- BlockMapTest.cpp - Block classification against brute force -----------===//
//
// For every example spec and some extra masks, on many random shapes and tile sizes: the tile
// functions built by attn-classify-blocks (kv_range, tile_full, tile_empty) are evaluated and
// compared with the mask evaluated on every pair. They must be sound (no EMPTY tile with a kept
// pair, no FULL tile with a dropped pair), and exact for the masks the analysis understands
// (index-only masks made of linear bounds, bands and blocks).
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"

#include "MaskAnalysis.h"
#include "attn/Codegen/BlockMap.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

using namespace attnc::test;
using namespace mlir::attn;

namespace {

/// A random problem of sizes only (no q/k/v), with random int/float values for every input.
ReferenceProblem sizesFor(PatternOp pattern, std::mt19937 &rng, int64_t maxLen) {
  ReferenceProblem p;
  p.batch = 2;
  p.heads = pattern.getHeads() ? int64_t(*pattern.getHeads()) : 4;
  p.kvHeads = pattern.getKvHeads() ? int64_t(*pattern.getKvHeads()) : 2;
  p.seqQ = 1 + rng() % maxLen;
  p.seqK = rng() % 3 == 0 ? p.seqQ : 1 + rng() % maxLen;
  for (mlir::Operation &op : pattern.getBody().front())
    if (auto input = mlir::dyn_cast<InputOp>(op)) {
      int64_t count = 1;
      for (int64_t e : resolveInputShape(input, p))
        count *= e;
      std::vector<double> &values = p.inputs[input.getName()];
      for (int64_t i = 0; i < count; ++i)
        values.push_back(input.getElementType().isF32() ? double(rng() % 100) / 10.0
                                                        : double(rng() % 3));
    }
  return p;
}

/// Exact except where the kernel keeps a tile PARTIAL for bounds (k1 > Skv).
std::string checkExact(const BlockMap &claimed, const BlockMap &truth, int64_t skv) {
  for (int64_t r = 0; r < truth.rows; ++r)
    for (int64_t c = 0; c < truth.cols; ++c) {
      TileKind got = claimed.at(r, c), want = truth.at(r, c);
      bool edge = (c + 1) * truth.blockN > skv;
      if (got != want && !(edge && want == TileKind::Full && got == TileKind::Partial))
        return "tile (" + std::to_string(r) + ", " + std::to_string(c) + ") classified " +
               std::to_string(int(got)) + ", exact " + std::to_string(int(want));
    }
  return "";
}

void checkSpec(const std::string &text, const std::string &what, bool mustBeExact, unsigned seed) {
  std::unique_ptr<Compiled> c = compile(text);
  ASSERT_TRUE(c) << what;
  std::mt19937 rng(seed);
  for (PatternOp pattern : c->module->getOps<PatternOp>()) {
    if (pattern.getUnique<mlir::attn::LinearOp>())
      continue; // a linear form has no mask and no tiles to classify
    bool exact = mustBeExact || (pattern.getMaskClass() && *pattern.getMaskClass() != "general");
    for (int trial = 0; trial < 16; ++trial) {
      ReferenceProblem p = sizesFor(pattern, rng, trial < 10 ? 300 : 600);
      int64_t blockM = int64_t(16) << (rng() % 4), blockN = int64_t(16) << (rng() % 4);
      for (int64_t b = 0; b < p.batch; ++b) {
        int64_t h = rng() % p.heads;
        auto claimed = classifyTiles(pattern, p, b, h, blockM, blockN);
        auto truth = bruteForceTiles(pattern, p, b, h, blockM, blockN);
        ASSERT_TRUE(mlir::succeeded(claimed) && mlir::succeeded(truth)) << what;
        std::string where = what + " @" + pattern.getSymName().str() + " Sq " +
                            std::to_string(p.seqQ) + " Skv " + std::to_string(p.seqK) + " tile " +
                            std::to_string(blockM) + "x" + std::to_string(blockN);
        EXPECT_EQ(checkSoundness(*claimed, *truth), "") << where;
        if (exact) {
          std::string maskClass = pattern.getMaskClass().value_or("?").str();
          EXPECT_EQ(checkExact(*claimed, *truth, p.seqK), "") << where << " (" << maskClass << ")";
        }
      }
    }
  }
}

TEST(BlockMap, EveryExample) {
  std::error_code ec;
  int specs = 0;
  for (llvm::sys::fs::directory_iterator it(ATTNC_EXAMPLES_DIR, ec), end; it != end && !ec;
       it.increment(ec)) {
    if (llvm::sys::path::extension(it->path()) != ".attn")
      continue;
    auto buffer = llvm::MemoryBuffer::getFile(it->path());
    ASSERT_TRUE(bool(buffer)) << it->path();
    checkSpec((*buffer)->getBuffer().str(), it->path(), /*mustBeExact=*/false, 100 + specs);
    ++specs;
  }
  EXPECT_GE(specs, 15);
}

TEST(BlockMap, LinearMasksAreExact) {
  const char *masks[] = {
      "k <= q",
      "k <= q + Skv - Sq",
      "k < q",
      "q - k < 37 && k <= q",
      "abs(q - k) <= 20",
      "abs(k - q) < 5 || k < 3",
      "k >= q",
      "k > q + 5",
      "q / 48 == k / 48",
      "!(k > q)",
      "!(k > q || q - k >= 100)",
      "k <= q && (k < 7 || q - k < 50)",
      "k == q",
      "2 * k <= q",
      "k - 10 <= q && q <= k + 10",
      "k < 64 || k <= q",
  };
  for (const char *mask : masks)
    checkSpec(std::string("attention m { mask ") + mask + " }", mask, /*mustBeExact=*/true, 7);
}

/// Sinks beside a window whose lower edge reaches them: a tile the two cover together is FULL
/// though neither covers it alone (rows 32..47 against keys 0..31 with 4 sinks and a window of
/// 45), at every tile size, top-left and bottom-right aligned.
TEST(BlockMap, SinksMeetingTheWindowAreExact) {
  for (const char *mask : {"k <= q && (k < 4 || q - k < 45)",
                           "k <= q + Skv - Sq && (q + Skv - Sq - k < 45 || k < 4)"}) {
    std::unique_ptr<Compiled> c = compile(std::string("attention m { mask ") + mask + " }");
    ASSERT_TRUE(c);
    PatternOp pattern = *c->module->getOps<PatternOp>().begin();
    for (auto [sq, skv] : {std::pair<int64_t, int64_t>{64, 64}, {44, 132}, {100, 100}})
      for (int64_t blockM : {16, 32, 64})
        for (int64_t blockN : {16, 32, 64}) {
          ReferenceProblem p;
          p.seqQ = sq;
          p.seqK = skv;
          auto claimed = classifyTiles(pattern, p, 0, 0, blockM, blockN);
          auto truth = bruteForceTiles(pattern, p, 0, 0, blockM, blockN);
          ASSERT_TRUE(mlir::succeeded(claimed) && mlir::succeeded(truth));
          EXPECT_EQ(checkExact(*claimed, *truth, skv), "")
              << mask << " Sq " << sq << " Skv " << skv << " tile " << blockM << "x" << blockN;
        }
  }
}

TEST(BlockMap, OtherMasksAreSound) {
  const char *masks[] = {
      "(q - k) % 7 == 0 && k <= q",
      "max(q, k) < 100",
      "min(q, k) % 5 == 1",
      "select(q > 100, k < 10, k > 50)",
      "q * k < 4000",
      "k / 3 == q / 5",
      "(q + k) % 4 != 0 || k == 0",
      "q != k",
      "float(q) * 0.5 > float(k)",
      "abs(q - k) > 30",
      "k % 32 < 16",
      // Exact only with a case split: a tile where q < 30 holds on some rows and k <= q on the
      // others is FULL, but neither disjunct holds on the whole tile (PARTIAL, still sound).
      "q < 30 || k <= q",
      "q - Sq + Skv >= k && (k / 64) % 2 == 0",
  };
  for (const char *mask : masks)
    checkSpec(std::string("attention m { mask ") + mask + " }", mask, /*mustBeExact=*/false, 9);
}

} // namespace

/// keepsKeyPrefixes (the Hopper tiling's test for taller query tiles) against brute force: a
/// mask it accepts keeps, on every row, keys [0, n) for some n; the listed verdicts hold.
TEST(BlockMap, KeyPrefixesAreSound) {
  const std::pair<const char *, bool> masks[] = {
      {"k <= q", true},
      {"k <= q + Skv - Sq", true},
      {"k < 64 || k <= q", true},
      {"k <= q && k < 100", true},
      {"2 * k <= q", false}, // a prefix, but k with a coefficient is not recognised: false is safe
      {"q - k < 37 && k <= q", false},
      {"abs(q - k) <= 20", false},
      {"q / 48 == k / 48", false},
      {"k >= q", false},
      {"k == q", false},
  };
  std::mt19937 rng(11);
  for (auto [mask, expected] : masks) {
    std::unique_ptr<Compiled> c = compile(std::string("attention m { mask ") + mask + " }");
    ASSERT_TRUE(c) << mask;
    PatternOp pattern = *c->module->getOps<PatternOp>().begin();
    const bool prefixes = keepsKeyPrefixes(pattern.getUnique<MaskOp>());
    EXPECT_EQ(prefixes, expected) << mask;
    if (!prefixes)
      continue;
    for (int trial = 0; trial < 8; ++trial) {
      ReferenceProblem p;
      p.seqQ = 1 + rng() % 200;
      p.seqK = 1 + rng() % 200;
      auto pairs = bruteForceTiles(pattern, p, 0, 0, 1, 1); // one tile per (q, k) pair
      ASSERT_TRUE(mlir::succeeded(pairs)) << mask;
      for (int64_t q = 0; q < p.seqQ; ++q)
        for (int64_t k = 1; k < p.seqK; ++k)
          ASSERT_FALSE(pairs->at(q, k) == TileKind::Full && pairs->at(q, k - 1) != TileKind::Full)
              << mask << ": row " << q << " keeps key " << k << " but not " << k - 1;
    }
  }
}
