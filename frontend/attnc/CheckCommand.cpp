//===- CheckCommand.cpp - attnc check -----------------------------------------===//
//
// The main job of the README: for every pattern of a spec and every (dtype, head dim)
//   1. lower it and print what was generated (kernel name, tiling);
//   2. compile the CUDA with NVRTC for the target arch (no GPU needed) and report registers
//      and spills from ptxas;
//   3. CPU: simulate the kernel's tile algorithm (float32, the kernel's block classification)
//      and compare it with the float64 reference on random inputs at a ragged size;
//   4. GPU (when one is present): run the kernel at several ragged shapes, GQA included, with
//      the output poisoned first, and compare O and LSE with the float64 reference. Linear
//      patterns: O and the final state, from a random initial state or none, and a prefill
//      followed by decode steps against the reference of the whole sequence.
// Prints one line per check and a summary; exits 1 if any check fails.
//
//===----------------------------------------------------------------------===//
#include "CheckProblems.h"
#include "Commands.h"

#include "attn/Codegen/CudaEmitter.h"
#include "attn/Codegen/Reference.h"
#include "attn/Codegen/Simulator.h"
#include "attnc/Forward.h"
#include "attnc/Runtime.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <set>

using namespace mlir;
using namespace attnc::check;
using llvm::outs;

namespace {

class Checker {
public:
  explicit Checker(const attnc::CheckCommandOptions &o) : options(o) {}

  int run() {
    attnc::ParamOverrides params;
    if (!attnc::parseAssignments(options.params, "param", params))
      return 1;
    openDevice();
    for (const std::string &path : options.specPaths) {
      if (options.specPaths.size() > 1)
        outs() << "\n#### " << path << "\n";
      std::unique_ptr<attnc::LoadedSpec> spec = attnc::loadSpec(path, params);
      if (!spec) {
        outs() << "FAIL  " << path << " does not compile\n";
        ++failures;
        continue;
      }
      checked.clear();
      skipped.clear();
      for (const std::string &dtype : options.dtypes)
        for (int d : options.headDims)
          if (!checkTarget(*spec, dtype, d))
            ++failures;
    }
    outs() << llvm::format("\n%d passed, %d failed", passes, failures);
    if (skips)
      outs() << llvm::format(", %d skipped", skips);
    outs() << "\n";
    return failures ? 1 : 0;
  }

private:
  void openDevice() {
    if (options.gpuMode == "off") {
      outs() << "GPU: off (--gpu=off)\n";
      return;
    }
    attnc::StatusOr<attnc::Device *> dev = attnc::Device::open(0);
    if (dev.ok()) {
      device = *dev;
      outs() << "GPU: " << device->name() << " (" << device->arch() << ", " << device->smCount()
             << " SMs)\n";
    } else {
      outs() << "GPU: none (" << dev.status().message() << ")\n";
      if (options.gpuMode == "require") {
        outs() << "FAIL  --gpu=require but no GPU could be opened\n";
        ++failures;
      }
    }
  }

  void report(bool ok, const std::string &what, const std::string &detail) {
    outs() << (ok ? "PASS  " : "FAIL  ") << what << "  " << detail << "\n";
    ++(ok ? passes : failures);
  }

  /// Returns false only for a failure that stops this target (no kernel).
  bool checkTarget(attnc::LoadedSpec &spec, const std::string &dtype, int d) {
    if (dtype != "bf16" && dtype != "f16") {
      outs() << "FAIL  unknown dtype '" << dtype << "' (expected bf16 or f16)\n";
      return false;
    }
    attnc::ElementType type = dtype == "bf16" ? attnc::ElementType::BF16 : attnc::ElementType::F16;
    attn::KernelTarget target{dtype, d, 0, options.arch, /*skipUnsupported=*/true};
    for (attn::PatternOp pattern : spec.module->getOps<attn::PatternOp>())
      if (std::optional<std::string> reason = attn::unsupportedReason(pattern, target)) {
        std::string key = pattern.getSymName().str() + "/" + dtype + "/" + *reason;
        if (skipped.insert(key).second) {
          outs() << "\nSKIP  @" << pattern.getSymName() << " (" << dtype << "): " << *reason
                 << "\n";
          ++skips;
        }
      }
    if (failed(attnc::lowerToKernels(*spec.module, target)))
      return false;
    FailureOr<std::vector<attnc::CompiledKernel>> kernels = attnc::emitKernels(*spec.module);
    if (failed(kernels))
      return false;
    for (const attnc::CompiledKernel &k : *kernels) {
      if (!checked.insert(k.kernel).second)
        continue; // checked for an earlier target of this run
      auto kernel = SymbolTable::lookupNearestSymbolFrom<attn::KernelOp>(
          *spec.module, StringAttr::get(&spec.context, k.kernel));
      auto pattern = SymbolTable::lookupNearestSymbolFrom<attn::PatternOp>(
          *spec.module, StringAttr::get(&spec.context, k.pattern));
      checkKernel(k, kernel, pattern, type);
    }
    for (attn::CompositeOp composite : spec.module->getOps<attn::CompositeOp>())
      checkComposite(spec, composite, *kernels, dtype, type);
    return true;
  }

