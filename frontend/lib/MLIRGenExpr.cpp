//===- MLIRGenExpr.cpp - .attn expressions to region IR ---------------------===//
//
// MLIRGenImpl's expression half: constant expressions (params, options, extents) evaluated
// here, and expressions lowered into the regions of attn ops (arith / math ops over the
// region's arguments, scalars, inputs and named expressions). Types and names: MLIRGen.cpp.
//
//===----------------------------------------------------------------------===//
#include "MLIRGenImpl.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>

using namespace attnc;
namespace attnc::mlirgen {

FailureOr<Constant> MLIRGenImpl::evalConst(const ast::Expr &e, StringRef hint) {
  using K = ast::Expr::Kind;
  switch (e.kind) {
  case K::Number:
    return Constant{e.isInteger ? ValueKind::Int : ValueKind::Float, e.number};
  case K::Name: {
    if (e.name == "true" || e.name == "false")
      return Constant{ValueKind::Bool, e.name == "true" ? 1.0 : 0.0};
    auto it = scope.find(e.name);
    if (it != scope.end() && it->second.kind == Symbol::Kind::Param) {
      usedParams.insert(e.name);
      return it->second.constant;
    }
    return fail<Constant>(e.loc, "'" + e.name +
                                     "' is not a compile-time value (numbers and parameters "
                                     "declared before this point)" +
                                     hint);
  }
  case K::Unary: {
    FailureOr<Constant> x = evalConst(*e.operands[0]);
    if (failed(x))
      return failure();
    if (e.name == "!") {
      if (x->kind != ValueKind::Bool)
        return fail<Constant>(e.loc, "'!' needs a bool operand");
      return Constant{ValueKind::Bool, x->value != 0 ? 0.0 : 1.0};
    }
    if (x->kind == ValueKind::Bool)
      return fail<Constant>(e.loc, "'-' needs a number, got bool");
    return Constant{x->kind, -x->value};
  }
  case K::Binary: {
    FailureOr<Constant> a = evalConst(*e.operands[0]), b = evalConst(*e.operands[1]);
    if (failed(a) || failed(b))
      return failure();
    StringRef op = e.name;
    if (op == "&&" || op == "||") {
      if (a->kind != ValueKind::Bool || b->kind != ValueKind::Bool)
        return fail<Constant>(e.loc, "'" + op + "' needs bool operands");
      bool v = op == "&&" ? (a->value != 0 && b->value != 0) : (a->value != 0 || b->value != 0);
      return Constant{ValueKind::Bool, v ? 1.0 : 0.0};
    }
    if (a->kind == ValueKind::Bool || b->kind == ValueKind::Bool)
      return fail<Constant>(e.loc, "'" + op + "' needs numbers");
    ValueKind kind =
        a->kind == ValueKind::Int && b->kind == ValueKind::Int ? ValueKind::Int : ValueKind::Float;
    double x = a->value, y = b->value;
    auto boolean = [](bool v) { return Constant{ValueKind::Bool, v ? 1.0 : 0.0}; };
    if (op == "<")
      return boolean(x < y);
    if (op == "<=")
      return boolean(x <= y);
    if (op == ">")
      return boolean(x > y);
    if (op == ">=")
      return boolean(x >= y);
    if (op == "==")
      return boolean(x == y);
    if (op == "!=")
      return boolean(x != y);
    if (op == "+")
      return Constant{kind, x + y};
    if (op == "-")
      return Constant{kind, x - y};
    if (op == "*")
      return Constant{kind, x * y};
    if ((op == "/" || op == "%") && kind == ValueKind::Int && y == 0)
      return fail<Constant>(e.loc, "division by zero");
    if (op == "/")
      return Constant{kind, kind == ValueKind::Int ? std::trunc(x / y) : x / y};
    if (kind != ValueKind::Int)
      return fail<Constant>(e.loc, "'%' needs int operands");
    return Constant{kind, std::fmod(x, y)};
  }
  case K::Call: {
    SmallVector<Constant> args;
    for (const ast::ExprPtr &arg : e.operands) {
      FailureOr<Constant> v = evalConst(*arg);
      if (failed(v))
        return failure();
      if (v->kind == ValueKind::Bool)
        return fail<Constant>(arg->loc, "'" + e.name + "' needs numbers");
      args.push_back(*v);
    }
    StringRef fn = e.name;
    auto want = [&](size_t n) { return checkArity(e.loc, fn, args.size(), n); };
    if (fn == "min" || fn == "max") {
      if (failed(want(2)))
        return failure();
      ValueKind kind = args[0].kind == ValueKind::Int && args[1].kind == ValueKind::Int
                           ? ValueKind::Int
                           : ValueKind::Float;
      return Constant{kind, fn == "min" ? std::min(args[0].value, args[1].value)
                                        : std::max(args[0].value, args[1].value)};
    }
    if (fn == "pow") {
      if (failed(want(2)))
        return failure();
      return Constant{ValueKind::Float, std::pow(args[0].value, args[1].value)};
    }
    using Fn = double (*)(double);
    Fn f = llvm::StringSwitch<Fn>(fn)
               .Case("exp", [](double x) { return std::exp(x); })
               .Case("exp2", [](double x) { return std::exp2(x); })
               .Case("log", [](double x) { return std::log(x); })
               .Case("log2", [](double x) { return std::log2(x); })
               .Case("sqrt", [](double x) { return std::sqrt(x); })
               .Case("tanh", [](double x) { return std::tanh(x); })
               .Default(nullptr);
    if (fn == "abs") {
      if (failed(want(1)))
        return failure();
      return Constant{args[0].kind, std::fabs(args[0].value)};
    }
    if (!f)
      return fail<Constant>(e.loc, "'" + fn + "' cannot be evaluated at compile time");
    if (failed(want(1)))
      return failure();
    return Constant{ValueKind::Float, f(args[0].value)};
  }
  case K::Index:
    return fail<Constant>(e.loc, "an input element is not a compile-time value");
  }
  return failure();
}

/// Fills the region of a mask / score_mod / weight op from `expr`, yielding a `want` value.
LogicalResult MLIRGenImpl::genRegion(Operation *op, const ast::Expr &expr, bool hasScore,
                                     ValueKind want, StringRef what) {
  SmallVector<StringRef> names;
  if (hasScore)
    names.push_back("s");
  names.append(std::begin(kRegionNames), std::end(kRegionNames));
  return genRegion(op, expr, names, ValueKind::Int, want, what, hasScore);
}

/// Fills the region of `op` from `expr`: its block arguments are `names` (of kind `argKind`,
/// but a leading "s" or "x" is the float score / element, and those from `floatArgsFrom` on
/// are floats).
LogicalResult MLIRGenImpl::genRegion(Operation *op, const ast::Expr &expr,
                                     ArrayRef<StringRef> names, ValueKind argKind, ValueKind want,
                                     StringRef what, bool hasScore, size_t floatArgsFrom) {
  OpBuilder::InsertionGuard guard(builder);
  Block *block = attn::createRegionBlock(builder, op->getRegion(0), attn::getRegionSignature(op),
                                         op->getLoc());
  args.clear();
  argNames.clear();
  letValues.clear();
  for (auto [i, name] : llvm::enumerate(names)) {
    bool isFloat = (i == 0 && (name == "s" || name == "x")) || i >= floatArgsFrom;
    args[name] = {block->getArgument(i), isFloat ? ValueKind::Float : argKind};
    if (name != "s")
      argNames.push_back(name);
  }
  scoreAllowed = hasScore;
  regionWhat = what;
  FailureOr<TypedValue> result = genExpr(expr);
  if (failed(result))
    return failure();
  if (want == ValueKind::Float && result->kind == ValueKind::Int)
    result = toFloat(*result, expr.loc);
  if (result->kind != want)
    return error(expr.loc, what + " must be a " + kindName(want) + " expression, this is " +
                               kindName(result->kind)),
           failure();
  attn::YieldOp::create(builder, loc(expr.loc), ValueRange{result->value});
  return success();
}

TypedValue MLIRGenImpl::toFloat(TypedValue v, SMLoc at) {
  if (v.kind != ValueKind::Int)
    return v;
  Value i64 = arith::IndexCastOp::create(builder, loc(at), builder.getI64Type(), v.value);
  Value f = arith::SIToFPOp::create(builder, loc(at), builder.getF32Type(), i64);
  return {f, ValueKind::Float};
}

TypedValue MLIRGenImpl::materialize(Constant c, SMLoc at) {
  Location l = loc(at);
  switch (c.kind) {
  case ValueKind::Int:
    return {arith::ConstantIndexOp::create(builder, l, static_cast<int64_t>(c.value)),
            ValueKind::Int};
  case ValueKind::Bool:
    return {arith::ConstantIntOp::create(builder, l, c.value != 0 ? 1 : 0, 1), ValueKind::Bool};
  case ValueKind::Float:
    return {arith::ConstantFloatOp::create(builder, l, builder.getF32Type(),
                                           llvm::APFloat(static_cast<float>(c.value))),
            ValueKind::Float};
  case ValueKind::Elem: // an input's type only: no constant has it
    break;
  }
  return {};
}

std::string MLIRGenImpl::knownNames() const {
  std::string known = llvm::join(argNames, " ");
  if (scoreAllowed)
    known += " s";
  for (const auto &entry : scope)
    if (entry.getValue().kind != Symbol::Kind::Input)
      known += " " + entry.getKey().str();
  return known;
}

FailureOr<TypedValue> MLIRGenImpl::genName(const ast::Expr &e) {
  if (e.name == "s" && !scoreAllowed)
    return fail(e.loc, regionWhat + " cannot read the score 's'");
  if (auto it = args.find(e.name); it != args.end())
    return it->second;
  if (e.name == "true" || e.name == "false")
    return materialize(Constant{ValueKind::Bool, e.name == "true" ? 1.0 : 0.0}, e.loc);
  auto it = scope.find(e.name);
  if (it == scope.end()) {
    if (llvm::is_contained(attn::kProblemSizes, StringRef(e.name)))
      return fail(e.loc, "'" + e.name +
                             "' names an input dimension and has no value in expressions "
                             "(positions: b h q k, lengths: Sq Skv)");
    return fail(e.loc, "unknown name '" + e.name + "' (known: " + knownNames() + ")");
  }
  const Symbol &symbol = it->second;
  switch (symbol.kind) {
  case Symbol::Kind::Param:
    usedParams.insert(e.name);
    return materialize(symbol.constant, e.loc);
  case Symbol::Kind::Scalar:
    return TypedValue{attn::GetScalarOp::create(builder, loc(e.loc), builder.getF32Type(), e.name),
                      ValueKind::Float};
  case Symbol::Kind::Input:
    return fail(e.loc, "'" + e.name + "' is an input tensor; read an element with " + e.name +
                           "[...] (" + Twine(symbol.input->shape.size()) +
                           (symbol.input->shape.size() == 1 ? " index)" : " indices)"));
  case Symbol::Kind::Let:
    return genLet(*symbol.let, e);
  }
  return failure();
}

FailureOr<TypedValue> MLIRGenImpl::genLet(const ast::Let &let, const ast::Expr &use) {
  if (auto it = letValues.find(&let); it != letValues.end())
    return it->second;
  if (llvm::is_contained(activeLets, &let))
    return fail(use.loc, "'" + let.name + "' refers to itself");
  if (activeLets.size() >= kMaxLetNesting)
    return fail(use.loc, "named expressions nest deeper than " + Twine(kMaxLetNesting) + " levels");
  activeLets.push_back(&let);
  expansion.emplace_back(let.name, use.loc);
  FailureOr<TypedValue> value = genExpr(*let.value);
  if (succeeded(value) && let.isMask && value->kind != ValueKind::Bool) {
    error(let.value->loc,
          "mask '" + let.name + "' must be a bool expression, this is " + kindName(value->kind));
    value = failure();
  }
  expansion.pop_back();
  activeLets.pop_back();
  if (succeeded(value))
    letValues[&let] = *value;
  return value;
}

FailureOr<TypedValue> MLIRGenImpl::genIndex(const ast::Expr &e) {
  auto it = scope.find(e.name);
  if (it == scope.end() || it->second.kind != Symbol::Kind::Input) {
    if (it == scope.end() && !args.count(e.name))
      return fail(e.loc, "unknown input '" + e.name + "'");
    return fail(e.loc, "'" + e.name + "' is not an input tensor and cannot be indexed");
  }
  const ast::Input &input = *it->second.input;
  if (input.type == ValueKind::Elem)
    return fail(e.loc, "input '" + e.name +
                           "' holds the kernel's elements (elem): a branch takes "
                           "it as its own q or k, expressions cannot read it");
  if (e.operands.size() != input.shape.size())
    return fail(e.loc, "input '" + e.name + "' has " + Twine(input.shape.size()) + " dimension" +
                           (input.shape.size() == 1 ? "" : "s") + ", indexed with " +
                           Twine(e.operands.size()));
  SmallVector<Value> indices;
  for (const ast::ExprPtr &index : e.operands) {
    FailureOr<TypedValue> v = genExpr(*index);
    if (failed(v))
      return failure();
    if (v->kind != ValueKind::Int)
      return fail(index->loc, Twine("an index must be an int, this is ") + kindName(v->kind) +
                                  (v->kind == ValueKind::Float ? " (convert with int(...))" : ""));
    indices.push_back(v->value);
  }
  Type elem = input.type == ValueKind::Int ? Type(builder.getI32Type()) : builder.getF32Type();
  Value element = attn::LoadOp::create(builder, loc(e.loc), elem, e.name, indices);
  if (input.type == ValueKind::Float)
    return TypedValue{element, ValueKind::Float};
  return TypedValue{
      arith::IndexCastOp::create(builder, loc(e.loc), builder.getIndexType(), element),
      ValueKind::Int};
}

FailureOr<TypedValue> MLIRGenImpl::genExpr(const ast::Expr &e) {
  switch (e.kind) {
  case ast::Expr::Kind::Number:
    if (e.isInteger)
      return materialize(Constant{ValueKind::Int, e.number}, e.loc);
    return materialize(Constant{ValueKind::Float, e.number}, e.loc);
  case ast::Expr::Kind::Name:
    return genName(e);
  case ast::Expr::Kind::Index:
    return genIndex(e);
  case ast::Expr::Kind::Unary:
    return genUnary(e);
  case ast::Expr::Kind::Binary:
    return genBinary(e);
  case ast::Expr::Kind::Call:
    return genCall(e);
  }
  return failure();
}

FailureOr<TypedValue> MLIRGenImpl::genUnary(const ast::Expr &e) {
  FailureOr<TypedValue> x = genExpr(*e.operands[0]);
  if (failed(x))
    return failure();
  Location l = loc(e.loc);
  if (e.name == "!") {
    if (x->kind != ValueKind::Bool)
      return fail(e.loc, Twine("'!' needs a bool operand, got ") + kindName(x->kind));
    Value one = arith::ConstantIntOp::create(builder, l, 1, 1);
    return TypedValue{arith::XOrIOp::create(builder, l, x->value, one), ValueKind::Bool};
  }
  if (x->kind == ValueKind::Bool)
    return fail(e.loc, "'-' needs a number, got bool");
  if (x->kind == ValueKind::Float)
    return TypedValue{arith::NegFOp::create(builder, l, x->value), ValueKind::Float};
  Value zero = arith::ConstantIndexOp::create(builder, l, 0);
  return TypedValue{arith::SubIOp::create(builder, l, zero, x->value), ValueKind::Int};
}

/// Brings two numeric operands to one kind (int + float -> float).
LogicalResult MLIRGenImpl::unify(TypedValue &a, TypedValue &b, const ast::Expr &e) {
  if (a.kind == ValueKind::Bool || b.kind == ValueKind::Bool) {
    error(e.loc,
          "'" + e.name + "' needs numbers, got " + kindName(a.kind) + " and " + kindName(b.kind));
    return failure();
  }
  if (a.kind != b.kind) {
    a = toFloat(a, e.loc);
    b = toFloat(b, e.loc);
  }
  return success();
}

/// Whether `v` is an integer constant equal to zero.
bool MLIRGenImpl::isZeroConstant(Value v) {
  auto c = v.getDefiningOp<arith::ConstantOp>();
  auto i = c ? dyn_cast<IntegerAttr>(c.getValue()) : IntegerAttr();
  return i && i.getValue().isZero();
}

FailureOr<TypedValue> MLIRGenImpl::genBinary(const ast::Expr &e) {
  FailureOr<TypedValue> lhs = genExpr(*e.operands[0]);
  if (failed(lhs))
    return failure();
  FailureOr<TypedValue> rhs = genExpr(*e.operands[1]);
  if (failed(rhs))
    return failure();
  Location l = loc(e.loc);
  StringRef op = e.name;
  if (op == "&&" || op == "||") {
    if (lhs->kind != ValueKind::Bool || rhs->kind != ValueKind::Bool)
      return fail(e.loc, "'" + op + "' needs bool operands, got " + kindName(lhs->kind) + " and " +
                             kindName(rhs->kind));
    Value v = op == "&&" ? Value(arith::AndIOp::create(builder, l, lhs->value, rhs->value))
                         : Value(arith::OrIOp::create(builder, l, lhs->value, rhs->value));
    return TypedValue{v, ValueKind::Bool};
  }
  if ((op == "==" || op == "!=") && lhs->kind == ValueKind::Bool && rhs->kind == ValueKind::Bool) {
    auto pred = op == "==" ? arith::CmpIPredicate::eq : arith::CmpIPredicate::ne;
    return TypedValue{arith::CmpIOp::create(builder, l, pred, lhs->value, rhs->value),
                      ValueKind::Bool};
  }
  if (failed(unify(*lhs, *rhs, e)))
    return failure();
  bool isFloat = lhs->kind == ValueKind::Float;
  Value a = lhs->value, b = rhs->value;
  if (std::optional<std::pair<arith::CmpIPredicate, arith::CmpFPredicate>> pred = comparison(op)) {
    Value v = isFloat ? arith::CmpFOp::create(builder, l, pred->second, a, b).getResult()
                      : arith::CmpIOp::create(builder, l, pred->first, a, b).getResult();
    return TypedValue{v, ValueKind::Bool};
  }
  if ((op == "/" || op == "%") && !isFloat && isZeroConstant(b))
    return fail(e.loc, "division by zero");
  Value v;
  if (op == "+")
    v = isFloat ? Value(arith::AddFOp::create(builder, l, a, b))
                : Value(arith::AddIOp::create(builder, l, a, b));
  else if (op == "-")
    v = isFloat ? Value(arith::SubFOp::create(builder, l, a, b))
                : Value(arith::SubIOp::create(builder, l, a, b));
  else if (op == "*")
    v = isFloat ? Value(arith::MulFOp::create(builder, l, a, b))
                : Value(arith::MulIOp::create(builder, l, a, b));
  else if (op == "/")
    v = isFloat ? Value(arith::DivFOp::create(builder, l, a, b))
                : Value(arith::DivSIOp::create(builder, l, a, b));
  else if (op == "%") {
    if (isFloat)
      return fail(e.loc, "'%' needs int operands");
    v = arith::RemSIOp::create(builder, l, a, b);
  }
  return TypedValue{v, lhs->kind};
}

std::optional<std::pair<arith::CmpIPredicate, arith::CmpFPredicate>>
MLIRGenImpl::comparison(StringRef op) {
  using I = arith::CmpIPredicate;
  using F = arith::CmpFPredicate;
  if (op == "<")
    return std::make_pair(I::slt, F::OLT);
  if (op == "<=")
    return std::make_pair(I::sle, F::OLE);
  if (op == ">")
    return std::make_pair(I::sgt, F::OGT);
  if (op == ">=")
    return std::make_pair(I::sge, F::OGE);
  if (op == "==")
    return std::make_pair(I::eq, F::OEQ);
  if (op == "!=")
    return std::make_pair(I::ne, F::ONE);
  return std::nullopt;
}

FailureOr<TypedValue> MLIRGenImpl::genMinMax(bool isMin, TypedValue a, TypedValue b, Location l) {
  if (a.kind == ValueKind::Int)
    return TypedValue{isMin ? Value(arith::MinSIOp::create(builder, l, a.value, b.value))
                            : Value(arith::MaxSIOp::create(builder, l, a.value, b.value)),
                      ValueKind::Int};
  return TypedValue{isMin ? Value(arith::MinimumFOp::create(builder, l, a.value, b.value))
                          : Value(arith::MaximumFOp::create(builder, l, a.value, b.value)),
                    ValueKind::Float};
}

FailureOr<TypedValue> MLIRGenImpl::genCall(const ast::Expr &e) {
  SmallVector<TypedValue> args;
  for (const ast::ExprPtr &arg : e.operands) {
    FailureOr<TypedValue> v = genExpr(*arg);
    if (failed(v))
      return failure();
    args.push_back(*v);
  }
  Location l = loc(e.loc);
  StringRef fn = e.name;
  auto arity = [&](size_t n) { return checkArity(e.loc, fn, args.size(), n); };
  auto number = [&](size_t i) -> LogicalResult {
    if (args[i].kind != ValueKind::Bool)
      return success();
    error(e.operands[i]->loc, "'" + fn + "' needs a number, got bool");
    return failure();
  };
  if (fn == "min" || fn == "max") {
    if (failed(arity(2)) || failed(unify(args[0], args[1], e)))
      return failure();
    return genMinMax(fn == "min", args[0], args[1], l);
  }
  if (fn == "clamp") {
    if (failed(arity(3)) || failed(unify(args[0], args[1], e)) ||
        failed(unify(args[0], args[2], e)) || failed(unify(args[1], args[2], e)))
      return failure();
    FailureOr<TypedValue> low = genMinMax(false, args[0], args[1], l);
    return genMinMax(true, *low, args[2], l);
  }
  if (fn == "select") {
    if (failed(arity(3)))
      return failure();
    if (args[0].kind != ValueKind::Bool)
      return fail(e.operands[0]->loc, "the condition of 'select' must be bool");
    if (args[1].kind != args[2].kind && failed(unify(args[1], args[2], e)))
      return failure();
    return TypedValue{
        arith::SelectOp::create(builder, l, args[0].value, args[1].value, args[2].value),
        args[1].kind};
  }
  if (fn == "abs") {
    if (failed(arity(1)) || failed(number(0)))
      return failure();
    if (args[0].kind == ValueKind::Int)
      return TypedValue{math::AbsIOp::create(builder, l, args[0].value), ValueKind::Int};
    return TypedValue{math::AbsFOp::create(builder, l, args[0].value), ValueKind::Float};
  }
  if (fn == "int") {
    if (failed(arity(1)) || failed(number(0)))
      return failure();
    if (args[0].kind == ValueKind::Int)
      return args[0];
    Value i32 = arith::FPToSIOp::create(builder, l, builder.getI32Type(), args[0].value);
    return TypedValue{arith::IndexCastOp::create(builder, l, builder.getIndexType(), i32),
                      ValueKind::Int};
  }
  if (fn == "float") {
    if (failed(arity(1)) || failed(number(0)))
      return failure();
    return toFloat(args[0], e.loc);
  }
  if (fn == "pow") {
    if (failed(arity(2)) || failed(number(0)) || failed(number(1)))
      return failure();
    Value x = toFloat(args[0], e.loc).value, y = toFloat(args[1], e.loc).value;
    return TypedValue{math::PowFOp::create(builder, l, x, y), ValueKind::Float};
  }
  static const char *unaryFloat[] = {"tanh", "exp", "exp2", "log", "log2", "floor", "ceil", "sqrt"};
  if (llvm::is_contained(unaryFloat, fn)) {
    if (failed(arity(1)) || failed(number(0)))
      return failure();
    Value x = toFloat(args[0], e.loc).value;
    Value v;
    if (fn == "tanh")
      v = math::TanhOp::create(builder, l, x);
    else if (fn == "exp")
      v = math::ExpOp::create(builder, l, x);
    else if (fn == "exp2")
      v = math::Exp2Op::create(builder, l, x);
    else if (fn == "log")
      v = math::LogOp::create(builder, l, x);
    else if (fn == "log2")
      v = math::Log2Op::create(builder, l, x);
    else if (fn == "floor")
      v = math::FloorOp::create(builder, l, x);
    else if (fn == "ceil")
      v = math::CeilOp::create(builder, l, x);
    else
      v = math::SqrtOp::create(builder, l, x);
    return TypedValue{v, ValueKind::Float};
  }
  if (scope.count(fn) && scope.find(fn)->second.kind == Symbol::Kind::Input)
    return fail(e.loc, "'" + fn + "' is an input tensor; index it with " + fn + "[...], not " + fn +
                           "(...)");
  return fail(e.loc, "unknown function '" + fn + "' (known: " + kFunctions + ")");
}

} // namespace attnc::mlirgen
