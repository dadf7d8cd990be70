//===- MLIRGen.cpp - .attn syntax tree to the attn dialect --------------------===//
//
// Types in expressions: int (positions and sizes, `index` in the IR), float (f32) and bool
// (i1). An int meeting a float is converted to float; `/` and `%` on ints truncate like C.
// Names, innermost first:
//   b h q k Sq Skv        region arguments (batch, head, query/key position, lengths);
//   s                     the scaled dot product, in `score` only;
//   let / mask NAME       named expressions, expanded where they are used (pattern, then file);
//   param NAME            compile-time constants (after --param overrides, range-checked);
//   scalar NAME           run-time f32 values (attn.get_scalar);
//   input NAME[i, ...]    elements of extra tensors (attn.load).
// Compile-time values (parameter values and ranges, normaliser options, input extents) are
// constant expressions over numbers and parameters, evaluated here.
//
//===----------------------------------------------------------------------===//
#include "attn/Frontend/MLIRGen.h"
#include "attn/Dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>

using namespace attnc;
using namespace mlir;
using llvm::SMLoc;

namespace {

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

static const char *const kRegionNames[] = {"b", "h", "q", "k", "Sq", "Skv"};
static const char *const kFunctions =
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

  OwningOpRef<ModuleOp> gen(const ast::File &file) {
    OwningOpRef<ModuleOp> module = ModuleOp::create(builder.getUnknownLoc());
    // Every symbol of the module first: a composite's branches become patterns named
    // COMPOSITE_BRANCH, which must not clash with any pattern of the file.
    llvm::StringMap<SMLoc> seen;
    for (const ast::Pattern &pattern : file.patterns) {
      auto [it, inserted] = seen.try_emplace(pattern.name, pattern.loc);
      if (!inserted) {
        error(pattern.loc, "pattern '" + pattern.name + "' is defined twice");
        note(it->second, "first defined here");
        return nullptr;
      }
    }
    for (const ast::Pattern &pattern : file.patterns)
      for (const ast::Pattern &branch : pattern.branches) {
        for (const ast::Pattern &earlier : pattern.branches) {
          if (&earlier == &branch)
            break;
          if (earlier.name == branch.name) {
            error(branch.loc,
                  "branch '" + branch.name + "' of '" + pattern.name + "' is defined twice");
            note(earlier.loc, "first defined here");
            return nullptr;
          }
        }
        std::string name = branchPatternName(pattern, branch);
        auto [it, inserted] = seen.try_emplace(name, branch.loc);
        if (!inserted) {
          error(branch.loc, "branch '" + branch.name + "' of '" + pattern.name +
                                "' becomes pattern '" + name + "', which is already defined");
          note(it->second, "defined here");
          return nullptr;
        }
      }
    for (const ast::Pattern &pattern : file.patterns) {
      builder.setInsertionPointToEnd(module->getBody());
      bool composite = !pattern.branches.empty() || pattern.combine;
      if (failed(composite ? genComposite(file, pattern) : genPattern(file, pattern)))
        return nullptr;
    }
    for (const auto &entry : overrides)
      if (!usedOverrides.contains(entry.getKey())) {
        // No location in the text: reported through the SourceMgr's handler like the rest.
        llvm::SMDiagnostic diag(
            sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBufferIdentifier(),
            llvm::SourceMgr::DK_Error,
            ("--param " + entry.getKey() + "=" + entry.getValue() +
             ": the spec declares no parameter '" + entry.getKey() + "'")
                .str());
        if (auto handler = sourceMgr.getDiagHandler())
          handler(diag, sourceMgr.getDiagContext());
        else
          diag.print(nullptr, llvm::errs());
        return nullptr;
      }
    return module;
  }

private:
  //===--------------------------------------------------------------------===//
  // Diagnostics
  //===--------------------------------------------------------------------===//

