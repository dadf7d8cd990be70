//===- MLIRGenImpl.h - The .attn syntax tree to IR, shared by its parts -*- C++ -*-===//
//
// MLIRGenImpl, private to frontend/lib: MLIRGen.cpp lowers files, patterns, composites and
// declarations; MLIRGenExpr.cpp lowers expressions into regions (see MLIRGen.cpp's header for
// the types and names of the language).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_FRONTEND_MLIRGENIMPL_H
#define ATTNC_FRONTEND_MLIRGENIMPL_H

#include "attn/Dialect/AttnOps.h"
#include "attn/Frontend/MLIRGen.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"

#include <optional>
#include <string>

namespace attnc::mlirgen {

using namespace mlir;
using llvm::SMLoc;

using ValueKind = ast::Type;

struct TypedValue {
  Value value;
  ValueKind kind;
};

/// A compile-time value: ints and bools are held exactly in the double.
struct Constant {
  ValueKind kind;
  double value;
};

inline const char *kindName(ValueKind kind) {
  switch (kind) {
  case ValueKind::Int:
    return "int";
  case ValueKind::Float:
    return "float";
  case ValueKind::Bool:
    return "bool";
  case ValueKind::Elem:
    return "elem";
  }
  return "?";
}

inline const char *const kRegionNames[] = {"b", "h", "q", "k", "Sq", "Skv"};
inline const char *const kFunctions =
    "min max clamp abs select int float tanh exp exp2 log log2 floor ceil sqrt pow";

/// What a name in a pattern refers to.
struct Symbol {
  enum class Kind { Param, Let, Scalar, Input } kind;
  SMLoc loc;
  const ast::Let *let = nullptr;
  const ast::Input *input = nullptr;
  unsigned slot = 0; // scalar / input declaration order
  Constant constant{ValueKind::Int, 0};
};

class MLIRGenImpl {
public:
  MLIRGenImpl(MLIRContext &context, llvm::SourceMgr &sourceMgr, const ParamOverrides &overrides)
      : builder(&context), sourceMgr(sourceMgr), overrides(overrides) {}

  OwningOpRef<ModuleOp> gen(const ast::File &file);

private:
  //===--------------------------------------------------------------------===//
  // Diagnostics
  //===--------------------------------------------------------------------===//

  Location loc(SMLoc smLoc);

  /// Prints an error, then one note per named expression being expanded (innermost first).
  void error(SMLoc smLoc, const llvm::Twine &message);
  void note(SMLoc smLoc, const llvm::Twine &message);
  /// Fails with "'fn' takes n argument(s), got got" at `at` unless got == n.
  LogicalResult checkArity(SMLoc at, StringRef fn, size_t got, size_t n);
  template <typename T = TypedValue> FailureOr<T> fail(SMLoc at, const llvm::Twine &message) {
    error(at, message);
    return failure();
  }

  //===--------------------------------------------------------------------===//
  // Patterns and their declarations
  //===--------------------------------------------------------------------===//

  /// Enters `name` into the pattern's scope; fails on a clash.
  LogicalResult declare(StringRef name, SMLoc at, Symbol symbol);

  LogicalResult declareParams(ArrayRef<ast::Param> params);

  /// A number as the user would write it (no trailing zeros).
  static std::string number(double v);

  /// The value of a parameter: its override or default, converted to its type and range-checked.
  FailureOr<Constant> evalParam(const ast::Param &param);

  LogicalResult declareLets(ArrayRef<ast::Let> lets);

  static std::string branchPatternName(const ast::Pattern &composite, const ast::Pattern &branch);

  /// Opens the scope of a pattern: the file's params and lets, then those of `outer` (the
  /// composite of a branch), then the pattern's own.
  LogicalResult openScope(const ast::File &file, const ast::Pattern *outer,
                          const ast::Pattern &ast);

  /// A pattern, or with `outer` branch `ast` of that composite: a pattern named
  /// COMPOSITE_BRANCH with the composite's inputs, scalars and shape.
  LogicalResult genPattern(const ast::File &file, const ast::Pattern &ast,
                           const ast::Pattern *outer = nullptr);

  /// A composite: its branches as patterns, then `attn.composite` with the combine.
  LogicalResult genComposite(const ast::File &file, const ast::Pattern &ast);

