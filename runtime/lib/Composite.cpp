//===- Composite.cpp - Launching a composite's branches and combine -------===//
#include "attnc/Composite.h"

#include <algorithm>
#include <cstdlib>
#include <string>

using namespace attnc;

Status attnc::launchCombine(const Kernel &combine, const FwdParams &p, const CombineParams &parts,
                            void *stream) {
  if (p.seqlen_q == 0)
    return Status::success();
  const Dim3 grid{static_cast<unsigned>((p.seqlen_q + kCombineRows - 1) / kCombineRows),
                  static_cast<unsigned>(p.heads), static_cast<unsigned>(p.batch)};
  FwdParams params = p;
  CombineParams copy = parts;
  void *args[] = {&params, &copy};
  return combine.launch(grid, Dim3{static_cast<unsigned>(kCombineThreads), 1, 1}, 0, stream, args);
}

StatusOr<std::shared_ptr<CompositeKernel>>
CompositeKernel::create(std::vector<std::shared_ptr<AttentionKernel>> branches,
                        std::shared_ptr<Kernel> combine, std::vector<std::pair<int, int>> ownQK,
                        int epilogueBranch) {
  if (branches.size() < 2 || branches.size() > size_t(kMaxBranches))
    return Status::error("composite: " + std::to_string(branches.size()) + " branches (2 to " +
                         std::to_string(kMaxBranches) + " are supported)");
  if (!combine)
    return Status::error("composite: no combine kernel");
  if (!ownQK.empty() && ownQK.size() != branches.size())
    return Status::error("composite: " + std::to_string(ownQK.size()) + " own q/k entries for " +
                         std::to_string(branches.size()) + " branches");
  if (epilogueBranch < -1 || epilogueBranch >= int(branches.size()) ||
      (epilogueBranch >= 0 &&
       branches[size_t(epilogueBranch)]->spec().config.kernelTemplate == KernelTemplate::Linear))
    return Status::error("composite: epilogue branch " + std::to_string(epilogueBranch) +
                         " is no softmax-family branch");
  auto own = [&](size_t i) { return !ownQK.empty() && ownQK[i].first >= 0; };
  const AttentionSpec &first = branches.front()->spec();
  const AttentionSpec *call = nullptr; // the first branch on the call's q and k
  for (size_t i = 0; i < branches.size(); ++i) {
    const AttentionSpec &s = branches[i]->spec();
    if (s.dtype != first.dtype || s.config.headDimV != first.config.headDimV ||
        s.varlen != first.varlen)
      return Status::error("composite: branches '" + first.pattern + "' and '" + s.pattern +
                           "' differ in element type, value head dim or varlen");
    if (own(i)) {
      if (!s.isElementInput(ownQK[i].first) || !s.isElementInput(ownQK[i].second))
        return Status::error("composite: branch '" + s.pattern +
                             "' takes its q or k from no input of the element type");
      if (s.varlen)
        return Status::error("composite: branch '" + s.pattern +
                             "' has q and k of its own: dense sequences only");
    } else if (!call) {
      call = &s;
    } else if (s.config.headDim != call->config.headDim) {
      return Status::error("composite: branches '" + call->pattern + "' and '" + s.pattern +
                           "' differ in head dim");
    }
  }
  std::vector<const AttentionSpec *> specs;
  for (const std::shared_ptr<AttentionKernel> &branch : branches)
    specs.push_back(&branch->spec());
  const int stateful = attnc::statefulBranch(specs);
  return std::shared_ptr<CompositeKernel>(new CompositeKernel(
      std::move(branches), std::move(combine), stateful, std::move(ownQK), epilogueBranch));
}

int attnc::statefulBranch(const std::vector<const AttentionSpec *> &branches) {
  int stateful = -1;
  for (size_t i = 0; i < branches.size(); ++i)
    if (branches[i]->config.kernelTemplate == KernelTemplate::Linear) {
      if (stateful >= 0)
        return -1; // several
      stateful = int(i);
    }
  return stateful;
}

/// A linear branch's view of the call: its own tokens, the last Sq rows of k and v.
static Status callTokens(const ForwardArgs &args, bool varlen, ForwardArgs &tokens) {
  if (!args.q.given() || !args.k.given() || !args.v.given())
    return Status::success(); // the branch reports what is missing
  const int rowDim = varlen ? 0 : 1;
  if (args.k.rank != args.v.rank || args.k.rank <= rowDim ||
      args.k.shape[rowDim] != args.v.shape[rowDim] ||
      (!varlen && args.k.shape[0] != args.v.shape[0]))
    return Status::error("composite: a linear branch's k (" + std::to_string(args.k.shape[rowDim]) +
                         " rows) and v (" + std::to_string(args.v.shape[rowDim]) +
                         " rows) must have the same sequences");
  const int64_t sq = args.q.shape[rowDim], sk = args.k.shape[rowDim];
  if (sq == sk)
    return Status::success();
  if (varlen)
    return Status::error("composite: a linear branch over packed sequences takes q and k of the "
                         "same lengths (a decode call with a KV cache needs dense sequences)");
  if (sk < sq)
    return Status::error("composite: " + std::to_string(sk) + " key rows for " +
                         std::to_string(sq) +
                         " queries; a linear branch reads the call's tokens, the last rows of k "
                         "and v");
  for (TensorRef *t : {&tokens.k, &tokens.v}) {
    t->data = static_cast<const char *>(t->data) +
              (sk - sq) * t->strides[1] * int64_t(dtypeBytes(t->dtype));
    t->shape[1] = sq;
  }
  return Status::success();
}

