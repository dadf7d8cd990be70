//===- attnc.cpp - The attnc command-line driver ------------------------------===//
//
//   attnc compile SPEC [--emit=patterns|kernels|cuda|ptx|cubin|bundle] [--dtype=bf16|f16]
//                      [--head-dim=N] [--arch=sm_90a[,sm_80...]] [--bundle-name NAME] [-o FILE|DIR]
//   attnc check SPEC   [--dtypes=bf16,f16] [--head-dims=64,128] [--gpu=auto|off|require]
//   attnc ref SPEC     [--pattern NAME] --q Q.npy --k K.npy --v V.npy [--input NAME=FILE.npy]...
//                      [--scalar NAME=VALUE]... [--cu-seqlens-q F.npy --cu-seqlens-k F.npy]
//                      [--scale X] -o OUT.npy [--lse LSE.npy] [--state-in S.npy]
//                      [--state-out S.npy] [--key-sum-in Z.npy] [--key-sum-out Z.npy]
//   attnc run SPEC     the arguments of ref, plus [--dtype=bf16|f16] [--check]: the generated
//                      kernel on the GPU
//   attnc explain SPEC [--pattern NAME] [--seq N] [--seq-k N] [--tile M] [--tile-n N]
//                      [--batch B] [--heads H] [--head H] [--head-dim N] [--input NAME=FILE.npy]...
//                      [--scalar NAME=VALUE]... [--png OUT.png] [--sms N]
//   attnc version | devices
// compile, check, ref and explain take --param NAME=VALUE (repeatable) for the spec's params.
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
cl::SubCommand refCmd("ref", "Evaluate the float64 reference of a pattern on .npy tensors");
cl::SubCommand runCmd("run", "Run a pattern's generated kernel on the GPU on .npy tensors (the "
                             "arguments of ref)");
cl::SubCommand explainCmd("explain", "Show the block classification of each pattern: tile "
                                     "counts, densities, soundness and the block map");
cl::SubCommand benchCmd("bench", "Time one pattern's kernel on the GPU at one problem size "
                                 "(median of CUDA-event timings, effective TFLOP/s)");
cl::SubCommand versionCmd("version", "Print the versions of attnc and NVRTC");
cl::SubCommand devicesCmd("devices", "List the CUDA devices; exit code 1 when there is none");

cl::opt<std::string> specPath(cl::Positional, cl::desc("<spec.attn>"), cl::Required,
                              cl::sub(compileCmd), cl::sub(refCmd), cl::sub(runCmd),
                              cl::sub(explainCmd), cl::sub(benchCmd));
cl::list<std::string> checkSpecs(cl::Positional, cl::desc("<spec.attn>..."), cl::OneOrMore,
                                 cl::sub(checkCmd));
cl::list<std::string> params("param", cl::desc("value of a parameter of the spec"),
                             cl::value_desc("NAME=VALUE"), cl::sub(compileCmd), cl::sub(checkCmd),
                             cl::sub(refCmd), cl::sub(runCmd), cl::sub(explainCmd),
                             cl::sub(benchCmd));
cl::opt<std::string> emit("emit", cl::desc("patterns | kernels | cuda | ptx | cubin | bundle"),
                          cl::init("cuda"), cl::sub(compileCmd));
cl::opt<std::string> bundleName("bundle-name",
                                cl::desc("--emit=bundle: the bundle's name (default: the spec "
                                         "file's stem)"),
                                cl::value_desc("NAME"), cl::sub(compileCmd));
cl::opt<std::string> dtype("dtype", cl::desc("element type: bf16 or f16"), cl::init("bf16"),
                           cl::sub(compileCmd), cl::sub(benchCmd), cl::sub(runCmd));
cl::opt<int> headDim("head-dim", cl::desc("head dim (where the pattern declares none)"),
                     cl::init(128), cl::sub(compileCmd), cl::sub(benchCmd), cl::sub(explainCmd));
cl::opt<std::string> arch("arch",
                          cl::desc("target architecture (--emit=bundle: a comma-separated list)"),
                          cl::init("sm_90a"), cl::sub(compileCmd), cl::sub(checkCmd),
                          cl::sub(benchCmd), cl::sub(runCmd));
