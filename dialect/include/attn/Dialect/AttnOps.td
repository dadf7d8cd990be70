//===- AttnOps.td - attn dialect operations ------------------*- tablegen -*-===//
//
// Region signatures are fixed per op, so that every pass and the emitter can rely on them:
//   mask       ^bb0(b, h, q, k, sq, skv: index)            -> i1   (true = the pair takes part)
//   score_mod  ^bb0(s: f32, b, h, q, k, sq, skv: index)    -> f32  (s = c * q.k)
//   kv_range   ^bb0(b, h, q0, q1, sq, skv: index)          -> (index, index)  keys [lo, hi)
//   tile_full  ^bb0(b, h, q0, q1, k0, k1, sq, skv: index)  -> i1   (mask true on the whole tile)
//   tile_empty ^bb0(b, h, q0, q1, k0, k1, sq, skv: index)  -> i1   (mask false on the whole tile)
//   weight     ^bb0(b, h, q, k, sq, skv: index)            -> f32  (multiplies the normalised weight)
//   feature    ^bb0(x: f32)                                -> f32  (linear: phi, per element)
//   decay      ^bb0(b, h, t, d: index)                     -> f32  (linear: gamma in (0, 1])
//   combine    ^bb0(b, h, q: index, x_1 .. x_n: f32)       -> f32  (composite: one output element)
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
    The body holds exactly one normaliser (`attn.normalize`), at most one `attn.mask`, one
    `attn.score_mod` and one `attn.weight`, and the declarations of the extra input tensors
    (`attn.input`) and run-time scalars (`attn.scalar`) its regions read. After
    `attn-classify-blocks` it also holds the tile functions `attn.kv_range`, `attn.tile_full`
    and `attn.tile_empty` derived from the mask, and `mask_class` names what the mask was
    recognised as. A linear pattern holds `attn.linear` instead of the mask, score and weight,
    with an optional `attn.feature` and `attn.decay`, and is not classified.

    Optional attributes fix the problem shape: `head_dim` / `head_dim_v` (D, Dv), `heads` /
    `kv_heads` (GQA/MQA), `varlen` (packed sequences with cumulative offsets), `lse` (the
    log-sum-exp side output is part of the pattern's interface). `params` records the
    compile-time parameter values the regions were built with. `block_map` (set by
    `attn-classify-blocks` for masks that read input tensors or scalars) means the kernels
    classify tiles from a block map built at run time from the mask region.

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
  let arguments = (ins SymbolNameAttr:$sym_name,
    OptionalAttr<I64Attr>:$head_dim,
    OptionalAttr<I64Attr>:$head_dim_v,
    OptionalAttr<I64Attr>:$heads,
    OptionalAttr<I64Attr>:$kv_heads,
    UnitAttr:$varlen,
    UnitAttr:$lse,
    OptionalAttr<DictionaryAttr>:$params,
    OptionalAttr<StrAttr>:$mask_class,
    UnitAttr:$block_map);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name), [{
    build($_builder, $_state, $_builder.getStringAttr(name), nullptr, nullptr, nullptr, nullptr,
          false, false, nullptr, nullptr, false);
  }]>];
  let extraClassDeclaration = AttnGetUnique;
}