  Location loc(SMLoc smLoc) {
    unsigned bufferId = sourceMgr.getMainFileID();
    auto [line, col] = sourceMgr.getLineAndColumn(smLoc, bufferId);
    StringRef name = sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier();
    return FileLineColLoc::get(builder.getContext(), name, line, col);
  }

  /// Prints an error, then one note per named expression being expanded (innermost first).
  void error(SMLoc smLoc, const llvm::Twine &message) {
    sourceMgr.PrintMessage(smLoc, llvm::SourceMgr::DK_Error, message);
    for (auto it = expansion.rbegin(); it != expansion.rend(); ++it)
      note(it->second, "in '" + it->first + "', used here");
  }
  void note(SMLoc smLoc, const llvm::Twine &message) {
    sourceMgr.PrintMessage(smLoc, llvm::SourceMgr::DK_Note, message);
  }
  template <typename T = TypedValue> FailureOr<T> fail(SMLoc at, const llvm::Twine &message) {
    error(at, message);
    return failure();
  }

  //===--------------------------------------------------------------------===//
  // Patterns and their declarations
  //===--------------------------------------------------------------------===//

  /// Enters `name` into the pattern's scope; fails on a clash.
  LogicalResult declare(StringRef name, SMLoc at, Symbol symbol) {
    if (llvm::is_contained(kRegionNames, name) || name == "s" || name == "true" ||
        name == "false" || llvm::is_contained(mlir::attn::kProblemSizes, name))
      return error(at, "'" + name + "' is a built-in name and cannot be redeclared"), failure();
    auto [it, inserted] = scope.try_emplace(name, symbol);
    if (!inserted) {
      error(at, "'" + name + "' is already declared");
      note(it->second.loc, "previous declaration is here");
      return failure();
    }
    return success();
  }

  LogicalResult declareParams(ArrayRef<ast::Param> params) {
    for (const ast::Param &param : params) {
      FailureOr<Constant> value = evalParam(param);
      if (failed(value))
        return failure();
      Symbol symbol{Symbol::Kind::Param, param.loc};
      symbol.constant = *value;
      if (failed(declare(param.name, param.loc, symbol)))
        return failure();
      paramValues.emplace_back(param.name, *value);
    }
    return success();
  }

  /// A number as the user would write it (no trailing zeros).
  static std::string number(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.10g", v);
    return buffer;
  }

  /// The value of a parameter: its override or default, converted to its type and range-checked.
  FailureOr<Constant> evalParam(const ast::Param &param) {
    FailureOr<Constant> value = evalConst(*param.value);
    if (failed(value))
      return failure();
    auto override = overrides.find(param.name);
    if (override != overrides.end()) {
      usedOverrides.insert(param.name);
      StringRef text = override->getValue();
      if (text == "true" || text == "false") {
        value = Constant{ValueKind::Bool, text == "true" ? 1.0 : 0.0};
      } else {
        double number = 0;
        if (text.getAsDouble(number) || !std::isfinite(number))
          return fail<Constant>(param.loc, "--param " + param.name + "=" + text +
                                               " is not a finite number, true or false");
        bool integral = text.find_first_of(".eE") == StringRef::npos;
        value = Constant{integral ? ValueKind::Int : ValueKind::Float, number};
      }
    }
    if (value->kind != param.type) {
      if (param.type == ValueKind::Float && value->kind == ValueKind::Int)
        value->kind = ValueKind::Float;
      else
        return fail<Constant>(param.loc,
                              "parameter '" + param.name + "' is " + kindName(param.type) +
                                  ", its value is " + kindName(value->kind) +
                                  (override != overrides.end() ? " (from --param)" : ""));
    }
    if (!std::isfinite(value->value))
      return fail<Constant>(param.loc, "parameter '" + param.name + "' is not a finite number");
    if (param.type == ValueKind::Int && std::fabs(value->value) > 2147483647.0)
      return fail<Constant>(param.loc, "parameter '" + param.name + "' does not fit in 32 bits");
    if (param.rangeLo) {
      FailureOr<Constant> lo = evalConst(*param.rangeLo), hi = evalConst(*param.rangeHi);
      if (failed(lo) || failed(hi))
        return failure();
      if (lo->kind == ValueKind::Bool || hi->kind == ValueKind::Bool)
        return fail<Constant>(param.rangeLo->loc, "a range needs number bounds");
      if (!std::isfinite(lo->value) || !std::isfinite(hi->value))
        return fail<Constant>(param.rangeLo->loc, "a range needs finite bounds");
      if (lo->value > hi->value)
        return fail<Constant>(param.rangeLo->loc, "empty range: lower bound above upper bound");
      if (value->value < lo->value || value->value > hi->value)
        return fail<Constant>(param.loc,
                              "parameter '" + param.name + "' = " + number(value->value) +
                                  " is outside its range [" + number(lo->value) + ", " +
                                  number(hi->value) + "]" +
                                  (override != overrides.end() ? " (from --param)" : ""));
    }
    return value;
  }

