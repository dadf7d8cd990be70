//===- Pipeline.cpp - The default attnc pipeline and pass registration --------===//
#include "attn/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::attn;

void mlir::attn::buildAttnPipeline(OpPassManager &pm, const KernelTarget &target) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createAttnClassifyBlocksPass());
  pm.addPass(createCanonicalizerPass()); // fold the tile functions
  AttnLowerToKernelPassOptions options;
  options.elementType = target.elementType;
  options.headDim = target.headDim;
  options.headDimV = target.headDimV;
  options.arch = target.arch;
  options.skipUnsupported = target.skipUnsupported;
  pm.addPass(createAttnLowerToKernelPass(options));
  pm.addPass(createCSEPass());
}

namespace {
struct PipelineOptions : PassPipelineOptions<PipelineOptions> {
  Option<std::string> elementType{*this, "element-type", llvm::cl::desc("bf16 or f16"),
                                  llvm::cl::init("bf16")};
  Option<int64_t> headDim{*this, "head-dim", llvm::cl::desc("head dim of Q and K"),
                          llvm::cl::init(128)};
  Option<int64_t> headDimV{*this, "head-dim-v",
                           llvm::cl::desc("head dim of V (0: same as head-dim)"),
                           llvm::cl::init(0)};
  Option<std::string> arch{*this, "arch", llvm::cl::desc("target architecture"),
                           llvm::cl::init("sm_90a")};
};
} // namespace

void mlir::attn::registerAttnPassesAndPipelines() {
  registerAttnPasses();
  PassPipelineRegistration<PipelineOptions>(
      "attn-pipeline", "Lower attention patterns to kernels (the attnc default pipeline)",
      [](OpPassManager &pm, const PipelineOptions &options) {
        buildAttnPipeline(
            pm, KernelTarget{options.elementType, options.headDim, options.headDimV, options.arch});
      });
}