  /// A composite: its combine kernel through NVRTC; on the CPU, the combine of its branch
  /// kernels' simulated outputs against its float64 reference; on the GPU, the branches and the
  /// combine through the runtime's CompositeKernel against the same reference. Its branches are
  /// checked as patterns of their own.
  void checkComposite(attnc::LoadedSpec &spec, attn::CompositeOp composite,
                      const std::vector<attnc::CompiledKernel> &kernels, const std::string &dtype,
                      attnc::ElementType type) {
    SmallVector<attn::PatternOp> branches = attn::getBranchPatterns(composite);
    SmallVector<attn::KernelOp> branchKernels;
    std::string names;
    for (attn::PatternOp branch : branches) {
      auto k = llvm::find_if(kernels, [&](const attnc::CompiledKernel &k) {
        return k.pattern == branch.getSymName();
      });
      if (k == kernels.end())
        return; // a branch has no kernel for this target (reported as a SKIP)
      branchKernels.push_back(SymbolTable::lookupNearestSymbolFrom<attn::KernelOp>(
          *spec.module, StringAttr::get(&spec.context, k->kernel)));
      names += (names.empty() ? "" : ", ") + branch.getSymName().str();
    }
    // The call's head dims: those of the first branch on its q and k (a branch may have q and k
    // of its own, of another head dim).
    const unsigned call = attn::getCallBranch(composite);
    const int d = int(branchKernels[call].getHeadDim()),
              dv = int(branchKernels[call].getHeadDimV());
    const std::string entry = attn::getCombineEntryName(composite, dtype, d, dv);
    if (!checked.insert(entry).second)
      return;
    outs() << "\n== " << entry << ": combine of " << branches.size() << " branches (" << names
           << ")\n";
    std::string source;
    llvm::raw_string_ostream os(source);
    if (failed(attn::emitCombineSource(composite, dtype, d, dv, os))) {
      report(false, "emit", "the combine could not be printed");
      return;
    }
    if (options.printSource)
      outs() << source << "\n";
    std::shared_ptr<const attnc::CompileResult> compiled = nvrtc(source, entry);
    if (!compiled)
      return;
    report(!compiled->cubin.empty(), "nvrtc " + options.arch,
           std::to_string(compiled->cubin.size()) + " B cubin; " + ptxasSummary(compiled->log));
    // Problems as for a linear branch if there is one (its inputs are the composite's, and a
    // linear form takes them positive, as gates and decays need), on square shapes (a linear
    // branch attends within its sequence).
    attn::PatternOp problemPattern = branches.front();
    for (attn::PatternOp branch : branches)
      if (linear(branch)) {
        problemPattern = branch;
        break;
      }
    for (Shape cpuShape : {Shape{2, 4, 2, 77, 77}, Shape{1, 2, 1, 300, 300}}) {
      std::unique_ptr<Problem> problem = makeProblem(problemPattern, cpuShape, d, dv, type, 1234);
      FailureOr<attn::ReferenceResult> ref = attn::evaluateComposite(composite, problem->ref);
      std::vector<std::vector<double>> outputs;
      for (auto [i, kernel] : llvm::enumerate(branchKernels)) {
        FailureOr<attn::ReferenceResult> sim =
            attn::simulateKernel(kernel, attn::branchProblem(composite, unsigned(i), problem->ref));
        if (failed(sim))
          break;
        outputs.push_back(std::move(sim->out));
      }
      FailureOr<std::vector<double>> combined =
          outputs.size() == branches.size()
              ? attn::combineBranchOutputs(composite, problem->ref, outputs)
              : FailureOr<std::vector<double>>(failure());
      if (failed(ref) || failed(combined)) {
        report(false, "cpu simulate", "evaluation failed");
        return;
      }
      const double err = relativeError(*combined, ref->out);
      report(err < 1e-5, "cpu simulate " + shapeName(problem->ref),
             llvm::formatv("rel err {0:e2} (the branch kernels' algorithms, combined)", err).str());
    }
    if (!device) {
      ++skips;
      return;
    }
    unsigned seed = 1;
    for (Shape shape : {Shape{2, 4, 2, 77, 77}, Shape{1, 2, 2, 300, 300}, Shape{1, 3, 1, 128, 128},
                        Shape{2, 2, 2, 1000, 1000}}) {
      std::unique_ptr<Problem> problem = makeProblem(problemPattern, shape, d, dv, type, seed++);
      FailureOr<attn::ReferenceResult> ref = attn::evaluateComposite(composite, problem->ref);
      FailureOr<attn::ReferenceResult> got =
          attnc::runCompositeOnGpu(spec, composite, problem->ref, dtype, options.arch);
      if (failed(ref) || failed(got)) {
        report(false, "gpu " + shapeName(problem->ref), "evaluation or launch failed");
        continue;
      }
      const double err = relativeError(got->out, ref->out);
      report(err < outputTolerance(type), "gpu " + shapeName(problem->ref),
             llvm::formatv("rel err {0:e2} (branches, then the combine kernel)", err).str());
    }
    checkCompositeDecode(composite, problemPattern, spec, d, dv, dtype, type);
  }