  LogicalResult declareLets(ArrayRef<ast::Let> lets) {
    for (const ast::Let &let : lets) {
      Symbol symbol{Symbol::Kind::Let, let.loc};
      symbol.let = &let;
      if (failed(declare(let.name, let.loc, symbol)))
        return failure();
    }
    return success();
  }

  static std::string branchPatternName(const ast::Pattern &composite, const ast::Pattern &branch) {
    return composite.name + "_" + branch.name;
  }

  /// Opens the scope of a pattern: the file's params and lets, then those of `outer` (the
  /// composite of a branch), then the pattern's own.
  LogicalResult openScope(const ast::File &file, const ast::Pattern *outer,
                          const ast::Pattern &ast) {
    scope.clear();
    paramValues.clear();
    usedParams.clear();
    if (failed(declareParams(file.params)) || failed(declareLets(file.lets)))
      return failure();
    if (outer && (failed(declareParams(outer->params)) || failed(declareLets(outer->lets))))
      return failure();
    return success(succeeded(declareParams(ast.params)) && succeeded(declareLets(ast.lets)));
  }

  /// A pattern, or with `outer` branch `ast` of that composite: a pattern named
  /// COMPOSITE_BRANCH with the composite's inputs, scalars and shape.
  LogicalResult genPattern(const ast::File &file, const ast::Pattern &ast,
                           const ast::Pattern *outer = nullptr) {
    if (failed(openScope(file, outer, ast)))
      return failure();
    const ast::Pattern &decls = outer ? *outer : ast; // inputs, scalars, shape
    auto pattern = attn::PatternOp::create(builder, loc(ast.loc),
                                           outer ? branchPatternName(*outer, ast) : ast.name);
    if (failed(setShapeAttributes(pattern, decls)))
      return failure();
    Block *body = builder.createBlock(&pattern.getBody());
    builder.setInsertionPointToEnd(body);
    if (failed(genDeclarations(decls)))
      return failure();

    if (ast.linear && failed(genLinear(ast, decls)))
      return failure();
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
    if (ast.weight) {
      auto weight = attn::WeightOp::create(builder, loc(ast.weight->loc));
      if (failed(genRegion(weight, *ast.weight, /*hasScore=*/false, ValueKind::Float, "a weight")))
        return failure();
    }
    if (failed(genNormalize(ast)))
      return failure();
    setParamsAttribute(pattern, ast);
    builder.setInsertionPointAfter(pattern);
    return success();
  }

