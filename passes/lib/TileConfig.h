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

/// Key tiles on sm_90a narrow (96 keys at head dims up to 128, 64 at 256) when a score
/// modifier costs more than this per element (one per op, 16 per tensor read): it runs on
/// every 64 x 128 tile while the previous tile's P V is in flight and needs more registers
/// than the consumers have. T5's bucketed bias (cost 58) spilled 32 B at 128 keys; at 96 it
/// does not.
constexpr int64_t kHeavyHookCost = 32;

/// A mask runs only on the partial tiles and its per-query reads are hoisted out of the key
/// loop, so at head dims up to 128 it keeps 128 keys up to this cost of mask and score
/// modifier together: the document mask (38) and the per-batch bounds of
/// test/gpu/map_straddle.attn compile without spills there and the document mask measured
/// 6-9% faster at 128 keys than at 96 (bench/RESULTS.md). Head dims 256 narrow at
/// kHeavyHookCost.
constexpr int64_t kHeavyMaskCost = 64;

/// Head dims 64 take q-tiles of 192 rows on sm_90a (three consumer warpgroups of 160
/// registers) only under hooks of at most this cost: ALiBi's score modifier (17) spilled 12 B
/// there; the costlier patterns keep 128 rows and 232 registers.
constexpr int64_t kWideQueryTileHookCost = 12;

/// What the tiling needs to know of a pattern's mask and score modifier.
struct HookProfile {
  /// Per-element cost: one per op, 16 per tensor read (a gather in flight holds its address
  /// and its value); a register-pressure hint.
  int64_t cost = 0;
  /// The score modifier's share of `cost`.
  int64_t scoreModCost = 0;
  /// MUFU operations (tanh, exp, log, ...) in the score modifier.
  int64_t mufuScoreOps = 0;
  /// Every row keeps a prefix of the keys (MaskAnalysis' keepsKeyPrefixes; no mask: true).
  bool keyPrefixes = true;
};

/// The key tile ATTNC_SM90_BLOCK_N asks of the Hopper template for these head dims, query
/// tile and K/V stages (a measurement knob: one of the N scripts/gen_wgmma.py wraps whose tiles
/// fit shared memory), or 0: unset, or a value that does not fit.
int64_t sm90BlockNOverride(int64_t headDim, int64_t headDimV, int64_t blockM, int64_t stages);

/// The K/V ring stages ATTNC_SM90_STAGES asks of the Hopper template for these tiles (a
/// measurement knob: 1 to 8 stages that fit shared memory), or 0: unset or another value.
int64_t sm90StagesOverride(int64_t headDim, int64_t headDimV, int64_t blockM, int64_t blockN);

/// The query tile ATTNC_SM90_BLOCK_M asks of the Hopper template (a measurement knob: 128 or
/// 192 rows, two or three consumer warpgroups), or 0: unset or another value.
int64_t sm90BlockMOverride();

/// The head dims (D and Dv alike) a kernel template takes, ascending.
ArrayRef<int64_t> templateHeadDims(TileTemplate kernelTemplate);

/// The configuration for `arch` (sm_80 ... sm_90a), or failure when none is supported. With
/// `why`, also the reasons for its query and key tiles, in words (`attnc explain`).
FailureOr<TileConfig> selectTileConfig(StringRef arch, Type elementType, int64_t headDim,
                                       int64_t headDimV, const HookProfile &hooks = {},
                                       std::string *why = nullptr);

/// The configuration of the chunked linear template (linear_sm80.cuh) for `arch`, or failure.
/// The chunk (block_m) is 64 rows: the intra-chunk product costs 64 x 64 per row pair and the
/// state update a D x Dv product per chunk, balanced at D = Dv = 128; each thread block carries
/// 64 of the state's Dv columns (block_n), so D x 64 fp32 state fits four warps' registers.
FailureOr<TileConfig> selectLinearConfig(StringRef arch, Type elementType, int64_t headDim,
                                         int64_t headDimV);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_TILECONFIG_H
