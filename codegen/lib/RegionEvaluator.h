//===- RegionEvaluator.h - Interpret a hook region on the CPU -------*- C++ -*-===//
//
// Evaluates the single block of a hook region (mask, score_mod, weight, kv_range, tile_full,
// tile_empty) op by op: integers (index, i1, i32, i64) in int64, floats in double. Construction
// checks every op once and binds attn.load / attn.get_scalar to the problem's tensors, so that
// evaluation cannot fail; a load past an extent is clamped and remembered (outOfBounds()).
// Integer semantics are the GPU's: 32-bit two's complement that wraps, float -> int saturates,
// and (unlike the GPU, where it is undefined) division by zero gives 0.
// Shared by the reference, the kernel simulator and the block-map tools.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CODEGEN_REGIONEVALUATOR_H
#define ATTN_CODEGEN_REGIONEVALUATOR_H

#include "attn/Codegen/Reference.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Region.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace mlir::attn {

/// One scalar of a region: ints (index, i1, i32, i64) in `i`, floats in `f`.
struct Scalar {
  int64_t i = 0;
  double f = 0;
};

/// Interprets the single block of a hook region. Construction checks every op once, so that
/// evaluation cannot fail.
class RegionEvaluator {
public:
  /// `problem` provides the input tensors and scalars; it may be null for regions that read
  /// none, and must outlive the evaluator.
  static FailureOr<RegionEvaluator> create(Region &region,
                                           const ReferenceProblem *problem = nullptr) {
    RegionEvaluator eval;
    eval.block = &region.front();
    unsigned slot = 0;
    for (BlockArgument arg : eval.block->getArguments())
      eval.slots[arg] = slot++;
    for (Operation &op : eval.block->without_terminator()) {
      if (!isSupported(op))
        return op.emitOpError("is not supported by the reference evaluator");
      if (auto load = dyn_cast<LoadOp>(op)) {
        InputOp decl = load.getDeclaration();
        if (!decl || !problem || !problem->inputs.count(load.getInput()))
          return op.emitOpError("input '") << load.getInput() << "' has no values";
        BoundTensor &tensor = eval.tensors[&op];
        tensor.shape = resolveInputShape(decl, *problem);
        tensor.values = &problem->inputs.find(load.getInput())->second;
      } else if (auto get = dyn_cast<GetScalarOp>(op)) {
        ScalarOp decl = get.getDeclaration();
        std::optional<double> value;
        if (problem)
          if (auto it = problem->scalars.find(get.getScalar()); it != problem->scalars.end())
            value = it->second;
        if (!value && decl && decl.getDefaultValueAttr())
          value = decl.getDefaultValueAttr().getValueAsDouble();
        if (!value)
          return op.emitOpError("scalar '") << get.getScalar() << "' has no value and no default";
        eval.scalarValues[&op] = *value;
      }
      eval.slots[op.getResult(0)] = slot++;
    }
    eval.values.resize(slot);
    return eval;
  }

  /// An evaluator for the region of `op`, or none when `op` is null (an absent hook).
  static FailureOr<std::optional<RegionEvaluator>> createFor(Operation *op,
                                                             const ReferenceProblem &problem) {
    if (!op)
      return std::optional<RegionEvaluator>();
    FailureOr<RegionEvaluator> eval = create(op->getRegion(0), &problem);
    if (failed(eval))
      return failure();
    return std::optional<RegionEvaluator>(std::move(*eval));
  }

  /// The first out-of-bounds load seen, if any ("input 'doc' index [0, 300] outside [2, 256]").
  const std::optional<std::string> &outOfBounds() const { return oobMessage; }

