//===- BenchCommand.cpp - attnc bench -----------------------------------------===//
//
// Times one pattern's generated kernel on the GPU at one problem size:
//   1. lower the pattern for (dtype, head dim), JIT it (cold and cached compile times);
//   2. random q/k/v of the element type, extra inputs from .npy files, scalars;
//   3. build the run-time block map first when the pattern has one (timed on its own);
//   4. `--warmup` launches, then `--iters` launches each timed with CUDA events: the median;
//   5. the fraction of (q, k) pairs the mask keeps (on the CPU, every row up to 2^22 pair
//      evaluations, else evenly sampled rows), for effective TFLOP/s as in PERFORMANCE.md:
//      4 B H Sq Skv D FLOPs x that fraction.
// Progress goes to stderr; the result is one block of text on stdout.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "attn/Codegen/BlockMap.h"
#include "attnc/Forward.h"
#include "attnc/Runtime.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

using namespace mlir;
using llvm::errs;
using llvm::outs;

namespace {

/// Device buffer of `bytes` filled from `data` (or left uninitialised when null).
attnc::StatusOr<attnc::DeviceBuffer> upload(attnc::Device &device, const void *data, size_t bytes) {
  attnc::StatusOr<attnc::DeviceBuffer> buffer = device.allocBuffer(std::max<size_t>(bytes, 16));
  if (!buffer.ok() || !data)
    return buffer;
  attnc::Status st = device.copyToDevice(buffer->ptr(), data, bytes);
  if (!st.ok())
    return st;
  return buffer;
}

/// n random elements in [-1, 1) of the element type (a fast generator: the values only have to
/// be ordinary numbers).
std::vector<uint16_t> randomBits(size_t n, attnc::ElementType type, uint64_t seed) {
  std::vector<uint16_t> bits(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    float v = float(int64_t(x >> 40) - (int64_t(1) << 23)) / float(1 << 23);
    bits[i] = attnc::floatToBits(v, type);
  }
  return bits;
}

double medianOf(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

int fail(const std::string &message) {
  errs() << "attnc bench: " << message << "\n";
  return 1;
}

} // namespace

int attnc::runBenchCommand(const BenchCommandOptions &o) {
  Assignments given;
  if (!parseAssignments(o.params, o.inputs, o.scalars, given))
    return 1;
  const ParamOverrides &params = given.params;
  const llvm::StringMap<std::string> &inputFiles = given.inputs, &scalarValues = given.scalars;
  if (o.dtype != "bf16" && o.dtype != "f16")
    return fail("--dtype must be bf16 or f16, got '" + o.dtype + "'");
  if (o.batch <= 0 || o.heads <= 0 || o.seqQ <= 0 || o.iters <= 0 || o.warmup < 0)
    return fail("--batch, --heads, --seq and --iters must be positive");
  std::unique_ptr<LoadedSpec> spec = loadSpec(o.specPath, params);
  if (!spec)
    return 1;
  attn::PatternOp pattern = selectPattern(*spec->module, o.patternName);
  if (!pattern)
    return 1;
  attnc::ElementType type = o.dtype == "bf16" ? ElementType::BF16 : ElementType::F16;

  // 1. The kernel of this pattern for the target.
  attn::KernelTarget target{o.dtype, o.headDim, 0, o.arch};
  if (std::optional<std::string> reason = attn::unsupportedReason(pattern, target))
    return fail("@" + pattern.getSymName().str() + ": " + *reason);
  if (failed(lowerToKernels(*spec->module, target)))
    return 1;
  FailureOr<std::vector<CompiledKernel>> kernels = emitKernels(*spec->module);
  if (failed(kernels))
    return 1;
  const CompiledKernel *compiled = nullptr;
  for (const CompiledKernel &k : *kernels)
    if (k.pattern == pattern.getSymName())
      compiled = &k;
  if (!compiled)
    return fail("no kernel for @" + pattern.getSymName().str());
  const attn::KernelLaunchSpec &s = compiled->spec;

  StatusOr<Device *> opened = Device::open(0);
  if (!opened.ok())
    return fail(opened.status().message());
  Device &device = **opened;
  JitTarget jit;
  jit.device = &device;
  auto clock = [] { return std::chrono::steady_clock::now(); };
  auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  auto t0 = clock();
  StatusOr<std::shared_ptr<Kernel>> kernel = jitKernel(compiled->source, s.entryName, {}, jit);
  auto t1 = clock();
  if (!kernel.ok())
    return fail(kernel.status().message());
  StatusOr<std::shared_ptr<Kernel>> again = jitKernel(compiled->source, s.entryName, {}, jit);
  auto t2 = clock();
  if (!again.ok())
    return fail(again.status().message());

  // 2. The problem.
  attn::ReferenceProblem problem;
  problem.batch = o.batch;
  problem.heads = pattern.getHeads() ? int64_t(*pattern.getHeads()) : o.heads;
  problem.kvHeads = pattern.getKvHeads() ? int64_t(*pattern.getKvHeads())
                                         : (o.kvHeads ? o.kvHeads : problem.heads);
  problem.seqQ = o.seqQ;
  problem.seqK = o.seqK ? o.seqK : o.seqQ;
  problem.headDim = s.headDim;
  problem.headDimV = s.headDimV;
  if (problem.heads % problem.kvHeads != 0)
    return fail("heads must be a multiple of kv heads");
  if (pattern.getVarlen())
    return fail("varlen patterns are not benchmarked yet (no --cu-seqlens here)");
  if (!bindInputsAndScalars(pattern, inputFiles, scalarValues, problem))
    return 1;
  const int64_t B = problem.batch, H = problem.heads, Hkv = problem.kvHeads;
  const int64_t Sq = problem.seqQ, Skv = problem.seqK, D = s.headDim, Dv = s.headDimV;
  errs() << "attnc bench: preparing B" << B << " H" << H << "/" << Hkv << " Sq" << Sq << " Skv"
         << Skv << " D" << D << "\n";
  std::vector<uint16_t> q = randomBits(size_t(B * Sq * H * D), type, 1),
                        k = randomBits(size_t(B * Skv * Hkv * D), type, 2),
                        v = randomBits(size_t(B * Skv * Hkv * Dv), type, 3);
  std::vector<StatusOr<DeviceBuffer>> buffers;
  buffers.push_back(upload(device, q.data(), q.size() * 2));
  buffers.push_back(upload(device, k.data(), k.size() * 2));
  buffers.push_back(upload(device, v.data(), v.size() * 2));
  buffers.push_back(upload(device, nullptr, size_t(B * Sq * H * Dv) * 2));
  buffers.push_back(upload(device, nullptr, size_t(B * H * Sq) * 4));
  FwdParams p{};
  unsigned slot = 0;
  for (Operation &op : pattern.getBody().front()) {
    if (auto input = dyn_cast<attn::InputOp>(op)) {
      const std::vector<double> &values = problem.inputs[input.getName()];
      std::vector<uint32_t> bits(values.size());
      for (size_t i = 0; i < values.size(); ++i) {
        if (input.getElementType().isF32()) {
          float f = float(values[i]);
          std::memcpy(&bits[i], &f, 4);
        } else {
          bits[i] = uint32_t(int32_t(values[i]));
        }
      }
      buffers.push_back(upload(device, bits.data(), bits.size() * 4));
      if (buffers.back().ok())
        p.inputs[slot++] = reinterpret_cast<const void *>(buffers.back()->ptr());
    }
  }
  for (const StatusOr<DeviceBuffer> &b : buffers)
    if (!b.ok())
      return fail(b.status().message());
  for (auto [i, scalar] : llvm::enumerate(s.scalars)) {
    auto it = problem.scalars.find(scalar.name);
    p.scalars[i] = float(it != problem.scalars.end() ? it->second : *scalar.defaultValue);
  }
  p.q = reinterpret_cast<const void *>(buffers[0]->ptr());
  p.k = reinterpret_cast<const void *>(buffers[1]->ptr());
  p.v = reinterpret_cast<const void *>(buffers[2]->ptr());
  p.o = reinterpret_cast<void *>(buffers[3]->ptr());
  p.lse = reinterpret_cast<float *>(buffers[4]->ptr());
  p.batch = int(B);
  p.heads = int(H);
  p.kv_heads = int(Hkv);
  p.seqlen_q = int(Sq);
  p.seqlen_k = int(Skv);
  setContiguousStrides(p, int(D), int(Dv));
  p.scale = float(s.scale);
  p.scale_log2 = p.scale * 1.4426950408889634f;
  ForwardConfig config = forwardConfig(s);

  StatusOr<Timer> timer = device.createTimer();
  if (!timer.ok())
    return fail(timer.status().message());
  auto timed = [&](auto launch) -> StatusOr<double> {
    Status st = timer->start();
    if (st.ok())
      st = launch();
    if (st.ok())
      st = timer->stop();
    if (!st.ok())
      return st;
    StatusOr<float> elapsed = timer->elapsedMs();
    if (!elapsed.ok())
      return elapsed.status();
    return double(*elapsed);
  };

  // 3. The run-time block map.
  double builderMs = 0;
  std::optional<StatusOr<DeviceBuffer>> map;
  if (!s.blockMapEntry.empty()) {
    StatusOr<std::shared_ptr<Kernel>> builder =
        jitKernel(compiled->source, s.blockMapEntry, {}, jit);
    if (!builder.ok())
      return fail(builder.status().message());
    p.block_map_heads = s.blockMapPerHead ? int(H) : 1;
    map = upload(device, nullptr,
                 size_t(blockMapBytes(int(B), p.block_map_heads, int(Sq), int(Skv), int(s.blockM),
                                      int(s.blockN))));
    if (!map->ok())
      return fail(map->status().message());
    void *mapPtr = reinterpret_cast<void *>((*map)->ptr());
    std::vector<double> times;
    for (int i = 0; i < 3; ++i) {
      StatusOr<double> ms = timed([&] { return launchBlockMap(**builder, config, p, mapPtr); });
      if (!ms.ok())
        return fail(ms.status().message());
      times.push_back(*ms);
    }
    builderMs = medianOf(times);
    p.block_map = reinterpret_cast<const unsigned char *>(mapPtr);
  }

  // 4. The forward kernel, or the decode kernel when the rows are few (as forward calls do).
  std::shared_ptr<Kernel> decode, merge;
  if (!s.decodeEntry.empty() && useDecode(config, p)) {
    StatusOr<std::shared_ptr<Kernel>> d = jitKernel(compiled->source, s.decodeEntry, {}, jit);
    StatusOr<std::shared_ptr<Kernel>> m = jitKernel(compiled->source, s.mergeEntry, {}, jit);
    if (!d.ok() || !m.ok())
      return fail((d.ok() ? m.status() : d.status()).message());
    decode = *d;
    merge = *m;
    errs() << "attnc bench: " << Sq << " query rows: the decode kernel runs\n";
  }
  // A map of whole rows: its feature and reduce passes' own entry.
  std::shared_ptr<Kernel> rowPasses;
  if (!s.featureEntry.empty()) {
    StatusOr<std::shared_ptr<Kernel>> passes = jitKernel(compiled->source, s.featureEntry, {}, jit);
    if (!passes.ok())
      return fail(passes.status().message());
    rowPasses = *passes;
  }
  auto launch = [&] {
    return decode ? launchDecode(*decode, *merge, config, p)
                  : launchForward(**kernel, config, p, nullptr, rowPasses.get());
  };
  errs() << "attnc bench: " << o.warmup << " warm-up and " << o.iters << " timed launches\n";
  for (int i = 0; i < o.warmup; ++i) {
    Status st = launch();
    if (!st.ok())
      return fail(st.message());
  }
  std::vector<double> times;
  for (int i = 0; i < o.iters; ++i) {
    StatusOr<double> ms = timed(launch);
    if (!ms.ok())
      return fail(ms.status().message());
    times.push_back(*ms);
  }
  Status st = device.synchronize();
  if (!st.ok())
    return fail(st.message());
  const double ms = medianOf(times);

  // 5. The density of the mask.
  const double pairs = double(B) * double(H) * double(Sq) * double(Skv);
  int64_t rowStep = std::max<int64_t>(1, int64_t(std::ceil(pairs / double(1 << 22))));
  auto lastReport = clock();
  FailureOr<double> density = attn::keptFraction(pattern, problem, rowStep, [&](double done) {
    if (seconds(clock() - lastReport) > 2) {
      errs() << llvm::formatv("attnc bench: counting kept pairs, {0:P0}\n", done);
      lastReport = clock();
    }
  });
  if (failed(density))
    return 1;

  const double flops = 4.0 * pairs * double(D);
  outs() << "@" << pattern.getSymName() << " (" << pattern.getMaskClass().value_or("?") << ") "
         << s.entryName << "\n";
  outs() << llvm::formatv("  problem: B{0} H{1}/{2} Sq{3} Skv{4} D{5} Dv{6} {7}\n", B, H, Hkv, Sq,
                          Skv, D, Dv, o.dtype);
  outs() << llvm::formatv("  jit: cold {0:F1} ms, cached {1:F3} ms\n", seconds(t1 - t0) * 1e3,
                          seconds(t2 - t1) * 1e3);
  outs() << llvm::formatv(
      "  forward: median {0:F3} ms over {1} launches (min {2:F3}, max {3:F3})\n", ms, o.iters,
      *std::min_element(times.begin(), times.end()), *std::max_element(times.begin(), times.end()));
  if (!s.blockMapEntry.empty())
    outs() << llvm::formatv("  block map build: {0:F3} ms (not included above)\n", builderMs);
  outs() << llvm::formatv(
      "  kept pairs: {0:F4}{1}\n", *density,
      rowStep > 1 ? llvm::formatv(" (sampled: one query row in {0})", rowStep).str() : "");
  outs() << llvm::formatv("  TFLOP/s: {0:F1} effective (4 B H Sq Skv D x kept), {1:F1} "
                          "dense-equivalent\n",
                          flops * *density / (ms * 1e-3) / 1e12, flops / (ms * 1e-3) / 1e12);
  return 0;
}
