//===- TileConfig.cpp - Kernel tiling per arch, type and head dim -------------===//
//
// One table of the tilings the device library is tuned for. sm_90a gets the Hopper template
// (wgmma, TMA, warp specialisation: fwd_sm90.cuh, head dims 64/128/256); every other arch from
// sm_80 on gets the mma.sync template (sm80, head dims 64/128). Linear patterns get the chunked
// linear template on every arch.
//
//===----------------------------------------------------------------------===//
#include "TileConfig.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

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

/// Shared memory of the Hopper template: the alignment slack, the Q tile, the K/V stages and the
/// barriers must fit the 227 KiB a CTA may take (the layout of fwdSm90SmemBytes in
/// runtime/device/attnc/params.cuh, which the passes do not include).
static bool sm90TilesFit(int64_t headDim, int64_t headDimV, int64_t blockM, int64_t blockN,
                         int64_t stages) {
  const int64_t barriers = 8 * (4 + 4 * stages);
  return 1024 + 2 * (blockM * headDim + stages * blockN * (headDim + headDimV)) + barriers <=
         227 * 1024;
}

int64_t mlir::attn::sm90BlockNOverride(int64_t headDim, int64_t headDimV, int64_t blockM,
                                       int64_t stages) {
  const char *env = std::getenv("ATTNC_SM90_BLOCK_N");
  if (!env)
    return 0;
  const int64_t n = std::atoll(env);
  // wgmma wrappers exist for these N (scripts/gen_wgmma.py).
  const bool wrapped = n == 64 || n == 80 || n == 96 || n == 128 || n == 192 || n == 256;
  if (wrapped && sm90TilesFit(headDim, headDimV, blockM, n, stages))
    return n;
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true))
    llvm::errs() << "attnc: ATTNC_SM90_BLOCK_N=" << env << " ignored for head dims " << headDim
                 << "/" << headDimV
                 << " (64, 80, 96, 128, 192 or 256 keys whose tiles fit 227 KiB)\n";
  return 0;
}

int64_t mlir::attn::sm90StagesOverride(int64_t headDim, int64_t headDimV, int64_t blockM,
                                       int64_t blockN) {
  const char *env = std::getenv("ATTNC_SM90_STAGES");
  if (!env)
    return 0;
  const int64_t stages = std::atoll(env);
  if (stages >= 1 && stages <= 8 && sm90TilesFit(headDim, headDimV, blockM, blockN, stages))
    return stages;
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true))
    llvm::errs() << "attnc: ATTNC_SM90_STAGES=" << env << " ignored for head dims " << headDim
                 << "/" << headDimV << " and " << blockM << "x" << blockN
                 << " tiles (1 to 8 stages that fit 227 KiB)\n";
  return 0;
}

int64_t mlir::attn::sm90BlockMOverride() {
  const char *env = std::getenv("ATTNC_SM90_BLOCK_M");
  if (!env)
    return 0;
  const int64_t m = std::atoll(env);
  if (m == 128 || m == 192)
    return m;
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true))
    llvm::errs() << "attnc: ATTNC_SM90_BLOCK_M=" << env << " ignored (128 or 192 query rows)\n";
  return 0;
}

/// The reasons for the Hopper template's query and key tiles, as selectTileConfig chose them.
/// `chosenM` and `chosenN` are its tiles before the knobs.
static std::string sm90TileReasons(const HookProfile &hooks, int64_t blockM, int64_t blockN,
                                   int64_t chosenM, int64_t chosenN, bool wideHead, bool heavy) {
  std::string rows;
  if (blockM != chosenM)
    rows = llvm::formatv("{0} query rows: ATTNC_SM90_BLOCK_M", blockM);
  else if (chosenM == 192)
    rows = llvm::formatv("192 query rows (three consumer warpgroups): head dim 64, every row "
                         "keeps a prefix of the keys, no MUFU operation in the score modifier, "
                         "hooks of cost {0} <= {1}",
                         hooks.cost, kWideQueryTileHookCost);
  else
    rows = "128 query rows (two consumer warpgroups)";
  std::string keys;
  if (blockN != chosenN)
    keys = llvm::formatv("{0} keys: ATTNC_SM90_BLOCK_N", blockN);
  else if (wideHead)
    keys =
        llvm::formatv("{0} keys: head dim 256{1} (hooks of cost {2}, {3} {4})", blockN,
                      heavy ? ", heavy hooks" : "", hooks.cost, heavy ? ">" : "<=", kHeavyHookCost);
  else if (heavy && hooks.scoreModCost > kHeavyHookCost)
    keys = llvm::formatv("96 keys: a score modifier of cost {0} > {1}", hooks.scoreModCost,
                         kHeavyHookCost);
  else if (heavy)
    keys = llvm::formatv("96 keys: mask and score modifier of cost {0} > {1}", hooks.cost,
                         kHeavyMaskCost);
  else
    keys = llvm::formatv("128 keys (mask and score modifier of cost {0}: narrower above {1}, or "
                         "a score modifier above {2})",
                         hooks.cost, kHeavyMaskCost, kHeavyHookCost);
  return rows + "; " + keys;
}

