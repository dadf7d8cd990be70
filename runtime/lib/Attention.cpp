//===- Attention.cpp - Attention kernels launched on tensors -------------------===//
#include "attnc/Attention.h"
#include "attnc/Composite.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

using namespace attnc;
using json = nlohmann::json;

const char *attnc::dtypeName(DType type) {
  switch (type) {
  case DType::BF16:
    return "bf16";
  case DType::F16:
    return "f16";
  case DType::F32:
    return "f32";
  case DType::I32:
    return "i32";
  }
  return "?";
}

bool attnc::isElementDType(DType type) { return type == DType::BF16 || type == DType::F16; }
size_t attnc::dtypeBytes(DType type) { return isElementDType(type) ? 2 : 4; }

TensorRef TensorRef::contiguous(const void *data, DType dtype, const std::vector<int64_t> &shape) {
  TensorRef t;
  t.data = data;
  t.dtype = dtype;
  t.rank = static_cast<int>(std::min<size_t>(shape.size(), 4));
  std::copy_n(shape.begin(), t.rank, t.shape);
  int64_t stride = 1;
  for (int i = t.rank - 1; i >= 0; --i) {
    t.strides[i] = stride;
    stride *= t.shape[i];
  }
  return t;
}

bool TensorRef::isContiguous() const {
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != stride)
      return false;
    stride *= shape[i];
  }
  return true;
}

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i)
    n *= shape[i];
  return n;
}

//===----------------------------------------------------------------------===//
// The spec as JSON (a bundle's manifest holds one per kernel)
//===----------------------------------------------------------------------===//

static const char *elementName(ElementType type) {
  return type == ElementType::BF16 ? "bf16" : "f16";
}

std::string AttentionSpec::toJson() const {
  json j;
  j["pattern"] = pattern;
  j["entry"] = entry;
  j["block_map_entry"] = blockMapEntry;
  j["block_map_per_head"] = blockMapPerHead;
  j["dtype"] = elementName(dtype);
  j["head_dim"] = config.headDim;
  j["head_dim_v"] = config.headDimV;
  j["block_m"] = config.blockM;
  j["block_n"] = config.blockN;
  j["warps"] = config.warps;
  j["stages"] = config.stages;
  j["template"] = kernelTemplateName(config.kernelTemplate);
  j["scale"] = scale;
  j["normalizer"] = normalizer;
  j["step_entry"] = stepEntry;
  j["feature_entry"] = featureEntry;
  j["decode_entry"] = decodeEntry;
  j["merge_entry"] = mergeEntry;
  j["even_work"] = config.evenWork;
  j["linear_causal"] = config.causal;
  j["linear_gate_per_key_dim"] = config.gatePerKeyDim;
  j["linear_gate_per_token"] = config.gatePerToken;
  j["linear_feature_rows"] = config.featureRows;
  j["linear_feature_map"] = config.featureMap;
  j["branches"] = branches;
  if (!branchOwnQK.empty())
    j["branch_own_qk"] = branchOwnQK;
  if (epilogueBranch >= 0)
    j["epilogue_branch"] = epilogueBranch;
  j["varlen"] = varlen;
  j["heads"] = heads;
  j["kv_heads"] = kvHeads;
  j["inputs"] = json::array();
  for (const Input &in : inputs)
    j["inputs"].push_back({{"name", in.name}, {"dtype", dtypeName(in.dtype)}, {"shape", in.shape}});
  j["scalars"] = json::array();
  for (const Scalar &s : scalars) {
    json entry = {{"name", s.name}};
    entry["default"] = s.defaultValue ? json(*s.defaultValue) : json(nullptr);
    j["scalars"].push_back(entry);
  }
  return j.dump(2);
}

