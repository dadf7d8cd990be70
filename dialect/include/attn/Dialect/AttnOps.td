//===- AttnOps.td - attn dialect operations ------------------*- tablegen -*-===//
//
// Region signatures are fixed per op, so that every pass and the emitter can rely on them:
//   mask       ^bb0(b, h, q, k, sq, skv: index)            -> i1   (true = the pair takes part)
//   score_mod  ^bb0(s: f32, b, h, q, k, sq, skv: index)    -> f32  (s = c * q.k)
//   kv_range   ^bb0(b, h, q0, q1, sq, skv: index)          -> (index, index)  keys [lo, hi)
//   tile_full  ^bb0(b, h, q0, q1, k0, k1, sq, skv: index)  -> i1   (mask true on the whole tile)
// Positions are within one sequence; sq and skv are that sequence's lengths.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "attn/Dialect/AttnDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

// Accessors shared by ops (one definition, several ops).
defvar AttnGetUnique = [{
    /// The unique op of type OpTy in the body, or null.
    template <typename OpTy> OpTy getUnique() {
      for (mlir::Operation &op : getBody().front())
        if (auto typed = llvm::dyn_cast<OpTy>(op))
          return typed;
      return nullptr;
    }
}];
defvar AttnGetScaleValue = [{
    /// The explicit softmax scale, if any.
    std::optional<double> getScaleValue() {
      if (mlir::FloatAttr attr = getScaleAttr())
        return attr.getValueAsDouble();
      return std::nullopt;
    }
}];

//===----------------------------------------------------------------------===//
// Containers
//===----------------------------------------------------------------------===//

def Attn_PatternOp : Attn_Op<"pattern", [
    Symbol, IsolatedFromAbove, NoTerminator, SingleBlock, HasParent<"::mlir::ModuleOp">]> {
  let summary = "an attention pattern: which pairs interact, how scores are shaped and normalised";
  let description = [{
    The body holds exactly one normaliser (`attn.normalize`), at most one `attn.mask` and at
    most one `attn.score_mod`. After `attn-classify-blocks` it also holds the tile functions
    `attn.kv_range` and `attn.tile_full` derived from the mask.

    ```mlir
    attn.pattern @causal {
      attn.mask {
      ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
        %keep = arith.cmpi sge, %q, %k : index
        attn.yield %keep : i1
      }
      attn.normalize softmax
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = AttnGetUnique;
}

def Attn_KernelOp : Attn_Op<"kernel", [
    Symbol, IsolatedFromAbove, NoTerminator, SingleBlock, HasParent<"::mlir::ModuleOp">]> {
  let summary = "one generated forward kernel of a pattern, with its configuration";
  let description = [{
    A kernel-level op: everything the emitter prints. The attributes pick the device-library
    template and its compile-time parameters; the body holds the hooks the template calls
    (`attn.kv_range`, `attn.tile_full`, and the pattern's `attn.mask` / `attn.score_mod` if it
    has them). `scale`, when present, overrides the default softmax scale 1/sqrt(head_dim).
  }];
  let arguments = (ins
    SymbolNameAttr:$sym_name,
    FlatSymbolRefAttr:$pattern,
    TypeAttr:$element_type,
    I64Attr:$head_dim,
    I64Attr:$head_dim_v,
    I64Attr:$block_m,
    I64Attr:$block_n,
    I64Attr:$warps,
    I64Attr:$stages,
    Attn_TileTemplateAttr:$kernel_template,
    OptionalAttr<F64Attr>:$scale);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = !strconcat(AttnGetUnique, AttnGetScaleValue);
}

//===----------------------------------------------------------------------===//
// Pattern parts
//===----------------------------------------------------------------------===//

class Attn_RegionOp<string mnemonic, list<Trait> traits = []>
    : Attn_Op<mnemonic, !listconcat(traits, [
        ParentOneOf<["PatternOp", "KernelOp"]>, SingleBlock, IsolatedFromAbove])> {
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Attn_MaskOp : Attn_RegionOp<"mask"> {
  let summary = "which (b, h, q, k) pairs take part";
  let description = [{
    `^bb0(%b, %h, %q, %k, %sq, %skv: index)` yielding one `i1`: true where the pair takes part.
    A mask reads only indices, sizes, parameters and input tensors; never the score.
  }];
}

def Attn_ScoreModOp : Attn_RegionOp<"score_mod"> {
  let summary = "reshapes the scaled score of a kept pair";
  let description = [{
    `^bb0(%s: f32, %b, %h, %q, %k, %sq, %skv: index)` yielding one `f32`. `%s` is the scaled
    dot product c * (q . k); the normaliser runs over the yielded value.
  }];
}

def Attn_KvRangeOp : Attn_RegionOp<"kv_range"> {
  let summary = "keys [lo, hi) that query rows [q0, q1) may see";
  let description = [{
    `^bb0(%b, %h, %q0, %q1, %sq, %skv: index)` yielding `(lo, hi)`. Key tiles outside the
    range are EMPTY and never visited. Produced by `attn-classify-blocks`.
  }];
}

def Attn_TileFullOp : Attn_RegionOp<"tile_full"> {
  let summary = "whether the mask keeps every pair of a tile";
  let description = [{
    `^bb0(%b, %h, %q0, %q1, %k0, %k1, %sq, %skv: index)` yielding `i1`: true only if the mask
    holds on all of [q0, q1) x [k0, k1). Such FULL tiles run with no mask code. Produced by
    `attn-classify-blocks`; `false` is always correct (PARTIAL), only slower.
  }];
}

def Attn_NormalizeOp : Attn_Op<"normalize", [ParentOneOf<["PatternOp"]>]> {
  let summary = "how scores become attention weights";
  let description = [{
    `softmax` (with an optional `scale` c replacing 1/sqrt(D)), `sigmoid`, or `none`.
  }];
  let arguments = (ins Attn_NormalizerKind:$kind, OptionalAttr<F64Attr>:$scale);
  let assemblyFormat = "$kind attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = AttnGetScaleValue;
}

def Attn_YieldOp : Attn_Op<"yield", [Pure, Terminator, ReturnLike,
    ParentOneOf<["MaskOp", "ScoreModOp", "KvRangeOp", "TileFullOp"]>]> {
  let summary = "yields the values of a pattern region";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // ATTN_OPS_TD
