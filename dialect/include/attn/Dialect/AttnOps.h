//===- AttnOps.h - attn dialect operations ---------------------------*- C++ -*-===//
#ifndef ATTN_DIALECT_ATTNOPS_H
#define ATTN_DIALECT_ATTNOPS_H

#include "attn/Dialect/AttnDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "attn/Dialect/AttnEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "attn/Dialect/AttnAttrs.h.inc"

#define GET_OP_CLASSES
#include "attn/Dialect/AttnOps.h.inc"

namespace mlir::attn {

/// Number of index arguments of each region kind (see AttnOps.td).
constexpr unsigned kMaskIndexArgs = 6;     // b h q k sq skv
constexpr unsigned kScoreModIndexArgs = 6; // after s: b h q k sq skv
constexpr unsigned kKvRangeArgs = 6;       // b h q0 q1 sq skv
constexpr unsigned kTileFullArgs = 8;      // b h q0 q1 k0 k1 sq skv (tile_empty too)
constexpr unsigned kDecayArgs = 4;         // b h t d
constexpr unsigned kCombineIndexArgs = 3;  // b h q, then one f32 per branch

/// Limits of the kernel argument block (runtime/device/attnc/params.cuh).
constexpr unsigned kMaxInputs = 8;
constexpr unsigned kMaxBranches = 4; // a composite's (runtime/device/attnc/params.cuh)
constexpr unsigned kMaxScalars = 8;

/// The problem sizes an input tensor's dimensions may name (D: the head dim of q and k).
constexpr llvm::StringLiteral kProblemSizes[] = {"B", "H", "Hkv", "Sq", "Skv", "D"};

/// Block argument and yield types of each region op, as fixed in AttnOps.td.
struct RegionSignature {
  SmallVector<Type> args;
  SmallVector<Type> results;
};
RegionSignature getRegionSignature(Operation *regionOp);

/// Creates the entry block of `region` with the argument types of `sig`.
Block *createRegionBlock(OpBuilder &builder, Region &region, const RegionSignature &sig,
                         Location loc);

/// Registers the attn dialect and the upstream dialects its regions use.
void registerAttnDialects(DialectRegistry &registry);

/// MUFU operations (tanh, exp, exp2, log, log2, powf) in a score modifier's body, per score.
int64_t countMufuOps(ScoreModOp scoreMod);

/// A linear pattern's (or kernel's) map of whole rows (LinearOp's `feature_map`).
enum class FeatureMap { Elementwise, Taylor2, Hedgehog };
FeatureMap getFeatureMap(LinearOp linear);
/// The input holding a hedgehog map's weights, ["H", "D", M] (null for any other map).
InputOp getFeatureWeights(LinearOp linear);
/// F, the features phi gives each row of q and k at head dim `headDim` (headDim for an
/// elementwise map; 0 when the map is malformed).
int64_t getFeatureDim(LinearOp linear, int64_t headDim);
/// The rows of the state (and key sum): F, rounded up to a multiple of 64 for a row map (the
/// kernels' feature slices; the extra rows stay zero).
int64_t getLinearStateDim(LinearOp linear, int64_t headDim);
/// The widest state a row map may give (four slices of 64 rows).
constexpr int64_t kMaxFeatureDim = 256;

/// Whether a softmax-family pattern's (or kernel's) work tiles all visit every key tile, and so
/// all take the same time: no mask, sequences not packed; false for a linear form. Codegen's
/// launch description (evenWork: the Hopper grid's work order) and `attnc explain` ask it.
template <class PatternOrKernel> bool hasEvenWorkTiles(PatternOrKernel op) {
  return !op.template getUnique<LinearOp>() && !op.template getUnique<MaskOp>() && !op.getVarlen();
}

/// The branch patterns of `composite`, in order (null where a name does not resolve).
SmallVector<PatternOp> getBranchPatterns(CompositeOp composite);

/// The branch that carries `composite`'s state: its one linear branch (null when it has none or
/// several).
PatternOp getStatefulBranch(CompositeOp composite);

/// A branch's own queries and keys (`branch NAME(q = X, k = Y)`): the slots, among
/// `composite`'s inputs, of its `none` (the kernel's element type) inputs X [B, Sq, H, N] and
/// Y [B, Skv, Hkv, N]; nullopt when branch `index` takes the call's q and k.
std::optional<std::pair<unsigned, unsigned>> getBranchOwnQK(CompositeOp composite, unsigned index);
/// The first branch of `composite` on the call's q and k, whose head dims are the call's.
unsigned getCallBranch(CompositeOp composite);

} // namespace mlir::attn

#endif // ATTN_DIALECT_ATTNOPS_H