StatusOr<AttentionSpec> AttentionSpec::fromJson(const std::string &text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Status::error("kernel spec: not a JSON object");
  AttentionSpec s;
  // Every field is required and type-checked: a manifest from another version or a damaged
  // file is rejected here, not launched with garbage.
  try {
    s.pattern = j.at("pattern").get<std::string>();
    s.entry = j.at("entry").get<std::string>();
    s.blockMapEntry = j.at("block_map_entry").get<std::string>();
    s.blockMapPerHead = j.at("block_map_per_head").get<bool>();
    std::string dtype = j.at("dtype").get<std::string>();
    if (dtype != "bf16" && dtype != "f16")
      return Status::error("kernel spec: dtype '" + dtype + "' (expected bf16 or f16)");
    s.dtype = dtype == "bf16" ? ElementType::BF16 : ElementType::F16;
    s.config.headDim = j.at("head_dim").get<int>();
    s.config.headDimV = j.at("head_dim_v").get<int>();
    s.config.blockM = j.at("block_m").get<int>();
    s.config.blockN = j.at("block_n").get<int>();
    s.config.warps = j.at("warps").get<int>();
    s.config.stages = j.at("stages").get<int>();
    // Absent in manifests written before the Hopper template: those kernels are sm80.
    std::string tmpl = j.value("template", std::string("sm80"));
    std::optional<KernelTemplate> parsed = parseKernelTemplate(tmpl);
    if (!parsed)
      return Status::error("kernel spec: template '" + tmpl + "' (expected sm80, sm90 or linear)");
    s.config.kernelTemplate = *parsed;
    s.scale = j.at("scale").get<double>();
    s.normalizer = j.at("normalizer").get<std::string>();
    s.config.keySum = s.config.kernelTemplate == KernelTemplate::Linear && s.normalizer == "sum";
    // Absent in manifests written before linear patterns: those kernels have no step.
    s.stepEntry = j.value("step_entry", std::string());
    // Absent in manifests written before maps of whole rows' own passes entry.
    s.featureEntry = j.value("feature_entry", std::string());
    s.config.causal = j.value("linear_causal", false);
    // Absent in manifests written before it: their grids group pairs whatever the pattern.
    s.config.evenWork = j.value("even_work", false);
    // Absent in manifests written before the gate pass: their kernels rewrite the tiles
    // themselves and have none; newer kernels with such a gate always carry the field.
    s.config.gatePerKeyDim = j.value("linear_gate_per_key_dim", false);
    // Absent in manifests written before the gate-log pass (whose kernels compute the prefixes
    // themselves; bundles of that format version are refused).
    s.config.gatePerToken = j.value("linear_gate_per_token", false);
    // Absent in manifests written before maps of whole rows: per-element maps.
    s.config.featureRows = j.value("linear_feature_rows", 0);
    s.config.featureMap = j.value("linear_feature_map", 0);
    if (s.config.featureRows < 0 || s.config.featureRows % kLinearSlice != 0)
      return Status::error("kernel spec: linear_feature_rows must be a multiple of " +
                           std::to_string(kLinearSlice));
    // Absent in manifests written before composites: a pattern.
    s.branches = j.value("branches", std::vector<std::string>());
    // Absent in manifests written before the decode kernel: those calls run the forward one.
    s.decodeEntry = j.value("decode_entry", std::string());
    s.mergeEntry = j.value("merge_entry", std::string());
    if (s.decodeEntry.empty() != s.mergeEntry.empty())
      return Status::error("kernel spec: decode_entry and merge_entry come together");
    s.varlen = j.at("varlen").get<bool>();
    s.heads = j.at("heads").get<int>();
    s.kvHeads = j.at("kv_heads").get<int>();
    for (const json &in : j.at("inputs")) {
      Input input;
      input.name = in.at("name").get<std::string>();
      std::string type = in.at("dtype").get<std::string>();
      if (type != "i32" && type != "f32" && type != "bf16" && type != "f16")
        return Status::error("kernel spec: input '" + input.name + "' has dtype '" + type + "'");
      input.dtype = type == "i32"    ? DType::I32
                    : type == "f32"  ? DType::F32
                    : type == "bf16" ? DType::BF16
                                     : DType::F16;
      input.shape = in.at("shape").get<std::vector<std::string>>();
      s.inputs.push_back(std::move(input));
    }
    for (const json &sc : j.at("scalars")) {
      Scalar scalar;
      scalar.name = sc.at("name").get<std::string>();
      if (!sc.at("default").is_null())
        scalar.defaultValue = sc.at("default").get<double>();
      s.scalars.push_back(std::move(scalar));
    }
    // Absent in manifests written before branches had q and k of their own.
    s.branchOwnQK = j.value("branch_own_qk", std::vector<std::pair<int, int>>());
    if (!s.branchOwnQK.empty() && s.branchOwnQK.size() != s.branches.size())
      return Status::error("kernel spec: branch_own_qk needs one entry per branch");
    for (auto [q, k] : s.branchOwnQK)
      if ((q >= 0 || k >= 0) && !(s.isElementInput(q) && s.isElementInput(k)))
        return Status::error("kernel spec: branch_own_qk names no bf16/f16 input");
    s.epilogueBranch = j.value("epilogue_branch", -1);
    if (s.epilogueBranch < -1 || s.epilogueBranch >= int(s.branches.size()))
      return Status::error("kernel spec: epilogue_branch " + std::to_string(s.epilogueBranch) +
                           " names no branch");
  } catch (const json::exception &e) {
    return Status::error(std::string("kernel spec: ") + e.what());
  }
  const ForwardConfig &c = s.config;
  if (s.entry.empty() || c.headDim <= 0 || c.headDimV <= 0 || c.blockM <= 0 || c.blockN <= 0 ||
      c.warps <= 0 || c.stages <= 0 || s.inputs.size() > size_t(kMaxExtraInputs) ||
      s.scalars.size() > size_t(kMaxRuntimeScalars) || !std::isfinite(s.scale))
    return Status::error("kernel spec of '" + s.entry + "': values out of range");
  return s;
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

StatusOr<std::shared_ptr<AttentionKernel>> AttentionKernel::fromSource(AttentionSpec spec,
                                                                       const std::string &source,
                                                                       const JitTarget &target) {
  // The forward program leaves the decode kernels out (see CudaEmitter.cpp); decodeKernels()
  // compiles them on first use.
  const std::vector<std::string> options = {"-DATTNC_NO_DECODE"};
  ATTNC_ASSIGN_OR_RETURN(std::shared_ptr<Kernel> forward,
                         jitKernel(source, spec.entry, options, target));
  std::shared_ptr<Kernel> builder, step, rowPasses;
  if (!spec.blockMapEntry.empty()) {
    ATTNC_ASSIGN_OR_RETURN(builder, jitKernel(source, spec.blockMapEntry, options, target));
  }
  if (!spec.stepEntry.empty()) {
    ATTNC_ASSIGN_OR_RETURN(step, jitKernel(source, spec.stepEntry, options, target));
  }
  if (!spec.featureEntry.empty()) {
    ATTNC_ASSIGN_OR_RETURN(rowPasses, jitKernel(source, spec.featureEntry, options, target));
  }
  std::shared_ptr<AttentionKernel> kernel(new AttentionKernel(std::move(spec), std::move(forward),
                                                              std::move(builder), std::move(step),
                                                              std::move(rowPasses)));
  kernel->source_ = source;
  kernel->target_ = target;
  kernel->target_.device = &kernel->device();
  return kernel;
}

StatusOr<std::shared_ptr<AttentionKernel>>
AttentionKernel::fromCubin(AttentionSpec spec, std::string cubin, Device *device) {
  std::shared_ptr<Kernel> builder, step, rowPasses;
  if (!spec.blockMapEntry.empty()) {
    ATTNC_ASSIGN_OR_RETURN(builder, loadKernel(cubin, spec.blockMapEntry, device));
  }
  if (!spec.stepEntry.empty()) {
    ATTNC_ASSIGN_OR_RETURN(step, loadKernel(cubin, spec.stepEntry, device));
  }
  if (!spec.featureEntry.empty()) {
    ATTNC_ASSIGN_OR_RETURN(rowPasses, loadKernel(cubin, spec.featureEntry, device));
  }
  DecodeKernels decode;
  if (!spec.decodeEntry.empty()) {
    ATTNC_ASSIGN_OR_RETURN(decode.decode, loadKernel(cubin, spec.decodeEntry, device));
    ATTNC_ASSIGN_OR_RETURN(decode.merge, loadKernel(cubin, spec.mergeEntry, device));
  }
  ATTNC_ASSIGN_OR_RETURN(std::shared_ptr<Kernel> forward,
                         loadKernel(std::move(cubin), spec.entry, device));
  std::shared_ptr<AttentionKernel> kernel(new AttentionKernel(std::move(spec), std::move(forward),
                                                              std::move(builder), std::move(step),
                                                              std::move(rowPasses)));
  if (decode.decode)
    kernel->decode_ = std::move(decode);
  return kernel;
}

StatusOr<AttentionKernel::DecodeKernels> AttentionKernel::decodeKernels() const {
  std::lock_guard<std::mutex> lock(decodeMutex_);
  if (decode_)
    return *decode_;
  if (source_.empty())
    return Status::error("forward: the decode kernels of '" + spec_.entry +
                         "' are in neither its CUBIN nor a source");
  const std::vector<std::string> options = {"-DATTNC_DECODE_ONLY"};
  DecodeKernels k;
  ATTNC_ASSIGN_OR_RETURN(k.decode, jitKernel(source_, spec_.decodeEntry, options, target_));
  ATTNC_ASSIGN_OR_RETURN(k.merge, jitKernel(source_, spec_.mergeEntry, options, target_));
  decode_ = k;
  return k;
}

//===----------------------------------------------------------------------===//
// Binding tensors
//===----------------------------------------------------------------------===//

namespace {
std::string shapeString(const TensorRef &t) {
  std::string s = "[";
  for (int i = 0; i < t.rank; ++i)
    s += (i ? ", " : "") + std::to_string(t.shape[i]);
  return s + "]";
}

std::string dimsString(std::initializer_list<int64_t> dims) {
  std::string s = "[";
  int i = 0;
  for (int64_t d : dims)
    s += (i++ ? ", " : "") + std::to_string(d);
  return s + "]";
}

/// Checks one of q, k, v, o: dtype, rank, head dim, layout constraints of the kernel.
Status checkOperand(const char *name, const TensorRef &t, DType dtype, int rank, int64_t dim) {
  std::string what = std::string("forward: ") + name + " ";
  if (!t.given() || !t.data)
    return Status::error(what + "is missing");
  if (t.dtype != dtype)
    return Status::error(what + "is " + dtypeName(t.dtype) + ", the kernel was compiled for " +
                         dtypeName(dtype));
  if (t.rank != rank)
    return Status::error(
        what + "has rank " + std::to_string(t.rank) + " " + shapeString(t) + ", expected " +
        std::to_string(rank) +
        (rank == 4 ? " ([batch, seq, heads, head_dim])" : " ([total, heads, head_dim], varlen)"));
  if (t.shape[rank - 1] != dim)
    return Status::error(what + "has head dim " + std::to_string(t.shape[rank - 1]) +
                         ", the kernel was compiled for " + std::to_string(dim));
  if (t.strides[rank - 1] != 1)
    return Status::error(what + "must be contiguous in its last dimension (stride " +
                         std::to_string(t.strides[rank - 1]) + ")");
  for (int i = 0; i < rank - 1; ++i)
    if (t.strides[i] % 8 != 0 || t.strides[i] < 0)
      return Status::error(what + "stride " + std::to_string(t.strides[i]) + " of dimension " +
                           std::to_string(i) +
                           " is not a non-negative multiple of 8 elements (16-byte rows)");
  if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0)
    return Status::error(what + "is not 16-byte aligned");
  return Status::success();
}

Status expectShape(const char *name, const TensorRef &t, std::initializer_list<int64_t> dims) {
  if (t.rank != int(dims.size()) || !std::equal(dims.begin(), dims.end(), t.shape))
    return Status::error(std::string("forward: ") + name + " has shape " + shapeString(t) +
                         ", expected " + dimsString(dims));
  return Status::success();
}
} // namespace

