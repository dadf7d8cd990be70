//===- AttnDialect.td - The attn dialect and its enums -------*- tablegen -*-===//
//
// The attn dialect describes attention patterns at two levels:
//   * pattern level: *what* is computed (mask, score modifier, normaliser), with regions of
//     upstream arith/math ops so folding, canonicalisation and CSE come from MLIR;
//   * kernel level: *how* it runs (element type, head dims, tile sizes, warps, the tile
//     classification functions), one op per generated CUDA kernel, whose parts map one to one
//     onto runtime/device/ primitives so that codegen only prints.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_TD
#define ATTN_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "Attention patterns and the kernels generated for them";
  let description = [{
    `attn.pattern` ops hold the declarative description of an attention variant; the passes of
    attnc classify its key/query tiles, choose a tiling and lower it to `attn.kernel` ops that
    the CUDA emitter prints.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let useDefaultAttributePrinterParser = 1;
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

// softmax / sigmoid / none normalise the scores of the softmax family; a linear pattern's
// output is either unnormalised (none) or divided by the sum of its weights (sum).
def Attn_NormalizerKind : I32EnumAttr<"NormalizerKind", "how scores become weights", [
    I32EnumAttrCase<"Softmax", 0, "softmax">,
    I32EnumAttrCase<"Sigmoid", 1, "sigmoid">,
    I32EnumAttrCase<"None", 2, "none">,
    I32EnumAttrCase<"Sum", 3, "sum">
  ]> {
  let cppNamespace = "::mlir::attn";
}

def Attn_TileTemplate : I32EnumAttr<"TileTemplate", "device-library kernel template", [
    I32EnumAttrCase<"Sm80", 0, "sm80">,
    I32EnumAttrCase<"Sm90", 1, "sm90">,
    I32EnumAttrCase<"Linear", 2, "linear">
  ]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_TileTemplateAttr : EnumAttr<Attn_Dialect, Attn_TileTemplate, "template">;

#endif // ATTN_DIALECT_TD
