//===- CheckProblems.h - The random problems of attnc check and their errors -*- C++ -*-===//
//
// What `attnc check` draws and how it measures: random problems rounded to the element type
// (q, k, v, the pattern's inputs and scalars, varlen offsets), the rows of an input a call
// over some of each sequence's rows passes, and the error measures and tolerances of its
// comparisons against the float64 reference.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_TOOL_CHECKPROBLEMS_H
#define ATTNC_TOOL_CHECKPROBLEMS_H

#include "attn/Codegen/Reference.h"
#include "attnc/Forward.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace attnc::check {

struct Shape {
  int batch, heads, kvHeads, seqQ, seqK;
};

/// A random problem rounded to the element type: q/k/v as 16-bit bits and as doubles, the
/// extra inputs and scalars of the pattern, varlen offsets when the pattern is varlen.
struct Problem {
  mlir::attn::ReferenceProblem ref;
  std::vector<uint16_t> q, k, v;
  std::vector<double> qd, kd, vd;
  std::vector<int> cuQ, cuK;                    // varlen offsets, as the kernel reads them
  std::vector<std::vector<uint32_t>> inputBits; // per input slot: i32 or f32 bits
};

/// Builds a problem of `shape` for `pattern` (whose fixed heads replace the shape's). Varlen
/// patterns get `shape.batch` sequences of random lengths up to seqQ / seqK. Int inputs hold
/// small values (0..3, so equality masks such as documents hit often), float inputs normals;
/// scalars take their defaults, or 1 + a random fraction.
std::unique_ptr<Problem> makeProblem(mlir::attn::PatternOp pattern, Shape shape, int d, int dv,
                                     ElementType type, unsigned seed);

/// The values `bits` of `input` (laid out for all of `rp`) that a call over rows [from, from +
/// count) of each sequence passes: every Sq / Skv dimension cut to those rows, the others whole
/// (with `keysTo`, Skv dimensions to the keys [0, keysTo) instead: a KV cache). An input without
/// such a dimension is returned as it is. T: uint32_t (an input's bits) or double.
template <class T>
std::vector<T> sliceSequenceRows(mlir::attn::InputOp input, const mlir::attn::ReferenceProblem &rp,
                                 llvm::ArrayRef<T> bits, int64_t from, int64_t count,
                                 std::optional<int64_t> keysTo = std::nullopt);

/// ||a - b|| / ||b||; NaN anywhere in `a` gives +inf.
double relativeError(llvm::ArrayRef<double> a, llvm::ArrayRef<double> b);

/// max |a - b| over finite pairs; a pair where exactly one side is infinite counts as +inf.
double maxAbsError(llvm::ArrayRef<double> a, llvm::ArrayRef<double> b);

/// Tolerances for ||O - ref|| / ||ref|| (PERFORMANCE.md) and for max |LSE - ref|.
inline double outputTolerance(ElementType t) { return t == ElementType::BF16 ? 1e-2 : 3e-3; }
constexpr double kLseTolerance = 1e-3;

} // namespace attnc::check

#endif // ATTNC_TOOL_CHECKPROBLEMS_H