  /// A composite: its branches as patterns, then `attn.composite` with the combine.
  LogicalResult genComposite(const ast::File &file, const ast::Pattern &ast) {
    auto misplaced = [&](SMLoc at, const Twine &what, const Twine &where) {
      error(at, what + " " + where);
      return failure();
    };
    if (!ast.combine)
      return misplaced(ast.loc, "composite '" + ast.name + "'",
                       "needs a 'combine' expression over its branches");
    if (ast.branches.size() < 2)
      return misplaced(ast.combine->loc, "'combine'",
                       "needs at least two branches ('branch NAME { ... }'), '" + ast.name +
                           "' has " + Twine(ast.branches.size()));
    for (auto [part, what] : {std::pair{ast.mask.get(), "mask"},
                              {ast.score.get(), "score"},
                              {ast.weight.get(), "weight"}})
      if (part)
        return misplaced(part->loc, Twine("'") + what + "'",
                         "belongs in a branch: a composite's clauses are its branches, "
                         "declarations and shape");
    if (ast.linear)
      return misplaced(ast.linear->loc, "'linear'", "belongs in a branch of a composite");
    if (ast.normalizerLoc.isValid())
      return misplaced(ast.normalizerLoc, "'normalize'", "belongs in a branch of a composite");
    if (ast.lse)
      return misplaced(ast.loc, "composite '" + ast.name + "'",
                       "has no log-sum-exp output (its output is the combine's)");
    for (const ast::Pattern &branch : ast.branches) {
      const char *inherited = !branch.inputs.empty()    ? "'input'"
                              : !branch.scalars.empty() ? "'scalar'"
                              : branch.heads            ? "'heads'"
                              : branch.headDim          ? "'head_dim'"
                              : branch.varlen           ? "'varlen'"
                              : branch.lse              ? "'output lse'"
                                                        : nullptr;
      if (inherited)
        return misplaced(branch.loc, Twine(inherited) + " in branch '" + branch.name + "'",
                         "belongs to the composite: every branch shares its inputs, scalars and "
                         "shape");
    }
    SmallVector<Attribute> symbols;
    for (const ast::Pattern &branch : ast.branches) {
      if (failed(genPattern(file, branch, &ast)))
        return failure();
      symbols.push_back(
          FlatSymbolRefAttr::get(builder.getContext(), branchPatternName(ast, branch)));
    }
    if (failed(openScope(file, nullptr, ast)))
      return failure();
    auto composite =
        attn::CompositeOp::create(builder, loc(ast.loc), ast.name, builder.getArrayAttr(symbols));
    builder.createBlock(&composite.getBody());
    if (failed(genDeclarations(ast)))
      return failure();
    SmallVector<StringRef> names = {"b", "h", "q"};
    for (const ast::Pattern &branch : ast.branches) {
      if (auto it = scope.find(branch.name); it != scope.end()) {
        error(branch.loc, "branch '" + branch.name + "' has the name of a declaration of '" +
                              ast.name + "', which the combine could not tell apart");
        note(it->second.loc, "declared here");
        return failure();
      }
      names.push_back(branch.name);
    }
    auto combine = attn::CombineOp::create(builder, loc(ast.combine->loc));
    if (failed(genRegion(combine, *ast.combine, names, ValueKind::Int, ValueKind::Float,
                         "a combine", /*hasScore=*/false, /*floatArgsFrom=*/3)))
      return failure();
    builder.setInsertionPointAfter(composite);
    return success();
  }