cl::opt<bool> runCheck("check",
                       cl::desc("also evaluate the float64 reference and fail outside the dtype's "
                                "tolerance"),
                       cl::init(false), cl::sub(runCmd));
cl::opt<std::string> outputPath("o", cl::desc("output file (compile: default stdout)"),
                                cl::value_desc("FILE"), cl::init("-"), cl::sub(compileCmd),
                                cl::sub(refCmd), cl::sub(runCmd));
cl::list<std::string> dtypes("dtypes", cl::desc("element types to check"), cl::CommaSeparated,
                             cl::sub(checkCmd));
cl::list<int> headDims("head-dims", cl::desc("head dims to check"), cl::CommaSeparated,
                       cl::sub(checkCmd));
cl::opt<std::string> gpuMode("gpu", cl::desc("auto | off | require"), cl::init("auto"),
                             cl::sub(checkCmd));
cl::opt<bool> printSource("print-source", cl::desc("print the generated CUDA of each kernel"),
                          cl::init(false), cl::sub(checkCmd));

// ref and explain.
cl::opt<std::string> patternName("pattern", cl::desc("the pattern (needed when there are several)"),
                                 cl::value_desc("NAME"), cl::sub(refCmd), cl::sub(runCmd),
                                 cl::sub(explainCmd), cl::sub(benchCmd));
cl::list<std::string> inputs("input", cl::desc("an input tensor the pattern declares"),
                             cl::value_desc("NAME=FILE.npy"), cl::sub(refCmd), cl::sub(runCmd),
                             cl::sub(explainCmd), cl::sub(benchCmd));
cl::list<std::string> scalars("scalar", cl::desc("a run-time scalar (default: its declared one)"),
                              cl::value_desc("NAME=VALUE"), cl::sub(refCmd), cl::sub(runCmd),
                              cl::sub(explainCmd), cl::sub(benchCmd));

// ref.
cl::opt<std::string> qPath("q", cl::desc("queries [B, Sq, Hq, D] (varlen: [total_q, Hq, D])"),
                           cl::value_desc("Q.npy"), cl::Required, cl::sub(refCmd), cl::sub(runCmd));
cl::opt<std::string> kPath("k", cl::desc("keys [B, Skv, Hkv, D] (varlen: [total_k, Hkv, D])"),
                           cl::value_desc("K.npy"), cl::Required, cl::sub(refCmd), cl::sub(runCmd));
cl::opt<std::string> vPath("v", cl::desc("values [B, Skv, Hkv, Dv] (varlen: [total_k, Hkv, Dv])"),
                           cl::value_desc("V.npy"), cl::Required, cl::sub(refCmd), cl::sub(runCmd));
cl::opt<std::string> cuSeqlensQ("cu-seqlens-q", cl::desc("varlen: B + 1 query offsets"),
                                cl::value_desc("F.npy"), cl::sub(refCmd), cl::sub(runCmd));
cl::opt<std::string> cuSeqlensK("cu-seqlens-k", cl::desc("varlen: B + 1 key offsets"),
                                cl::value_desc("F.npy"), cl::sub(refCmd), cl::sub(runCmd));
cl::opt<double> scale("scale", cl::desc("the scale c of s = c * q.k (default: the pattern's)"),
                      cl::value_desc("X"), cl::sub(refCmd), cl::sub(runCmd));
cl::opt<std::string> lsePath("lse",
                             cl::desc("also write the LSE, [B, Hq, Sq] (varlen: [Hq, "
                                      "total_q])"),
                             cl::value_desc("LSE.npy"), cl::sub(refCmd), cl::sub(runCmd));
cl::opt<std::string> stateIn("state-in",
                             cl::desc("linear: the initial state, [B, Hq, D, Dv] (default: zero)"),
                             cl::value_desc("S.npy"), cl::sub(refCmd), cl::sub(runCmd));
cl::opt<std::string> stateOut("state-out",
                              cl::desc("linear: also write the final state, [B, Hq, D, Dv]"),
                              cl::value_desc("S.npy"), cl::sub(refCmd), cl::sub(runCmd));