  /// A composite with one linear branch decodes: a prefill over the first L - 1 tokens returns
  /// the branch's state, then one step from it (q the last token, the whole sequence as the KV
  /// cache, the gate rows of that token) gives the full computation's last row and final state.
  /// Dense sequences, and no input along the keys (the linear branch reads the call's tokens).
  void checkCompositeDecode(attn::CompositeOp composite, attn::PatternOp problemPattern,
                            attnc::LoadedSpec &spec, int d, int dv, const std::string &dtype,
                            attnc::ElementType type) {
    if (!attn::getStatefulBranch(composite) || problemPattern.getVarlen())
      return;
    SmallVector<attn::InputOp> inputs(problemPattern.getBody().front().getOps<attn::InputOp>());
    for (attn::InputOp input : inputs)
      for (Attribute dim : input.getShape())
        if (auto name = dyn_cast<StringAttr>(dim);
            name && name.getValue() == "Skv" && !isa<NoneType>(input.getElementType()))
          return;
    unsigned seed = 50;
    for (Shape shape : {Shape{2, 4, 2, 77, 77}, Shape{1, 2, 2, 300, 300}}) {
      std::unique_ptr<Problem> problem = makeProblem(problemPattern, shape, d, dv, type, seed++);
      const attn::ReferenceProblem &full = problem->ref;
      const std::string name = shapeName(full) + " prefill + 1 step";
      FailureOr<attn::ReferenceResult> ref = attn::evaluateComposite(composite, full);
      const int64_t B = full.batch, L = full.seqQ;
      // Rows [from, from + n) of every sequence of a [B, L, heads, width] tensor.
      auto rows = [&](ArrayRef<double> x, int64_t heads, int64_t width, int64_t from, int64_t n) {
        std::vector<double> out;
        for (int64_t b = 0; b < B; ++b)
          out.insert(out.end(), x.begin() + ((b * L + from) * heads) * width,
                     x.begin() + ((b * L + from + n) * heads) * width);
        return out;
      };
      // The call's problem over the tokens [from, from + n) with keys [0, keysTo).
      auto call = [&](attn::ReferenceProblem &p, std::vector<double>(&tensors)[3], int64_t from,
                      int64_t n, int64_t keysTo) {
        p = full;
        tensors[0] = rows(full.q, full.heads, d, from, n);
        tensors[1] = rows(full.k, full.kvHeads, d, 0, keysTo);
        tensors[2] = rows(full.v, full.kvHeads, dv, 0, keysTo);
        p.q = tensors[0];
        p.k = tensors[1];
        p.v = tensors[2];
        // A branch's own k (the element type) is cut like the call's: the KV cache.
        for (attn::InputOp input : inputs)
          p.inputs[input.getName()] = sliceSequenceRows<double>(
              input, full, full.inputs.find(input.getName())->second, from, n,
              isa<NoneType>(input.getElementType()) ? std::optional<int64_t>(keysTo)
                                                    : std::nullopt);
        p.seqQ = n;
        p.seqK = keysTo;
      };
      attn::ReferenceProblem prefill, step;
      std::vector<double> prefillRows[3], stepRows[3];
      call(prefill, prefillRows, 0, L - 1, L - 1);
      call(step, stepRows, L - 1, 1, L);
      FailureOr<attn::ReferenceResult> first =
          attnc::runCompositeOnGpu(spec, composite, prefill, dtype, options.arch);
      if (failed(ref) || failed(first)) {
        report(false, "gpu " + name, "evaluation or launch failed");
        continue;
      }
      step.stateIn = first->state;
      step.keySumIn = first->keySum;
      FailureOr<attn::ReferenceResult> next =
          attnc::runCompositeOnGpu(spec, composite, step, dtype, options.arch);
      if (failed(next)) {
        report(false, "gpu " + name, "launch failed");
        continue;
      }
      const double err = relativeError(next->out, rows(ref->out, full.heads, dv, L - 1, 1));
      const double stateErr = std::max(relativeError(next->state, ref->state),
                                       relativeError(next->keySum, ref->keySum));
      report(err < outputTolerance(type) && stateErr < outputTolerance(type), "gpu " + name,
             llvm::formatv("last row rel err {0:e2}, state rel err {1:e2}", err, stateErr).str());
    }
  }

  void checkKernel(const attnc::CompiledKernel &k, attn::KernelOp kernel, attn::PatternOp pattern,
                   attnc::ElementType type) {
    const attn::KernelLaunchSpec &s = k.spec;
    if (linear(pattern))
      outs() << "\n== " << s.entryName << " (+ " << s.stepEntry << "): linear, chunk " << s.blockM
             << ", " << s.blockN << " state columns per block, " << s.warps << " warps\n";
    else
      outs() << "\n== " << s.entryName << ": tile " << s.blockM << "x" << s.blockN << ", "
             << s.warps << " warps, " << s.stages << " stages; mask "
             << pattern.getMaskClass().value_or("?") << "\n";
    if (options.printSource)
      outs() << k.source << "\n";

    // 2. NVRTC for the target arch.
    std::shared_ptr<const attnc::CompileResult> compiled = nvrtc(k.source, s.entryName);
    if (!compiled)
      return;
    // ptxas' "Potential Performance Loss" lines (wgmma serialised, setmaxnreg ignored) mean a
    // kernel that is correct but slow: they fail the check.
    std::string loss = performanceLoss(compiled->log);
    report(!compiled->cubin.empty() && loss.empty(), "nvrtc " + options.arch,
           std::to_string(compiled->cubin.size()) + " B cubin; " + ptxasSummary(compiled->log) +
               loss);

    // 3. CPU: the kernel's tile algorithm against the float64 reference, at two ragged shapes
    // (the second long enough for tiles to be skipped by sparse masks).
    const int d = int(s.headDim), dv = int(s.headDimV);
    if (linear(pattern))
      return checkLinearKernel(k, kernel, pattern, type);
    for (Shape cpuShape : {Shape{2, 4, 2, 77, 131}, Shape{1, 2, 1, 300, 520}}) {
      std::unique_ptr<Problem> problem = makeProblem(pattern, cpuShape, d, dv, type, 1234);
      FailureOr<attn::ReferenceResult> ref = attn::evaluateReference(pattern, problem->ref);
      attn::TileCounts counts;
      FailureOr<attn::ReferenceResult> sim = attn::simulateKernel(kernel, problem->ref, &counts);
      if (failed(ref) || failed(sim)) {
        report(false, "cpu simulate", "evaluation failed");
        return;
      }
      double err = relativeError(sim->out, ref->out);
      double lseErr = maxAbsError(sim->lse, ref->lse);
      report(err < 1e-5 && lseErr < 1e-4, "cpu simulate " + shapeName(problem->ref),
             llvm::formatv("rel err {0:e2}, lse err {1:e2}; tiles empty/full/partial {2}/{3}/{4}",
                           err, lseErr, counts.empty, counts.full, counts.partial)
                 .str());
    }

    // 4. GPU.
    if (!device) {
      ++skips;
      return;
    }
    std::shared_ptr<attnc::Kernel> loaded = loadEntry(k.source, s.entryName);
    if (!loaded)
      return;
    builder = decode = merge = nullptr;
    if (!s.blockMapEntry.empty() && !(builder = loadEntry(k.source, s.blockMapEntry)))
      return;
    if (!s.decodeEntry.empty() && (!(decode = loadEntry(k.source, s.decodeEntry)) ||
                                   !(merge = loadEntry(k.source, s.mergeEntry))))
      return;
    // The last five have a few query rows: they run the decode kernel (MHA, GQA and MQA
    // packing, one and several row groups, split and unsplit keys).
    static const Shape shapes[] = {{2, 4, 2, 77, 201},  {1, 2, 2, 300, 300},  {1, 3, 1, 128, 128},
                                   {2, 2, 2, 1000, 37}, {1, 8, 2, 555, 1024}, {2, 4, 4, 1, 513},
                                   {3, 8, 2, 1, 1000},  {2, 8, 1, 3, 777},    {1, 4, 2, 16, 300},
                                   {4, 4, 4, 2, 70}};
    unsigned seed = 1;
    for (const Shape &shape : shapes)
      runOnGpu(*loaded, s, pattern, type, shape, seed++);
  }