  /// The `attn.scalar` and `attn.input` declarations of `ast`, entered into the scope.
  LogicalResult genDeclarations(const ast::Pattern &ast) {
    for (auto [slot, scalar] : llvm::enumerate(ast.scalars)) {
      Symbol symbol{Symbol::Kind::Scalar, scalar.loc};
      symbol.slot = slot;
      if (failed(declare(scalar.name, scalar.loc, symbol)))
        return failure();
      FloatAttr defaultValue;
      if (scalar.defaultValue) {
        FailureOr<Constant> value = evalConst(*scalar.defaultValue);
        if (failed(value))
          return failure();
        if (value->kind == ValueKind::Bool || !std::isfinite(value->value))
          return error(scalar.defaultValue->loc, "a scalar's default must be a finite number"),
                 failure();
        defaultValue = builder.getF64FloatAttr(value->value);
      }
      attn::ScalarOp::create(builder, loc(scalar.loc), scalar.name, defaultValue);
    }
    if (ast.scalars.size() > attn::kMaxScalars)
      return error(ast.scalars[attn::kMaxScalars].loc,
                   "at most " + Twine(attn::kMaxScalars) + " scalars per pattern"),
             failure();
    for (auto [slot, input] : llvm::enumerate(ast.inputs)) {
      Symbol symbol{Symbol::Kind::Input, input.loc};
      symbol.slot = slot;
      symbol.input = &input;
      if (failed(declare(input.name, input.loc, symbol)) || failed(genInput(input)))
        return failure();
    }
    if (ast.inputs.size() > attn::kMaxInputs)
      return error(ast.inputs[attn::kMaxInputs].loc,
                   "at most " + Twine(attn::kMaxInputs) + " inputs per pattern"),
             failure();
    return success();
  }

  /// Records the values of the pattern's own parameters and of the file-level ones it used.
  void setParamsAttribute(attn::PatternOp pattern, const ast::Pattern &ast) {
    SmallVector<NamedAttribute> params;
    for (auto &[paramName, value] : paramValues) {
      StringRef name = paramName;
      bool own = llvm::any_of(ast.params, [&](const ast::Param &p) { return p.name == name; });
      if (!own && !usedParams.contains(name))
        continue;
      Attribute attr;
      if (value.kind == ValueKind::Int)
        attr = builder.getI64IntegerAttr(static_cast<int64_t>(value.value));
      else if (value.kind == ValueKind::Bool)
        attr = builder.getBoolAttr(value.value != 0);
      else
        attr = builder.getF64FloatAttr(value.value);
      params.push_back(builder.getNamedAttr(name, attr));
    }
    if (!params.empty())
      pattern.setParamsAttr(builder.getDictionaryAttr(params));
  }

  LogicalResult setShapeAttributes(attn::PatternOp pattern, const ast::Pattern &ast) {
    if (ast.heads) {
      if (*ast.heads % *ast.kvHeads != 0)
        return error(ast.headsLoc, "query heads (" + Twine(*ast.heads) +
                                       ") must be a multiple of KV heads (" + Twine(*ast.kvHeads) +
                                       ")"),
               failure();
      pattern.setHeadsAttr(builder.getI64IntegerAttr(*ast.heads));
      pattern.setKvHeadsAttr(builder.getI64IntegerAttr(*ast.kvHeads));
    }
    if (ast.headDim) {
      pattern.setHeadDimAttr(builder.getI64IntegerAttr(*ast.headDim));
      pattern.setHeadDimVAttr(builder.getI64IntegerAttr(*ast.headDimV));
    }
    pattern.setVarlen(ast.varlen);
    pattern.setLse(ast.lse);
    return success();
  }

  LogicalResult genInput(const ast::Input &input) {
    if (input.type == ValueKind::Bool)
      return error(input.loc, "inputs hold int or float elements, not bool"), failure();
    if (input.shape.size() > 4)
      return error(input.shape[4]->loc, "inputs have at most 4 dimensions"), failure();
    SmallVector<Attribute> shape;
    for (const ast::ExprPtr &dim : input.shape) {
      if (dim->kind == ast::Expr::Kind::Name &&
          llvm::is_contained(attn::kProblemSizes, StringRef(dim->name))) {
        shape.push_back(builder.getStringAttr(dim->name));
        continue;
      }
      FailureOr<Constant> size = evalConst(*dim, " (or one of B H Hkv Sq Skv D)");
      if (failed(size))
        return failure();
      if (size->kind != ValueKind::Int || size->value <= 0 || size->value > (1 << 24))
        return error(dim->loc, "an input dimension must be a positive int (at most 2^24)"),
               failure();
      shape.push_back(builder.getI64IntegerAttr(static_cast<int64_t>(size->value)));
    }
    Type elem = input.type == ValueKind::Int ? Type(builder.getI32Type()) : builder.getF32Type();
    attn::InputOp::create(builder, loc(input.loc), input.name, elem, builder.getArrayAttr(shape));
    return success();
  }

