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
  return std::shared_ptr<CompositeKernel>(
      new CompositeKernel(std::move(branches), std::move(combine)));
}

Status CompositeKernel::forward(const ForwardArgs &args, void *stream) const {
  if (args.lse.given() || args.stateIn.given() || args.stateOut.given() || args.keySumIn.given() ||
      args.keySumOut.given())
    return Status::error("composite: no lse, state or key sum (its output is the combine's)");
  // O, the sizes and the inputs of the call, as the first branch binds them (each branch
  // checks the arguments again when it runs).
  FwdParams p;
  ATTNC_TRY(branches_.front()->bind(args, p));
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
    st = branches_[i]->forward(branchArgs, stream);
  }
  if (st.ok())
    st = launchCombine(*combine_, p, parts, stream);
  return scratch.release(st);
}
