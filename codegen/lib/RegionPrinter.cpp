//===- RegionPrinter.cpp - Print a region of arith/math ops as C++ ------------===//
//
// Hook regions are straight-line code of upstream arith/math ops over index, i1, i32/i64 and
// f32 values, so each op prints as one C++ expression. Index values are 32-bit ints on the
// device (sequence positions fit), floats use the device library's fast approximations
// (attnc::fastTanh -> tanh.approx, attnc::fastExp2 -> ex2.approx).
//
//===----------------------------------------------------------------------===//
#include "RegionPrinter.h"
#include "attn/Dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

FailureOr<std::string> mlir::attn::getCudaTypeName(Type type) {
  if (type.isIndex() || type.isInteger(32))
    return std::string("int");
  if (type.isInteger(1))
    return std::string("bool");
  if (type.isInteger(64))
    return std::string("long long");
  if (type.isF32())
    return std::string("float");
  return failure();
}

/// A float literal that reads back exactly as the same f32.
static std::string floatLiteral(double value) {
  if (std::isinf(value))
    return value > 0 ? "attnc::infinity()" : "attnc::negInfinity()";
  if (std::isnan(value))
    return "attnc::quietNaN()";
  return llvm::formatv("{0:e9}f", value).str();
}

static const char *cmpiSpelling(arith::CmpIPredicate pred) {
  switch (pred) {
  case arith::CmpIPredicate::eq:
    return "==";
  case arith::CmpIPredicate::ne:
    return "!=";
  case arith::CmpIPredicate::slt:
  case arith::CmpIPredicate::ult:
    return "<";
  case arith::CmpIPredicate::sle:
  case arith::CmpIPredicate::ule:
    return "<=";
  case arith::CmpIPredicate::sgt:
  case arith::CmpIPredicate::ugt:
    return ">";
  case arith::CmpIPredicate::sge:
  case arith::CmpIPredicate::uge:
    return ">=";
  }
  return "==";
}

/// Ordered float predicates only: the unordered ones have no single C++ operator.
static const char *cmpfSpelling(arith::CmpFPredicate pred) {
  switch (pred) {
  case arith::CmpFPredicate::OEQ:
    return "==";
  case arith::CmpFPredicate::ONE:
    return "!=";
  case arith::CmpFPredicate::OLT:
    return "<";
  case arith::CmpFPredicate::OLE:
    return "<=";
  case arith::CmpFPredicate::OGT:
    return ">";
  case arith::CmpFPredicate::OGE:
    return ">=";
  default:
    return nullptr;
  }
}

namespace {
/// Prints one block; owns the value -> C++ name map.
class BlockPrinter {
public:
  BlockPrinter(llvm::raw_ostream &os, StringRef indent) : os(os), indent(indent) {}
  void setIndent(StringRef newIndent) { indent = newIndent; }

  void bind(Value value, std::string name) { names[value] = std::move(name); }

  LogicalResult printOp(Operation &op) {
    FailureOr<std::string> expr = getExpression(op);
    if (failed(expr))
      return failure();
    Value result = op.getResult(0);
    FailureOr<std::string> type = getCudaTypeName(result.getType());
    if (failed(type))
      return op.emitOpError("result type ") << result.getType() << " has no CUDA spelling";
    std::string name = "v" + std::to_string(counter++);
    os << indent << "const " << *type << " " << name << " = " << *expr << ";\n";
    bind(result, name);
    return success();
  }

  std::string &nameOf(Value value) { return names[value]; }

private:
  std::string binary(Operation &op, StringRef spelling) {
    return ("(" + nameOf(op.getOperand(0)) + " " + spelling + " " + nameOf(op.getOperand(1)) + ")")
        .str();
  }
  std::string call(Operation &op, StringRef fn) {
    std::string s = (fn + "(").str();
    for (auto [i, operand] : llvm::enumerate(op.getOperands()))
      s += (i ? ", " : "") + nameOf(operand);
    return s + ")";
  }