  /// `source` compiled by NVRTC for the target arch (through the kernel cache), with ptxas'
  /// report; null, with a failed check reported, when it does not compile.
  std::shared_ptr<const attnc::CompileResult> nvrtc(const std::string &source,
                                                    const std::string &entry) {
    attnc::CompileRequest request;
    request.source = source;
    request.name = entry + ".cu";
    request.arch = options.arch;
    request.options = {"--ptxas-options=-v"};
    attnc::StatusOr<std::shared_ptr<const attnc::CompileResult>> compiled =
        attnc::KernelCache::global().compile(request);
    if (!compiled.ok()) {
      report(false, "nvrtc " + options.arch, compiled.status().message());
      return nullptr;
    }
    return *compiled;
  }

  /// A device buffer of `bytes` (at least 4), kept in `buffers`, holding `data` when given
  /// (else uninitialised); its address.
  attnc::StatusOr<uint64_t> uploadTo(std::vector<attnc::DeviceBuffer> &buffers, const void *data,
                                     size_t bytes) {
    attnc::StatusOr<attnc::DeviceBuffer> buffer = device->allocBuffer(std::max<size_t>(bytes, 4));
    if (!buffer.ok())
      return buffer.status();
    const uint64_t ptr = buffer->ptr();
    buffers.push_back(std::move(*buffer));
    if (data && bytes) {
      attnc::Status st = device->copyToDevice(ptr, data, bytes);
      if (!st.ok())
        return st;
    }
    return ptr;
  }

  /// JIT-loads entry point `entry` of `source` on the device; null (with a failed "gpu load"
  /// check reported) when it cannot.
  std::shared_ptr<attnc::Kernel> loadEntry(const std::string &source, const std::string &entry) {
    attnc::JitTarget jit;
    jit.device = device;
    attnc::StatusOr<std::shared_ptr<attnc::Kernel>> loaded =
        attnc::jitKernel(source, entry, {}, jit);
    if (!loaded.ok()) {
      report(false, "gpu load", loaded.status().message());
      return nullptr;
    }
    return *loaded;
  }

  static bool linear(attn::PatternOp pattern) { return bool(pattern.getUnique<attn::LinearOp>()); }

  /// Random initial states for a linear problem (normals scaled down, as states of earlier
  /// tokens would be); with the sum normaliser a key sum too, positive as sums of positive
  /// features are.
  static void randomState(attn::PatternOp pattern, attn::ReferenceProblem &p, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal(0.0, 0.5);
    if (attn::getFeatureMap(pattern.getUnique<attn::LinearOp>()) != attn::FeatureMap::Elementwise) {
      // A map of whole rows has signed features (taylor2's x_i, x_i x_j), against which a
      // random key sum makes phi(q) . z cancel as no real one does (it sums weights of at
      // least 1/2): the state an earlier random sequence of the same shape leaves instead.
      attn::ReferenceProblem prior = p;
      std::vector<double> rows[3] = {std::vector<double>(p.q.size()),
                                     std::vector<double>(p.k.size()),
                                     std::vector<double>(p.v.size())};
      for (std::vector<double> &values : rows)
        for (double &x : values)
          x = 2.0 * normal(rng);
      prior.q = rows[0];
      prior.k = rows[1];
      prior.v = rows[2];
      prior.stateIn.clear();
      prior.keySumIn.clear();
      FailureOr<attn::ReferenceResult> earlier = attn::evaluateReference(pattern, prior);
      if (failed(earlier))
        return; // the check's own evaluation reports the problem
      auto toFloat = [](std::vector<double> values) {
        for (double &x : values)
          x = float(x); // representable as the float32 the kernel reads
        return values;
      };
      p.stateIn = toFloat(earlier->state);
      p.keySumIn = sumNormalised(pattern) ? toFloat(earlier->keySum) : std::vector<double>();
      return;
    }
    const int64_t rows = attn::getLinearStateDim(pattern.getUnique<attn::LinearOp>(), p.headDim);
    p.stateIn.resize(size_t(p.batch * p.heads * rows * p.headDimV));
    for (double &x : p.stateIn)
      x = float(normal(rng)); // representable as the float32 the kernel reads
    if (sumNormalised(pattern)) {
      p.keySumIn.resize(size_t(p.batch * p.heads * rows));
      for (double &x : p.keySumIn)
        x = float(std::fabs(normal(rng)) * 4.0);
    }
  }

