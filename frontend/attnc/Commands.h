//===- Commands.h - Subcommands of the attnc driver ------------------*- C++ -*-===//
#ifndef ATTNC_DRIVER_COMMANDS_H
#define ATTNC_DRIVER_COMMANDS_H

#include "attn/Codegen/Reference.h"
#include "attn/Frontend/Compiler.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/SourceMgr.h"

#include <optional>
#include <string>
#include <vector>

namespace attnc {

struct CompileCommandOptions {
  std::string specPath, emit, dtype;
  int headDim;
  std::string arch, outputPath;    // arch: comma-separated for --emit=bundle
  std::vector<std::string> params; // NAME=VALUE
  std::string bundleName;          // --emit=bundle: default the spec file's stem
};
int runCompileCommand(const CompileCommandOptions &options);

struct CheckCommandOptions {
  std::vector<std::string> specPaths; // checked one after the other, one summary
  std::vector<std::string> dtypes;
  std::vector<int> headDims;
  std::string gpuMode = "auto";
  std::string arch = "sm_90a";
  bool printSource = false;
  std::vector<std::string> params; // NAME=VALUE
};
int runCheckCommand(const CheckCommandOptions &options);

/// attnc ref: the float64 reference of one pattern on q, k, v (and inputs) read from .npy files.
struct RefCommandOptions {
  std::string specPath, patternName;
  std::string qPath, kPath, vPath, cuSeqlensQPath, cuSeqlensKPath;
  std::vector<std::string> inputs, scalars, params; // NAME=FILE, NAME=VALUE, NAME=VALUE
  std::optional<double> scale;
  std::string outputPath, lsePath;
  // Linear patterns: the initial / final state [B, Hq, D, Dv] and key sum [B, Hq, D] (sum).
  std::string stateInPath, stateOutPath, keySumInPath, keySumOutPath;
  // attnc run: the generated kernel on the GPU instead of the reference.
  bool gpu = false;
  std::string dtype = "bf16", arch = "sm_90a";
  bool check = false; // also evaluate the reference and print the error
};
int runRefCommand(const RefCommandOptions &options);

/// attnc explain: the block classification of each pattern for one problem size, against the
/// mask evaluated on every pair, as numbers, a character map and optionally a PNG.
struct ExplainCommandOptions {
  std::string specPath, patternName;
  int64_t seqQ = 4096, seqK = 4096, tileM = 128, tileN = 128;
  int64_t batch = 1, heads = 0, head = 0; // heads 0: the pattern's, else 1
  int smCount = 132;                      // linear patterns: the sequence split's GPU
  int64_t headDim = 128;                  // the kernel's head dim where the pattern declares none
  std::vector<std::string> inputs, scalars, params;
  std::string pngPath;
  bool pngCompress = true;
};
int runExplainCommand(const ExplainCommandOptions &options);

/// attnc bench: one pattern's kernel timed on the GPU at one problem size.
struct BenchCommandOptions {
  std::string specPath, patternName;
  std::string dtype = "bf16", arch = "sm_90a";
  int headDim = 128;
  int64_t batch = 4, heads = 16, kvHeads = 0, seqQ = 4096, seqK = 0; // 0: like heads / seqQ
  int iters = 20, warmup = 5;
  std::vector<std::string> inputs, scalars, params;
};
int runBenchCommand(const BenchCommandOptions &options);

struct LoadedSpec;
/// attnc run: compiles `pattern` for `dtype` and the problem's head dims, runs it on the GPU on
/// `problem` (with its inputs and scalars) and returns its output (and LSE when `wantLse`) as
/// doubles. Prints why and fails when there is no GPU or kernel.
mlir::FailureOr<mlir::attn::ReferenceResult>
runPatternOnGpu(LoadedSpec &spec, mlir::attn::PatternOp pattern,
                const mlir::attn::ReferenceProblem &problem, const std::string &dtype,
                const std::string &arch, bool wantLse);

/// runPatternOnGpu for a composite: its branches' kernels, then its combine kernel, through the
/// runtime's CompositeKernel.
mlir::FailureOr<mlir::attn::ReferenceResult>
runCompositeOnGpu(LoadedSpec &spec, mlir::attn::CompositeOp composite,
                  const mlir::attn::ReferenceProblem &problem, const std::string &dtype,
                  const std::string &arch);

/// A spec loaded into a context with file:line:col diagnostics for everything after.
struct LoadedSpec {
  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> handler;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};
/// Reads and parses `path` into pattern-level IR with `overrides` for its parameters; null
/// (after printing why) on error.
std::unique_ptr<LoadedSpec> loadSpec(const std::string &path, const ParamOverrides &overrides = {});

/// Splits `--OPTION NAME=VALUE` items into `out`; prints an error and returns false for an item
/// without '=' or a name, or a name given twice.
bool parseAssignments(llvm::ArrayRef<std::string> items, llvm::StringRef option,
                      llvm::StringMap<std::string> &out);

/// The `--param`, `--input` and `--scalar` items of a command, split into their maps.
struct Assignments {
  ParamOverrides params;
  llvm::StringMap<std::string> inputs, scalars; // NAME -> FILE.npy, NAME -> VALUE
};
/// Parses the three lists into `out` with parseAssignments; false after an error.
bool parseAssignments(llvm::ArrayRef<std::string> params, llvm::ArrayRef<std::string> inputs,
                      llvm::ArrayRef<std::string> scalars, Assignments &out);

/// The pattern `name` of `module`, or its only pattern when `name` is empty; prints an error
/// listing the patterns and returns null otherwise.
mlir::attn::PatternOp selectPattern(mlir::ModuleOp module, llvm::StringRef name);

/// Checks that every name of `inputs` / `scalars` is declared by one of `patterns`; prints an
/// error listing the declared names and returns false otherwise.
bool checkDeclared(llvm::ArrayRef<mlir::attn::PatternOp> patterns,
                   const llvm::StringMap<std::string> &inputs,
                   const llvm::StringMap<std::string> &scalars);

/// Reads the files of the inputs `pattern` declares (`inputFiles`: name -> .npy path) into
/// `problem.inputs` and the values of its scalars into `problem.scalars`, checking each file's
/// shape against the declaration resolved for the problem's sizes and that int inputs hold
/// 32-bit integers. Scalars without a value keep their defaults. Prints an error and returns
/// false on a missing input or scalar, an unreadable file, a wrong shape or a bad value.
/// `needed` (null: all) names the inputs and scalars that must have a value; the others are
/// bound only when given.
bool bindInputsAndScalars(mlir::attn::PatternOp pattern,
                          const llvm::StringMap<std::string> &inputFiles,
                          const llvm::StringMap<std::string> &scalarValues,
                          mlir::attn::ReferenceProblem &problem,
                          const llvm::StringSet<> *needed = nullptr);

} // namespace attnc

#endif // ATTNC_DRIVER_COMMANDS_H