cl::opt<std::string> keySumIn("key-sum-in",
                              cl::desc("linear with 'normalize sum': the initial key sum, "
                                       "[B, Hq, D] (default: zero)"),
                              cl::value_desc("Z.npy"), cl::sub(refCmd), cl::sub(runCmd));
cl::opt<std::string> keySumOut("key-sum-out",
                               cl::desc("linear with 'normalize sum': also write the final key "
                                        "sum, [B, Hq, D]"),
                               cl::value_desc("Z.npy"), cl::sub(refCmd), cl::sub(runCmd));

// explain.
cl::opt<int64_t> seqQ("seq", cl::desc("query length Sq"), cl::init(4096), cl::value_desc("N"),
                      cl::sub(explainCmd), cl::sub(benchCmd));
cl::opt<int64_t> seqK("seq-k", cl::desc("key length Skv (default: --seq)"), cl::value_desc("N"),
                      cl::sub(explainCmd), cl::sub(benchCmd));
cl::opt<int64_t> tileM("tile", cl::desc("query rows a tile"), cl::init(128), cl::value_desc("M"),
                       cl::sub(explainCmd));
cl::opt<int64_t> tileN("tile-n", cl::desc("keys a tile (default: --tile)"), cl::value_desc("N"),
                       cl::sub(explainCmd));
cl::opt<int64_t> batch("batch", cl::desc("batch size B (sizes the inputs)"), cl::init(1),
                       cl::value_desc("B"), cl::sub(explainCmd));
cl::opt<int64_t> heads("heads", cl::desc("query heads H (default: the pattern's, or 1)"),
                       cl::value_desc("H"), cl::sub(explainCmd));
cl::opt<int64_t> head("head", cl::desc("the head whose map is shown"), cl::init(0),
                      cl::value_desc("H"), cl::sub(explainCmd));
cl::opt<int> sms("sms",
                 cl::desc("the GPU's SM count, for the Hopper kernel's grid and a linear "
                          "pattern's sequence split (H100 SXM and H200: 132)"),
                 cl::init(132), cl::value_desc("N"), cl::sub(explainCmd));
cl::opt<std::string> pngPath("png", cl::desc("draw the block map, one pixel a tile"),
                             cl::value_desc("OUT.png"), cl::sub(explainCmd));
cl::opt<bool> pngUncompressed("png-uncompressed",
                              cl::desc("write stored deflate blocks (tests the fall-back)"),
                              cl::Hidden, cl::sub(explainCmd));

// bench.
cl::opt<int64_t> benchBatch("batch", cl::desc("batch size B"), cl::init(4), cl::value_desc("B"),
                            cl::sub(benchCmd));
cl::opt<int64_t> benchHeads("heads", cl::desc("query heads (default 16; a pattern's own win)"),
                            cl::init(16), cl::value_desc("H"), cl::sub(benchCmd));
cl::opt<int64_t> benchKvHeads("kv-heads", cl::desc("key/value heads (default: --heads)"),
                              cl::value_desc("H"), cl::sub(benchCmd));
cl::opt<int> iters("iters", cl::desc("timed launches"), cl::init(20), cl::sub(benchCmd));
cl::opt<int> warmup("warmup", cl::desc("launches before timing"), cl::init(5), cl::sub(benchCmd));