  /// Evaluates with the block arguments `args`; returns the yielded scalars.
  llvm::SmallVector<Scalar, 2> run(llvm::ArrayRef<Scalar> args) {
    for (auto [i, a] : llvm::enumerate(args))
      values[i] = a;
    for (Operation &op : block->without_terminator())
      values[slots[op.getResult(0)]] = evaluate(op);
    llvm::SmallVector<Scalar, 2> results;
    for (Value v : block->getTerminator()->getOperands())
      results.push_back(get(v));
    return results;
  }

private:
  static bool isSupported(Operation &op) {
    return op.getNumResults() == 1 &&
           isa<arith::ConstantOp, arith::AddIOp, arith::SubIOp, arith::MulIOp, arith::DivSIOp,
               arith::RemSIOp, arith::FloorDivSIOp, arith::MinSIOp, arith::MaxSIOp, arith::AndIOp,
               arith::OrIOp, arith::XOrIOp, arith::CmpIOp, arith::CmpFOp, arith::SelectOp,
               arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp, arith::NegFOp,
               arith::MinimumFOp, arith::MaximumFOp, arith::MinNumFOp, arith::MaxNumFOp,
               arith::IndexCastOp, arith::SIToFPOp, arith::FPToSIOp, math::TanhOp, math::ExpOp,
               math::Exp2Op, math::LogOp, math::Log2Op, math::AbsFOp, math::AbsIOp, math::FloorOp,
               math::CeilOp, math::SqrtOp, math::PowFOp, LoadOp, GetScalarOp>(op);
  }

