//===- Composite.h - Launching a composite's branches and combine ----*- C++ -*-===//
//
// A composite pattern (several branches over the same q, k, v, combined per output element)
// runs as its branches' kernels, each writing its own output to a temporary in stream-ordered
// memory, then the composite's combine kernel (runtime/device/attnc/combine.cuh), which writes
// O from them. Every branch takes the same arguments (the composite's inputs and scalars); a
// branch may take two of those inputs as its own q and k.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPOSITE_H
#define ATTNC_COMPOSITE_H

#include "attnc/Attention.h"

#include <memory>
#include <vector>

namespace attnc {

/// Launches a combine kernel over `params` (O and the problem sizes of the call) and the branch
/// outputs `parts`: a grid of ceil(seqlen_q / kCombineRows) x Hq x B blocks.
Status launchCombine(const Kernel &combine, const FwdParams &params, const CombineParams &parts,
                     void *stream = nullptr);

/// The index among a composite's `branches` of the one that carries its state: its one linear
/// branch (-1 when it has none or several).
int statefulBranch(const std::vector<const AttentionSpec *> &branches);

class CompositeKernel {
public:
  /// `branches` in the composite's order (2 to kMaxBranches, one element type and head dims),
  /// `combine` its combine entry point for them. `ownQK` (AttentionSpec::branchOwnQK; empty:
  /// none): per branch, the input slots of its own q and k, whose head dim is the branch's.
  /// `epilogueBranch` (AttentionSpec::epilogueBranch; -1: none): the branch whose forward
  /// kernel applies the combine in its epilogue.
  static StatusOr<std::shared_ptr<CompositeKernel>>
  create(std::vector<std::shared_ptr<AttentionKernel>> branches, std::shared_ptr<Kernel> combine,
         std::vector<std::pair<int, int>> ownQK = {}, int epilogueBranch = -1);

  /// Runs every branch on `args` with O redirected to a temporary, then the combine into
  /// `args.o`. With an epilogue branch whose forward kernel this call runs (not its decode
  /// kernels), that branch runs last and writes `args.o` itself, combining its output with the
  /// others' in its epilogue: no combine launch. A composite has no LSE. One with a single linear
  /// branch carries that branch's state (and key sum): `args`' state arguments go to it alone. A
  /// linear branch reads the call's own tokens, the last Sq rows of k and v: a decode call passes
  /// the KV cache with its new tokens last (dense sequences), which the other branches attend over.
  /// A branch with q and k of its own reads them from `args.inputs` (its k like the call's: the KV
  /// cache).
  Status forward(const ForwardArgs &args, void *stream = nullptr) const;

  Device &device() const { return combine_->device(); }
  const std::vector<std::shared_ptr<AttentionKernel>> &branches() const { return branches_; }
  /// The branch that carries the composite's state (null: it has no state).
  const AttentionKernel *statefulBranch() const {
    return stateful_ < 0 ? nullptr : branches_[size_t(stateful_)].get();
  }

private:
  CompositeKernel(std::vector<std::shared_ptr<AttentionKernel>> branches,
                  std::shared_ptr<Kernel> combine, int stateful,
                  std::vector<std::pair<int, int>> ownQK, int epilogue)
      : branches_(std::move(branches)), combine_(std::move(combine)), stateful_(stateful),
        ownQK_(std::move(ownQK)), epilogue_(epilogue) {}
  /// Branch i's arguments: `args` with O at `o`, its own q and k, its call's tokens (a linear
  /// branch) and the state only where it carries it.
  Status branchArgs(size_t i, const ForwardArgs &args, ForwardArgs &out) const;
  std::vector<std::shared_ptr<AttentionKernel>> branches_;
  std::shared_ptr<Kernel> combine_;
  int stateful_;                           // statefulBranch's index, or -1
  std::vector<std::pair<int, int>> ownQK_; // one per branch, or empty
  int epilogue_;                           // the epilogue branch's index, or -1
};

} // namespace attnc

#endif // ATTNC_COMPOSITE_H