/// LLVM's parser reads an unknown option that begins with 'h' (--heads-x, or --heads where a
/// subcommand has no such option) as its -h alias of --help, prints the help and exits 0, so a
/// typo would look like success. Such arguments are reported as unknown here, before parsing
/// (-h itself still prints the help).
bool rejectsHelpLookalikes(int argc, char **argv) {
  cl::SubCommand *sub = &cl::SubCommand::getTopLevel();
  int first = 1;
  if (argc > 1)
    for (cl::SubCommand *s : cl::getRegisteredSubcommands())
      if (s->getName() == StringRef(argv[1])) {
        sub = s;
        first = 2;
      }
  auto known = [&](StringRef name) {
    return cl::getRegisteredOptions(*sub).count(name) ||
           cl::getRegisteredOptions(cl::SubCommand::getTopLevel()).count(name) ||
           cl::getRegisteredOptions(cl::SubCommand::getAll()).count(name);
  };
  for (int i = first; i < argc; ++i) {
    StringRef arg = argv[i];
    if (arg == "--")
      break;
    if (!arg.starts_with("-"))
      continue;
    StringRef name = arg.drop_front(arg.starts_with("--") ? 2 : 1).split('=').first;
    if (name.starts_with("h") && name != "h" && !known(name)) {
      errs() << "attnc: Unknown command line argument '" << arg << "'.  Try: 'attnc"
             << (first == 2 ? " " + sub->getName().str() : "") << " --help'\n";
      return true;
    }
  }
  return false;
}
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  if (rejectsHelpLookalikes(argc, argv))
    return 1;
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
    options.bundleName = bundleName;
    options.params.assign(params.begin(), params.end());
    return attnc::runCompileCommand(options);
  }
  if (checkCmd) {
    attnc::CheckCommandOptions options;
    options.specPaths.assign(checkSpecs.begin(), checkSpecs.end());
    options.dtypes.assign(dtypes.begin(), dtypes.end());
    if (options.dtypes.empty())
      options.dtypes = {"bf16", "f16"};
    options.headDims.assign(headDims.begin(), headDims.end());
    if (options.headDims.empty())
      options.headDims = {64, 128};
    options.gpuMode = gpuMode;
    options.arch = arch;
    options.printSource = printSource;
    options.params.assign(params.begin(), params.end());
    return attnc::runCheckCommand(options);
  }
  if (refCmd || runCmd) {
    attnc::RefCommandOptions options;
    if (runCmd) {
      options.gpu = true;
      options.dtype = dtype;
      options.arch = arch;
      options.check = runCheck;
    }
    options.specPath = specPath;
    options.patternName = patternName;
    options.qPath = qPath;
    options.kPath = kPath;
    options.vPath = vPath;
    options.cuSeqlensQPath = cuSeqlensQ;
    options.cuSeqlensKPath = cuSeqlensK;
    options.inputs.assign(inputs.begin(), inputs.end());
    options.scalars.assign(scalars.begin(), scalars.end());
    options.params.assign(params.begin(), params.end());
    if (scale.getNumOccurrences())
      options.scale = scale;
    options.outputPath = outputPath.getNumOccurrences() ? outputPath.getValue() : "";
    options.lsePath = lsePath;
    options.stateInPath = stateIn;
    options.stateOutPath = stateOut;
    options.keySumInPath = keySumIn;
    options.keySumOutPath = keySumOut;
    return attnc::runRefCommand(options);
  }
  if (explainCmd) {
    attnc::ExplainCommandOptions options;
    options.specPath = specPath;
    options.patternName = patternName;
    options.seqQ = seqQ;
    options.seqK = seqK.getNumOccurrences() ? seqK.getValue() : seqQ.getValue();
    options.tileM = tileM;
    options.tileN = tileN.getNumOccurrences() ? tileN.getValue() : tileM.getValue();
    options.batch = batch;
    options.heads = heads;
    options.head = head;
    options.smCount = sms;
    options.headDim = headDim;
    options.inputs.assign(inputs.begin(), inputs.end());
    options.scalars.assign(scalars.begin(), scalars.end());
    options.params.assign(params.begin(), params.end());
    options.pngPath = pngPath;
    options.pngCompress = !pngUncompressed;
    return attnc::runExplainCommand(options);
  }
  if (benchCmd) {
    attnc::BenchCommandOptions options;
    options.specPath = specPath;
    options.patternName = patternName;
    options.dtype = dtype;
    options.arch = arch;
    options.headDim = headDim;
    options.batch = benchBatch;
    options.heads = benchHeads;
    options.kvHeads = benchKvHeads;
    options.seqQ = seqQ;
    options.seqK = seqK.getNumOccurrences() ? seqK.getValue() : 0;
    options.iters = iters;
    options.warmup = warmup;
    options.inputs.assign(inputs.begin(), inputs.end());
    options.scalars.assign(scalars.begin(), scalars.end());
    options.params.assign(params.begin(), params.end());
    return attnc::runBenchCommand(options);
  }
  errs() << "attnc: expected a command (compile, check, ref, explain, bench, devices, version); "
            "see attnc --help\n";
  return 1;
}