Status attnc::bindForwardArgs(const AttentionSpec &s, const ForwardArgs &a, FwdParams &p) {
  const DType type = s.dtype == ElementType::BF16 ? DType::BF16 : DType::F16;
  const int rank = s.varlen ? 3 : 4;
  const int d = s.config.headDim, dv = s.config.headDimV;
  ATTNC_TRY(checkOperand("q", a.q, type, rank, d));
  ATTNC_TRY(checkOperand("k", a.k, type, rank, d));
  ATTNC_TRY(checkOperand("v", a.v, type, rank, dv));
  ATTNC_TRY(checkOperand("o", a.o, type, rank, dv));
  for (int i = 0; i < rank - 1; ++i)
    if (a.o.strides[i] == 0 && a.o.shape[i] > 1)
      return Status::error("forward: o has stride 0 in dimension " + std::to_string(i) +
                           ": outputs would overlap");
  p = FwdParams{};
  const int off = s.varlen ? 0 : 1; // index of the sequence dimension minus one
  const int64_t heads = a.q.shape[1 + off], kvHeads = a.k.shape[1 + off];
  if (s.varlen) {
    ATTNC_TRY(expectShape("v", a.v, {a.k.shape[0], kvHeads, dv}));
    ATTNC_TRY(expectShape("o", a.o, {a.q.shape[0], heads, dv}));
    for (auto [name, cu] :
         {std::pair<const char *, const TensorRef *>{"cu_seqlens_q", &a.cuSeqlensQ},
          {"cu_seqlens_k", &a.cuSeqlensK}}) {
      if (!cu->given() || !cu->data || cu->dtype != DType::I32 || cu->rank != 1 ||
          cu->shape[0] < 2 || cu->strides[0] != 1)
        return Status::error(std::string("forward: the pattern is varlen: ") + name +
                             " must be a contiguous int32 [batch + 1] tensor");
    }
    if (a.cuSeqlensQ.shape[0] != a.cuSeqlensK.shape[0])
      return Status::error("forward: cu_seqlens_q and cu_seqlens_k differ in length");
    if (a.maxSeqlenQ < 0 || a.maxSeqlenK < 0 || a.maxSeqlenQ > a.q.shape[0] ||
        a.maxSeqlenK > a.k.shape[0])
      return Status::error("forward: max_seqlen_q/k must lie in [0, total rows] (got " +
                           std::to_string(a.maxSeqlenQ) + ", " + std::to_string(a.maxSeqlenK) +
                           ")");
    p.batch = int(a.cuSeqlensQ.shape[0] - 1);
    p.seqlen_q = a.maxSeqlenQ;
    p.seqlen_k = a.maxSeqlenK;
    p.cu_seqlens_q = static_cast<const int *>(a.cuSeqlensQ.data);
    p.cu_seqlens_k = static_cast<const int *>(a.cuSeqlensK.data);
    p.total_q = a.q.shape[0];
    p.total_k = a.k.shape[0];
  } else {
    if (a.cuSeqlensQ.given() || a.cuSeqlensK.given())
      return Status::error("forward: cu_seqlens given, but the pattern does not declare varlen");
    const int64_t b = a.q.shape[0], sq = a.q.shape[1], sk = a.k.shape[1];
    ATTNC_TRY(expectShape("k", a.k, {b, sk, kvHeads, d}));
    ATTNC_TRY(expectShape("v", a.v, {b, sk, kvHeads, dv}));
    ATTNC_TRY(expectShape("o", a.o, {b, sq, heads, dv}));
    if (b > INT32_MAX || sq > INT32_MAX || sk > INT32_MAX)
      return Status::error("forward: sizes above 2^31 - 1");
    p.batch = int(b);
    p.seqlen_q = int(sq);
    p.seqlen_k = int(sk);
  }
  // The tile functions take 2^30 keys for "no bound" (MaskAnalysis.cpp, kBig).
  if (p.seqlen_q >= (1 << 30) || p.seqlen_k >= (1 << 30))
    return Status::error("forward: sequences of 2^30 rows or more are not supported (got " +
                         std::to_string(p.seqlen_q) + ", " + std::to_string(p.seqlen_k) + ")");
  if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
    return Status::error("forward: q heads (" + std::to_string(heads) +
                         ") must be a positive multiple of k/v heads (" + std::to_string(kvHeads) +
                         ")");
  if ((s.heads && heads != s.heads) || (s.kvHeads && kvHeads != s.kvHeads))
    return Status::error("forward: the pattern fixes heads " + std::to_string(s.heads) + ", " +
                         std::to_string(s.kvHeads ? s.kvHeads : s.heads) + "; got " +
                         std::to_string(heads) + ", " + std::to_string(kvHeads));
  p.heads = int(heads);
  p.kv_heads = int(kvHeads);
  p.q = a.q.data;
  p.k = a.k.data;
  p.v = a.v.data;
  p.o = const_cast<void *>(a.o.data);
  auto strides = [&](const TensorRef &t, long long &batch, long long &row, long long &head) {
    batch = s.varlen ? 0 : t.strides[0];
    row = t.strides[off];
    head = t.strides[1 + off];
  };
  strides(a.q, p.q_batch_stride, p.q_row_stride, p.q_head_stride);
  strides(a.k, p.k_batch_stride, p.k_row_stride, p.k_head_stride);
  strides(a.v, p.v_batch_stride, p.v_row_stride, p.v_head_stride);
  strides(a.o, p.o_batch_stride, p.o_row_stride, p.o_head_stride);

  if (a.lse.given()) {
    if (s.normalizer != "softmax")
      return Status::error("forward: an LSE output needs a softmax pattern (this one normalises "
                           "with " +
                           s.normalizer + ")");
    if (a.lse.dtype != DType::F32 || !a.lse.isContiguous() || !a.lse.data)
      return Status::error("forward: lse must be a contiguous float32 tensor");
    if (s.varlen)
      ATTNC_TRY(expectShape("lse", a.lse, {heads, a.q.shape[0]}));
    else
      ATTNC_TRY(expectShape("lse", a.lse, {a.q.shape[0], heads, a.q.shape[1]}));
    p.lse = static_cast<float *>(const_cast<void *>(a.lse.data));
  }

  const bool linear = s.config.kernelTemplate == KernelTemplate::Linear;
  if (linear) {
    const int64_t rowsQ = a.q.shape[s.varlen ? 0 : 1], rowsK = a.k.shape[s.varlen ? 0 : 1];
    if (rowsQ != rowsK || p.seqlen_q != p.seqlen_k)
      return Status::error("forward: a linear pattern attends within each sequence: q and k "
                           "need the same sequence lengths (got " +
                           std::to_string(rowsQ) + " and " + std::to_string(rowsK) + " rows)");
    for (auto [name, t] : {std::pair<const char *, const TensorRef *>{"state_in", &a.stateIn},
                           {"state_out", &a.stateOut}}) {
      if (!t->given())
        continue;
      std::string what = std::string("forward: ") + name + " ";
      if (t->dtype != DType::F32 || !t->isContiguous() || !t->data)
        return Status::error(what + "must be a contiguous float32 tensor");
      ATTNC_TRY(expectShape(name, *t, {p.batch, heads, s.config.stateDim(), dv}));
      if (reinterpret_cast<uintptr_t>(t->data) % 16 != 0)
        return Status::error(what + "is not 16-byte aligned");
    }
    p.state_in = static_cast<const float *>(a.stateIn.data);
    p.state_out = static_cast<float *>(const_cast<void *>(a.stateOut.data));
    for (auto [name, t] : {std::pair<const char *, const TensorRef *>{"key_sum_in", &a.keySumIn},
                           {"key_sum_out", &a.keySumOut}}) {
      if (!t->given())
        continue;
      std::string what = std::string("forward: ") + name + " ";
      if (s.normalizer != "sum")
        return Status::error(what + "belongs to linear patterns with 'normalize sum'");
      if (t->dtype != DType::F32 || !t->isContiguous() || !t->data)
        return Status::error(what + "must be a contiguous float32 tensor");
      ATTNC_TRY(expectShape(name, *t, {p.batch, heads, s.config.stateDim()}));
      if (reinterpret_cast<uintptr_t>(t->data) % 16 != 0)
        return Status::error(what + "is not 16-byte aligned");
    }
    if (a.keySumIn.given() && a.keySumOut.given() && a.keySumIn.data == a.keySumOut.data)
      return Status::error("forward: key_sum_out must not be key_sum_in (every block of Dv "
                           "columns reads the key sum it starts from): pass another tensor");
    p.key_sum_in = static_cast<const float *>(a.keySumIn.data);
    p.key_sum_out = static_cast<float *>(const_cast<void *>(a.keySumOut.data));
  } else if (a.stateIn.given() || a.stateOut.given() || a.keySumIn.given() || a.keySumOut.given()) {
    return Status::error("forward: a state belongs to linear patterns; '" + s.pattern +
                         "' normalises with " + s.normalizer);
  }

  // Extra inputs, shaped as declared.
  if (a.inputs.size() != s.inputs.size()) {
    std::string names;
    for (const AttentionSpec::Input &in : s.inputs)
      names += (names.empty() ? "" : ", ") + in.name;
    return Status::error("forward: the pattern takes " + std::to_string(s.inputs.size()) +
                         " input tensor(s)" + (names.empty() ? "" : " (" + names + ")") + ", got " +
                         std::to_string(a.inputs.size()));
  }
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    const AttentionSpec::Input &decl = s.inputs[i];
    const TensorRef &t = a.inputs[i];
    std::string what = "forward: input '" + decl.name + "' ";
    if (!t.given() || !t.data)
      return Status::error(what + "is missing");
    if (t.dtype != decl.dtype)
      return Status::error(what + "is " + dtypeName(t.dtype) + ", declared " +
                           dtypeName(decl.dtype));
    p.inputs[i] = t.data;
    // The kernel's element type: a composite branch's own q or k, which no kernel reads; the
    // composite binds it as that branch's q or k (CompositeKernel::forward), where a decode
    // call's k is the cache's, longer than this call's Skv.
    if (isElementDType(decl.dtype)) {
      if (t.rank != int(decl.shape.size()))
        return Status::error(what + "has rank " + std::to_string(t.rank) + ", declared " +
                             std::to_string(decl.shape.size()));
      continue;
    }
    std::vector<int64_t> want;
    for (const std::string &dim : decl.shape) {
      if (dim == "B")
        want.push_back(p.batch);
      else if (dim == "H")
        want.push_back(p.heads);
      else if (dim == "Hkv")
        want.push_back(p.kv_heads);
      else if (dim == "Sq")
        want.push_back(p.seqlen_q);
      else if (dim == "Skv")
        want.push_back(p.seqlen_k);
      else if (dim == "D")
        want.push_back(s.config.headDim);
      else
        want.push_back(std::atoll(dim.c_str()));
    }
    if (t.rank != int(want.size()) || !std::equal(want.begin(), want.end(), t.shape)) {
      std::string expected = "[";
      for (size_t k = 0; k < want.size(); ++k)
        expected += (k ? ", " : "") + decl.shape[k] + "=" + std::to_string(want[k]);
      return Status::error(what + "has shape " + shapeString(t) + ", expected " + expected + "]");
    }
    if (!t.isContiguous())
      return Status::error(what + "must be contiguous");
    p.inputs[i] = t.data;
  }
  if (a.scalars.size() > s.scalars.size())
    return Status::error("forward: " + std::to_string(a.scalars.size()) +
                         " scalar values for a pattern with " + std::to_string(s.scalars.size()));
  for (size_t i = 0; i < s.scalars.size(); ++i) {
    std::optional<double> value = i < a.scalars.size() ? a.scalars[i] : std::nullopt;
    if (!value)
      value = s.scalars[i].defaultValue;
    if (!value)
      return Status::error("forward: scalar '" + s.scalars[i].name + "' has no default; give it");
    if (!std::isfinite(*value))
      return Status::error("forward: scalar '" + s.scalars[i].name + "' is not finite");
    p.scalars[i] = float(*value);
  }
  double scale = a.scale.value_or(s.scale);
  if (!std::isfinite(scale))
    return Status::error("forward: the scale is not finite");
  p.scale = float(scale);
  p.scale_log2 = float(scale * 1.4426950408889634);
  p.block_map_heads = s.blockMapPerHead ? p.heads : 1;
  for (int i = 0; i < kMaxBranches; ++i)
    p.combine_parts[i] = a.combine.parts[i];
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Launching
//===----------------------------------------------------------------------===//