def Attn_CompositeOp : Attn_Op<"composite", [
    Symbol, IsolatedFromAbove, NoTerminator, SingleBlock, HasParent<"::mlir::ModuleOp">]> {
  let summary = "several patterns over the same q, k, v whose outputs combine per element";
  let description = [{
    A layer of several branches (Based: linear attention plus a sliding window; Lizard: a
    gated linear form plus a window): each branch is an ordinary `attn.pattern` of the module,
    named in `branches`, computing its own output O_i from the call's q, k, v. The composite's
    output is `attn.combine` applied to each element: O[b, q, h, e] = combine(b, h, q,
    O_1[b, q, h, e], ..., O_n[b, q, h, e]). The body declares the inputs and scalars the
    combine reads (`attn.input`, `attn.scalar`); every branch declares the same ones, in the
    same order, so one argument block serves every launch. `branch_q` and `branch_k` (one
    name per branch, "" for none) give a branch queries and keys of its own in place of the
    call's: inputs of the composite of element type `none` (the kernel's, bf16 or fp16), laid
    out [B, Sq, H, N] and [B, Skv, Hkv, N], N the branch pattern's head_dim (Based: Taylor-2
    linear attention over 16-dim projections beside a window over the 64-dim heads).
    `epilogue_branch`, set by the lowering to kernels (attn-lower-to-kernel), is the branch
    whose forward kernel applies the combine in its epilogue, reading the other branches'
    outputs, so that no separate combine launch runs after it; absent: every branch writes its
    own output and the combine kernel runs last.

    ```mlir
    attn.composite @based branches [@based_global, @based_local] {
      attn.combine {
      ^bb0(%b: index, %h: index, %q: index, %global: f32, %local: f32):
        %sum = arith.addf %global, %local : f32
        attn.yield %sum : f32
      }
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, FlatSymbolRefArrayAttr:$branches,
                       OptionalAttr<StrArrayAttr>:$branch_q, OptionalAttr<StrArrayAttr>:$branch_k,
                       OptionalAttr<I64Attr>:$epilogue_branch);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name `branches` $branches attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = AttnGetUnique;
}

def Attn_KernelOp : Attn_Op<"kernel", [
    Symbol, IsolatedFromAbove, NoTerminator, SingleBlock, HasParent<"::mlir::ModuleOp">]> {
  let summary = "one generated forward kernel of a pattern, with its configuration";
  let description = [{
    A kernel-level op: everything the emitter prints. The attributes pick the device-library
    template and its compile-time parameters; the body holds the hooks the template calls
    (`attn.kv_range`, `attn.tile_full`, `attn.tile_empty`, and the pattern's `attn.mask` /
    `attn.score_mod` / `attn.weight` if it has them) and the pattern's input and scalar
    declarations, whose order is their slot in the kernel's argument block. `scale` is the
    effective scale c of s = c * q.k (temperature folded in); `bias` is the sigmoid bias.
    `score_in_scale` and `score_out_scale` are constant factors taken out of the score
    modifier by `attn-lower-to-kernel`: the template passes c * score_in_scale * q.k to it,
    and the softmax runs over score_out_scale times what it yields (its log2 factor carries the
    product), so neither costs a multiplication per score.
    With `block_map`, the emitter adds a block-map builder entry point (the mask evaluated on
    every pair of every tile) and the kernel's tile_full / tile_empty read its map.
    A kernel of a linear pattern (template `linear`) holds `attn.linear` and the pattern's
    `attn.feature` / `attn.decay` instead of the tile functions; block_m is its chunk and
    block_n the slice of Dv one thread block carries.
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
    Attn_NormalizerKind:$normalizer,
    F64Attr:$scale,
    OptionalAttr<F64Attr>:$bias,
    UnitAttr:$varlen,
    UnitAttr:$block_map,
    OptionalAttr<F64Attr>:$score_in_scale,
    OptionalAttr<F64Attr>:$score_out_scale);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = AttnGetUnique;
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

def Attn_TileEmptyOp : Attn_RegionOp<"tile_empty"> {
  let summary = "whether the mask drops every pair of a tile";
  let description = [{
    `^bb0(%b, %h, %q0, %q1, %k0, %k1, %sq, %skv: index)` yielding `i1`: true only if the mask
    is false on all of [q0, q1) x [k0, k1). Such EMPTY tiles inside the kv_range are skipped.
    Produced by `attn-classify-blocks`; `false` is always correct, only slower.
  }];
}

def Attn_WeightOp : Attn_RegionOp<"weight"> {
  let summary = "a factor multiplying the normalised attention weights";
  let description = [{
    `^bb0(%b, %h, %q, %k, %sq, %skv: index)` yielding one `f32` w: the output is
    sum_k w(q, k) p(q, k) v_k where p is the normalised weight (RMT-style decay). A weight
    reads indices, sizes, parameters, scalars and inputs; never the score.
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

def Attn_FeatureOp : Attn_RegionOp<"feature"> {
  let summary = "the feature map of a linear pattern, applied to each element of q and k";
  let description = [{
    `^bb0(%x: f32)` yielding one `f32`: phi(x) for every element of q and k (identity, relu,
    elu + 1, ...). Without one, phi is the identity.
  }];
}

def Attn_DecayOp : Attn_RegionOp<"decay"> {
  let summary = "the decay of a linear pattern's state: per head, per token, or per key dimension";
  let description = [{
    `^bb0(%b, %h, %t, %d: index)` yielding one `f32` gamma in (0, 1], the factor row %d of the
    state (key dimension %d) is multiplied by before token t (a position in the call's
    sequence) is added: key s contributes to query t through dimension d with weight
    gamma_{s+1,d} * ... * gamma_{t,d}. A decay that uses neither %t nor %d is constant along the
    sequence, gamma^(t - s) (RetNet, Lightning Attention); one that uses %t is a data-dependent
    gate, read from an input (Mamba-2, gated retention, scalar-gate GLA); one that uses %d is a
    gate per key dimension (GLA). Without one, gamma is 1.
  }];
  let extraClassDeclaration = [{
    /// Whether gamma depends on the token position %t (a gate per token).
    bool readsPosition() { return !getBody().getArgument(2).use_empty(); }
    /// Whether gamma depends on the key dimension %d (a gate per key dimension).
    bool readsKeyDim() { return !getBody().getArgument(3).use_empty(); }
  }];
}

def Attn_CombineOp : Attn_Op<"combine", [
    ParentOneOf<["CompositeOp"]>, SingleBlock, IsolatedFromAbove]> {
  let summary = "how a composite's branch outputs combine into one output element";
  let description = [{
    `^bb0(%b, %h, %q: index, %x_1 .. %x_n: f32)` yielding one `f32`, with x_i the element of
    branch i's output at (b, q, h, e) for every value column e: a sum, a weighted sum with
    weights from inputs or scalars (per head, per token), or any other expression.
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Attn_LinearOp : Attn_Op<"linear", [ParentOneOf<["PatternOp", "KernelOp"]>]> {
  let summary = "marks a linear (recurrent) pattern: a feature map and a decayed running state";
  let description = [{
    The pattern computes, for query t and key s of one sequence (s <= t when `causal`),
      o_t = sum_s c * gamma_{s+1} ... gamma_t * (phi(q_t) . phi(k_s)) * v_s
    with phi from `attn.feature`, gamma from `attn.decay` and c the scale of the pattern's
    `attn.normalize` (`none`), or that sum divided by the same sum without v_s (`sum`). In
    recurrent form the state S_t = gamma_t S_(t-1) + phi(k_t) v_t^T is carried between calls:
    a prefill may start from a given state and return the final one, and a decode step is
    S <- gamma S + phi(k) v^T, o = c phi(q)^T S. A linear pattern has no mask, score or
    weight; without `causal` every query sees every key, and there is no decay.

    `feature_map` names a map of whole rows in place of `attn.feature`'s per-element one, whose
    F features differ from the head dim D:
      - "taylor2" (Based): phi(x) = [1, x_i / D^(1/4), x_i x_j c_ij (i <= j)] with
        c_ii = 1/sqrt(2D), c_ij = 1/sqrt(D), so phi(q) . phi(k) = 1 + z + z^2 / 2 with
        z = q.k / sqrt(D); F = 1 + D + D (D + 1) / 2.
      - "hedgehog" (Hedgehog): phi(x) = [softmax(x W_h), softmax(-x W_h)] with W the input
        named by `feature_weights`, f32 ["H", "D", M]; F = 2 M.
    The state then has F rows (padded to a multiple of 64 by zero rows: linearStateDim).
  }];
  let arguments = (ins UnitAttr:$causal, OptionalAttr<StrAttr>:$feature_map,
                       OptionalAttr<StrAttr>:$feature_weights);
  let assemblyFormat = "(`causal` $causal^)? attr-dict";
}

def Attn_NormalizeOp : Attn_Op<"normalize", [ParentOneOf<["PatternOp"]>]> {
  let summary = "how scores become attention weights";
  let description = [{
    `softmax` or `sigmoid` over the (modified) score t, or `none` (the weights are t itself).
    A linear pattern (`attn.linear`) takes `none` or `sum` (its output divided by the sum of
    its weights).
    `scale` replaces the default c = 1/sqrt(D) of s = c * q.k; `temperature` T divides it
    (c / T); `bias` is added before a sigmoid: sigmoid(t + bias).
  }];
  let arguments = (ins Attn_NormalizerKind:$kind, OptionalAttr<F64Attr>:$scale,
                       OptionalAttr<F64Attr>:$temperature, OptionalAttr<F64Attr>:$bias);
  let assemblyFormat = "$kind attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = AttnGetScaleValue # [{
    /// The scale c of s = c * q.k for head dim `headDim`, temperature folded in.
    double getEffectiveScale(int64_t headDim);
  }];
}

//===----------------------------------------------------------------------===//
// Inputs and scalars
//===----------------------------------------------------------------------===//

def Attn_InputOp : Attn_Op<"input", [ParentOneOf<["PatternOp", "KernelOp", "CompositeOp"]>]> {
  let summary = "declares an extra input tensor that pattern regions read";
  let description = [{
    A dense row-major tensor of `i32` or `f32` elements (document ids, per-head slopes, bias
    tables, position ids), or in a composite and its branches of element type `none`: the
    kernel's own element type (bf16 or fp16), a branch's own q or k, which no region reads. Each entry of `shape` is a problem size ("B", "H", "Hkv", "Sq",
    "Skv", "D": the head dim of q and k) or a positive integer. Regions read it with `attn.load`; the declaration's position
    among the inputs of its pattern is its slot in the kernel's argument block.

    ```mlir
    attn.input "doc" : i32 ["B", "Skv"]
    ```
  }];
  let arguments = (ins StrAttr:$name, TypeAttr:$element_type, ArrayAttr:$shape);
  let assemblyFormat = "$name `:` $element_type $shape attr-dict";
  let hasVerifier = 1;
}

def Attn_ScalarOp : Attn_Op<"scalar", [ParentOneOf<["PatternOp", "KernelOp", "CompositeOp"]>]> {
  let summary = "declares a run-time f32 scalar that pattern regions read";
  let description = [{
    A value passed at launch (not part of the compiled kernel), with an optional default.
    Regions read it with `attn.get_scalar`.
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<F64Attr>:$default_value);
  let assemblyFormat = "$name attr-dict";
}

def Attn_LoadOp : Attn_Op<"load", [Pure]> {
  let summary = "reads one element of an extra input tensor";
  let description = [{
    `%x = attn.load "doc"[%b, %k] : i32`. Indices past an extent are an error in the reference
    evaluator and are clamped into the tensor on the GPU.
  }];
  let arguments = (ins StrAttr:$input, Variadic<Index>:$indices);
  let results = (outs AnyTypeOf<[I32, F32]>:$result);
  let assemblyFormat = "$input `[` $indices `]` attr-dict `:` type($result)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The declaration this load reads, in the enclosing pattern or kernel; null if none.
    InputOp getDeclaration();
  }];
}

def Attn_GetScalarOp : Attn_Op<"get_scalar", [Pure]> {
  let summary = "reads a run-time scalar";
  let arguments = (ins StrAttr:$scalar);
  let results = (outs F32:$result);
  let assemblyFormat = "$scalar attr-dict `:` type($result)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The declaration this op reads, in the enclosing pattern or kernel; null if none.
    ScalarOp getDeclaration();
  }];
}

def Attn_YieldOp : Attn_Op<"yield", [Pure, Terminator, ReturnLike,
    ParentOneOf<["MaskOp", "ScoreModOp", "KvRangeOp", "TileFullOp", "TileEmptyOp",
                 "WeightOp", "FeatureOp", "DecayOp", "CombineOp"]>]> {
  let summary = "yields the values of a pattern region";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // ATTN_OPS_TD
