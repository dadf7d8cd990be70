//===- MLIRGen.h - .attn syntax tree to the attn dialect -------------*- C++ -*-===//
#ifndef ATTN_FRONTEND_MLIRGEN_H
#define ATTN_FRONTEND_MLIRGEN_H

#include "attn/Frontend/AST.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

namespace attnc {

/// Values given for compile-time parameters (`--param name=value`), as written: "256",
/// "0.5", "true". They replace the defaults of the spec and are checked against its ranges.
using ParamOverrides = llvm::StringMap<std::string>;

/// Builds one attn.pattern per pattern of `file`. Name and type errors are printed through
/// `sourceMgr` (file:line:col with the source line); returns null if there was any. The
/// context must have the attn dialects loaded.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context, llvm::SourceMgr &sourceMgr,
                                          const ast::File &file,
                                          const ParamOverrides &overrides = {});

} // namespace attnc

#endif // ATTN_FRONTEND_MLIRGEN_H
