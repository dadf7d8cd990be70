//===- Parser.h - Lexer and parser of the .attn language -------------*- C++ -*-===//
#ifndef ATTN_FRONTEND_PARSER_H
#define ATTN_FRONTEND_PARSER_H

#include "attn/Frontend/AST.h"
#include "llvm/Support/SourceMgr.h"

#include <optional>

namespace attnc {

/// Parses the main buffer of `sourceMgr`. Errors are printed through `sourceMgr` as
/// `file:line:col: error: ...` with the source line; returns nullopt if there was any.
std::optional<ast::File> parseAttnFile(llvm::SourceMgr &sourceMgr);

} // namespace attnc

#endif // ATTN_FRONTEND_PARSER_H