  FailureOr<std::string> getExpression(Operation &op) {
    if (op.getNumResults() != 1)
      return op.emitOpError("cannot be printed as a CUDA expression");
    return llvm::TypeSwitch<Operation *, FailureOr<std::string>>(&op)
        .Case([&](arith::ConstantOp c) -> FailureOr<std::string> {
          if (auto f = dyn_cast<FloatAttr>(c.getValue()))
            return floatLiteral(f.getValueAsDouble());
          if (auto i = dyn_cast<IntegerAttr>(c.getValue())) {
            if (i.getType().isInteger(1))
              return std::string(i.getValue().isZero() ? "false" : "true");
            if (i.getType().isInteger(64))
              return std::to_string(i.getValue().getSExtValue()) + "LL";
            // index and i32 are 32-bit ints on the device: print the wrapped value.
            int32_t wrapped =
                static_cast<int32_t>(static_cast<uint32_t>(i.getValue().getSExtValue()));
            if (wrapped == INT32_MIN)
              return std::string("(-2147483647 - 1)");
            return std::to_string(wrapped);
          }
          return c.emitOpError("constant has no CUDA spelling");
        })
        .Case([&](arith::AddIOp) { return binary(op, "+"); })
        .Case([&](arith::SubIOp) { return binary(op, "-"); })
        .Case([&](arith::MulIOp) { return binary(op, "*"); })
        .Case([&](arith::DivSIOp) { return binary(op, "/"); })
        .Case([&](arith::RemSIOp) { return binary(op, "%"); })
        .Case([&](arith::FloorDivSIOp) { return call(op, "attnc::floorDiv"); })
        .Case([&](arith::MinSIOp) { return call(op, "attnc::imin"); })
        .Case([&](arith::MaxSIOp) { return call(op, "attnc::imax"); })
        .Case([&](arith::AndIOp) {
          return binary(op, op.getResult(0).getType().isInteger(1) ? "&&" : "&");
        })
        .Case([&](arith::OrIOp) {
          return binary(op, op.getResult(0).getType().isInteger(1) ? "||" : "|");
        })
        .Case([&](arith::XOrIOp) {
          return binary(op, op.getResult(0).getType().isInteger(1) ? "!=" : "^");
        })
        .Case([&](arith::CmpIOp c) { return binary(op, cmpiSpelling(c.getPredicate())); })
        .Case([&](arith::CmpFOp c) -> FailureOr<std::string> {
          const char *spelling = cmpfSpelling(c.getPredicate());
          if (!spelling)
            return c.emitOpError("unordered float comparison has no CUDA spelling");
          return binary(op, spelling);
        })
        .Case([&](arith::SelectOp s) {
          return "(" + nameOf(s.getCondition()) + " ? " + nameOf(s.getTrueValue()) + " : " +
                 nameOf(s.getFalseValue()) + ")";
        })
        .Case([&](arith::AddFOp) { return binary(op, "+"); })
        .Case([&](arith::SubFOp) { return binary(op, "-"); })
        .Case([&](arith::MulFOp) { return binary(op, "*"); })
        .Case([&](arith::DivFOp) { return binary(op, "/"); })
        .Case([&](arith::NegFOp) { return "(-" + nameOf(op.getOperand(0)) + ")"; })
        .Case([&](arith::MinimumFOp) { return call(op, "fminf"); })
        .Case([&](arith::MaximumFOp) { return call(op, "fmaxf"); })
        .Case([&](arith::MinNumFOp) { return call(op, "fminf"); })
        .Case([&](arith::MaxNumFOp) { return call(op, "fmaxf"); })
        .Case([&](arith::IndexCastOp) { return "(int)" + nameOf(op.getOperand(0)); })
        .Case([&](arith::SIToFPOp) { return "(float)" + nameOf(op.getOperand(0)); })
        .Case([&](arith::FPToSIOp) { return "(int)" + nameOf(op.getOperand(0)); })
        .Case([&](math::TanhOp) { return call(op, "attnc::fastTanh"); })
        .Case([&](math::ExpOp) { return call(op, "attnc::fastExp"); })
        .Case([&](math::Exp2Op) { return call(op, "attnc::fastExp2"); })
        .Case([&](math::LogOp) { return call(op, "attnc::fastLog"); })
        .Case([&](math::AbsFOp) { return call(op, "fabsf"); })
        .Case([&](math::AbsIOp) { return call(op, "attnc::iabs"); })
        .Case([&](math::FloorOp) { return call(op, "floorf"); })
        .Case([&](math::SqrtOp) { return call(op, "sqrtf"); })
        .Case([&](math::Log2Op) { return call(op, "attnc::fastLog2"); })
        .Case([&](math::CeilOp) { return call(op, "ceilf"); })
        .Case([&](math::PowFOp) { return call(op, "powf"); })
        .Case([&](GetScalarOp get) -> FailureOr<std::string> {
          ScalarOp decl = get.getDeclaration();
          if (!decl)
            return get.emitOpError("reads an undeclared scalar");
          return "p.scalars[" + std::to_string(slotOf(decl)) + "]";
        })
        .Case([&](LoadOp load) { return loadExpression(load); })
        .Default([&](Operation *other) -> FailureOr<std::string> {
          return other->emitOpError("has no CUDA spelling in attnc hooks");
        });
  }

  /// Position of a declaration among those of its kind in its container.
  template <typename DeclOp> static unsigned slotOf(DeclOp decl) {
    unsigned slot = 0;
    for (Operation &op : *decl->getBlock()) {
      if (&op == decl.getOperation())
        break;
      slot += isa<DeclOp>(op);
    }
    return slot;
  }