  /// `attn.linear`, `attn.feature` and `attn.decay` of a linear pattern, after checking that
  /// the pattern has none of the softmax family's parts; `decls` holds its inputs (a branch's
  /// are its composite's).
  LogicalResult genLinear(const ast::Pattern &ast, const ast::Pattern &decls) {
    const ast::Linear &linear = *ast.linear;
    for (auto [part, what] : {std::pair{ast.mask.get(), "mask"},
                              {ast.score.get(), "score"},
                              {ast.weight.get(), "weight"}})
      if (part)
        return error(part->loc, Twine("a linear pattern has no '") + what +
                                    "' (its keys are all earlier ones with 'causal', else all)"),
               failure();
    if (ast.lse)
      return error(ast.loc, "a linear pattern has no log-sum-exp output"), failure();
    auto linearOp =
        attn::LinearOp::create(builder, loc(linear.loc), linear.causal, StringAttr(), StringAttr());
    const ast::Expr *feature = linear.feature.get();
    using Kind = ast::Expr::Kind;
    // The maps of whole rows: `taylor2` and `hedgehog(W)` (W an input [H, D, M]).
    if (feature && feature->kind == Kind::Name && feature->name == "taylor2") {
      linearOp.setFeatureMap("taylor2");
    } else if (feature && feature->kind == Kind::Call && feature->name == "hedgehog") {
      const ast::Expr *w = feature->operands.size() == 1 ? feature->operands[0].get() : nullptr;
      if (!w || w->kind != Kind::Name)
        return error(feature->loc, "hedgehog takes one argument, the name of its weights' input "
                                   "(float[H, D, M]): feature hedgehog(w)"),
               failure();
      auto declared =
          llvm::find_if(decls.inputs, [&](const ast::Input &in) { return in.name == w->name; });
      if (declared == decls.inputs.end())
        return error(w->loc, "hedgehog's weights '" + w->name +
                                 "' are not a declared input (input " + w->name +
                                 ": float[H, D, M])"),
               failure();
      linearOp.setFeatureMap("hedgehog");
      linearOp.setFeatureWeights(w->name);
    } else if (feature && !(feature->kind == Kind::Name && feature->name == "identity")) {
      auto op = attn::FeatureOp::create(builder, loc(feature->loc));
      if (failed(
              genRegion(op, *feature, {"x"}, ValueKind::Float, ValueKind::Float, "a feature map")))
        return failure();
    }
    if (const ast::Expr *decay = linear.decay.get()) {
      if (!linear.causal)
        return error(decay->loc, "a decay needs a causal linear form (it weighs each key by its "
                                 "distance to a later query): add 'causal'"),
               failure();
      auto op = attn::DecayOp::create(builder, loc(decay->loc));
      if (failed(genRegion(op, *decay, {"b", "h", "t", "d"}, ValueKind::Int, ValueKind::Float,
                           "a decay")))
        return failure();
    }
    return success();
  }

