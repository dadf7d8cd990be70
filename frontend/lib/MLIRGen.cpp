//===- MLIRGen.cpp - .attn syntax tree to the attn dialect --------------------===//
//
// Types in expressions: int (positions and sizes, `index` in the IR), float (f32) and bool
// (i1). An int meeting a float is converted to float; `/` and `%` on ints truncate like C.
// Names: b h q k (batch, head, query and key position), Sq Skv (the sequence's lengths), and
// in `score` also s (the scaled dot product). A mask may not read s.
//
//===----------------------------------------------------------------------===//
#include "attn/Frontend/MLIRGen.h"
#include "attn/Dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"

using namespace attnc;
using namespace mlir;
using llvm::SMLoc;

namespace {

enum class ValueKind { Int, Float, Bool };

struct TypedValue {
  Value value;
  ValueKind kind;
};

static const char *kindName(ValueKind kind) {
  switch (kind) {
  case ValueKind::Int:
    return "int";
  case ValueKind::Float:
    return "float";
  case ValueKind::Bool:
    return "bool";
  }
  return "?";
}

class MLIRGenImpl {
public:
  MLIRGenImpl(MLIRContext &context, llvm::SourceMgr &sourceMgr)
      : builder(&context), sourceMgr(sourceMgr) {}

  OwningOpRef<ModuleOp> gen(const ast::File &file) {
    OwningOpRef<ModuleOp> module = ModuleOp::create(builder.getUnknownLoc());
    llvm::StringMap<SMLoc> seen;
    for (const ast::Pattern &pattern : file.patterns) {
      auto [it, inserted] = seen.try_emplace(pattern.name, pattern.loc);
      if (!inserted)
        return error(pattern.loc, "pattern '" + pattern.name + "' is defined twice");
      builder.setInsertionPointToEnd(module->getBody());
      if (failed(genPattern(pattern)))
        return nullptr;
    }
    return module;
  }

private:
  Location loc(SMLoc smLoc) {
    unsigned bufferId = sourceMgr.getMainFileID();
    auto [line, col] = sourceMgr.getLineAndColumn(smLoc, bufferId);
    StringRef name = sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier();
    return FileLineColLoc::get(builder.getContext(), name, line, col);
  }

  std::nullptr_t error(SMLoc smLoc, const llvm::Twine &message) {
    sourceMgr.PrintMessage(smLoc, llvm::SourceMgr::DK_Error, message);
    return nullptr;
  }

  LogicalResult genPattern(const ast::Pattern &ast) {
    auto pattern = attn::PatternOp::create(builder, loc(ast.loc), ast.name);
    Block *body = builder.createBlock(&pattern.getBody());
    builder.setInsertionPointToEnd(body);

    if (ast.mask) {
      auto mask = attn::MaskOp::create(builder, loc(ast.mask->loc));
      if (failed(genRegion(mask, *ast.mask, /*hasScore=*/false, ValueKind::Bool, "a mask")))
        return failure();
    }
    if (ast.score) {
      auto score = attn::ScoreModOp::create(builder, loc(ast.score->loc));
      if (failed(genRegion(score, *ast.score, /*hasScore=*/true, ValueKind::Float, "a score")))
        return failure();
    }
    attn::NormalizerKind kind = attn::NormalizerKind::Softmax;
    if (ast.normalizer == ast::Normalizer::Sigmoid)
      kind = attn::NormalizerKind::Sigmoid;
    else if (ast.normalizer == ast::Normalizer::None)
      kind = attn::NormalizerKind::None;
    if (ast.scale && kind == attn::NormalizerKind::None) {
      error(ast.normalizerLoc, "'scale' needs a softmax or sigmoid normaliser");
      return failure();
    }
    FloatAttr scale = ast.scale ? builder.getF64FloatAttr(*ast.scale) : FloatAttr();
    attn::NormalizeOp::create(builder,
                              ast.normalizerLoc.isValid() ? loc(ast.normalizerLoc) : loc(ast.loc),
                              attn::NormalizerKindAttr::get(builder.getContext(), kind), scale);
    builder.setInsertionPointAfter(pattern);
    return success();
  }

  /// Fills the region of a mask or score_mod op from `expr`, yielding a value of `want`.
  LogicalResult genRegion(Operation *op, const ast::Expr &expr, bool hasScore, ValueKind want,
                          StringRef what) {
    OpBuilder::InsertionGuard guard(builder);
    Block *block = attn::createRegionBlock(builder, op->getRegion(0), attn::getRegionSignature(op),
                                           op->getLoc());
    names.clear();
    unsigned first = 0;
    if (hasScore)
      names["s"] = {block->getArgument(first++), ValueKind::Float};
    for (StringRef name : {"b", "h", "q", "k", "Sq", "Skv"})
      names[name] = {block->getArgument(first++), ValueKind::Int};
    scoreAllowed = hasScore;
    FailureOr<TypedValue> result = genExpr(expr);
    if (failed(result))
      return failure();
    if (want == ValueKind::Float && result->kind == ValueKind::Int)
      result = toFloat(*result, expr.loc);
    if (result->kind != want) {
      error(expr.loc, what + " must be a " + kindName(want) + " expression, this is " +
                          kindName(result->kind));
      return failure();
    }
    attn::YieldOp::create(builder, loc(expr.loc), ValueRange{result->value});
    return success();
  }

  TypedValue toFloat(TypedValue v, SMLoc at) {
    if (v.kind != ValueKind::Int)
      return v;
    Value i64 = arith::IndexCastOp::create(builder, loc(at), builder.getI64Type(), v.value);
    Value f = arith::SIToFPOp::create(builder, loc(at), builder.getF32Type(), i64);
    return {f, ValueKind::Float};
  }

