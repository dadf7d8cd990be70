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
// constant expressions over numbers and parameters, evaluated in MLIRGenExpr.cpp, which also
// lowers the expressions into regions; this file lowers files, patterns, composites and
// declarations (MLIRGenImpl.h holds the class both share).
//
//===----------------------------------------------------------------------===//
#include "MLIRGenImpl.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <array>
#include <cmath>
#include <cstdio>

using namespace attnc;
using namespace mlir;
using llvm::SMLoc;

namespace attnc::mlirgen {

OwningOpRef<ModuleOp> MLIRGenImpl::gen(const ast::File &file) {
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

Location MLIRGenImpl::loc(SMLoc smLoc) {
  unsigned bufferId = sourceMgr.getMainFileID();
  auto [line, col] = sourceMgr.getLineAndColumn(smLoc, bufferId);
  StringRef name = sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier();
  return FileLineColLoc::get(builder.getContext(), name, line, col);
}

/// Prints an error, then one note per named expression being expanded (innermost first).
void MLIRGenImpl::error(SMLoc smLoc, const llvm::Twine &message) {
  sourceMgr.PrintMessage(smLoc, llvm::SourceMgr::DK_Error, message);
  for (auto it = expansion.rbegin(); it != expansion.rend(); ++it)
    note(it->second, "in '" + it->first + "', used here");
}

LogicalResult MLIRGenImpl::checkArity(SMLoc at, StringRef fn, size_t got, size_t n) {
  if (got == n)
    return success();
  error(at, "'" + fn + "' takes " + Twine(n) + " argument" + (n == 1 ? "" : "s") + ", got " +
                Twine(got));
  return failure();
}

void MLIRGenImpl::note(SMLoc smLoc, const llvm::Twine &message) {
  sourceMgr.PrintMessage(smLoc, llvm::SourceMgr::DK_Note, message);
}

/// Enters `name` into the pattern's scope; fails on a clash.
LogicalResult MLIRGenImpl::declare(StringRef name, SMLoc at, Symbol symbol) {
  if (llvm::is_contained(kRegionNames, name) || name == "s" || name == "true" || name == "false" ||
      llvm::is_contained(mlir::attn::kProblemSizes, name))
    return error(at, "'" + name + "' is a built-in name and cannot be redeclared"), failure();
  auto [it, inserted] = scope.try_emplace(name, symbol);
  if (!inserted) {
    error(at, "'" + name + "' is already declared");
    note(it->second.loc, "previous declaration is here");
    return failure();
  }
  return success();
}

LogicalResult MLIRGenImpl::declareParams(ArrayRef<ast::Param> params) {
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
std::string MLIRGenImpl::number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

/// The value of a parameter: its override or default, converted to its type and range-checked.
FailureOr<Constant> MLIRGenImpl::evalParam(const ast::Param &param) {
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
      return fail<Constant>(param.loc, "parameter '" + param.name + "' is " + kindName(param.type) +
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
      return fail<Constant>(param.loc, "parameter '" + param.name + "' = " + number(value->value) +
                                           " is outside its range [" + number(lo->value) + ", " +
                                           number(hi->value) + "]" +
                                           (override != overrides.end() ? " (from --param)" : ""));
  }
  return value;
}

LogicalResult MLIRGenImpl::declareLets(ArrayRef<ast::Let> lets) {
  for (const ast::Let &let : lets) {
    Symbol symbol{Symbol::Kind::Let, let.loc};
    symbol.let = &let;
    if (failed(declare(let.name, let.loc, symbol)))
      return failure();
  }
  return success();
}

std::string MLIRGenImpl::branchPatternName(const ast::Pattern &composite,
                                           const ast::Pattern &branch) {
  return composite.name + "_" + branch.name;
}

/// Opens the scope of a pattern: the file's params and lets, then those of `outer` (the
/// composite of a branch), then the pattern's own.
LogicalResult MLIRGenImpl::openScope(const ast::File &file, const ast::Pattern *outer,
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
LogicalResult MLIRGenImpl::genPattern(const ast::File &file, const ast::Pattern &ast,
                                      const ast::Pattern *outer) {
  if (failed(openScope(file, outer, ast)))
    return failure();
  const ast::Pattern &decls = outer ? *outer : ast; // inputs, scalars, shape
  auto pattern = attn::PatternOp::create(builder, loc(ast.loc),
                                         outer ? branchPatternName(*outer, ast) : ast.name);
  if (failed(setShapeAttributes(pattern, decls)))
    return failure();
  if (!outer)
    for (const ast::Input &input : ast.inputs)
      if (input.type == ValueKind::Elem)
        return error(input.loc, "input '" + input.name +
                                    "' holds the kernel's elements (elem): such an input is a "
                                    "composite's, for a branch's own q and k "
                                    "(branch NAME(q = " +
                                    input.name + ", k = ...))"),
               failure();
  if (outer && (!ast.ownQ.empty() || !ast.ownK.empty())) {
    FailureOr<int64_t> d = ownHeadDim(ast, *outer);
    if (failed(d))
      return failure();
    pattern.setHeadDimAttr(builder.getI64IntegerAttr(*d));
  }
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

FailureOr<int64_t> MLIRGenImpl::ownHeadDim(const ast::Pattern &branch,
                                           const ast::Pattern &composite) {
  const SMLoc at = branch.ownQ.empty() ? branch.ownKLoc : branch.ownQLoc;
  if (branch.ownQ.empty() || branch.ownK.empty())
    return error(at, "branch '" + branch.name + "' gives its own " +
                         (branch.ownQ.empty() ? "k but not q" : "q but not k") +
                         ": a branch takes both, (q = INPUT, k = INPUT)"),
           failure();
  if (!composite.headDim)
    return error(at, "a branch with q and k of its own needs the composite's 'head_dim D, Dv' "
                     "(D of the call's q and k, Dv of every branch's output)"),
           failure();
  if (composite.varlen)
    return error(at,
                 "a branch's own q and k need dense sequences; '" + composite.name + "' is varlen"),
           failure();
  // D is the head dim of the pattern reading an input: a branch's own N here, the call's D in
  // the other branches, so an input sized by D would have two sizes.
  for (const ast::Input &input : composite.inputs)
    for (const ast::ExprPtr &dim : input.shape)
      if (dim->kind == ast::Expr::Kind::Name && dim->name == "D")
        return error(dim->loc, "input '" + input.name + "' is sized by D, which branch '" +
                                   branch.name +
                                   "' (q and k of its own) reads as its head dim and "
                                   "the other branches as the call's: give the size as a number"),
               failure();
  int64_t width = 0;
  for (auto [name, loc, dims] : {std::tuple{StringRef(branch.ownQ), branch.ownQLoc,
                                            std::array<StringRef, 3>{"B", "Sq", "H"}},
                                 std::tuple{StringRef(branch.ownK), branch.ownKLoc,
                                            std::array<StringRef, 3>{"B", "Skv", "Hkv"}}}) {
    auto input = llvm::find_if(composite.inputs,
                               [&, n = name](const ast::Input &in) { return in.name == n; });
    if (input == composite.inputs.end())
      return error(loc, "'" + name + "' is not an input of '" + composite.name + "'"), failure();
    const bool isQ = dims[1] == "Sq";
    const std::string expected = "input " + name.str() + ": elem[" + dims[0].str() + ", " +
                                 dims[1].str() + ", " + dims[2].str() + ", N]";
    auto isName = [](const ast::ExprPtr &e, StringRef n) {
      return e->kind == ast::Expr::Kind::Name && e->name == n;
    };
    if (input->type != ValueKind::Elem || input->shape.size() != 4 ||
        !isName(input->shape[0], dims[0]) || !isName(input->shape[1], dims[1]) ||
        !isName(input->shape[2], dims[2])) {
      error(loc, Twine("a branch's own ") + (isQ ? "q" : "k") +
                     " is laid out like the call's: " + expected + " (N its head dim)");
      note(input->loc, "declared here");
      return failure();
    }
    FailureOr<Constant> n = evalConst(*input->shape[3], "");
    if (failed(n))
      return failure();
    if (n->kind != ValueKind::Int || n->value <= 0)
      return error(input->shape[3]->loc, "a branch's head dim must be a positive int"), failure();
    if (width && int64_t(n->value) != width)
      return error(loc, "branch '" + branch.name + "' has q of head dim " + Twine(width) +
                            " and k of " + Twine(int64_t(n->value)) + ": they must agree"),
             failure();
    width = int64_t(n->value);
  }
  return width;
}

/// A composite: its branches as patterns, then `attn.composite` with the combine.
LogicalResult MLIRGenImpl::genComposite(const ast::File &file, const ast::Pattern &ast) {
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
  if (llvm::all_of(ast.branches, [](const ast::Pattern &b) { return !b.ownQ.empty(); }))
    return misplaced(ast.branches.back().ownQLoc, "every branch of '" + ast.name + "'",
                     "has q and k of its own: one at least takes the call's (its head_dim)");
  SmallVector<Attribute> symbols;
  for (const ast::Pattern &branch : ast.branches) {
    if (failed(genPattern(file, branch, &ast)))
      return failure();
    symbols.push_back(FlatSymbolRefAttr::get(builder.getContext(), branchPatternName(ast, branch)));
  }
  if (failed(openScope(file, nullptr, ast)))
    return failure();
  auto composite =
      attn::CompositeOp::create(builder, loc(ast.loc), ast.name, builder.getArrayAttr(symbols),
                                /*branch_q=*/ArrayAttr(), /*branch_k=*/ArrayAttr(),
                                /*epilogue_branch=*/IntegerAttr());
  if (llvm::any_of(ast.branches, [](const ast::Pattern &b) { return !b.ownQ.empty(); })) {
    SmallVector<StringRef> qs, ks;
    for (const ast::Pattern &branch : ast.branches) {
      qs.push_back(branch.ownQ);
      ks.push_back(branch.ownK);
    }
    composite.setBranchQAttr(builder.getStrArrayAttr(qs));
    composite.setBranchKAttr(builder.getStrArrayAttr(ks));
  }
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
  if (failed(genRegion(combine, *ast.combine, names, ValueKind::Int, ValueKind::Float, "a combine",
                       /*hasScore=*/false, /*floatArgsFrom=*/3)))
    return failure();
  builder.setInsertionPointAfter(composite);
  return success();
}

/// The `attn.scalar` and `attn.input` declarations of `ast`, entered into the scope.
LogicalResult MLIRGenImpl::genDeclarations(const ast::Pattern &ast) {
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
void MLIRGenImpl::setParamsAttribute(attn::PatternOp pattern, const ast::Pattern &ast) {
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

LogicalResult MLIRGenImpl::setShapeAttributes(attn::PatternOp pattern, const ast::Pattern &ast) {
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

LogicalResult MLIRGenImpl::genInput(const ast::Input &input) {
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
      return error(dim->loc, "an input dimension must be a positive int (at most 2^24)"), failure();
    shape.push_back(builder.getI64IntegerAttr(static_cast<int64_t>(size->value)));
  }
  // elem: the kernel's element type, `none` in the dialect (fixed per kernel, not per pattern).
  Type elem = input.type == ValueKind::Int    ? Type(builder.getI32Type())
              : input.type == ValueKind::Elem ? Type(builder.getNoneType())
                                              : Type(builder.getF32Type());
  attn::InputOp::create(builder, loc(input.loc), input.name, elem, builder.getArrayAttr(shape));
  return success();
}

/// `attn.linear`, `attn.feature` and `attn.decay` of a linear pattern, after checking that
/// the pattern has none of the softmax family's parts; `decls` holds its inputs (a branch's
/// are its composite's).
LogicalResult MLIRGenImpl::genLinear(const ast::Pattern &ast, const ast::Pattern &decls) {
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
      return error(w->loc, "hedgehog's weights '" + w->name + "' are not a declared input (input " +
                               w->name + ": float[H, D, M])"),
             failure();
    linearOp.setFeatureMap("hedgehog");
    linearOp.setFeatureWeights(w->name);
  } else if (feature && !(feature->kind == Kind::Name && feature->name == "identity")) {
    auto op = attn::FeatureOp::create(builder, loc(feature->loc));
    if (failed(genRegion(op, *feature, {"x"}, ValueKind::Float, ValueKind::Float, "a feature map")))
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

LogicalResult MLIRGenImpl::genNormalize(const ast::Pattern &ast) {
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
      return error(option.loc, "'temperature' is an option of softmax and sigmoid only"), failure();
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

} // namespace attnc::mlirgen

using attnc::mlirgen::MLIRGenImpl;

OwningOpRef<ModuleOp> attnc::mlirGen(MLIRContext &context, llvm::SourceMgr &sourceMgr,
                                     const ast::File &file, const ParamOverrides &overrides) {
  return MLIRGenImpl(context, sourceMgr, overrides).gen(file);
}
