//===- Reference.h - float64 CPU evaluation of attention patterns ----*- C++ -*-===//
//
// The numerical oracle of every test: evaluates a pattern-level `attn.pattern` directly
// (mask, score, weight regions interpreted op by op in double precision), independent of the
// tiling and of the generated kernel.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CODEGEN_REFERENCE_H
#define ATTN_CODEGEN_REFERENCE_H

#include "attn/Dialect/AttnOps.h"
#include "llvm/ADT/StringMap.h"

#include <optional>
#include <vector>

namespace mlir::attn {

/// Inputs, contiguous row-major.
///   dense:  q [B, Sq, Hq, D], k [B, Skv, Hkv, D], v [B, Skv, Hkv, Dv]
///   varlen: q [total_q, Hq, D], k [total_k, Hkv, D], v [total_k, Hkv, Dv], sequence b owning
///           rows [cuSeqlensQ[b], cuSeqlensQ[b+1]) of q and [cuSeqlensK[b], ...) of k and v;
///           seqQ / seqK are then the longest lengths (they size inputs declared with Sq / Skv).
/// Extra input tensors are matched by name and hold the elements of the declared shape, row-major;
/// scalars are matched by name and fall back to their declared defaults.
struct ReferenceProblem {
  int64_t batch = 1, heads = 1, kvHeads = 1, seqQ = 1, seqK = 1, headDim = 64, headDimV = 64;
  llvm::ArrayRef<double> q, k, v;
  std::vector<int64_t> cuSeqlensQ, cuSeqlensK; // both empty (dense) or both batch+1 long
  llvm::StringMap<std::vector<double>> inputs;
  llvm::StringMap<double> scalars;
  std::optional<double> scale; // overrides the pattern's and the default 1/sqrt(D)
  /// Linear patterns: the state a prefill starts from, [B, Hq, D, Dv], and with the sum
  /// normaliser its key sum z = sum_s gamma^(L-1-s) phi(k_s), [B, Hq, D]; empty: zero.
  std::vector<double> stateIn, keySumIn;

  bool isVarlen() const { return !cuSeqlensQ.empty(); }
  int64_t totalQ() const { return isVarlen() ? cuSeqlensQ.back() : batch * seqQ; }
  int64_t totalK() const { return isVarlen() ? cuSeqlensK.back() : batch * seqK; }
  /// First row and length of sequence b in q (and in k when `keys`).
  int64_t rowStart(int64_t b, bool keys) const;
  int64_t length(int64_t b, bool keys) const;
  /// Index of row q of sequence b, head h in the LSE: [B, Hq, Sq] dense, [Hq, total_q] varlen.
  int64_t lseIndex(int64_t b, int64_t h, int64_t q) const;
};

struct ReferenceResult {
  std::vector<double> out; // like q with Dv columns
  std::vector<double> lse; // natural log; -inf for rows that see no key (softmax only)
  /// Linear patterns: the final state S = gamma^L S0 + sum_s gamma^(L-1-s) phi(k_s) v_s^T per
  /// (sequence, head), [B, Hq, D, Dv]; with the sum normaliser also the key sum [B, Hq, D].
  std::vector<double> state, keySum;
};

/// phi(x) of a row x of q or k (headDim values) under `linear`'s row map (taylor2, hedgehog;
/// getFeatureMap in AttnOps.h) for head h: getLinearStateDim values, the features then zeros.
/// `weights`: a hedgehog map's input [H, D, M] (unused by taylor2).
void applyRowFeatureMap(LinearOp linear, int64_t headDim, llvm::ArrayRef<double> weights, int64_t h,
                        const double *x, double *out);

/// The extents of `input` for `problem` (problem sizes resolved).
std::vector<int64_t> resolveInputShape(InputOp input, const ReferenceProblem &problem);

/// Checks the problem against `container` (a pattern or kernel): shapes, heads, varlen offsets,
/// that every declared input is given with the right number of elements and every scalar has a
/// value. Emits an error on `container` and fails otherwise.
LogicalResult verifyProblem(Operation *container, const ReferenceProblem &problem);

/// Evaluates `pattern` on `problem`. Rows that see no key give O = 0 and LSE = -inf, the
/// kernels' convention. A linear pattern is evaluated in its quadratic (parallel) form, not the
/// chunked or recurrent one the kernels run, and also returns its final state. Fails (with a
/// diagnostic) on an op the evaluator does not know, a problem that does not fit, or an input read
/// out of bounds.
FailureOr<ReferenceResult> evaluateReference(PatternOp pattern, const ReferenceProblem &problem);

/// The combine of `composite` applied to each element of its branches' `outputs` (one per
/// branch, laid out like the problem's output).
FailureOr<std::vector<double>> combineBranchOutputs(CompositeOp composite,
                                                    const ReferenceProblem &problem,
                                                    ArrayRef<std::vector<double>> outputs);

/// Branch `index` of `composite`'s view of `problem`: the problem itself, or for a branch with
/// q and k of its own (getBranchOwnQK) those inputs' values as q and k and their width as the
/// head dim (the arrays stay `problem`'s).
ReferenceProblem branchProblem(CompositeOp composite, unsigned index,
                               const ReferenceProblem &problem);

/// Evaluates `composite`: each branch pattern on `problem`, then the combine per output element.
/// A composite with one linear branch carries that branch's state: it starts from the problem's
/// state (zero without one) and returns the final one. A linear branch reads the call's own
/// tokens, the last Sq rows of each sequence's k and v (a decode call passes the KV cache, its
/// new tokens last, for the other branches). No LSE.
FailureOr<ReferenceResult> evaluateComposite(CompositeOp composite,
                                             const ReferenceProblem &problem);

} // namespace mlir::attn

#endif // ATTN_CODEGEN_REFERENCE_H
