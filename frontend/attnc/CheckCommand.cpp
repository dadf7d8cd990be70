//===- CheckCommand.cpp - attnc check -----------------------------------------===//
//
// The main job of the README: for every pattern of a spec and every (dtype, head dim)
//   1. lower it and print what was generated (kernel name, tiling);
//   2. compile the CUDA with NVRTC for the target arch (no GPU needed) and report registers
//      and spills from ptxas;
//   3. CPU: simulate the kernel's tile algorithm (float32, the kernel's block classification)
//      and compare it with the float64 reference on random inputs at a ragged size;
//   4. GPU (when one is present): run the kernel at several ragged shapes, GQA included, with
//      the output poisoned first, and compare O and LSE with the float64 reference.
// Prints one line per check and a summary; exits 1 if any check fails.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

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
#include <random>

using namespace mlir;
using llvm::outs;

namespace {

struct Shape {
  int batch, heads, kvHeads, seqQ, seqK;
};

/// Random inputs rounded to the element type, kept both as 16-bit bits and as doubles.
struct Inputs {
  std::vector<uint16_t> q, k, v;
  std::vector<double> qd, kd, vd;
};

static void fillRandom(std::vector<uint16_t> &bits, std::vector<double> &values, size_t n,
                       attnc::ElementType type, std::mt19937 &rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  bits.resize(n);
  values.resize(n);
  for (size_t i = 0; i < n; ++i) {
    bits[i] = attnc::floatToBits(dist(rng), type);
    values[i] = attnc::bitsToFloat(bits[i], type);
  }
}

static Inputs makeInputs(const Shape &s, int d, attnc::ElementType type, unsigned seed) {
  std::mt19937 rng(seed);
  Inputs in;
  fillRandom(in.q, in.qd, size_t(s.batch) * s.seqQ * s.heads * d, type, rng);
  fillRandom(in.k, in.kd, size_t(s.batch) * s.seqK * s.kvHeads * d, type, rng);
  fillRandom(in.v, in.vd, size_t(s.batch) * s.seqK * s.kvHeads * d, type, rng);
  return in;
}

static attn::ReferenceProblem problemFor(const Shape &s, int d, const Inputs &in) {
  attn::ReferenceProblem p;
  p.batch = s.batch;
  p.heads = s.heads;
  p.kvHeads = s.kvHeads;
  p.seqQ = s.seqQ;
  p.seqK = s.seqK;
  p.headDim = p.headDimV = d;
  p.q = in.qd;
  p.k = in.kd;
  p.v = in.vd;
  return p;
}

/// ||a - b|| / ||b||; NaN anywhere in `a` gives +inf.
static double relativeError(llvm::ArrayRef<double> a, llvm::ArrayRef<double> b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]))
      return INFINITY;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

/// max |a - b| over finite pairs; a pair where exactly one side is infinite counts as +inf.
static double maxAbsError(llvm::ArrayRef<double> a, llvm::ArrayRef<double> b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isinf(a[i]) || std::isinf(b[i])) {
      if (a[i] != b[i])
        return INFINITY;
      continue;
    }
    if (std::isnan(a[i]))
      return INFINITY;
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  }
  return worst;
}

/// Tolerances for ||O - ref|| / ||ref|| (PERFORMANCE.md) and for max |LSE - ref|.
static double outputTolerance(attnc::ElementType t) {
  return t == attnc::ElementType::BF16 ? 1e-2 : 3e-3;
}
constexpr double kLseTolerance = 1e-3;

class Checker {
public:
  explicit Checker(const attnc::CheckCommandOptions &o) : options(o) {}

  int run() {
    std::unique_ptr<attnc::LoadedSpec> spec = attnc::loadSpec(options.specPath);
    if (!spec)
      return 1;
    openDevice();
    for (const std::string &dtype : options.dtypes)
      for (int d : options.headDims)
        if (!checkTarget(*spec, dtype, d))
          ++failures;
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
    attn::KernelTarget target{dtype, d, 0, options.arch};
    if (failed(attnc::lowerToKernels(*spec.module, target)))
      return false;
    FailureOr<std::vector<attnc::CompiledKernel>> kernels = attnc::emitKernels(*spec.module);
    if (failed(kernels))
      return false;
    for (const attnc::CompiledKernel &k : *kernels) {
      if (k.spec.elementType != dtype || k.spec.headDim != d)
        continue; // emitted for another target earlier in this run
      auto kernel = SymbolTable::lookupNearestSymbolFrom<attn::KernelOp>(
          *spec.module, StringAttr::get(&spec.context, k.kernel));
      auto pattern = SymbolTable::lookupNearestSymbolFrom<attn::PatternOp>(
          *spec.module, StringAttr::get(&spec.context, k.pattern));
      checkKernel(k, kernel, pattern, type);
    }
    return true;
  }