  static bool sumNormalised(attn::PatternOp pattern) {
    return pattern.getUnique<attn::NormalizeOp>().getKind() == attn::NormalizerKind::Sum;
  }

  /// Steps 3 and 4 for a linear kernel: the chunked algorithm on the CPU, then the prefill and
  /// step kernels on the GPU.
  void checkLinearKernel(const attnc::CompiledKernel &k, attn::KernelOp kernel,
                         attn::PatternOp pattern, attnc::ElementType type) {
    const attn::KernelLaunchSpec &s = k.spec;
    const int d = int(s.headDim), dv = int(s.headDimV);
    // The prefill's sequence split (causal forms without the sum normaliser or a map of whole
    // rows) is simulated too: 300 rows in segments of 2 chunks.
    const bool splits = s.causal && s.normalizer != "sum" && s.featureMap.empty();
    struct CpuRun {
      Shape shape;
      bool withState;
      int64_t segmentRows;
    };
    std::vector<CpuRun> runs = {{Shape{2, 4, 2, 77, 77}, false, 0},
                                {Shape{1, 2, 1, 300, 300}, true, 0}};
    if (splits)
      runs.push_back({Shape{1, 2, 1, 300, 300}, true, 2 * s.blockM});
    for (auto [cpuShape, withState, segmentRows] : runs) {
      std::unique_ptr<Problem> problem = makeProblem(pattern, cpuShape, d, dv, type, 1234);
      if (withState)
        randomState(pattern, problem->ref, 99);
      FailureOr<attn::ReferenceResult> ref = attn::evaluateReference(pattern, problem->ref);
      attn::TileCounts counts;
      FailureOr<attn::ReferenceResult> sim =
          attn::simulateKernel(kernel, problem->ref, &counts, segmentRows);
      if (failed(ref) || failed(sim)) {
        report(false, "cpu simulate", "evaluation failed");
        return;
      }
      double err = relativeError(sim->out, ref->out);
      double stateErr =
          std::max(relativeError(sim->state, ref->state), relativeError(sim->keySum, ref->keySum));
      const int64_t segments =
          segmentRows > 0 ? (cpuShape.seqQ + segmentRows - 1) / segmentRows : 1;
      report(err < 1e-5 && stateErr < 1e-5,
             "cpu simulate " + shapeName(problem->ref) + (withState ? " +state" : "") +
                 (segments > 1 ? llvm::formatv(" split {0}x{1}", segments, segmentRows).str()
                               : std::string()),
             llvm::formatv("rel err {0:e2}, state rel err {1:e2}; chunks {2}", err, stateErr,
                           counts.partial)
                 .str());
    }
    if (!device) {
      ++skips;
      return;
    }
    std::shared_ptr<attnc::Kernel> prefill = loadEntry(k.source, s.entryName);
    std::shared_ptr<attnc::Kernel> step = prefill ? loadEntry(k.source, s.stepEntry) : nullptr;
    if (!step)
      return;
    // A map of whole rows: its passes' own entry, as AttentionKernel launches them.
    std::shared_ptr<attnc::Kernel> rowPasses;
    if (!s.featureEntry.empty() && !(rowPasses = loadEntry(k.source, s.featureEntry)))
      return;
    static const Shape shapes[] = {{2, 4, 2, 77, 77},   {1, 2, 2, 300, 300},   {2, 4, 4, 1, 1},
                                   {1, 3, 1, 128, 128}, {2, 2, 2, 1000, 1000}, {1, 8, 2, 555, 555}};
    unsigned seed = 1;
    for (const Shape &shape : shapes) {
      runLinearOnGpu(*prefill, *step, rowPasses.get(), s, pattern, type, shape, seed,
                     /*decodeSteps=*/0);
      // Decode after prefill: the last tokens one step at a time from the prefill's state (a
      // causal form only: without causality every query sees the keys after it too).
      if (shape.seqQ >= 4 && !pattern.getVarlen() &&
          pattern.getUnique<attn::LinearOp>().getCausal())
        runLinearOnGpu(*prefill, *step, rowPasses.get(), s, pattern, type, shape, seed,
                       /*decodeSteps=*/3);
      ++seed;
    }
  }