  Scalar get(Value v) { return values[slots[v]]; }
  int64_t i(Operation &op, unsigned n) { return get(op.getOperand(n)).i; }
  double f(Operation &op, unsigned n) { return get(op.getOperand(n)).f; }
  /// Ints are 32-bit like on the GPU: every int result wraps to int32 (two's complement).
  /// Operands are int32 values held in int64, so the int64 arithmetic below cannot overflow.
  static Scalar I(int64_t v) {
    return Scalar{static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(v))), 0};
  }
  /// float -> int32 the way cvt.rzi.s32.f32 does it: truncate, saturate, NaN -> 0.
  static Scalar saturatingInt(double x) {
    if (std::isnan(x))
      return I(0);
    return I(static_cast<int64_t>(std::clamp(std::trunc(x), -2147483648.0, 2147483647.0)));
  }
  static Scalar F(double v) { return Scalar{0, v}; }

  static bool compare(arith::CmpIPredicate p, int64_t a, int64_t b) {
    using P = arith::CmpIPredicate;
    switch (p) {
    case P::eq:
      return a == b;
    case P::ne:
      return a != b;
    case P::slt:
    case P::ult:
      return a < b;
    case P::sle:
    case P::ule:
      return a <= b;
    case P::sgt:
    case P::ugt:
      return a > b;
    case P::sge:
    case P::uge:
      return a >= b;
    }
    return false;
  }
  static bool compare(arith::CmpFPredicate p, double a, double b) {
    using P = arith::CmpFPredicate;
    switch (p) {
    case P::OEQ:
    case P::UEQ:
      return a == b;
    case P::ONE:
    case P::UNE:
      return a != b;
    case P::OLT:
    case P::ULT:
      return a < b;
    case P::OLE:
    case P::ULE:
      return a <= b;
    case P::OGT:
    case P::UGT:
      return a > b;
    case P::OGE:
    case P::UGE:
      return a >= b;
    case P::AlwaysTrue:
      return true;
    default:
      return false;
    }
  }

  Scalar evaluate(Operation &op) {
    return llvm::TypeSwitch<Operation *, Scalar>(&op)
        .Case([&](arith::ConstantOp c) {
          if (auto fa = dyn_cast<FloatAttr>(c.getValue()))
            return F(fa.getValueAsDouble());
          auto ia = cast<IntegerAttr>(c.getValue());
          return I(ia.getType().isInteger(1) ? (ia.getValue().isZero() ? 0 : 1)
                                             : ia.getValue().getSExtValue());
        })
        .Case([&](arith::AddIOp) { return I(i(op, 0) + i(op, 1)); })
        .Case([&](arith::SubIOp) { return I(i(op, 0) - i(op, 1)); })
        .Case([&](arith::MulIOp) { return I(i(op, 0) * i(op, 1)); })
        .Case([&](arith::DivSIOp) { return I(i(op, 1) ? i(op, 0) / i(op, 1) : 0); })
        .Case([&](arith::RemSIOp) { return I(i(op, 1) ? i(op, 0) % i(op, 1) : 0); })
        .Case([&](arith::FloorDivSIOp) {
          int64_t a = i(op, 0), b = i(op, 1);
          if (!b)
            return I(0);
          int64_t q = a / b;
          return I((a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q);
        })
        .Case([&](arith::MinSIOp) { return I(std::min(i(op, 0), i(op, 1))); })
        .Case([&](arith::MaxSIOp) { return I(std::max(i(op, 0), i(op, 1))); })
        .Case([&](arith::AndIOp) { return I(i(op, 0) & i(op, 1)); })
        .Case([&](arith::OrIOp) { return I(i(op, 0) | i(op, 1)); })
        .Case([&](arith::XOrIOp) { return I(i(op, 0) ^ i(op, 1)); })
        .Case([&](arith::CmpIOp c) { return I(compare(c.getPredicate(), i(op, 0), i(op, 1))); })
        .Case([&](arith::CmpFOp c) { return I(compare(c.getPredicate(), f(op, 0), f(op, 1))); })
        .Case([&](arith::SelectOp) {
          return i(op, 0) ? get(op.getOperand(1)) : get(op.getOperand(2));
        })
        .Case([&](arith::AddFOp) { return F(f(op, 0) + f(op, 1)); })
        .Case([&](arith::SubFOp) { return F(f(op, 0) - f(op, 1)); })
        .Case([&](arith::MulFOp) { return F(f(op, 0) * f(op, 1)); })
        .Case([&](arith::DivFOp) { return F(f(op, 0) / f(op, 1)); })
        .Case([&](arith::NegFOp) { return F(-f(op, 0)); })
        .Case<arith::MinimumFOp, arith::MinNumFOp>(
            [&](Operation *) { return F(std::fmin(f(op, 0), f(op, 1))); })
        .Case<arith::MaximumFOp, arith::MaxNumFOp>(
            [&](Operation *) { return F(std::fmax(f(op, 0), f(op, 1))); })
        .Case([&](arith::IndexCastOp) { return I(i(op, 0)); })
        .Case([&](arith::SIToFPOp) { return F(static_cast<double>(i(op, 0))); })
        .Case([&](arith::FPToSIOp) { return saturatingInt(f(op, 0)); })
        .Case([&](math::TanhOp) { return F(std::tanh(f(op, 0))); })
        .Case([&](math::ExpOp) { return F(std::exp(f(op, 0))); })
        .Case([&](math::Exp2Op) { return F(std::exp2(f(op, 0))); })
        .Case([&](math::LogOp) { return F(std::log(f(op, 0))); })
        .Case([&](math::AbsFOp) { return F(std::fabs(f(op, 0))); })
        .Case([&](math::AbsIOp) { return I(i(op, 0) < 0 ? -i(op, 0) : i(op, 0)); })
        .Case([&](math::FloorOp) { return F(std::floor(f(op, 0))); })
        .Case([&](math::SqrtOp) { return F(std::sqrt(f(op, 0))); })
        .Case([&](math::Log2Op) { return F(std::log2(f(op, 0))); })
        .Case([&](math::CeilOp) { return F(std::ceil(f(op, 0))); })
        .Case([&](math::PowFOp) { return F(std::pow(f(op, 0), f(op, 1))); })
        .Case([&](GetScalarOp) { return F(scalarValues[&op]); })
        .Case([&](LoadOp load) { return loadElement(load); })
        .Default([](Operation *) { return Scalar{}; });
  }

  Scalar loadElement(LoadOp load) {
    const BoundTensor &tensor = tensors[load.getOperation()];
    int64_t linear = 0;
    for (auto [i, extent] : llvm::enumerate(tensor.shape)) {
      int64_t index = get(load.getIndices()[i]).i;
      if (index < 0 || index >= extent) {
        if (!oobMessage) {
          std::string text;
          llvm::raw_string_ostream os(text);
          os << "input '" << load.getInput() << "' read at index " << index << " of dimension " << i
             << ", whose extent is " << extent;
          oobMessage = text;
        }
        index = std::clamp<int64_t>(index, 0, extent - 1);
      }
      linear = linear * extent + index;
    }
    double value = (*tensor.values)[linear];
    return load.getType().isInteger(32) ? saturatingInt(value) : F(value);
  }

  struct BoundTensor {
    std::vector<int64_t> shape;
    const std::vector<double> *values = nullptr;
  };

  Block *block = nullptr;
  llvm::DenseMap<Operation *, BoundTensor> tensors;
  llvm::DenseMap<Operation *, double> scalarValues;
  std::optional<std::string> oobMessage;
  llvm::DenseMap<Value, unsigned> slots;
  std::vector<Scalar> values;
};

} // namespace mlir::attn

#endif // ATTN_CODEGEN_REGIONEVALUATOR_H