  void checkKernel(const attnc::CompiledKernel &k, attn::KernelOp kernel, attn::PatternOp pattern,
                   attnc::ElementType type) {
    const attn::KernelLaunchSpec &s = k.spec;
    outs() << "\n== " << s.entryName << ": tile " << s.blockM << "x" << s.blockN << ", " << s.warps
           << " warps, " << s.stages << " stages\n";
    if (options.printSource)
      outs() << k.source << "\n";

    // 2. NVRTC for the target arch.
    attnc::CompileRequest request;
    request.source = k.source;
    request.name = s.entryName + ".cu";
    request.arch = options.arch;
    request.options = {"--ptxas-options=-v"};
    attnc::StatusOr<std::shared_ptr<const attnc::CompileResult>> compiled =
        attnc::KernelCache::global().compile(request);
    if (!compiled.ok()) {
      report(false, "nvrtc " + options.arch, compiled.status().message());
      return;
    }
    report(!(*compiled)->cubin.empty(), "nvrtc " + options.arch,
           std::to_string((*compiled)->cubin.size()) + " B cubin; " +
               ptxasSummary((*compiled)->log));

    // 3. CPU: the kernel's tile algorithm against the float64 reference.
    Shape cpuShape{2, 4, 2, 77, 131};
    Inputs in = makeInputs(cpuShape, int(s.headDim), type, 1234);
    attn::ReferenceProblem problem = problemFor(cpuShape, int(s.headDim), in);
    FailureOr<attn::ReferenceResult> ref = attn::evaluateReference(pattern, problem);
    attn::TileCounts counts;
    FailureOr<attn::ReferenceResult> sim = attn::simulateKernel(kernel, problem, &counts);
    if (failed(ref) || failed(sim)) {
      report(false, "cpu simulate", "evaluation failed");
      return;
    }
    double err = relativeError(sim->out, ref->out);
    double lseErr = maxAbsError(sim->lse, ref->lse);
    report(err < 1e-5 && lseErr < 1e-4, "cpu simulate " + shapeName(cpuShape),
           llvm::formatv("rel err {0:e2}, lse err {1:e2}; tiles empty/full/partial {2}/{3}/{4}",
                         err, lseErr, counts.empty, counts.full, counts.partial)
               .str());

    // 4. GPU.
    if (!device) {
      ++skips;
      return;
    }
    attnc::JitTarget jit;
    jit.device = device;
    attnc::StatusOr<std::shared_ptr<attnc::Kernel>> loaded =
        attnc::jitKernel(k.source, s.entryName, {}, jit);
    if (!loaded.ok()) {
      report(false, "gpu load", loaded.status().message());
      return;
    }
    static const Shape shapes[] = {{2, 4, 2, 77, 201},  {1, 2, 2, 300, 300}, {2, 4, 4, 1, 513},
                                   {1, 3, 1, 128, 128}, {2, 2, 2, 1000, 37}, {1, 8, 2, 555, 1024}};
    unsigned seed = 1;
    for (const Shape &shape : shapes)
      runOnGpu(**loaded, s, pattern, type, shape, seed++);
  }

