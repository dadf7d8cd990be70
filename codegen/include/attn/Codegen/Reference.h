//===- Reference.h - float64 CPU evaluation of attention patterns ----*- C++ -*-===//
//
// The numerical oracle of every test: evaluates a pattern-level `attn.pattern` directly
// (mask and score regions interpreted op by op in double precision), independent of the tiling
// and of the generated kernel.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CODEGEN_REFERENCE_H
#define ATTN_CODEGEN_REFERENCE_H

#include "attn/Dialect/AttnOps.h"

#include <optional>
#include <vector>

namespace mlir::attn {

/// Dense inputs, contiguous row-major: q [B, Sq, Hq, D], k [B, Skv, Hkv, D], v [B, Skv, Hkv, Dv].
struct ReferenceProblem {
  int64_t batch = 1, heads = 1, kvHeads = 1, seqQ = 1, seqK = 1, headDim = 64, headDimV = 64;
  llvm::ArrayRef<double> q, k, v;
  std::optional<double> scale; // overrides the pattern's and the default 1/sqrt(D)
};

struct ReferenceResult {
  std::vector<double> out; // [B, Sq, Hq, Dv]
  std::vector<double> lse; // [B, Hq, Sq], natural log; -inf for rows that see no key (softmax)
};

/// Evaluates `pattern` on `problem`. Rows that see no key give O = 0 and LSE = -inf, the
/// kernels' convention. Fails (with a diagnostic) on an op the evaluator does not know.
FailureOr<ReferenceResult> evaluateReference(PatternOp pattern, const ReferenceProblem &problem);

} // namespace mlir::attn

#endif // ATTN_CODEGEN_REFERENCE_H
