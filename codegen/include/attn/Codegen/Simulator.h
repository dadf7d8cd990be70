//===- Simulator.h - Run a kernel's tile algorithm on the CPU -------*- C++ -*-===//
//
// A CPU model of the forward template: for each query tile, walk the key tiles that the
// kernel's kv_range allows (EMPTY ones are skipped), evaluate the mask only on tiles that
// tile_full does not declare FULL, and accumulate with the online softmax in float32. Its
// agreement with the float64 reference checks block classification and hooks without a GPU:
// a tile wrongly declared FULL or EMPTY changes the result.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CODEGEN_SIMULATOR_H
#define ATTN_CODEGEN_SIMULATOR_H

#include "attn/Codegen/Reference.h"

namespace mlir::attn {

struct TileCounts {
  int64_t empty = 0, full = 0, partial = 0;
};

/// Simulates `kernel` on `problem` (its tile sizes, hooks and softmax). Counts tiles into
/// `counts` when given. A linear kernel with `linearSegmentRows` > 0 runs the prefill's
/// sequence split into segments of that many rows (causal forms without the sum normaliser or
/// a map of whole rows; a multiple of the chunk). Fails on a hook the evaluator does not know.
FailureOr<ReferenceResult> simulateKernel(KernelOp kernel, const ReferenceProblem &problem,
                                          TileCounts *counts = nullptr,
                                          int64_t linearSegmentRows = 0);

} // namespace mlir::attn

#endif // ATTN_CODEGEN_SIMULATOR_H
