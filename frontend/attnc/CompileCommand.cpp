//===- CompileCommand.cpp - attnc compile -------------------------------------===//
#include "Commands.h"

#include "attnc/Bundle.h"
#include "attnc/Runtime.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

std::unique_ptr<attnc::LoadedSpec> attnc::loadSpec(const std::string &path,
                                                   const ParamOverrides &overrides) {
  auto spec = std::make_unique<LoadedSpec>();
  spec->context.disableMultithreading();
  spec->context.printOpOnDiagnostic(false); // the source line is what a spec author needs
  loadAttnDialects(spec->context);
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code ec = buffer.getError()) {
    llvm::errs() << "attnc: cannot read '" << path << "': " << ec.message() << "\n";
    return nullptr;
  }
  spec->sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  spec->handler = std::make_unique<SourceMgrDiagnosticHandler>(spec->sourceMgr, &spec->context);
  spec->module = parsePatterns(spec->context, spec->sourceMgr, overrides);
  if (!spec->module)
    return nullptr;
  return spec;
}

bool attnc::parseAssignments(llvm::ArrayRef<std::string> items, llvm::StringRef option,
                             llvm::StringMap<std::string> &out) {
  for (llvm::StringRef item : items) {
    auto [name, value] = item.split('=');
    if (!item.contains('=') || name.empty()) {
      llvm::errs() << "attnc: --" << option << " " << item << ": expected NAME=VALUE\n";
      return false;
    }
    if (!out.try_emplace(name, value.str()).second) {
      llvm::errs() << "attnc: --" << option << " " << name << " is given twice\n";
      return false;
    }
  }
  return true;
}

bool attnc::parseAssignments(llvm::ArrayRef<std::string> params, llvm::ArrayRef<std::string> inputs,
                             llvm::ArrayRef<std::string> scalars, Assignments &out) {
  return parseAssignments(params, "param", out.params) &&
         parseAssignments(inputs, "input", out.inputs) &&
         parseAssignments(scalars, "scalar", out.scalars);
}

attn::PatternOp attnc::selectPattern(ModuleOp module, llvm::StringRef name) {
  llvm::SmallVector<attn::PatternOp> patterns(module.getOps<attn::PatternOp>());
  if (name.empty() && patterns.size() == 1)
    return patterns.front();
  std::string names;
  for (attn::PatternOp pattern : patterns) {
    if (!name.empty() && pattern.getSymName() == name)
      return pattern;
    names += (names.empty() ? "" : ", ") + pattern.getSymName().str();
  }
  if (name.empty()) {
    llvm::errs() << "attnc: the spec has several patterns (" << names
                 << "): choose one with --pattern NAME\n";
  } else if (auto composite = module.lookupSymbol<attn::CompositeOp>(name)) {
    std::string branches;
    for (attn::PatternOp branch : attn::getBranchPatterns(composite))
      branches += (branches.empty() ? "" : ", ") + branch.getSymName().str();
    llvm::errs() << "attnc: '" << name
                 << "' is a composite: this command takes one of its branch patterns (" << branches
                 << ")\n";
  } else {
    llvm::errs() << "attnc: the spec has no pattern '" << name << "' (it has " << names << ")\n";
  }
  return nullptr;
}

/// attnc compile --emit=bundle: every pattern's source and a CUBIN per arch, a manifest and a
/// C header, into the directory -o.
static int writeBundleCommand(const attnc::CompileCommandOptions &o, attnc::LoadedSpec &spec) {
  using namespace attnc;
  if (o.outputPath == "-") {
    llvm::errs() << "attnc: --emit=bundle writes a directory: give it with -o DIR\n";
    return 1;
  }
  llvm::SmallVector<llvm::StringRef> archs;
  llvm::StringRef(o.arch).split(archs, ',', -1, /*KeepEmpty=*/false);
  if (archs.empty()) {
    llvm::errs() << "attnc: --arch is empty\n";
    return 1;
  }
  // One generated source serves every arch. The Hopper template needs sm_90a, so a bundle for
  // several archs of which one is not sm_90a is lowered for that one (the portable template).
  llvm::StringRef lowerFor = archs.front();
  for (llvm::StringRef arch : archs)
    if (arch != "sm_90a")
      lowerFor = arch;
  if (lowerFor != "sm_90a" && llvm::is_contained(archs, "sm_90a"))
    llvm::errs() << "attnc: note: the bundle's kernels use the portable (sm80) template on every "
                    "arch, sm_90a included; a bundle for sm_90a alone gets the Hopper template\n";
  mlir::attn::KernelTarget target{o.dtype, o.headDim, 0, lowerFor.str()};
  if (failed(lowerToKernels(*spec.module, target)))
    return 1;
  FailureOr<std::vector<CompiledKernel>> kernels = emitKernels(*spec.module);
  if (failed(kernels))
    return 1;
  // One CUBIN per arch of an entry point's source.
  auto cubinsOf =
      [&](const std::string &entry,
          const std::string &source) -> StatusOr<std::vector<std::pair<std::string, std::string>>> {
    std::vector<std::pair<std::string, std::string>> cubins;
    for (llvm::StringRef arch : archs) {
      llvm::errs() << "attnc: compiling " << entry << " for " << arch << "\n";
      CompileRequest request;
      request.source = source;
      request.name = entry + ".cu";
      request.arch = arch.str();
      StatusOr<std::shared_ptr<const CompileResult>> result =
          KernelCache::global().compile(request);
      if (!result.ok())
        return Status::error("NVRTC failed for " + entry + " (" + arch.str() +
                             "): " + result.status().message());
      if ((*result)->cubin.empty())
        return Status::error(arch.str() + " gives no CUBIN (use sm_XX[a])");
      cubins.emplace_back(arch.str(), (*result)->cubin);
    }
    return cubins;
  };
  std::vector<std::shared_ptr<KernelImage>> images;
  for (const CompiledKernel &k : *kernels) {
    StatusOr<std::vector<std::pair<std::string, std::string>>> cubins =
        cubinsOf(k.spec.entryName, k.source);
    if (!cubins.ok()) {
      llvm::errs() << "attnc: " << cubins.status().message() << "\n";
      return 1;
    }
    images.push_back(
        std::make_shared<KernelImage>(toAttentionSpec(k.spec), k.source, std::move(*cubins)));
  }
  // The composites' combines, after their branches (the loader resolves them by name).
  FailureOr<std::vector<std::shared_ptr<KernelImage>>> composites =
      compositeImages(*spec.module, images, cubinsOf);
  if (failed(composites))
    return 1;
  images.insert(images.end(), composites->begin(), composites->end());
  std::string name = o.bundleName;
  if (name.empty())
    name = llvm::sys::path::stem(o.specPath).str();
  if (Status st =
          writeBundle(o.outputPath, name, llvm::sys::path::filename(o.specPath).str(), images);
      !st.ok()) {
    llvm::errs() << "attnc: " << st.message() << "\n";
    return 1;
  }
  llvm::errs() << "attnc: wrote bundle '" << name << "' (" << images.size() << " kernel"
               << (images.size() == 1 ? "" : "s") << ", " << archs.size() << " arch"
               << (archs.size() == 1 ? "" : "s") << ") to " << o.outputPath << "\n";
  return 0;
}