/// Bytes of the block map of the problem `p` for `config`'s tiles (at least 16: a zero-size
/// allocation is an error for the driver).
static size_t blockMapAllocation(const ForwardConfig &config, const FwdParams &p) {
  return std::max<size_t>(size_t(blockMapBytes(p.batch, p.block_map_heads, p.seqlen_q, p.seqlen_k,
                                               config.blockM, config.blockN)),
                          16);
}

StatusOr<BlockMap> AttentionKernel::buildBlockMap(const ForwardArgs &args, void *stream) const {
  if (!builder_)
    return Status::error("buildBlockMap: pattern '" + spec_.pattern +
                         "' classifies its tiles at compile time; it has no run-time block map");
  FwdParams p;
  ATTNC_TRY(bind(args, p));
  BlockMap map;
  map.batch_ = p.batch;
  map.mapHeads_ = p.block_map_heads;
  map.seqlenQ_ = p.seqlen_q;
  map.seqlenK_ = p.seqlen_k;
  ATTNC_ASSIGN_OR_RETURN(map.buffer_, device().allocBuffer(blockMapAllocation(spec_.config, p)));
  ATTNC_TRY(
      launchBlockMap(*builder_, spec_.config, p, reinterpret_cast<void *>(map.data()), stream));
  return map;
}

