//===- RunCommand.cpp - attnc run ---------------------------------------------===//
//
// `attnc run` takes the arguments of `attnc ref` (RefCommand.cpp reads and checks them) and
// computes the same outputs with the pattern's generated kernel on the GPU instead: compiled for
// the dtype and the head dims of the tensors, launched through the runtime's AttentionKernel
// (the C, C++ and Python APIs' path), its bf16/f16 output written as float32. `--check` also
// evaluates the float64 reference and prints the relative error.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "attnc/Attention.h"
#include "attnc/Composite.h"

#include "attn/Codegen/CudaEmitter.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <functional>
#include <tuple>

using namespace mlir;

namespace {
/// Device copies of host data for one run, freed at the end.
struct Uploads {
  attnc::Device *device;
  std::vector<attnc::DeviceBuffer> buffers;

  attnc::StatusOr<attnc::DevicePtr> upload(const void *data, size_t bytes) {
    ATTNC_ASSIGN_OR_RETURN(attnc::DeviceBuffer buffer,
                           device->allocBuffer(std::max<size_t>(bytes, 16)));
    if (data && bytes)
      ATTNC_TRY(device->copyToDevice(buffer.ptr(), data, bytes));
    buffers.push_back(std::move(buffer));
    return buffers.back().ptr();
  }
};

/// Uploads `p`, runs `forward` (a kernel of `spec`, or a composite whose first branch is
/// `spec` and `pattern`) on `device` and reads the outputs back into `result`. A state (and key
/// sum) of `stateSpec`'s rows travels in and out when `stateSpec` is given: a linear pattern's,
/// or a composite's one linear branch's.
attnc::Status runOnDevice(const attnc::AttentionSpec &spec, attnc::Device &device,
                          const std::function<attnc::Status(const attnc::ForwardArgs &)> &forward,
                          const attn::ReferenceProblem &p, attn::PatternOp pattern, bool wantLse,
                          const attnc::AttentionSpec *stateSpec, attn::ReferenceResult &result) {
  using namespace attnc;
  Uploads up{&device, {}};
  const DType type = spec.dtype == ElementType::BF16 ? DType::BF16 : DType::F16;
  auto bits = [&](const std::vector<double> &values) {
    std::vector<uint16_t> out(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      out[i] = floatToBits(float(values[i]), spec.dtype);
    return out;
  };
  const bool varlen = p.isVarlen();
  const int64_t rowsQ = varlen ? p.totalQ() : p.seqQ, rowsK = varlen ? p.totalK() : p.seqK;
  auto view = [&](DevicePtr ptr, DType dtype, int64_t rows, int64_t heads, int64_t dim) {
    return varlen ? TensorRef::contiguous(reinterpret_cast<const void *>(ptr), dtype,
                                          {rows, heads, dim})
                  : TensorRef::contiguous(reinterpret_cast<const void *>(ptr), dtype,
                                          {p.batch, rows, heads, dim});
  };
  ForwardArgs args;
  std::vector<uint16_t> qb = bits(p.q), kb = bits(p.k), vb = bits(p.v);
  ATTNC_ASSIGN_OR_RETURN(DevicePtr q, up.upload(qb.data(), qb.size() * 2));
  ATTNC_ASSIGN_OR_RETURN(DevicePtr k, up.upload(kb.data(), kb.size() * 2));
  ATTNC_ASSIGN_OR_RETURN(DevicePtr v, up.upload(vb.data(), vb.size() * 2));
  const size_t outCount = size_t(p.totalQ()) * p.heads * p.headDimV;
  const size_t lseCount = size_t(p.totalQ()) * p.heads;
  ATTNC_ASSIGN_OR_RETURN(DevicePtr o, up.upload(nullptr, outCount * 2));
  args.q = view(q, type, rowsQ, p.heads, p.headDim);
  args.k = view(k, type, rowsK, p.kvHeads, p.headDim);
  args.v = view(v, type, rowsK, p.kvHeads, p.headDimV);
  args.o = view(o, type, rowsQ, p.heads, p.headDimV);
  DevicePtr lse = 0;
  if (wantLse) {
    ATTNC_ASSIGN_OR_RETURN(lse, up.upload(nullptr, lseCount * 4));
    args.lse = varlen ? TensorRef::contiguous(reinterpret_cast<const void *>(lse), DType::F32,
                                              {p.heads, p.totalQ()})
                      : TensorRef::contiguous(reinterpret_cast<const void *>(lse), DType::F32,
                                              {p.batch, p.heads, p.seqQ});
  }
  if (varlen) {
    std::vector<int32_t> cq(p.cuSeqlensQ.begin(), p.cuSeqlensQ.end());
    std::vector<int32_t> ck(p.cuSeqlensK.begin(), p.cuSeqlensK.end());
    ATTNC_ASSIGN_OR_RETURN(DevicePtr cuQ, up.upload(cq.data(), cq.size() * 4));
    ATTNC_ASSIGN_OR_RETURN(DevicePtr cuK, up.upload(ck.data(), ck.size() * 4));
    args.cuSeqlensQ = TensorRef::contiguous(reinterpret_cast<const void *>(cuQ), DType::I32,
                                            {int64_t(cq.size())});
    args.cuSeqlensK = TensorRef::contiguous(reinterpret_cast<const void *>(cuK), DType::I32,
                                            {int64_t(ck.size())});
    args.maxSeqlenQ = int(p.seqQ);
    args.maxSeqlenK = int(p.seqK);
  }
  // Inputs in slot order, shaped as declared for this problem.
  for (Operation &op : pattern.getBody().front()) {
    auto input = dyn_cast<attn::InputOp>(op);
    if (!input)
      continue;
    const std::vector<double> &values = p.inputs.find(input.getName())->second;
    if (isa<NoneType>(input.getElementType())) { // the element type: a branch's own q or k
      std::vector<uint16_t> raw = bits(values);
      ATTNC_ASSIGN_OR_RETURN(DevicePtr ptr, up.upload(raw.data(), raw.size() * 2));
      args.inputs.push_back(TensorRef::contiguous(reinterpret_cast<const void *>(ptr), type,
                                                  attn::resolveInputShape(input, p)));
      continue;
    }
    std::vector<uint32_t> raw(values.size());
    const bool isFloat = input.getElementType().isF32();
    for (size_t i = 0; i < values.size(); ++i) {
      if (isFloat) {
        float f = float(values[i]);
        std::memcpy(&raw[i], &f, 4);
      } else {
        raw[i] = uint32_t(int32_t(values[i]));
      }
    }
    ATTNC_ASSIGN_OR_RETURN(DevicePtr ptr, up.upload(raw.data(), raw.size() * 4));
    args.inputs.push_back(TensorRef::contiguous(reinterpret_cast<const void *>(ptr),
                                                isFloat ? DType::F32 : DType::I32,
                                                attn::resolveInputShape(input, p)));
  }
  for (const AttentionSpec::Scalar &scalar : spec.scalars) {
    auto it = p.scalars.find(scalar.name);
    args.scalars.push_back(it != p.scalars.end() ? std::optional<double>(it->second)
                                                 : std::nullopt);
  }
  args.scale = p.scale;
  // A linear pattern (or a composite's linear branch) starts from p's state (zero without one)
  // and returns the final one.
  const bool linear = stateSpec != nullptr;
  const bool keySum = linear && stateSpec->config.keySum;
  const int64_t d = linear ? stateSpec->config.stateDim() : 0; // the state's rows
  const size_t stateCount = size_t(p.batch * p.heads) * d * p.headDimV;
  const size_t keySumCount = size_t(p.batch * p.heads) * d;
  DevicePtr stateOut = 0, keySumOut = 0;
  auto floatView = [&](DevicePtr ptr, std::vector<int64_t> shape) {
    return TensorRef::contiguous(reinterpret_cast<const void *>(ptr), DType::F32, std::move(shape));
  };
  for (auto [in, out, count, enabled, shape] :
       {std::tuple{&p.stateIn, &stateOut, stateCount, linear,
                   std::vector<int64_t>{p.batch, p.heads, d, p.headDimV}},
        std::tuple{&p.keySumIn, &keySumOut, keySumCount, linear && keySum,
                   std::vector<int64_t>{p.batch, p.heads, d}}}) {
    if (!enabled)
      continue;
    const bool isState = out == &stateOut;
    if (!in->empty()) {
      if (in->size() != count)
        return Status::error(std::string(isState ? "state" : "key sum") + ": " +
                             std::to_string(in->size()) + " values, the kernel's has " +
                             std::to_string(count));
      std::vector<float> host(in->begin(), in->end());
      ATTNC_ASSIGN_OR_RETURN(DevicePtr ptr, up.upload(host.data(), count * 4));
      (isState ? args.stateIn : args.keySumIn) = floatView(ptr, shape);
    }
    ATTNC_ASSIGN_OR_RETURN(*out, up.upload(nullptr, count * 4));
    (isState ? args.stateOut : args.keySumOut) = floatView(*out, shape);
  }
  ATTNC_TRY(forward(args));
  ATTNC_TRY(up.device->synchronize());
  std::vector<uint16_t> outBits(outCount);
  ATTNC_TRY(up.device->copyToHost(outBits.data(), o, outCount * 2));
  result.out.resize(outCount);
  for (size_t i = 0; i < outCount; ++i)
    result.out[i] = bitsToFloat(outBits[i], spec.dtype);
  if (wantLse) {
    std::vector<float> l(lseCount);
    ATTNC_TRY(up.device->copyToHost(l.data(), lse, lseCount * 4));
    result.lse.assign(l.begin(), l.end());
  }
  for (auto [ptr, count, values] : {std::tuple{stateOut, stateCount, &result.state},
                                    std::tuple{keySumOut, keySumCount, &result.keySum}}) {
    if (!ptr)
      continue;
    std::vector<float> host(count);
    ATTNC_TRY(up.device->copyToHost(host.data(), ptr, count * 4));
    values->assign(host.begin(), host.end());
  }
  return Status::success();
}
} // namespace

/// The kernel of `pattern` for `target`, lowered from a module holding only that pattern (other
/// patterns of the spec, maybe not lowerable for these head dims, do not stand in the way),
/// and loaded on the current device; `what` names it in errors ("pattern", "branch").
static FailureOr<std::shared_ptr<attnc::AttentionKernel>>
loadPatternKernel(attn::PatternOp pattern, const attn::KernelTarget &target, StringRef what) {
  using namespace attnc;
  auto fail = [](const llvm::Twine &message) {
    llvm::errs() << "attnc: " << message << "\n";
    return failure();
  };
  if (std::optional<std::string> why = attn::unsupportedReason(pattern, target))
    return fail(what + " '" + pattern.getSymName() + "' has no GPU kernel here: " + *why);
  OwningOpRef<ModuleOp> module = ModuleOp::create(pattern.getLoc());
  module->getBody()->push_back(pattern->clone());
  if (failed(lowerToKernels(*module, target)))
    return failure();
  FailureOr<std::vector<CompiledKernel>> kernels = emitKernels(*module);
  if (failed(kernels) || kernels->empty())
    return fail("no kernel was generated for '" + pattern.getSymName() + "'");
  StatusOr<std::shared_ptr<AttentionKernel>> kernel =
      KernelImage(toAttentionSpec(kernels->front().spec), kernels->front().source).load();
  if (!kernel.ok())
    return fail(kernel.status().message());
  return *kernel;
}

FailureOr<attn::ReferenceResult> attnc::runPatternOnGpu(LoadedSpec &spec, attn::PatternOp pattern,
                                                        const attn::ReferenceProblem &p,
                                                        const std::string &dtype,
                                                        const std::string &arch, bool wantLse) {
  FailureOr<std::shared_ptr<AttentionKernel>> kernel =
      loadPatternKernel(pattern, {dtype, p.headDim, p.headDimV, arch}, "pattern");
  if (failed(kernel))
    return failure();
  auto forward = [&](const ForwardArgs &args) { return (*kernel)->forward(args); };
  attn::ReferenceResult result;
  const AttentionSpec &launch = (*kernel)->spec();
  if (Status st = runOnDevice(
          launch, (*kernel)->device(), forward, p, pattern, wantLse,
          launch.config.kernelTemplate == KernelTemplate::Linear ? &launch : nullptr, result);
      !st.ok()) {
    llvm::errs() << "attnc: " << st.message() << "\n";
    return failure();
  }
  return result;
}

FailureOr<attn::ReferenceResult> attnc::runCompositeOnGpu(LoadedSpec &spec,
                                                          attn::CompositeOp composite,
                                                          const attn::ReferenceProblem &p,
                                                          const std::string &dtype,
                                                          const std::string &arch) {
  auto fail = [](const llvm::Twine &message) {
    llvm::errs() << "attnc: " << message << "\n";
    return failure();
  };
  std::vector<std::shared_ptr<AttentionKernel>> branches;
  SmallVector<attn::PatternOp> patterns = attn::getBranchPatterns(composite);
  for (attn::PatternOp pattern : patterns) {
    FailureOr<std::shared_ptr<AttentionKernel>> kernel =
        loadPatternKernel(pattern, {dtype, p.headDim, p.headDimV, arch}, "branch");
    if (failed(kernel))
      return failure();
    branches.push_back(*kernel);
  }
  std::string source;
  llvm::raw_string_ostream os(source);
  if (failed(attn::emitCombineSource(composite, dtype, p.headDim, p.headDimV, os)))
    return failure();
  StatusOr<std::shared_ptr<Kernel>> combine =
      jitKernel(source, attn::getCombineEntryName(composite, dtype, p.headDim, p.headDimV), {}, {});
  if (!combine.ok())
    return fail(combine.status().message());
  StatusOr<std::shared_ptr<CompositeKernel>> kernel =
      CompositeKernel::create(branches, *combine, branchOwnQKSlots(composite));
  if (!kernel.ok())
    return fail(kernel.status().message());
  auto forward = [&](const ForwardArgs &args) { return (*kernel)->forward(args); };
  // The state of its one linear branch, if it has one.
  const AttentionKernel *stateful = (*kernel)->statefulBranch();
  const AttentionSpec *stateSpec = stateful ? &stateful->spec() : nullptr;
  attn::ReferenceResult result;
  if (Status st = runOnDevice(branches.front()->spec(), (*kernel)->device(), forward, p,
                              patterns.front(), /*wantLse=*/false, stateSpec, result);
      !st.ok())
    return fail(st.message());
  return result;
}
