//===- AST.h - Syntax tree of the .attn language ---------------------*- C++ -*-===//
//
// The parser's output. It knows nothing of MLIR: MLIRGen turns it into the attn dialect.
// Locations are byte offsets resolved through the llvm::SourceMgr that holds the file.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_FRONTEND_AST_H
#define ATTN_FRONTEND_AST_H

#include "llvm/Support/SMLoc.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnc::ast {

struct Expr {
  enum class Kind { Number, Name, Unary, Binary, Call, Index };
  Kind kind;
  llvm::SMLoc loc;
  double number = 0;      // Number
  bool isInteger = false; // Number written without '.', 'e'
  std::string name;       // Name, Call (function), Index (input), Unary/Binary (operator)
  std::vector<std::unique_ptr<Expr>> operands;
  int depth = 1; // of the tree under this node (the parser bounds it)
};
using ExprPtr = std::unique_ptr<Expr>;

/// Elem: the kernel's element type (bf16 or fp16, q's), only for inputs a branch takes as its
/// own q or k.
enum class Type { Int, Float, Bool, Elem };
enum class Normalizer { Softmax, Sigmoid, None, Sum };

/// `param NAME: TYPE = VALUE [in [LO, HI]]`: a compile-time constant, overridable per compile.
struct Param {
  std::string name;
  llvm::SMLoc loc;
  Type type = Type::Int;
  ExprPtr value;            // a constant expression
  ExprPtr rangeLo, rangeHi; // both or neither
};

/// `scalar NAME [= VALUE]`: a float passed at launch.
struct Scalar {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr defaultValue; // a constant expression, or null
};

/// `input NAME: TYPE[DIM, ...]`: an extra tensor; DIM is B H Hkv Sq Skv D, an int or a param.
struct Input {
  std::string name;
  llvm::SMLoc loc;
  Type type = Type::Int;
  std::vector<ExprPtr> shape;
};

/// `let NAME = EXPR` (any type) or, at file level, `mask NAME = EXPR` (must be bool).
struct Let {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr value;
  bool isMask = false;
};

/// A normaliser option `NAME = VALUE`.
struct Option {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr value; // a constant expression
};

/// `linear { feature E; decay E; normalize none|sum; causal }`: a linear (recurrent) form in
/// place of the softmax family's mask, score and weight. Its normaliser is the pattern's.
struct Linear {
  llvm::SMLoc loc;
  ExprPtr feature; // over x; null: the identity
  ExprPtr decay;   // over b, h; null: no decay
  bool causal = false;
};

struct Pattern {
  std::string name;
  llvm::SMLoc loc;
  std::vector<Param> params;
  std::vector<Scalar> scalars;
  std::vector<Input> inputs;
  std::vector<Let> lets;
  ExprPtr mask;   // null: every pair takes part
  ExprPtr score;  // null: the scaled dot product s
  ExprPtr weight; // null: weights are not multiplied
  std::optional<Linear> linear;
  std::optional<Normalizer> normalizer;
  llvm::SMLoc normalizerLoc;
  std::vector<Option> normalizerOptions;
  // Problem shape, each with the location of its clause.
  std::optional<int64_t> heads, kvHeads, headDim, headDimV;
  llvm::SMLoc headsLoc, headDimLoc;
  bool varlen = false;
  bool lse = false;
  // A composite: `branch NAME { clauses }`, each an ordinary pattern that shares the
  // composite's params, lets, inputs, scalars and shape, and `combine EXPR` over their names.
  std::vector<Pattern> branches;
  ExprPtr combine;
  // A branch's `(q = INPUT, k = INPUT)`: inputs of its composite (type elem) it takes as its
  // own queries and keys, in place of the call's q and k; empty: the call's.
  std::string ownQ, ownK;
  llvm::SMLoc ownQLoc, ownKLoc;
};

struct File {
  std::vector<Param> params; // shared by every pattern
  std::vector<Let> lets;     // named expressions and masks, shared by every pattern
  std::vector<Pattern> patterns;
};

} // namespace attnc::ast

#endif // ATTN_FRONTEND_AST_H
