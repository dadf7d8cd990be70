//===- Api.cpp - attnc::compile, the public C++ entry point -------------------===//
//
// Spec text -> pattern IR -> kernel IR -> CUDA source per pattern, with every diagnostic
// collected into the returned Status; the sources become KernelImages that the runtime JITs
// on first use. Results are kept in the runtime's ProgramCache by a hash of text and options.
//
//===----------------------------------------------------------------------===//
#include "attnc/attnc.h"

#include "attn/Codegen/CudaEmitter.h"
#include "attn/Frontend/Builder.h"
#include "attn/Frontend/Compiler.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cstdlib>

using namespace mlir;

attnc::ForwardConfig attnc::forwardConfig(const attn::KernelLaunchSpec &k) {
  attnc::ForwardConfig c;
  c.headDim = int(k.headDim);
  c.headDimV = int(k.headDimV);
  c.blockM = int(k.blockM);
  c.blockN = int(k.blockN);
  c.warps = int(k.warps);
  c.stages = int(k.stages);
  c.kernelTemplate = parseKernelTemplate(k.kernelTemplate).value_or(KernelTemplate::Sm80);
  c.keySum = c.kernelTemplate == KernelTemplate::Linear && k.normalizer == "sum";
  c.causal = c.kernelTemplate == KernelTemplate::Linear && k.causal;
  c.gatePerKeyDim = c.kernelTemplate == KernelTemplate::Linear && k.gatePerKeyDim;
  c.gatePerToken = c.kernelTemplate == KernelTemplate::Linear && k.gatePerToken;
  c.evenWork = k.evenWork;
  c.featureRows = c.kernelTemplate == KernelTemplate::Linear ? int(k.stateDim) : 0;
  c.featureMap = k.featureMap == "taylor2"    ? kFeatureMapTaylor2
                 : k.featureMap == "hedgehog" ? kFeatureMapHedgehog
                                              : kFeatureMapElementwise;
  return c;
}

attnc::AttentionSpec attnc::toAttentionSpec(const attn::KernelLaunchSpec &k) {
  attnc::AttentionSpec s;
  s.pattern = k.pattern;
  s.entry = k.entryName;
  s.blockMapEntry = k.blockMapEntry;
  s.blockMapPerHead = k.blockMapPerHead;
  s.dtype = k.elementType == "bf16" ? attnc::ElementType::BF16 : attnc::ElementType::F16;
  s.config = forwardConfig(k);
  s.scale = k.scale;
  s.normalizer = k.normalizer;
  s.varlen = k.varlen;
  s.stepEntry = k.stepEntry;
  s.featureEntry = k.featureEntry;
  s.decodeEntry = k.decodeEntry;
  s.mergeEntry = k.mergeEntry;
  s.heads = int(k.heads);
  s.kvHeads = int(k.kvHeads);
  for (const attn::KernelLaunchSpec::Input &in : k.inputs)
    s.inputs.push_back(
        {in.name,
         in.isElem ? (s.dtype == attnc::ElementType::BF16 ? attnc::DType::BF16 : attnc::DType::F16)
         : in.isFloat ? attnc::DType::F32
                      : attnc::DType::I32,
         in.shape});
  for (const attn::KernelLaunchSpec::ScalarArg &sc : k.scalars)
    s.scalars.push_back({sc.name, sc.defaultValue});
  return s;
}

namespace {
/// The arch kernels are generated for: the option, else the current device's, else sm_90a.
std::string targetArch(const attnc::CompileOptions &options) {
  if (!options.arch.empty())
    return options.arch;
  attnc::StatusOr<int> count = attnc::Device::count();
  if (count.ok() && *count > 0) {
    attnc::StatusOr<attnc::Device *> device = attnc::Device::current();
    if (device.ok())
      return (*device)->arch();
  }
  return "sm_90a";
}
} // namespace