Status AttentionKernel::launch(const FwdParams &p, void *stream) const {
  if (runsDecode(p)) {
    ATTNC_ASSIGN_OR_RETURN(DecodeKernels k, decodeKernels());
    return launchDecode(*k.decode, *k.merge, spec_.config, p, stream);
  }
  return launchForward(*forward_, spec_.config, p, stream, rowPasses_.get());
}

Status AttentionKernel::forward(const ForwardArgs &args, void *stream, const BlockMap *map) const {
  FwdParams p;
  ATTNC_TRY(bind(args, p));
  if (!builder_) {
    if (map && map->bytes())
      return Status::error("forward: pattern '" + spec_.pattern + "' takes no block map");
    if (step_ && p.seqlen_q == 1)
      return launchLinearStep(*step_, spec_.config, p, stream); // decode
    return launch(p, stream);
  }
  if (map) {
    if (map->batch_ != p.batch || map->mapHeads_ != p.block_map_heads ||
        map->seqlenQ_ != p.seqlen_q || map->seqlenK_ != p.seqlen_k)
      return Status::error("forward: the block map was built for other sizes");
    p.block_map = reinterpret_cast<const unsigned char *>(map->data());
    return launch(p, stream);
  }
  // A map for this call only, in stream-ordered memory.
  StreamScratch scratch(device(), stream);
  ATTNC_ASSIGN_OR_RETURN(DevicePtr ptr, scratch.allocate(blockMapAllocation(spec_.config, p)));
  Status st = launchBlockMap(*builder_, spec_.config, p, reinterpret_cast<void *>(ptr), stream);
  if (st.ok()) {
    p.block_map = reinterpret_cast<const unsigned char *>(ptr);
    st = launch(p, stream);
  }
  return scratch.release(st);
}

