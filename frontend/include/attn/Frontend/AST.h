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
  enum class Kind { Number, Name, Unary, Binary, Call };
  Kind kind;
  llvm::SMLoc loc;
  double number = 0;      // Number
  bool isInteger = false; // Number written without '.', 'e'
  std::string name;       // Name, Call (function), Unary/Binary (operator spelling)
  std::vector<std::unique_ptr<Expr>> operands;
};
using ExprPtr = std::unique_ptr<Expr>;

enum class Normalizer { Softmax, Sigmoid, None };

struct Pattern {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr mask;  // null: every pair takes part
  ExprPtr score; // null: the scaled dot product s
  std::optional<Normalizer> normalizer;
  llvm::SMLoc normalizerLoc;
  std::optional<double> scale; // normalize softmax(scale = c)
};

struct File {
  std::vector<Pattern> patterns;
};

} // namespace attnc::ast

#endif // ATTN_FRONTEND_AST_H
