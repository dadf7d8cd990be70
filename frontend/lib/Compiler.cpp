//===- Compiler.cpp - .attn text to CUDA C++, the whole compile path ----------===//
#include "attn/Frontend/Compiler.h"
#include "attn/Frontend/MLIRGen.h"
#include "attn/Frontend/Parser.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <algorithm>

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

std::vector<std::pair<int, int>> attnc::branchOwnQKSlots(attn::CompositeOp composite) {
  std::vector<std::pair<int, int>> slots;
  bool any = false;
  for (unsigned i = 0; i < composite.getBranches().size(); ++i) {
    std::optional<std::pair<unsigned, unsigned>> own = attn::getBranchOwnQK(composite, i);
    slots.emplace_back(own ? int(own->first) : -1, own ? int(own->second) : -1);
    any = any || own;
  }
  return any ? slots : std::vector<std::pair<int, int>>();
}

FailureOr<std::vector<std::shared_ptr<attnc::KernelImage>>> attnc::compositeImages(
    ModuleOp module, const std::vector<std::shared_ptr<KernelImage>> &images,
    const std::function<StatusOr<std::vector<std::pair<std::string, std::string>>>(
        const std::string &, const std::string &)> &cubins) {
  std::vector<std::shared_ptr<KernelImage>> composites;
  for (attn::CompositeOp composite : module.getOps<attn::CompositeOp>()) {
    std::vector<std::shared_ptr<const KernelImage>> branches;
    std::vector<std::string> names;
    for (attn::PatternOp branch : attn::getBranchPatterns(composite)) {
      auto image = std::find_if(images.begin(), images.end(), [&](const auto &image) {
        return image->spec().pattern == branch.getSymName();
      });
      if (image == images.end())
        break;
      branches.push_back(*image);
      names.push_back(branch.getSymName().str());
    }
    if (branches.size() != composite.getBranches().size())
      continue; // a branch has no kernel for this target
    // The composite's fields are those of its first branch on the call's q and k.
    AttentionSpec spec = branches[attn::getCallBranch(composite)]->spec();
    spec.branchOwnQK = branchOwnQKSlots(composite);
    spec.epilogueBranch = int(composite.getEpilogueBranch().value_or(-1));
    const std::string dtype = spec.dtype == ElementType::BF16 ? "bf16" : "f16";
    spec.pattern = composite.getSymName().str();
    spec.entry =
        attn::getCombineEntryName(composite, dtype, spec.config.headDim, spec.config.headDimV);
    spec.branches = names;
    spec.normalizer = "composite";
    spec.stepEntry = spec.decodeEntry = spec.mergeEntry = spec.blockMapEntry = "";
    spec.featureEntry = "";
    spec.blockMapPerHead = false;
    std::string source;
    llvm::raw_string_ostream os(source);
    if (failed(attn::emitCombineSource(composite, dtype, spec.config.headDim, spec.config.headDimV,
                                       os)))
      return failure();
    std::vector<std::pair<std::string, std::string>> binaries;
    if (cubins) {
      StatusOr<std::vector<std::pair<std::string, std::string>>> built = cubins(spec.entry, source);
      if (!built.ok())
        return composite.emitError(built.status().message());
      binaries = std::move(*built);
    }
    composites.push_back(std::make_shared<KernelImage>(std::move(spec), source, std::move(branches),
                                                       std::move(binaries)));
  }
  return composites;
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
