//===- Compiler.h - .attn text to CUDA C++, the whole compile path ---*- C++ -*-===//
//
// The one pipeline every client uses (the attnc driver, tests, the C API): parse and verify a
// .attn buffer into pattern-level IR, lower it to kernels for a target, print each kernel.
// Diagnostics go to the context's handler; install a SourceMgrDiagnosticHandler over the same
// SourceMgr to get file:line:col with the source line.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_FRONTEND_COMPILER_H
#define ATTN_FRONTEND_COMPILER_H

#include "attn/Codegen/CudaEmitter.h"
#include "attn/Frontend/MLIRGen.h"
#include "attn/Transforms/Passes.h"
#include "attnc/Attention.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace attnc {

struct CompiledKernel {
  std::string pattern; // the attn.pattern it came from
  std::string kernel;  // the attn.kernel symbol
  mlir::attn::KernelLaunchSpec spec;
  std::string source; // CUDA C++ for NVRTC, includes only the device library
};

/// Loads the dialects the compile path needs into `context`.
void loadAttnDialects(mlir::MLIRContext &context);

/// Parses, builds and verifies the main buffer of `sourceMgr` into pattern-level IR. Syntax
/// errors are printed through `sourceMgr`; verifier errors through the context. Null on error.
/// `overrides` replace the values of the spec's compile-time parameters.
mlir::OwningOpRef<mlir::ModuleOp> parsePatterns(mlir::MLIRContext &context,
                                                llvm::SourceMgr &sourceMgr,
                                                const ParamOverrides &overrides = {});

/// Runs the default pipeline (attn-pipeline) on `module` for `target`.
mlir::LogicalResult lowerToKernels(mlir::ModuleOp module, const mlir::attn::KernelTarget &target);

/// The runtime's launch description of a generated kernel (what a bundle's manifest holds).
AttentionSpec toAttentionSpec(const mlir::attn::KernelLaunchSpec &spec);

/// The launch configuration of a generated kernel (template, tiles, head dims).
ForwardConfig forwardConfig(const mlir::attn::KernelLaunchSpec &spec);

/// AttentionSpec::branchOwnQK of `composite`: per branch the input slots of its own q and k
/// ({-1, -1}: the call's); empty when every branch takes the call's.
std::vector<std::pair<int, int>> branchOwnQKSlots(mlir::attn::CompositeOp composite);

/// Prints every attn.kernel of `module`.
mlir::FailureOr<std::vector<CompiledKernel>> emitKernels(mlir::ModuleOp module);

/// The images of `module`'s composites whose branches all have an image among `images` (the
/// kernels of one element type and head dims): each the composite's combine kernel over its
/// branches' images, with the first branch's spec but for pattern (the composite), entry
/// (the combine), branches, normalizer "composite" and no step, decode or block-map entries.
/// `cubins` gives each combine's CUBINs (the bundle writer's NVRTC; null: none, JIT).
mlir::FailureOr<std::vector<std::shared_ptr<KernelImage>>>
compositeImages(mlir::ModuleOp module, const std::vector<std::shared_ptr<KernelImage>> &images,
                const std::function<StatusOr<std::vector<std::pair<std::string, std::string>>>(
                    const std::string &entry, const std::string &source)> &cubins = nullptr);

} // namespace attnc

#endif // ATTN_FRONTEND_COMPILER_H