  LogicalResult genNormalize(const ast::Pattern &ast) {
    attn::NormalizerKind kind = attn::NormalizerKind::Softmax;
    if (ast.normalizer == ast::Normalizer::Sigmoid)
      kind = attn::NormalizerKind::Sigmoid;
    else if (ast.normalizer == ast::Normalizer::None)
      kind = attn::NormalizerKind::None;
    else if (ast.normalizer == ast::Normalizer::Sum)
      kind = attn::NormalizerKind::Sum;
    SMLoc at = ast.normalizerLoc.isValid() ? ast.normalizerLoc : ast.loc;
    const bool linearKind = kind == attn::NormalizerKind::None || kind == attn::NormalizerKind::Sum;
    if (ast.linear && !linearKind)
      return error(at, "a linear pattern normalises with 'none' or 'sum'"), failure();
    if (!ast.linear && kind == attn::NormalizerKind::Sum)
      return error(at, "'normalize sum' belongs to a linear form: linear { normalize sum }"),
             failure();
    FloatAttr scale, temperature, bias;
    for (const ast::Option &option : ast.normalizerOptions) {
      FloatAttr *slot = llvm::StringSwitch<FloatAttr *>(option.name)
                            .Case("scale", &scale)
                            .Case("temperature", &temperature)
                            .Case("bias", &bias)
                            .Default(nullptr);
      if (!slot)
        return error(option.loc, "unknown normaliser option '" + option.name +
                                     "' (known: scale, temperature, bias)"),
               failure();
      if (*slot)
        return error(option.loc, "option '" + option.name + "' is given twice"), failure();
      if (option.name == "temperature" &&
          (kind == attn::NormalizerKind::None || kind == attn::NormalizerKind::Sum))
        return error(option.loc, "'temperature' is an option of softmax and sigmoid only"),
               failure();
      if (option.name == "bias" && kind != attn::NormalizerKind::Sigmoid)
        return error(option.loc, "'bias' is an option of 'sigmoid' only"), failure();
      FailureOr<Constant> value = evalConst(*option.value);
      if (failed(value))
        return failure();
      if (value->kind == ValueKind::Bool)
        return error(option.value->loc, "'" + option.name + "' must be a number"), failure();
      if (!std::isfinite(value->value))
        return error(option.value->loc, "'" + option.name + "' must be finite"), failure();
      if (option.name != "bias" && !(value->value > 0.0))
        return error(option.value->loc, "'" + option.name + "' must be positive"), failure();
      *slot = builder.getF64FloatAttr(value->value);
    }
    attn::NormalizeOp::create(builder, loc(at),
                              attn::NormalizerKindAttr::get(builder.getContext(), kind), scale,
                              temperature, bias);
    return success();
  }

  //===--------------------------------------------------------------------===//
  // Compile-time constants
  //===--------------------------------------------------------------------===//