attnc::StatusOr<attnc::KernelImages> attnc::compile(std::string_view text,
                                                    const CompileOptions &options) {
  if (options.dtype != ElementType::BF16 && options.dtype != ElementType::F16)
    return Status::error("compile: unknown element type");
  const std::string arch = targetArch(options);
  auto params = options.params;
  std::sort(params.begin(), params.end());
  Hasher hasher(0x617474); // "att"
  hasher.str(text)
      .str(options.fileName)
      .u64(uint64_t(options.dtype))
      .u64(uint64_t(options.headDim));
  hasher.u64(uint64_t(options.headDimV)).str(arch).u64(params.size());
  for (const auto &[name, value] : params)
    hasher.str(name).str(value);
  // The knobs the passes read from the environment (TileConfig.cpp, AttnLowerToKernel.cpp) and
  // the NVRTC options change the kernels.
  for (const char *knob : {"ATTNC_SM90_BLOCK_M", "ATTNC_SM90_BLOCK_N", "ATTNC_SM90_STAGES",
                           "ATTNC_SCORE_SCALE_FOLD", "ATTNC_NVRTC_OPTIONS"}) {
    const char *value = std::getenv(knob);
    hasher.str(value ? value : "");
  }
  const Hash128 key = hasher.digest();
  if (std::optional<KernelImages> cached = ProgramCache::global().lookup(key))
    return *cached;

  // Diagnostics of every stage go into `log`: the parser's through the SourceMgr handler,
  // MLIR's (verifiers, passes) through a SourceMgrDiagnosticHandler on the same buffer.
  std::string log;
  llvm::raw_string_ostream logStream(log);
  MLIRContext context;
  context.disableMultithreading();
  context.printOpOnDiagnostic(false);
  loadAttnDialects(context);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(
                                   llvm::StringRef(text.data(), text.size()), options.fileName),
                               llvm::SMLoc());
  sourceMgr.setDiagHandler(
      [](const llvm::SMDiagnostic &diag, void *stream) {
        diag.print(nullptr, *static_cast<llvm::raw_ostream *>(stream));
      },
      &logStream);
  SourceMgrDiagnosticHandler handler(sourceMgr, &context, logStream);
  auto failed = [&](const char *stage) {
    std::string message = log.empty() ? std::string(stage) + " failed" : log;
    while (!message.empty() && message.back() == '\n')
      message.pop_back();
    return Status::error(message);
  };

  ParamOverrides overrides;
  for (const auto &[name, value] : params)
    if (!overrides.try_emplace(name, value).second)
      return Status::error("compile: param '" + name + "' is given twice");
  OwningOpRef<ModuleOp> module = parsePatterns(context, sourceMgr, overrides);
  if (!module)
    return failed("parsing the spec");
  attn::KernelTarget target;
  target.elementType = options.dtype == ElementType::BF16 ? "bf16" : "f16";
  target.headDim = options.headDim;
  target.headDimV = options.headDimV;
  target.arch = arch;
  if (mlir::failed(lowerToKernels(*module, target)))
    return failed("lowering to kernels");
  FailureOr<std::vector<CompiledKernel>> kernels = emitKernels(*module);
  if (mlir::failed(kernels))
    return failed("emitting CUDA");
  KernelImages images;
  for (const CompiledKernel &k : *kernels)
    images.push_back(std::make_shared<KernelImage>(toAttentionSpec(k.spec), k.source));
  // Each composite whose branches all have kernels here: its combine kernel, over their images.
  FailureOr<KernelImages> composites = compositeImages(*module, images);
  if (mlir::failed(composites))
    return failed("emitting a combine kernel");
  images.insert(images.end(), composites->begin(), composites->end());
  ProgramCache::global().insert(key, images);
  return images;
}

attnc::StatusOr<attnc::KernelImages> attnc::compile(const dsl::Spec &spec,
                                                    const CompileOptions &options) {
  CompileOptions named = options;
  if (named.fileName == "<spec>")
    named.fileName = "<builder>";
  return compile(spec.str(), named);
}
