//===- Builder.cpp - Build attention patterns from C++ ------------------------===//
#include "attn/Frontend/Builder.h"
#include "attn/Frontend/Compiler.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstdio>

using namespace attnc;
using namespace attnc::dsl;

/// A number that reads back as the same value (ints without a point, floats with one).
static std::string numberText(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  std::string text = buffer;
  if (text.find_first_of(".eEn") == std::string::npos)
    text += ".0";
  return text;
}

Expr::Expr(int value)
    : text(value < 0 ? "(" + std::to_string(value) + ")" : std::to_string(value)) {}
Expr::Expr(double value) : text(value < 0 ? "(" + numberText(value) + ")" : numberText(value)) {}
Expr Expr::name(std::string name) { return Expr(std::move(name)); }

Expr Expr::operator[](std::initializer_list<Expr> indices) const {
  std::string out = text + "[";
  bool first = true;
  for (const Expr &i : indices) {
    out += (first ? "" : ", ") + i.text;
    first = false;
  }
  return Expr(out + "]");
}

Expr attnc::dsl::binary(const Expr &a, const char *op, const Expr &b) {
  return Expr("(" + a.text + " " + op + " " + b.text + ")");
}
Expr attnc::dsl::unary(const char *op, const Expr &a) { return Expr("(" + (op + a.text) + ")"); }
Expr attnc::dsl::call(const char *fn, std::initializer_list<Expr> args) {
  std::string out = std::string(fn) + "(";
  bool first = true;
  for (const Expr &a : args) {
    out += (first ? "" : ", ") + a.text;
    first = false;
  }
  return Expr(out + ")");
}

const Expr attnc::dsl::b = Expr::name("b");
const Expr attnc::dsl::h = Expr::name("h");
const Expr attnc::dsl::q = Expr::name("q");
const Expr attnc::dsl::k = Expr::name("k");
const Expr attnc::dsl::Sq = Expr::name("Sq");
const Expr attnc::dsl::Skv = Expr::name("Skv");
const Expr attnc::dsl::s = Expr::name("s");
const Expr attnc::dsl::t = Expr::name("t");
const Expr attnc::dsl::d = Expr::name("d");
const Expr attnc::dsl::x = Expr::name("x");

Expr Pattern::param(const std::string &name, int value, std::optional<std::pair<int, int>> range) {
  std::string clause = "param " + name + ": int = " + Expr(value).str();
  if (range)
    clause += " in [" + Expr(range->first).str() + ", " + Expr(range->second).str() + "]";
  clauses.push_back(clause);
  return Expr::name(name);
}

Expr Pattern::param(const std::string &name, double value,
                    std::optional<std::pair<double, double>> range) {
  std::string clause = "param " + name + ": float = " + Expr(value).str();
  if (range)
    clause += " in [" + Expr(range->first).str() + ", " + Expr(range->second).str() + "]";
  clauses.push_back(clause);
  return Expr::name(name);
}

Expr Pattern::scalar(const std::string &name, std::optional<double> defaultValue) {
  clauses.push_back("scalar " + name + (defaultValue ? " = " + Expr(*defaultValue).str() : ""));
  return Expr::name(name);
}

Expr Pattern::input(const std::string &name, ElementType type, std::vector<std::string> shape) {
  std::string clause = "input " + name +
                       (type == ElementType::Int     ? ": int["
                        : type == ElementType::Float ? ": float["
                                                     : ": elem[");
  for (size_t i = 0; i < shape.size(); ++i)
    clause += (i ? ", " : "") + shape[i];
  clauses.push_back(clause + "]");
  return Expr::name(name);
}

Expr Pattern::let(const std::string &name, const Expr &value) {
  clauses.push_back("let " + name + " = " + value.str());
  return Expr::name(name);
}

Pattern &Pattern::mask(const Expr &e) {
  clauses.push_back("mask " + e.str());
  return *this;
}
Pattern &Pattern::score(const Expr &e) {
  clauses.push_back("score " + e.str());
  return *this;
}
Pattern &Pattern::weight(const Expr &e) {
  clauses.push_back("weight " + e.str());
  return *this;
}

Pattern &Pattern::normalize(Normalizer kind, std::optional<double> scale,
                            std::optional<double> temperature, std::optional<double> bias) {
  std::string clause = kind == Normalizer::Softmax   ? "normalize softmax"
                       : kind == Normalizer::Sigmoid ? "normalize sigmoid"
                       : kind == Normalizer::Sum     ? "normalize sum"
                                                     : "normalize none";
  std::vector<std::string> options;
  if (scale)
    options.push_back("scale = " + Expr(*scale).str());
  if (temperature)
    options.push_back("temperature = " + Expr(*temperature).str());
  if (bias)
    options.push_back("bias = " + Expr(*bias).str());
  for (size_t i = 0; i < options.size(); ++i)
    clause += (i ? ", " : "(") + options[i];
  if (!options.empty())
    clause += ")";
  clauses.push_back(clause);
  return *this;
}

Pattern &Pattern::heads(int queryHeads, int kvHeads) {
  clauses.push_back("heads " + std::to_string(queryHeads) + ", " + std::to_string(kvHeads));
  return *this;
}
Pattern &Pattern::headDim(int d, int dv) {
  clauses.push_back("head_dim " + std::to_string(d) + ", " + std::to_string(dv));
  return *this;
}
Pattern &Pattern::varlen() {
  clauses.push_back("varlen");
  return *this;
}
Pattern &Pattern::outputLse() {
  clauses.push_back("output lse");
  return *this;
}
Pattern &Pattern::linear(const Linear &form) {
  std::string items;
  if (form.feature)
    items += "feature " + form.feature->str() + "; ";
  if (form.decay)
    items += "decay " + form.decay->str() + "; ";
  if (form.causal)
    items += "causal ";
  clauses.push_back("linear { " + items + "}");
  return *this;
}
Pattern &Pattern::branch(const std::string &branchName,
                         std::optional<std::pair<std::string, std::string>> ownQK) {
  branches.push_back(std::make_unique<Pattern>(branchName));
  if (ownQK)
    branches.back()->ownQK = "(q = " + ownQK->first + ", k = " + ownQK->second + ")";
  return *branches.back();
}
Pattern &Pattern::combine(const Expr &e) {
  clauses.push_back("combine " + e.str());
  return *this;
}

std::string Pattern::body(const std::string &indent) const {
  std::string out;
  for (const std::string &clause : clauses)
    out += indent + clause + "\n";
  for (const auto &branch : branches)
    out += indent + "branch " + branch->name + branch->ownQK + " {\n" +
           branch->body(indent + "  ") + indent + "}\n";
  return out;
}

std::string Pattern::str() const { return "attention " + name + " {\n" + body("  ") + "}\n"; }

Pattern &Spec::pattern(const std::string &name) {
  patterns.push_back(std::make_unique<Pattern>(name));
  return *patterns.back();
}

std::string Spec::str() const {
  std::string out;
  for (const auto &p : patterns)
    out += p->str();
  return out;
}

mlir::OwningOpRef<mlir::ModuleOp> Spec::build(mlir::MLIRContext &context,
                                              llvm::SourceMgr &sourceMgr,
                                              const ParamOverrides &overrides) const {
  loadAttnDialects(context);
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(str(), "<builder>"),
                               llvm::SMLoc());
  return parsePatterns(context, sourceMgr, overrides);
}