ArrayRef<int64_t> mlir::attn::templateHeadDims(TileTemplate kernelTemplate) {
  static constexpr int64_t kSm90[] = {64, 128, 256}, kOthers[] = {64, 128};
  if (kernelTemplate == TileTemplate::Sm90)
    return kSm90;
  return kOthers;
}

/// Whether `kernelTemplate` takes head dims d and dv.
static bool takesHeadDims(TileTemplate kernelTemplate, int64_t d, int64_t dv) {
  return llvm::is_contained(templateHeadDims(kernelTemplate), d) &&
         llvm::is_contained(templateHeadDims(kernelTemplate), dv);
}

FailureOr<TileConfig> mlir::attn::selectTileConfig(StringRef arch, Type elementType,
                                                   int64_t headDim, int64_t headDimV,
                                                   const HookProfile &hooks, std::string *why) {
  if (parseSmVersion(arch) < 80)
    return failure();
  if (!elementType.isBF16() && !elementType.isF16())
    return failure();
  if (arch == "sm_90a") {
    // The Hopper template: a producer warpgroup and a consumer warpgroup per 64 query rows.
    // Head dims 64 take 192 rows (three consumers of 160 registers: the exponentials of one
    // run beside the other two's products, the MUFU being as busy as the tensor cores at D64)
    // where that measured faster (bench/RESULTS.md): every row keeps a prefix of the keys
    // (full, causal, prefix-LM; a window wastes more keys on taller tiles), no MUFU operation
    // in the score modifier, and hooks that leave the registers (kWideQueryTileHookCost).
    // Everything else takes 128 rows in two consumers of 232.
    // Key tiles of 128 (96 under a heavy score modifier or a mask and modifier above
    // kHeavyMaskCost), and 80 when a head dim is 256: S, P and the
    // 64 x 256 O accumulator fit the consumers' registers and two stages of 80-key tiles fit
    // shared memory (64 under heavy hooks; 80 measured 3-9% faster than 64 on the H100).
    if (!takesHeadDims(TileTemplate::Sm90, headDim, headDimV))
      return failure();
    int64_t stages = 2;
    const bool wideHead = std::max(headDim, headDimV) == 256;
    const bool heavy = wideHead
                           ? hooks.cost > kHeavyHookCost
                           : hooks.scoreModCost > kHeavyHookCost || hooks.cost > kHeavyMaskCost;
    const bool wideQueries = std::max(headDim, headDimV) == 64 && hooks.keyPrefixes &&
                             hooks.mufuScoreOps == 0 && hooks.cost <= kWideQueryTileHookCost;
    const int64_t chosenM = wideQueries ? 192 : 128;
    const int64_t chosenN = wideHead ? (heavy ? 64 : 80) : heavy ? 96 : 128;
    int64_t blockM = chosenM, blockN = chosenN;
    if (int64_t forced = sm90BlockMOverride())
      blockM = forced;
    if (int64_t forced = sm90BlockNOverride(headDim, headDimV, blockM, stages))
      blockN = forced;
    if (!sm90TilesFit(headDim, headDimV, blockM, blockN, stages)) {
      // Only a forced 192-row tile can miss (head dim 256).
      static std::atomic<bool> warned{false};
      if (!warned.exchange(true))
        llvm::errs() << "attnc: ATTNC_SM90_BLOCK_M=" << blockM << " ignored for head dims "
                     << headDim << "/" << headDimV << " (its tiles do not fit 227 KiB)\n";
      blockM = 128;
    }
    if (int64_t forced = sm90StagesOverride(headDim, headDimV, blockM, blockN))
      stages = forced;
    if (why)
      *why = sm90TileReasons(hooks, blockM, blockN, chosenM, chosenN, wideHead, heavy);
    return TileConfig{TileTemplate::Sm90, blockM, blockN, /*warps=*/4 * (1 + blockM / 64), stages};
  }
  if (!takesHeadDims(TileTemplate::Sm80, headDim, headDimV))
    return failure();
  if (why)
    *why = "the mma.sync template's one tiling (8 warps of 16 query rows)";
  return TileConfig{TileTemplate::Sm80, /*blockM=*/128, /*blockN=*/64, /*warps=*/8,
                    /*stages=*/2};
}

FailureOr<TileConfig> mlir::attn::selectLinearConfig(StringRef arch, Type elementType,
                                                     int64_t headDim, int64_t headDimV) {
  if (parseSmVersion(arch) < 80 || (!elementType.isBF16() && !elementType.isF16()))
    return failure();
  if (!takesHeadDims(TileTemplate::Linear, headDim, headDimV))
    return failure();
  return TileConfig{TileTemplate::Linear, /*blockM=*/64, /*blockN=*/64, /*warps=*/4,
                    /*stages=*/2};
}