  void runOnGpu(const attnc::Kernel &kernel, const attn::KernelLaunchSpec &s,
                attn::PatternOp pattern, attnc::ElementType type, const Shape &shape,
                unsigned seed) {
    int d = int(s.headDim);
    Inputs in = makeInputs(shape, d, type, seed);
    size_t outCount = size_t(shape.batch) * shape.seqQ * shape.heads * d;
    size_t lseCount = size_t(shape.batch) * shape.heads * shape.seqQ;
    auto fail = [&](const attnc::Status &st) {
      report(false, "gpu " + shapeName(shape), st.message());
    };
    auto bq = device->allocBuffer(in.q.size() * 2), bk = device->allocBuffer(in.k.size() * 2),
         bv = device->allocBuffer(in.v.size() * 2), bo = device->allocBuffer(outCount * 2),
         bl = device->allocBuffer(lseCount * 4);
    for (auto *b : {&bq, &bk, &bv, &bo, &bl})
      if (!b->ok())
        return fail(b->status());
    attnc::Status st = device->copyToDevice(bq->ptr(), in.q.data(), in.q.size() * 2);
    if (st.ok())
      st = device->copyToDevice(bk->ptr(), in.k.data(), in.k.size() * 2);
    if (st.ok())
      st = device->copyToDevice(bv->ptr(), in.v.data(), in.v.size() * 2);
    // Poison: 0xFF bytes are NaN in bf16, f16 and f32, so an unwritten element fails.
    if (st.ok())
      st = device->memset(bo->ptr(), 0xff, outCount * 2);
    if (st.ok())
      st = device->memset(bl->ptr(), 0xff, lseCount * 4);
    if (!st.ok())
      return fail(st);

    attnc::FwdParams p{};
    p.q = reinterpret_cast<const void *>(bq->ptr());
    p.k = reinterpret_cast<const void *>(bk->ptr());
    p.v = reinterpret_cast<const void *>(bv->ptr());
    p.o = reinterpret_cast<void *>(bo->ptr());
    p.lse = reinterpret_cast<float *>(bl->ptr());
    p.batch = shape.batch;
    p.heads = shape.heads;
    p.kv_heads = shape.kvHeads;
    p.seqlen_q = shape.seqQ;
    p.seqlen_k = shape.seqK;
    attnc::setContiguousStrides(p, d, d);
    p.scale = float(s.scale.value_or(1.0 / std::sqrt(double(d))));
    p.scale_log2 = p.scale * 1.4426950408889634f;
    attnc::ForwardConfig config{
        d, int(s.headDimV), int(s.blockM), int(s.blockN), int(s.warps), int(s.stages)};
    st = attnc::launchForward(kernel, config, p);
    if (st.ok())
      st = device->synchronize();
    std::vector<uint16_t> outBits(outCount);
    std::vector<float> lse(lseCount);
    if (st.ok())
      st = device->copyToHost(outBits.data(), bo->ptr(), outCount * 2);
    if (st.ok())
      st = device->copyToHost(lse.data(), bl->ptr(), lseCount * 4);
    if (!st.ok())
      return fail(st);

    FailureOr<attn::ReferenceResult> ref =
        attn::evaluateReference(pattern, problemFor(shape, d, in));
    if (failed(ref))
      return fail(attnc::Status::error("reference failed"));
    std::vector<double> out(outCount), lseD(lseCount);
    for (size_t i = 0; i < outCount; ++i)
      out[i] = attnc::bitsToFloat(outBits[i], type);
    for (size_t i = 0; i < lseCount; ++i)
      lseD[i] = lse[i];
    double err = relativeError(out, ref->out);
    double lseErr = maxAbsError(lseD, ref->lse);
    report(err < outputTolerance(type) && lseErr < kLseTolerance, "gpu " + shapeName(shape),
           llvm::formatv("rel err {0:e2} (tol {1:e0}), lse max err {2:e2}", err,
                         outputTolerance(type), lseErr)
               .str());
  }

  static std::string shapeName(const Shape &s) {
    return llvm::formatv("B{0} H{1}/{2} Sq{3} Skv{4}", s.batch, s.heads, s.kvHeads, s.seqQ, s.seqK)
        .str();
  }

  /// "N registers, S B stack, T B spill stores" from the ptxas -v lines of an NVRTC log.
  static std::string ptxasSummary(const std::string &log) {
    int registers = -1, stack = -1, spills = -1;
    for (llvm::StringRef line : llvm::split(log, '\n')) {
      if (size_t at = line.find("Used "); at != llvm::StringRef::npos)
        std::sscanf(line.data() + at, "Used %d registers", &registers);
      if (size_t at = line.find("bytes stack frame"); at != llvm::StringRef::npos)
        std::sscanf(line.data() + line.find_first_of("0123456789"),
                    "%d bytes stack frame, %d bytes spill stores", &stack, &spills);
    }
    if (registers < 0)
      return "no ptxas report";
    return llvm::formatv("{0} registers, {1} B stack, {2} B spill stores", registers, stack, spills)
        .str();
  }

  const attnc::CheckCommandOptions &options;
  attnc::Device *device = nullptr;
  int passes = 0, failures = 0, skips = 0;
};

} // namespace

int attnc::runCheckCommand(const CheckCommandOptions &options) { return Checker(options).run(); }