  /// The `attn.scalar` and `attn.input` declarations of `ast`, entered into the scope.
  LogicalResult genDeclarations(const ast::Pattern &ast);

  /// Records the values of the pattern's own parameters and of the file-level ones it used.
  void setParamsAttribute(attn::PatternOp pattern, const ast::Pattern &ast);

  LogicalResult setShapeAttributes(attn::PatternOp pattern, const ast::Pattern &ast);
  /// A branch's own q and k (`branch NAME(q = X, k = Y)`): checks them against `composite`'s
  /// inputs (elem, [B, Sq, H, N] and [B, Skv, Hkv, N]) and returns N, the branch's head dim.
  FailureOr<int64_t> ownHeadDim(const ast::Pattern &branch, const ast::Pattern &composite);

  LogicalResult genInput(const ast::Input &input);

  /// `attn.linear`, `attn.feature` and `attn.decay` of a linear pattern, after checking that
  /// the pattern has none of the softmax family's parts; `decls` holds its inputs (a branch's
  /// are its composite's).
  LogicalResult genLinear(const ast::Pattern &ast, const ast::Pattern &decls);

  LogicalResult genNormalize(const ast::Pattern &ast);

  //===--------------------------------------------------------------------===//
  // Compile-time constants
  //===--------------------------------------------------------------------===//

  FailureOr<Constant> evalConst(const ast::Expr &e, StringRef hint = "");

  //===--------------------------------------------------------------------===//
  // Regions
  //===--------------------------------------------------------------------===//

  /// Fills the region of a mask / score_mod / weight op from `expr`, yielding a `want` value.
  LogicalResult genRegion(Operation *op, const ast::Expr &expr, bool hasScore, ValueKind want,
                          StringRef what);

  /// Fills the region of `op` from `expr`: its block arguments are `names` (of kind `argKind`,
  /// but a leading "s" or "x" is the float score / element, and those from `floatArgsFrom` on
  /// are floats).
  LogicalResult genRegion(Operation *op, const ast::Expr &expr, ArrayRef<StringRef> names,
                          ValueKind argKind, ValueKind want, StringRef what, bool hasScore = false,
                          size_t floatArgsFrom = SIZE_MAX);

  TypedValue toFloat(TypedValue v, SMLoc at);

  TypedValue materialize(Constant c, SMLoc at);

  std::string knownNames() const;

  FailureOr<TypedValue> genName(const ast::Expr &e);

  FailureOr<TypedValue> genLet(const ast::Let &let, const ast::Expr &use);

  FailureOr<TypedValue> genIndex(const ast::Expr &e);

  FailureOr<TypedValue> genExpr(const ast::Expr &e);

  FailureOr<TypedValue> genUnary(const ast::Expr &e);

  /// Brings two numeric operands to one kind (int + float -> float).
  LogicalResult unify(TypedValue &a, TypedValue &b, const ast::Expr &e);

  /// Whether `v` is an integer constant equal to zero.
  static bool isZeroConstant(Value v);

  FailureOr<TypedValue> genBinary(const ast::Expr &e);

  static std::optional<std::pair<arith::CmpIPredicate, arith::CmpFPredicate>>
  comparison(StringRef op);

  FailureOr<TypedValue> genMinMax(bool isMin, TypedValue a, TypedValue b, Location l);

  FailureOr<TypedValue> genCall(const ast::Expr &e);

  static constexpr size_t kMaxLetNesting = 64;
  OpBuilder builder;
  llvm::SourceMgr &sourceMgr;
  const ParamOverrides &overrides;
  llvm::StringSet<> usedOverrides;
  // Per pattern.
  llvm::StringMap<Symbol> scope;
  SmallVector<std::pair<std::string, Constant>> paramValues;
  llvm::StringSet<> usedParams;
  // Per region.
  llvm::StringMap<TypedValue> args;
  SmallVector<StringRef> argNames; // the region's built-in names, for error messages
  llvm::DenseMap<const ast::Let *, TypedValue> letValues;
  SmallVector<const ast::Let *> activeLets;
  SmallVector<std::pair<std::string, SMLoc>> expansion; // named expressions being expanded
  bool scoreAllowed = false;
  StringRef regionWhat;
};

} // namespace attnc::mlirgen

#endif // ATTNC_FRONTEND_MLIRGENIMPL_H