  /// One linear problem on the GPU: a prefill over the first L - decodeSteps rows (from a
  /// random initial state for odd seeds) and `decodeSteps` recurrent steps, against the
  /// reference of all L rows; compares O and the final state.
  void runLinearOnGpu(const attnc::Kernel &prefill, const attnc::Kernel &step,
                      const attnc::Kernel *rowPasses, const attn::KernelLaunchSpec &s,
                      attn::PatternOp pattern, attnc::ElementType type, const Shape &shape,
                      unsigned seed, int decodeSteps) {
    const int d = int(s.headDim), dv = int(s.headDimV);
    std::unique_ptr<Problem> problem = makeProblem(pattern, shape, d, dv, type, seed);
    attn::ReferenceProblem &rp = problem->ref;
    if (seed % 2)
      randomState(pattern, rp, seed + 100);
    const bool sum = sumNormalised(pattern);
    std::string name = shapeName(rp) + (seed % 2 ? " +state" : "") +
                       (decodeSteps ? " +" + std::to_string(decodeSteps) + " steps" : "");
    auto fail = [&](const attnc::Status &st) { report(false, "gpu " + name, st.message()); };
    const size_t outCount = size_t(rp.totalQ()) * rp.heads * dv;
    const size_t stateCount = size_t(rp.batch * rp.heads) * s.stateRows() * dv;
    const size_t keySumCount = size_t(rp.batch * rp.heads) * s.stateRows();
    std::vector<float> stateIn(rp.stateIn.begin(), rp.stateIn.end());
    std::vector<float> keySumIn(rp.keySumIn.begin(), rp.keySumIn.end());
    std::vector<attnc::DeviceBuffer> buffers;
    std::vector<uint64_t> ptrs;
    for (auto [data, bytes] :
         {std::pair<const void *, size_t>{problem->q.data(), problem->q.size() * 2},
          {problem->k.data(), problem->k.size() * 2},
          {problem->v.data(), problem->v.size() * 2},
          {nullptr, outCount * 2},
          {stateIn.empty() ? nullptr : stateIn.data(), stateCount * 4},
          {keySumIn.empty() ? nullptr : keySumIn.data(), keySumCount * 4},
          {nullptr, keySumCount * 4}}) {
      attnc::StatusOr<uint64_t> ptr = uploadTo(buffers, data, bytes);
      // Poison: 0xFF bytes are NaN in bf16, f16 and f32, so an unwritten element fails.
      attnc::Status st = !ptr.ok() ? ptr.status()
                         : data    ? attnc::Status::success()
                                   : device->memset(*ptr, 0xff, bytes);
      if (!st.ok())
        return fail(st);
      ptrs.push_back(*ptr);
    }
    attnc::FwdParams p{};
    p.q = reinterpret_cast<const void *>(ptrs[0]);
    p.k = reinterpret_cast<const void *>(ptrs[1]);
    p.v = reinterpret_cast<const void *>(ptrs[2]);
    p.o = reinterpret_cast<void *>(ptrs[3]);
    // The state is updated in place: prefill and steps read and write the same buffer.
    p.state_in = stateIn.empty() ? nullptr : reinterpret_cast<const float *>(ptrs[4]);
    p.state_out = reinterpret_cast<float *>(ptrs[4]);
    // The key sum cannot be updated in place: two buffers, swapped after every call.
    uint64_t keySum[2] = {ptrs[5], ptrs[6]};
    if (sum) {
      p.key_sum_in = keySumIn.empty() ? nullptr : reinterpret_cast<const float *>(keySum[0]);
      p.key_sum_out = reinterpret_cast<float *>(keySum[1]);
    }
    // Each call gets its own rows of the inputs indexed by position (a per-token gate): the
    // prefill rows [0, prefillRows), each step its one row.
    SmallVector<attn::InputOp> inputOps(pattern.getBody().front().getOps<attn::InputOp>());
    auto uploadInputs = [&](attnc::FwdParams &call, int64_t from, int64_t count) {
      for (auto [slot, bits] : llvm::enumerate(problem->inputBits)) {
        std::vector<uint32_t> rows =
            sliceSequenceRows<uint32_t>(inputOps[slot], rp, bits, from, count);
        attnc::StatusOr<uint64_t> ptr = uploadTo(buffers, rows.data(), rows.size() * 4);
        if (!ptr.ok())
          return ptr.status();
        call.inputs[slot] = reinterpret_cast<const void *>(*ptr);
      }
      return attnc::Status::success();
    };
    for (auto [slot, scalar] : llvm::enumerate(s.scalars)) {
      auto it = rp.scalars.find(scalar.name);
      p.scalars[slot] = float(it != rp.scalars.end() ? it->second : *scalar.defaultValue);
    }
    p.batch = int(rp.batch);
    p.heads = int(rp.heads);
    p.kv_heads = int(rp.kvHeads);
    p.seqlen_q = p.seqlen_k = int(rp.seqQ);
    attnc::setContiguousStrides(p, d, dv);
    if (rp.isVarlen()) {
      for (const std::vector<int> *cu : {&problem->cuQ, &problem->cuK}) {
        attnc::StatusOr<uint64_t> ptr = uploadTo(buffers, cu->data(), cu->size() * 4);
        if (!ptr.ok())
          return fail(ptr.status());
        (cu == &problem->cuQ ? p.cu_seqlens_q : p.cu_seqlens_k) =
            reinterpret_cast<const int *>(*ptr);
      }
      p.total_q = p.total_k = problem->cuQ.back();
    }
    p.scale = float(s.scale);
    attnc::ForwardConfig config = attnc::forwardConfig(s);
    const int prefillRows = int(rp.seqQ) - decodeSteps;
    attnc::FwdParams first = p;
    first.seqlen_q = first.seqlen_k = prefillRows;
    attnc::Status st = uploadInputs(first, 0, prefillRows);
    if (st.ok())
      st = prefillRows == 1 ? attnc::launchLinearStep(step, config, first)
                            : attnc::launchForward(prefill, config, first, nullptr, rowPasses);
    int keySumNow = 1; // the buffer holding the current key sum
    for (int i = 0; st.ok() && i < decodeSteps; ++i) {
      // Row r = prefillRows + i of every sequence, as a batch of length-1 sequences.
      const long long r = prefillRows + i;
      attnc::FwdParams one = p;
      one.seqlen_q = one.seqlen_k = 1;
      one.state_in = p.state_out;
      one.q = static_cast<const uint16_t *>(p.q) + r * p.q_row_stride;
      one.k = static_cast<const uint16_t *>(p.k) + r * p.k_row_stride;
      one.v = static_cast<const uint16_t *>(p.v) + r * p.v_row_stride;
      one.o = static_cast<uint16_t *>(p.o) + r * p.o_row_stride;
      if (sum) {
        one.key_sum_in = reinterpret_cast<const float *>(keySum[keySumNow]);
        one.key_sum_out = reinterpret_cast<float *>(keySum[keySumNow ^ 1]);
        keySumNow ^= 1;
      }
      st = uploadInputs(one, r, 1);
      if (st.ok())
        st = attnc::launchLinearStep(step, config, one);
    }
    if (st.ok())
      st = device->synchronize();
    std::vector<uint16_t> outBits(outCount);
    std::vector<float> state(stateCount);
    if (st.ok())
      st = device->copyToHost(outBits.data(), ptrs[3], outCount * 2);
    if (st.ok())
      st = device->copyToHost(state.data(), ptrs[4], stateCount * 4);
    std::vector<float> keySumOut(sum ? keySumCount : 0);
    if (st.ok() && sum)
      st = device->copyToHost(keySumOut.data(), keySum[keySumNow], keySumCount * 4);
    if (!st.ok())
      return fail(st);
    FailureOr<attn::ReferenceResult> ref = attn::evaluateReference(pattern, rp);
    if (failed(ref))
      return fail(attnc::Status::error("reference failed"));
    std::vector<double> out(outCount), stateD(state.begin(), state.end());
    for (size_t i = 0; i < outCount; ++i)
      out[i] = attnc::bitsToFloat(outBits[i], type);
    double err = relativeError(out, ref->out), stateErr = relativeError(stateD, ref->state);
    if (sum)
      stateErr =
          std::max(stateErr, relativeError(std::vector<double>(keySumOut.begin(), keySumOut.end()),
                                           ref->keySum));
    report(err < outputTolerance(type) && stateErr < outputTolerance(type), "gpu " + name,
           llvm::formatv("rel err {0:e2}, state rel err {1:e2} (tol {2:e0})", err, stateErr,
                         outputTolerance(type))
               .str());
  }