Status CompositeKernel::branchArgs(size_t i, const ForwardArgs &args, ForwardArgs &out) const {
  const AttentionKernel &branch = *branches_[i];
  out = args;
  if (!ownQK_.empty() && ownQK_[i].first >= 0) {
    const auto [q, k] = ownQK_[i];
    if (std::min(q, k) < 0 || size_t(std::max(q, k)) >= args.inputs.size())
      return Status::error("composite: branch '" + branch.spec().pattern + "' takes q and k from " +
                           "inputs " + std::to_string(q) + " and " + std::to_string(k) + "; " +
                           std::to_string(args.inputs.size()) + " inputs were given");
    const AttentionSpec &spec = branch.spec();
    for (int slot : {q, k}) {
      const TensorRef &t = args.inputs[size_t(slot)];
      const DType want = spec.inputs[size_t(slot)].dtype;
      if (t.given() && t.dtype != want)
        return Status::error("composite: input '" + spec.inputs[size_t(slot)].name + "' (branch '" +
                             spec.pattern + "''s " + (slot == q ? "q" : "k") + ") is " +
                             dtypeName(t.dtype) + ", the kernel was compiled for " +
                             dtypeName(want));
    }
    out.q = args.inputs[size_t(q)];
    out.k = args.inputs[size_t(k)];
  }
  if (branch.spec().config.kernelTemplate == KernelTemplate::Linear)
    return callTokens(out, branch.spec().varlen, out);
  out.stateIn = out.stateOut = TensorRef();
  out.keySumIn = out.keySumOut = TensorRef();
  return Status::success();
}

Status CompositeKernel::forward(const ForwardArgs &args, void *stream) const {
  if (args.lse.given())
    return Status::error("composite: no lse (its output is the combine's)");
  if ((args.stateIn.given() || args.stateOut.given() || args.keySumIn.given() ||
       args.keySumOut.given()) &&
      stateful_ < 0)
    return Status::error("composite: a state belongs to a composite with one linear branch (this "
                         "one has none or several)");
  // O, the sizes and the inputs of the call, as the first branch binds them (each branch
  // checks the arguments again when it runs).
  FwdParams p;
  ForwardArgs first;
  ATTNC_TRY(branchArgs(0, args, first));
  ATTNC_TRY(branches_.front()->bind(first, p));
  const size_t bytes = size_t(args.o.numel()) * dtypeBytes(args.o.dtype);
  std::vector<int64_t> shape(args.o.shape, args.o.shape + args.o.rank);
  // The epilogue branch combines in its forward kernel; a call it runs with its decode kernels
  // takes the combine kernel instead. ATTNC_COMPOSITE_EPILOGUE=0 (measurements) always does.
  int fused = -1;
  ForwardArgs fusedCall;
  const char *env = std::getenv("ATTNC_COMPOSITE_EPILOGUE");
  if (epilogue_ >= 0 && !(env && std::string(env) == "0")) {
    FwdParams q;
    ATTNC_TRY(branchArgs(size_t(epilogue_), args, fusedCall));
    ATTNC_TRY(branches_[size_t(epilogue_)]->bind(fusedCall, q));
    if (!branches_[size_t(epilogue_)]->runsDecode(q))
      fused = epilogue_;
  }
  CombineParams parts{};
  StreamScratch scratch(combine_->device(), stream);
  Status st = Status::success();
  for (size_t i = 0; i < branches_.size() && st.ok(); ++i) {
    if (int(i) == fused)
      continue; // runs last, into O
    StatusOr<DevicePtr> part = scratch.allocate(std::max<size_t>(bytes, 16));
    if (!part.ok()) {
      st = part.status();
      break;
    }
    parts.parts[i] = reinterpret_cast<const void *>(*part);
    ForwardArgs call;
    st = branchArgs(i, args, call);
    call.o = TensorRef::contiguous(parts.parts[i], args.o.dtype, shape);
    if (st.ok())
      st = branches_[i]->forward(call, stream);
  }
  if (st.ok() && fused >= 0) {
    fusedCall.combine = parts;
    st = branches_[size_t(fused)]->forward(fusedCall, stream);
  } else if (st.ok()) {
    st = launchCombine(*combine_, p, parts, stream);
  }
  return scratch.release(st);
}