  FailureOr<TypedValue> fail(SMLoc at, const llvm::Twine &message) {
    error(at, message);
    return failure();
  }

  FailureOr<TypedValue> genExpr(const ast::Expr &e) {
    switch (e.kind) {
    case ast::Expr::Kind::Number:
      if (e.isInteger)
        return TypedValue{
            arith::ConstantIndexOp::create(builder, loc(e.loc), static_cast<int64_t>(e.number)),
            ValueKind::Int};
      return TypedValue{arith::ConstantFloatOp::create(builder, loc(e.loc), builder.getF32Type(),
                                                       llvm::APFloat(static_cast<float>(e.number))),
                        ValueKind::Float};
    case ast::Expr::Kind::Name: {
      if (e.name == "s" && !scoreAllowed)
        return fail(e.loc, "a mask cannot read the score 's'");
      auto it = names.find(e.name);
      if (it == names.end())
        return fail(e.loc, "unknown name '" + e.name + "' (known: b h q k Sq Skv" +
                               (scoreAllowed ? " s" : "") + ")");
      return it->second;
    }
    case ast::Expr::Kind::Unary:
      return genUnary(e);
    case ast::Expr::Kind::Binary:
      return genBinary(e);
    case ast::Expr::Kind::Call:
      return genCall(e);
    }
    return failure();
  }

  FailureOr<TypedValue> genUnary(const ast::Expr &e) {
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
  LogicalResult unify(TypedValue &a, TypedValue &b, const ast::Expr &e) {
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

  FailureOr<TypedValue> genBinary(const ast::Expr &e) {
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
        return fail(e.loc, "'" + op + "' needs bool operands, got " + kindName(lhs->kind) +
                               " and " + kindName(rhs->kind));
      Value v = op == "&&" ? Value(arith::AndIOp::create(builder, l, lhs->value, rhs->value))
                           : Value(arith::OrIOp::create(builder, l, lhs->value, rhs->value));
      return TypedValue{v, ValueKind::Bool};
    }
    if (failed(unify(*lhs, *rhs, e)))
      return failure();
    bool isFloat = lhs->kind == ValueKind::Float;
    Value a = lhs->value, b = rhs->value;
    if (std::optional<std::pair<arith::CmpIPredicate, arith::CmpFPredicate>> pred =
            comparison(op)) {
      Value v = isFloat ? arith::CmpFOp::create(builder, l, pred->second, a, b).getResult()
                        : arith::CmpIOp::create(builder, l, pred->first, a, b).getResult();
      return TypedValue{v, ValueKind::Bool};
    }
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

  static std::optional<std::pair<arith::CmpIPredicate, arith::CmpFPredicate>>
  comparison(StringRef op) {
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

  FailureOr<TypedValue> genCall(const ast::Expr &e) {
    SmallVector<TypedValue> args;
    for (const ast::ExprPtr &arg : e.operands) {
      FailureOr<TypedValue> v = genExpr(*arg);
      if (failed(v))
        return failure();
      args.push_back(*v);
    }
    Location l = loc(e.loc);
    StringRef fn = e.name;
    auto arity = [&](size_t n) -> LogicalResult {
      if (args.size() == n)
        return success();
      error(e.loc, "'" + fn + "' takes " + Twine(n) + " argument" + (n == 1 ? "" : "s") + ", got " +
                       Twine(args.size()));
      return failure();
    };
    if (fn == "min" || fn == "max") {
      if (failed(arity(2)) || failed(unify(args[0], args[1], e)))
        return failure();
      Value a = args[0].value, b = args[1].value;
      Value v;
      if (args[0].kind == ValueKind::Int)
        v = fn == "min" ? Value(arith::MinSIOp::create(builder, l, a, b))
                        : Value(arith::MaxSIOp::create(builder, l, a, b));
      else
        v = fn == "min" ? Value(arith::MinimumFOp::create(builder, l, a, b))
                        : Value(arith::MaximumFOp::create(builder, l, a, b));
      return TypedValue{v, args[0].kind};
    }
    if (fn == "abs") {
      if (failed(arity(1)))
        return failure();
      if (args[0].kind == ValueKind::Bool)
        return fail(e.loc, "'abs' needs a number");
      if (args[0].kind == ValueKind::Int)
        return TypedValue{math::AbsIOp::create(builder, l, args[0].value), ValueKind::Int};
      return TypedValue{math::AbsFOp::create(builder, l, args[0].value), ValueKind::Float};
    }
    static const char *unaryFloat[] = {"tanh", "exp", "exp2", "log", "floor", "sqrt"};
    if (llvm::is_contained(unaryFloat, fn)) {
      if (failed(arity(1)))
        return failure();
      if (args[0].kind == ValueKind::Bool)
        return fail(e.loc, "'" + fn + "' needs a number");
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
      else if (fn == "floor")
        v = math::FloorOp::create(builder, l, x);
      else
        v = math::SqrtOp::create(builder, l, x);
      return TypedValue{v, ValueKind::Float};
    }
    return fail(e.loc,
                "unknown function '" + fn + "' (known: min max abs tanh exp exp2 log floor sqrt)");
  }

  OpBuilder builder;
  llvm::SourceMgr &sourceMgr;
  llvm::StringMap<TypedValue> names;
  bool scoreAllowed = false;
};

} // namespace

OwningOpRef<ModuleOp> attnc::mlirGen(MLIRContext &context, llvm::SourceMgr &sourceMgr,
                                     const ast::File &file) {
  return MLIRGenImpl(context, sourceMgr).gen(file);
}
