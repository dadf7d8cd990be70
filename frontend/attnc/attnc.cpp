//===- attnc.cpp - The attnc command-line driver ------------------------------===//
//
//   attnc compile SPEC [--emit=patterns|kernels|cuda|ptx|cubin] [--dtype=bf16|f16]
//                      [--head-dim=N] [--arch=sm_90a] [-o FILE]
//   attnc check SPEC   [--dtypes=bf16,f16] [--head-dims=64,128] [--gpu=auto|off|require]
//   attnc version | devices
// Errors in a spec are printed as file:line:col: error: ... with the source line; the exit
// code is 1 for a user error, 0 on success.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "attnc/Runtime.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
cl::SubCommand compileCmd("compile", "Compile a .attn spec and print or write a stage");
cl::SubCommand checkCmd("check", "Compile a spec for every configuration, check it on the CPU and, "
                                 "when a GPU is present, run it against the float64 reference");
cl::SubCommand versionCmd("version", "Print the versions of attnc and NVRTC");
cl::SubCommand devicesCmd("devices", "List the CUDA devices; exit code 1 when there is none");

cl::opt<std::string> specPath(cl::Positional, cl::desc("<spec.attn>"), cl::Required,
                              cl::sub(compileCmd), cl::sub(checkCmd));
cl::opt<std::string> emit("emit", cl::desc("patterns | kernels | cuda | ptx | cubin"),
                          cl::init("cuda"), cl::sub(compileCmd));
cl::opt<std::string> dtype("dtype", cl::desc("element type: bf16 or f16"), cl::init("bf16"),
                           cl::sub(compileCmd));
cl::opt<int> headDim("head-dim", cl::desc("head dim"), cl::init(128), cl::sub(compileCmd));
cl::opt<std::string> arch("arch", cl::desc("target architecture"), cl::init("sm_90a"),
                          cl::sub(compileCmd), cl::sub(checkCmd));
cl::opt<std::string> outputPath("o", cl::desc("output file (default: stdout)"), cl::init("-"),
                                cl::sub(compileCmd));
cl::list<std::string> dtypes("dtypes", cl::desc("element types to check"), cl::CommaSeparated,
                             cl::sub(checkCmd));
cl::list<int> headDims("head-dims", cl::desc("head dims to check"), cl::CommaSeparated,
                       cl::sub(checkCmd));
cl::opt<std::string> gpuMode("gpu", cl::desc("auto | off | require"), cl::init("auto"),
                             cl::sub(checkCmd));
cl::opt<bool> printSource("print-source", cl::desc("print the generated CUDA of each kernel"),
                          cl::init(false), cl::sub(checkCmd));
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "attnc: a compiler for GPU attention kernels\n");

  if (versionCmd) {
    outs() << "attnc " << ATTNC_VERSION << "\n";
    if (auto v = attnc::getNvrtcVersion(); v.ok())
      outs() << "NVRTC " << v->major << "." << v->minor << "\n";
    else
      outs() << "NVRTC: " << v.status().message() << "\n";
    return 0;
  }
  if (devicesCmd) {
    attnc::StatusOr<int> count = attnc::Device::count();
    if (!count.ok() || *count == 0) {
      outs() << "no CUDA device: "
             << (count.ok() ? "the driver reports none" : count.status().message()) << "\n";
      return 1;
    }
    for (int i = 0; i < *count; ++i) {
      attnc::StatusOr<attnc::Device *> dev = attnc::Device::open(i);
      if (dev.ok())
        outs() << i << ": " << (*dev)->name() << " (" << (*dev)->arch() << ", " << (*dev)->smCount()
               << " SMs)\n";
      else
        outs() << i << ": " << dev.status().message() << "\n";
    }
    return 0;
  }
  if (compileCmd) {
    attnc::CompileCommandOptions options{specPath, emit, dtype, headDim, arch, outputPath};
    return attnc::runCompileCommand(options);
  }
  if (checkCmd) {
    attnc::CheckCommandOptions options;
    options.specPath = specPath;
    options.dtypes.assign(dtypes.begin(), dtypes.end());
    if (options.dtypes.empty())
      options.dtypes = {"bf16", "f16"};
    options.headDims.assign(headDims.begin(), headDims.end());
    if (options.headDims.empty())
      options.headDims = {64, 128};
    options.gpuMode = gpuMode;
    options.arch = arch;
    options.printSource = printSource;
    return attnc::runCheckCommand(options);
  }
  errs() << "attnc: expected a command (compile, check, devices, version); see attnc --help\n";
  return 1;
}
