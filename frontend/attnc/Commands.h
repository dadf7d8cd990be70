//===- Commands.h - Subcommands of the attnc driver ------------------*- C++ -*-===//
#ifndef ATTNC_DRIVER_COMMANDS_H
#define ATTNC_DRIVER_COMMANDS_H

#include "attn/Frontend/Compiler.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <vector>

namespace attnc {

struct CompileCommandOptions {
  std::string specPath, emit, dtype;
  int headDim;
  std::string arch, outputPath;
};
int runCompileCommand(const CompileCommandOptions &options);

struct CheckCommandOptions {
  std::string specPath;
  std::vector<std::string> dtypes;
  std::vector<int> headDims;
  std::string gpuMode = "auto";
  std::string arch = "sm_90a";
  bool printSource = false;
};
int runCheckCommand(const CheckCommandOptions &options);

/// A spec loaded into a context with file:line:col diagnostics for everything after.
struct LoadedSpec {
  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> handler;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};
/// Reads and parses `path` into pattern-level IR; null (after printing why) on error.
std::unique_ptr<LoadedSpec> loadSpec(const std::string &path);

} // namespace attnc

#endif // ATTNC_DRIVER_COMMANDS_H