  /// attnc::loadInput<T>(p.inputs[slot], row-major index of the clamped indices).
  FailureOr<std::string> loadExpression(LoadOp load) {
    InputOp decl = load.getDeclaration();
    if (!decl)
      return load.emitOpError("reads an undeclared input");
    std::string index;
    for (auto [i, dim] : llvm::enumerate(decl.getShape())) {
      std::string extent;
      if (auto size = dyn_cast<IntegerAttr>(dim))
        extent = std::to_string(size.getInt());
      else
        extent = llvm::StringSwitch<std::string>(cast<StringAttr>(dim).getValue())
                     .Case("B", "p.batch")
                     .Case("H", "p.heads")
                     .Case("Hkv", "p.kv_heads")
                     .Case("Sq", "p.seqlen_q")
                     .Case("D", "kHeadDim")
                     .Default("p.seqlen_k");
      std::string clamped =
          "attnc::clampIndex(" + nameOf(load.getIndices()[i]) + ", " + extent + ")";
      index =
          i == 0 ? "(long long)" + clamped : "(" + index + " * " + extent + " + " + clamped + ")";
    }
    const char *type = load.getType().isF32() ? "float" : "int";
    return llvm::formatv("attnc::loadInput<{0}>(p.inputs[{1}], {2})", type, slotOf(decl), index)
        .str();
  }

  llvm::raw_ostream &os;
  StringRef indent;
  llvm::DenseMap<Value, std::string> names;
  unsigned counter = 0;
};
} // namespace

LogicalResult mlir::attn::printRegionBodyLog2(Region &region, ArrayRef<std::string> argNames,
                                              llvm::raw_ostream &os, StringRef indent) {
  Block &block = region.front();
  Operation *terminator = block.getTerminator();
  if (terminator->getNumOperands() != 1 || !terminator->getOperand(0).getType().isF32())
    return terminator->emitOpError("a log2 hook yields one f32");
  Value result = terminator->getOperand(0);
  Operation *exp = result.getDefiningOp();
  if (!exp || !isa<math::ExpOp, math::Exp2Op>(exp) || !result.hasOneUse())
    exp = nullptr;
  BlockPrinter printer(os, indent);
  for (auto [arg, name] : llvm::zip_equal(block.getArguments(), argNames))
    printer.bind(arg, name);
  for (Operation &op : block.without_terminator())
    if (&op != exp && failed(printer.printOp(op)))
      return failure();
  if (!exp)
    os << indent << "return log2f(" << printer.nameOf(result) << ");\n";
  else if (isa<math::Exp2Op>(exp))
    os << indent << "return " << printer.nameOf(exp->getOperand(0)) << ";\n";
  else
    os << indent << "return " << printer.nameOf(exp->getOperand(0)) << " * attnc::kLog2e;\n";
  return success();
}

LogicalResult mlir::attn::printRegionBody(Region &region, ArrayRef<std::string> argNames,
                                          ArrayRef<std::string> resultTargets,
                                          llvm::raw_ostream &os, StringRef indent) {
  Block &block = region.front();
  BlockPrinter printer(os, indent);
  for (auto [arg, name] : llvm::zip_equal(block.getArguments(), argNames))
    printer.bind(arg, name);
  for (Operation &op : block.without_terminator())
    if (failed(printer.printOp(op)))
      return failure();
  Operation *terminator = block.getTerminator();
  for (auto [value, target] : llvm::zip_equal(terminator->getOperands(), resultTargets)) {
    if (target == "return")
      os << indent << "return " << printer.nameOf(value) << ";\n";
    else
      os << indent << target << " = " << printer.nameOf(value) << ";\n";
  }
  return success();
}

LogicalResult mlir::attn::printRegionBodyHoisted(Region &region, ArrayRef<std::string> argNames,
                                                 unsigned firstVarying, StringRef loopHeader,
                                                 StringRef resultTarget, llvm::raw_ostream &os,
                                                 StringRef indent) {
  Block &block = region.front();
  Operation *terminator = block.getTerminator();
  if (terminator->getNumOperands() != 1)
    return terminator->emitOpError("a hoisted hook yields one value");
  // The ops that read a varying argument, directly or through another such op.
  llvm::DenseSet<Operation *> varying;
  for (Operation &op : block.without_terminator())
    if (llvm::any_of(op.getOperands(), [&](Value v) {
          auto arg = dyn_cast<BlockArgument>(v);
          return arg ? arg.getOwner() == &block && arg.getArgNumber() >= firstVarying
                     : varying.contains(v.getDefiningOp());
        }))
      varying.insert(&op);
  BlockPrinter printer(os, indent);
  for (auto [arg, name] : llvm::zip_equal(block.getArguments(), argNames))
    printer.bind(arg, name);
  for (Operation &op : block.without_terminator())
    if (!varying.contains(&op) && failed(printer.printOp(op)))
      return failure();
  os << indent << loopHeader << " {\n";
  const std::string inner = (indent + "  ").str();
  printer.setIndent(inner);
  for (Operation &op : block.without_terminator())
    if (varying.contains(&op) && failed(printer.printOp(op)))
      return failure();
  os << inner << resultTarget << " = " << printer.nameOf(terminator->getOperand(0)) << ";\n";
  os << indent << "}\n";
  return success();
}
