//===- Passes.td - attnc passes --------------------------------*- tablegen -*-===//
#ifndef ATTN_TRANSFORMS_PASSES_TD
#define ATTN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnClassifyBlocksPass : Pass<"attn-classify-blocks", "::mlir::ModuleOp"> {
  let summary = "Derive the tile functions kv_range, tile_full and tile_empty of each pattern";
  let description = [{
    Adds to every `attn.pattern` that lacks them an `attn.kv_range` (the keys a block of query
    rows may see: key tiles outside it are EMPTY and never visited), an `attn.tile_full` (true
    when the mask keeps every pair of a tile: FULL tiles run with no mask code) and an
    `attn.tile_empty` (true when the mask keeps no pair of a tile inside the range: skipped).
    Tiles that are neither are PARTIAL and evaluate the mask per element. It also sets the
    pattern's `mask_class` to what the mask was recognised as (causal, sliding_window(w), ...).

    The functions are built from the mask region: interval analysis over the tile's box for
    tile_full / tile_empty and a closed form from the bounds the mask puts on k for kv_range.
    A pattern without a mask sees every key and every in-bounds tile is FULL. Whatever the
    analysis cannot bound (input tensors, floats) is PARTIAL: correct, only slower.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def AttnLowerToKernelPass : Pass<"attn-lower-to-kernel", "::mlir::ModuleOp"> {
  let summary = "Create one attn.kernel per pattern for a target configuration";
  let description = [{
    Chooses the device-library template and its tiling (block sizes, warps, pipeline stages)
    for the target architecture, element type and head dims, and creates an `attn.kernel`
    holding the pattern's hooks and declarations. Patterns that fix their head dims (`head_dim`)
    use those instead of the target's. Patterns must have been classified first.
    Each `attn.composite` then gets its plan: `epilogue_branch`, the last softmax-family
    branch with a kernel, whose epilogue applies the combine (none: the combine kernel runs
    after every branch).
  }];
  let options = [
    Option<"elementType", "element-type", "std::string", /*default=*/"\"bf16\"",
           "Element type of Q, K, V and O: bf16 or f16">,
    Option<"headDim", "head-dim", "int64_t", /*default=*/"128", "Head dim of Q and K">,
    Option<"headDimV", "head-dim-v", "int64_t", /*default=*/"0",
           "Head dim of V and O (0: same as head-dim)">,
    Option<"arch", "arch", "std::string", /*default=*/"\"sm_90a\"", "Target architecture">,
    Option<"skipUnsupported", "skip-unsupported", "bool", /*default=*/"false",
           "Leave patterns without a kernel template for the target unlowered instead of "
           "failing">,
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

#endif // ATTN_TRANSFORMS_PASSES_TD