  void runOnGpu(const attnc::Kernel &kernel, const attn::KernelLaunchSpec &s,
                attn::PatternOp pattern, attnc::ElementType type, const Shape &shape,
                unsigned seed) {
    const int d = int(s.headDim), dv = int(s.headDimV);
    std::unique_ptr<Problem> problem = makeProblem(pattern, shape, d, dv, type, seed);
    const attn::ReferenceProblem &rp = problem->ref;
    size_t outCount = size_t(rp.totalQ()) * rp.heads * dv;
    size_t lseCount = size_t(rp.totalQ()) * rp.heads;
    auto fail = [&](const attnc::Status &st) {
      report(false, "gpu " + shapeName(rp), st.message());
    };
    std::vector<attnc::DeviceBuffer> buffers;
    auto upload = [&](const void *data, size_t bytes) { return uploadTo(buffers, data, bytes); };
    attnc::FwdParams p{};
    std::vector<uint64_t> ptrs;
    for (auto [data, bytes] :
         {std::pair<const void *, size_t>{problem->q.data(), problem->q.size() * 2},
          {problem->k.data(), problem->k.size() * 2},
          {problem->v.data(), problem->v.size() * 2},
          {nullptr, outCount * 2},
          {nullptr, lseCount * 4}}) {
      attnc::StatusOr<uint64_t> ptr = upload(data, bytes);
      if (!ptr.ok())
        return fail(ptr.status());
      ptrs.push_back(*ptr);
    }
    p.q = reinterpret_cast<const void *>(ptrs[0]);
    p.k = reinterpret_cast<const void *>(ptrs[1]);
    p.v = reinterpret_cast<const void *>(ptrs[2]);
    p.o = reinterpret_cast<void *>(ptrs[3]);
    p.lse = reinterpret_cast<float *>(ptrs[4]);
    // Poison: 0xFF bytes are NaN in bf16, f16 and f32, so an unwritten element fails.
    attnc::Status st = device->memset(ptrs[3], 0xff, outCount * 2);
    if (st.ok())
      st = device->memset(ptrs[4], 0xff, lseCount * 4);
    if (!st.ok())
      return fail(st);
    for (auto [slot, bits] : llvm::enumerate(problem->inputBits)) {
      attnc::StatusOr<uint64_t> ptr = upload(bits.data(), bits.size() * 4);
      if (!ptr.ok())
        return fail(ptr.status());
      p.inputs[slot] = reinterpret_cast<const void *>(*ptr);
    }
    for (auto [slot, scalar] : llvm::enumerate(s.scalars)) {
      auto it = rp.scalars.find(scalar.name);
      p.scalars[slot] = float(it != rp.scalars.end() ? it->second : *scalar.defaultValue);
    }
    p.batch = int(rp.batch);
    p.heads = int(rp.heads);
    p.kv_heads = int(rp.kvHeads);
    p.seqlen_q = int(rp.seqQ);
    p.seqlen_k = int(rp.seqK);
    attnc::setContiguousStrides(p, d, dv);
    if (rp.isVarlen()) {
      attnc::StatusOr<uint64_t> cq = upload(problem->cuQ.data(), problem->cuQ.size() * 4);
      attnc::StatusOr<uint64_t> ck = upload(problem->cuK.data(), problem->cuK.size() * 4);
      if (!cq.ok() || !ck.ok())
        return fail(cq.ok() ? ck.status() : cq.status());
      p.cu_seqlens_q = reinterpret_cast<const int *>(*cq);
      p.cu_seqlens_k = reinterpret_cast<const int *>(*ck);
      p.total_q = problem->cuQ.back();
      p.total_k = problem->cuK.back();
    }
    p.scale = float(s.scale);
    p.scale_log2 = p.scale * 1.4426950408889634f;
    attnc::ForwardConfig config = attnc::forwardConfig(s);
    if (builder) {
      // The run-time block map of a tensor-dependent mask, cleared to EMPTY first so that a
      // tile the builder missed is skipped and fails the check.
      p.block_map_heads = s.blockMapPerHead ? p.heads : 1;
      size_t bytes = size_t(attnc::blockMapBytes(p.batch, p.block_map_heads, p.seqlen_q, p.seqlen_k,
                                                 int(s.blockM), int(s.blockN)));
      attnc::StatusOr<uint64_t> map = upload(nullptr, bytes);
      if (!map.ok())
        return fail(map.status());
      st = device->memset(*map, attnc::kTileEmpty, std::max<size_t>(bytes, 4));
      if (st.ok())
        st = attnc::launchBlockMap(*builder, config, p, reinterpret_cast<void *>(*map));
      if (!st.ok())
        return fail(st);
      p.block_map = reinterpret_cast<const unsigned char *>(*map);
    }
    const bool decoding = decode && attnc::useDecode(config, p);
    st = decoding ? attnc::launchDecode(*decode, *merge, config, p)
                  : attnc::launchForward(kernel, config, p);
    if (st.ok())
      st = device->synchronize();
    std::vector<uint16_t> outBits(outCount);
    std::vector<float> lse(lseCount);
    if (st.ok())
      st = device->copyToHost(outBits.data(), ptrs[3], outCount * 2);
    if (st.ok())
      st = device->copyToHost(lse.data(), ptrs[4], lseCount * 4);
    if (!st.ok())
      return fail(st);

    FailureOr<attn::ReferenceResult> ref = attn::evaluateReference(pattern, rp);
    if (failed(ref))
      return fail(attnc::Status::error("reference failed"));
    std::vector<double> out(outCount), lseD(lseCount);
    for (size_t i = 0; i < outCount; ++i)
      out[i] = attnc::bitsToFloat(outBits[i], type);
    for (size_t i = 0; i < lseCount; ++i)
      lseD[i] = lse[i];
    double err = relativeError(out, ref->out);
    // Only softmax has a log-sum-exp; the other normalisers leave the LSE buffer untouched.
    double lseErr =
        pattern.getUnique<attn::NormalizeOp>().getKind() == attn::NormalizerKind::Softmax
            ? maxAbsError(lseD, ref->lse)
            : 0.0;
    report(err < outputTolerance(type) && lseErr < kLseTolerance,
           "gpu " + shapeName(rp) + (decoding ? " decode" : ""),
           llvm::formatv("rel err {0:e2} (tol {1:e0}), lse max err {2:e2}", err,
                         outputTolerance(type), lseErr)
               .str());
  }

