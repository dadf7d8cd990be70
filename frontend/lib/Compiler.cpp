//===- Compiler.cpp - .attn text to CUDA C++, the whole compile path ----------===//
#include "attn/Frontend/Compiler.h"
#include "attn/Frontend/MLIRGen.h"
#include "attn/Frontend/Parser.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;

void attnc::loadAttnDialects(MLIRContext &context) {
  DialectRegistry registry;
  attn::registerAttnDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
}

OwningOpRef<ModuleOp> attnc::parsePatterns(MLIRContext &context, llvm::SourceMgr &sourceMgr,
                                           const ParamOverrides &overrides) {
  std::optional<ast::File> file = parseAttnFile(sourceMgr);
  if (!file)
    return nullptr;
  OwningOpRef<ModuleOp> module = mlirGen(context, sourceMgr, *file, overrides);
  if (!module || failed(verify(*module)))
    return nullptr;
  return module;
}

LogicalResult attnc::lowerToKernels(ModuleOp module, const attn::KernelTarget &target) {
  PassManager pm(module->getContext());
  attn::buildAttnPipeline(pm, target);
  return pm.run(module);
}

FailureOr<std::vector<attnc::CompiledKernel>> attnc::emitKernels(ModuleOp module) {
  std::vector<CompiledKernel> kernels;
  for (attn::KernelOp kernel : module.getOps<attn::KernelOp>()) {
    CompiledKernel compiled;
    compiled.pattern = kernel.getPattern().str();
    compiled.kernel = kernel.getSymName().str();
    compiled.spec = attn::getLaunchSpec(kernel);
    llvm::raw_string_ostream os(compiled.source);
    if (failed(attn::emitKernelSource(kernel, os)))
      return failure();
    kernels.push_back(std::move(compiled));
  }
  return kernels;
}