int attnc::runCompileCommand(const CompileCommandOptions &o) {
  static const char *stages[] = {"patterns", "kernels", "cuda", "ptx", "cubin", "bundle"};
  if (!llvm::is_contained(stages, o.emit)) {
    llvm::errs() << "attnc: unknown --emit=" << o.emit
                 << " (expected patterns, kernels, cuda, ptx, cubin or bundle)\n";
    return 1;
  }
  if (o.emit != "bundle" && llvm::StringRef(o.arch).contains(',')) {
    llvm::errs() << "attnc: several archs (--arch=" << o.arch << ") need --emit=bundle\n";
    return 1;
  }
  ParamOverrides params;
  if (!parseAssignments(o.params, "param", params))
    return 1;
  std::unique_ptr<LoadedSpec> spec = loadSpec(o.specPath, params);
  if (!spec)
    return 1;
  if (o.emit == "bundle")
    return writeBundleCommand(o, *spec);

  std::string error;
  auto output = mlir::openOutputFile(o.outputPath, &error);
  if (!output) {
    llvm::errs() << "attnc: " << error << "\n";
    return 1;
  }
  auto done = [&] {
    output->keep();
    return 0;
  };
  if (o.emit == "patterns") {
    spec->module->print(output->os());
    return done();
  }
  mlir::attn::KernelTarget target{o.dtype, o.headDim, 0, o.arch};
  if (failed(lowerToKernels(*spec->module, target)))
    return 1;
  if (o.emit == "kernels") {
    spec->module->print(output->os());
    return done();
  }
  FailureOr<std::vector<CompiledKernel>> kernels = emitKernels(*spec->module);
  if (failed(kernels))
    return 1;
  if (o.emit == "cuda") {
    for (const CompiledKernel &k : *kernels)
      output->os() << k.source << "\n";
    // Each composite's combine kernel, for the head dims of its branches' kernels.
    for (auto composite : spec->module->getOps<mlir::attn::CompositeOp>()) {
      auto branch = mlir::attn::getBranchPatterns(composite)[mlir::attn::getCallBranch(composite)];
      auto kernel = llvm::find_if(
          *kernels, [&](const CompiledKernel &k) { return k.spec.pattern == branch.getSymName(); });
      if (kernel == kernels->end())
        continue; // the branch has no kernel for this target
      if (failed(mlir::attn::emitCombineSource(composite, o.dtype, kernel->spec.headDim,
                                               kernel->spec.headDimV, output->os())))
        return 1;
      output->os() << "\n";
    }
    return done();
  }
  // ptx / cubin: one file holds one kernel.
  if (kernels->size() != 1 && o.outputPath != "-") {
    llvm::errs() << "attnc: --emit=" << o.emit << " writes one kernel per file; the spec has "
                 << kernels->size() << " patterns\n";
    return 1;
  }
  for (const CompiledKernel &k : *kernels) {
    CompileRequest request;
    request.source = k.source;
    request.name = k.spec.entryName + ".cu";
    request.arch = o.arch;
    request.options = {"--ptxas-options=-v"};
    request.wantPtx = o.emit == "ptx";
    StatusOr<CompileResult> result = compileWithNvrtc(request);
    if (!result.ok()) {
      llvm::errs() << "attnc: NVRTC failed for " << k.spec.entryName << ": "
                   << result.status().message() << "\n";
      return 1;
    }
    if (o.emit == "ptx")
      output->os() << result->ptx;
    else if (o.outputPath != "-")
      output->os() << result->cubin;
    else
      output->os() << k.spec.entryName << ": cubin " << result->cubin.size() << " bytes for "
                   << o.arch << "\n"
                   << result->log;
  }
  return done();
}