  static std::string shapeName(const attn::ReferenceProblem &p) {
    std::string name =
        llvm::formatv("B{0} H{1}/{2} Sq{3} Skv{4}", p.batch, p.heads, p.kvHeads, p.seqQ, p.seqK)
            .str();
    return p.isVarlen() ? name + " varlen" : name;
  }

  /// "N registers, S B stack, T B spill stores" from the ptxas -v lines of an NVRTC log: the
  /// most over the module's entry points.
  static std::string ptxasSummary(const std::string &log) {
    int registers = -1, stack = -1, spills = -1;
    for (llvm::StringRef line : llvm::split(log, '\n')) {
      int r = -1, st = -1, sp = -1;
      if (size_t at = line.find("Used "); at != llvm::StringRef::npos)
        std::sscanf(line.data() + at, "Used %d registers", &r);
      if (size_t at = line.find("bytes stack frame"); at != llvm::StringRef::npos)
        std::sscanf(line.data() + line.find_first_of("0123456789"),
                    "%d bytes stack frame, %d bytes spill stores", &st, &sp);
      registers = std::max(registers, r);
      stack = std::max(stack, st);
      spills = std::max(spills, sp);
    }
    if (registers < 0)
      return "no ptxas report";
    return llvm::formatv("{0} registers, {1} B stack, {2} B spill stores", registers, stack, spills)
        .str();
  }

  /// "; <ptxas warning>" for each "Potential Performance Loss" line of an NVRTC log.
  static std::string performanceLoss(const std::string &log) {
    std::string found;
    for (llvm::StringRef line : llvm::split(log, '\n'))
      if (size_t at = line.find("Potential Performance Loss"); at != llvm::StringRef::npos)
        found += "; " + line.drop_front(at).trim().str();
    return found;
  }

  const attnc::CheckCommandOptions &options;
  attnc::Device *device = nullptr;
  int passes = 0, failures = 0, skips = 0;
  std::shared_ptr<attnc::Kernel> builder;       // the current kernel's block-map builder, if any
  std::shared_ptr<attnc::Kernel> decode, merge; // and its decode kernels
  std::set<std::string> checked, skipped;
};

} // namespace

int attnc::runCheckCommand(const CheckCommandOptions &options) { return Checker(options).run(); }