  FailureOr<Constant> evalConst(const ast::Expr &e, StringRef hint = "") {
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
      ValueKind kind = a->kind == ValueKind::Int && b->kind == ValueKind::Int ? ValueKind::Int
                                                                              : ValueKind::Float;
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
      auto want = [&](size_t n) -> LogicalResult {
        if (args.size() == n)
          return success();
        error(e.loc, "'" + fn + "' takes " + Twine(n) + " argument" + (n == 1 ? "" : "s") +
                         ", got " + Twine(args.size()));
        return failure();
      };
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

  //===--------------------------------------------------------------------===//
  // Regions
  //===--------------------------------------------------------------------===//

  /// Fills the region of a mask / score_mod / weight op from `expr`, yielding a `want` value.
  LogicalResult genRegion(Operation *op, const ast::Expr &expr, bool hasScore, ValueKind want,
                          StringRef what) {
    SmallVector<StringRef> names;
    if (hasScore)
      names.push_back("s");
    names.append(std::begin(kRegionNames), std::end(kRegionNames));
    return genRegion(op, expr, names, ValueKind::Int, want, what, hasScore);
  }

  /// Fills the region of `op` from `expr`: its block arguments are `names` (of kind `argKind`,
  /// but a leading "s" or "x" is the float score / element, and those from `floatArgsFrom` on
  /// are floats).
  LogicalResult genRegion(Operation *op, const ast::Expr &expr, ArrayRef<StringRef> names,
                          ValueKind argKind, ValueKind want, StringRef what, bool hasScore = false,
                          size_t floatArgsFrom = SIZE_MAX) {
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

  TypedValue toFloat(TypedValue v, SMLoc at) {
    if (v.kind != ValueKind::Int)
      return v;
    Value i64 = arith::IndexCastOp::create(builder, loc(at), builder.getI64Type(), v.value);
    Value f = arith::SIToFPOp::create(builder, loc(at), builder.getF32Type(), i64);
    return {f, ValueKind::Float};
  }

  TypedValue materialize(Constant c, SMLoc at) {
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
    }
    return {};
  }

  std::string knownNames() const {
    std::string known = llvm::join(argNames, " ");
    if (scoreAllowed)
      known += " s";
    for (const auto &entry : scope)
      if (entry.getValue().kind != Symbol::Kind::Input)
        known += " " + entry.getKey().str();
    return known;
  }

  FailureOr<TypedValue> genName(const ast::Expr &e) {
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
      return TypedValue{
          attn::GetScalarOp::create(builder, loc(e.loc), builder.getF32Type(), e.name),
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

  FailureOr<TypedValue> genLet(const ast::Let &let, const ast::Expr &use) {
    if (auto it = letValues.find(&let); it != letValues.end())
      return it->second;
    if (llvm::is_contained(activeLets, &let))
      return fail(use.loc, "'" + let.name + "' refers to itself");
    if (activeLets.size() >= kMaxLetNesting)
      return fail(use.loc,
                  "named expressions nest deeper than " + Twine(kMaxLetNesting) + " levels");
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

  FailureOr<TypedValue> genIndex(const ast::Expr &e) {
    auto it = scope.find(e.name);
    if (it == scope.end() || it->second.kind != Symbol::Kind::Input) {
      if (it == scope.end() && !args.count(e.name))
        return fail(e.loc, "unknown input '" + e.name + "'");
      return fail(e.loc, "'" + e.name + "' is not an input tensor and cannot be indexed");
    }
    const ast::Input &input = *it->second.input;
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
        return fail(index->loc,
                    Twine("an index must be an int, this is ") + kindName(v->kind) +
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

  FailureOr<TypedValue> genExpr(const ast::Expr &e) {
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

  /// Whether `v` is an integer constant equal to zero.
  static bool isZeroConstant(Value v) {
    auto c = v.getDefiningOp<arith::ConstantOp>();
    auto i = c ? dyn_cast<IntegerAttr>(c.getValue()) : IntegerAttr();
    return i && i.getValue().isZero();
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
    if ((op == "==" || op == "!=") && lhs->kind == ValueKind::Bool &&
        rhs->kind == ValueKind::Bool) {
      auto pred = op == "==" ? arith::CmpIPredicate::eq : arith::CmpIPredicate::ne;
      return TypedValue{arith::CmpIOp::create(builder, l, pred, lhs->value, rhs->value),
                        ValueKind::Bool};
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

  FailureOr<TypedValue> genMinMax(bool isMin, TypedValue a, TypedValue b, Location l) {
    if (a.kind == ValueKind::Int)
      return TypedValue{isMin ? Value(arith::MinSIOp::create(builder, l, a.value, b.value))
                              : Value(arith::MaxSIOp::create(builder, l, a.value, b.value)),
                        ValueKind::Int};
    return TypedValue{isMin ? Value(arith::MinimumFOp::create(builder, l, a.value, b.value))
                            : Value(arith::MaximumFOp::create(builder, l, a.value, b.value)),
                      ValueKind::Float};
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
    static const char *unaryFloat[] = {"tanh", "exp",   "exp2", "log",
                                       "log2", "floor", "ceil", "sqrt"};
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
      return fail(e.loc, "'" + fn + "' is an input tensor; index it with " + fn + "[...], not " +
                             fn + "(...)");
    return fail(e.loc, "unknown function '" + fn + "' (known: " + kFunctions + ")");
  }

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

} // namespace

OwningOpRef<ModuleOp> attnc::mlirGen(MLIRContext &context, llvm::SourceMgr &sourceMgr,
                                     const ast::File &file, const ParamOverrides &overrides) {
  return MLIRGenImpl(context, sourceMgr, overrides).gen(file);
}
