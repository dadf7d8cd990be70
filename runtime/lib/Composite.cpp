//===- Composite.cpp - Launching a composite's branches and combine -------===//
#include "attnc/Composite.h"

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
                        std::shared_ptr<Kernel> combine) {
  if (branches.size() < 2 || branches.size() > size_t(kMaxBranches))
    return Status::error("composite: " + std::to_string(branches.size()) + " branches (2 to " +
                         std::to_string(kMaxBranches) + " are supported)");
  if (!combine)
    return Status::error("composite: no combine kernel");
  const AttentionSpec &first = branches.front()->spec();
  for (const std::shared_ptr<AttentionKernel> &branch : branches) {
    const AttentionSpec &s = branch->spec();
    if (s.dtype != first.dtype || s.config.headDim != first.config.headDim ||
        s.config.headDimV != first.config.headDimV || s.varlen != first.varlen)
      return Status::error("composite: branches '" + first.pattern + "' and '" + s.pattern +
                           "' differ in element type, head dims or varlen");
  }
  std::vector<const AttentionSpec *> specs;
  for (const std::shared_ptr<AttentionKernel> &branch : branches)
    specs.push_back(&branch->spec());
  const int stateful = attnc::statefulBranch(specs);
  return std::shared_ptr<CompositeKernel>(
      new CompositeKernel(std::move(branches), std::move(combine), stateful));
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

Status CompositeKernel::forward(const ForwardArgs &args, void *stream) const {
  if (args.lse.given())
    return Status::error("composite: no lse (its output is the combine's)");
  auto linear = [](const std::shared_ptr<AttentionKernel> &branch) {
    return branch->spec().config.kernelTemplate == KernelTemplate::Linear;
  };
  if ((args.stateIn.given() || args.stateOut.given() || args.keySumIn.given() ||
       args.keySumOut.given()) &&
      stateful_ < 0)
    return Status::error("composite: a state belongs to a composite with one linear branch (this "
                         "one has none or several)");
  // O, the sizes and the inputs of the call, as the first branch binds them (each branch
  // checks the arguments again when it runs).
  FwdParams p;
  ForwardArgs first = args;
  if (linear(branches_.front()))
    ATTNC_TRY(callTokens(args, branches_.front()->spec().varlen, first));
  ATTNC_TRY(branches_.front()->bind(first, p));
  const size_t bytes = size_t(args.o.numel()) * dtypeBytes(args.o.dtype);
  std::vector<int64_t> shape(args.o.shape, args.o.shape + args.o.rank);
  CombineParams parts{};
  StreamScratch scratch(combine_->device(), stream);
  Status st = Status::success();
  for (size_t i = 0; i < branches_.size() && st.ok(); ++i) {
    StatusOr<DevicePtr> part = scratch.allocate(std::max<size_t>(bytes, 16));
    if (!part.ok()) {
      st = part.status();
      break;
    }
    parts.parts[i] = reinterpret_cast<const void *>(*part);
    ForwardArgs branchArgs = args;
    branchArgs.o = TensorRef::contiguous(parts.parts[i], args.o.dtype, shape);
    if (linear(branches_[i])) {
      st = callTokens(args, branches_[i]->spec().varlen, branchArgs);
    } else {
      branchArgs.stateIn = branchArgs.stateOut = TensorRef();
      branchArgs.keySumIn = branchArgs.keySumOut = TensorRef();
    }
    if (st.ok())
      st = branches_[i]->forward(branchArgs, stream);
  }
  if (st.ok())
    st = launchCombine(*combine_, p, parts, stream);
  return scratch.release(st);
}