//===----------------------------------------------------------------------===//
// Lazily loaded images
//===----------------------------------------------------------------------===//

/// `target` with its device resolved (null: the current one).
static StatusOr<JitTarget> resolveTarget(const JitTarget &target) {
  JitTarget resolved = target;
  if (!resolved.device) {
    ATTNC_ASSIGN_OR_RETURN(resolved.device, Device::current());
  }
  return resolved;
}

const std::string *KernelImage::cubinFor(const JitTarget &target) const {
  const std::string arch = target.arch.empty() ? target.device->arch() : target.arch;
  auto cubin = std::find_if(cubins_.begin(), cubins_.end(),
                            [&](const auto &entry) { return entry.first == arch; });
  return cubin == cubins_.end() ? nullptr : &cubin->second;
}

Status KernelImage::noBinaryFor(const JitTarget &target) const {
  std::string archs;
  for (const auto &entry : cubins_)
    archs += (archs.empty() ? "" : ", ") + entry.first;
  return Status::error("kernel '" + spec_.entry + "' has no CUBIN for " +
                       (target.arch.empty() ? target.device->arch() : target.arch) + " (it has " +
                       (archs.empty() ? "none" : archs) + ") and no source");
}

StatusOr<std::shared_ptr<AttentionKernel>> KernelImage::load(const JitTarget &target) const {
  if (isComposite())
    return Status::error("'" + spec_.pattern +
                         "' is a composite: it runs its branches and its combine "
                         "(KernelImage::loadComposite, or forward)");
  ATTNC_ASSIGN_OR_RETURN(JitTarget jit, resolveTarget(target));
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto &[ordinal, kernel] : loaded_)
    if (ordinal == jit.device->ordinal())
      return kernel;
  std::shared_ptr<AttentionKernel> kernel;
  if (const std::string *cubin = cubinFor(jit)) {
    ATTNC_ASSIGN_OR_RETURN(kernel, AttentionKernel::fromCubin(spec_, *cubin, jit.device));
  } else if (!source_.empty()) {
    ATTNC_ASSIGN_OR_RETURN(kernel, AttentionKernel::fromSource(spec_, source_, jit));
  } else {
    return noBinaryFor(jit);
  }
  loaded_.emplace_back(jit.device->ordinal(), kernel);
  return kernel;
}

StatusOr<std::shared_ptr<CompositeKernel>>
KernelImage::loadComposite(const JitTarget &target) const {
  if (!isComposite())
    return Status::error("'" + spec_.pattern + "' is not a composite");
  ATTNC_ASSIGN_OR_RETURN(JitTarget jit, resolveTarget(target));
  auto cached = [&]() -> std::shared_ptr<CompositeKernel> {
    for (const auto &[ordinal, composite] : composites_)
      if (ordinal == jit.device->ordinal())
        return composite;
    return nullptr;
  };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (std::shared_ptr<CompositeKernel> composite = cached())
      return composite;
  }
  // The branches load outside this image's lock (each under its own).
  std::vector<std::shared_ptr<AttentionKernel>> branches;
  for (const std::shared_ptr<const KernelImage> &branch : branches_) {
    ATTNC_ASSIGN_OR_RETURN(std::shared_ptr<AttentionKernel> kernel, branch->load(jit));
    branches.push_back(std::move(kernel));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (std::shared_ptr<CompositeKernel> composite = cached())
    return composite; // another thread made it meanwhile
  // The combine: a CUBIN of the device's arch (a bundle's), else JIT from the source.
  std::shared_ptr<Kernel> combine;
  if (const std::string *cubin = cubinFor(jit)) {
    ATTNC_ASSIGN_OR_RETURN(combine, loadKernel(*cubin, spec_.entry, jit.device));
  } else if (!source_.empty()) {
    ATTNC_ASSIGN_OR_RETURN(combine, jitKernel(source_, spec_.entry, {}, jit));
  } else {
    return noBinaryFor(jit);
  }
  ATTNC_ASSIGN_OR_RETURN(std::shared_ptr<CompositeKernel> composite,
                         CompositeKernel::create(std::move(branches), std::move(combine),
                                                 spec_.branchOwnQK, spec_.epilogueBranch));
  composites_.emplace_back(jit.device->ordinal(), composite);
  return composite;
}

Status KernelImage::forward(const ForwardArgs &args, void *stream, const BlockMap *map) const {
  if (isComposite()) {
    if (map)
      return Status::error("composite '" + spec_.pattern + "' takes no block map");
    ATTNC_ASSIGN_OR_RETURN(std::shared_ptr<CompositeKernel> composite, loadComposite());
    return composite->forward(args, stream);
  }
  ATTNC_ASSIGN_OR_RETURN(std::shared_ptr<AttentionKernel> kernel, load());
  return kernel->forward(args, stream, map);
}

ProgramCache &ProgramCache::global() {
  static ProgramCache *cache = new ProgramCache(); // never destroyed: kernels outlive statics
  return *cache;
}

std::optional<ProgramCache::Images> ProgramCache::lookup(const Hash128 &key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end())
    return std::nullopt;
  ++hits_;
  return it->second;
}

void ProgramCache::insert(const Hash128 &key, Images images) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.emplace(key, std::move(images)); // a second thread's copy loses: the first stays
}

void ProgramCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();
}

uint64_t ProgramCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}
