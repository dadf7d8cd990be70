//===- Builder.h - Build attention patterns from C++ -----------------*- C++ -*-===//
//
// A C++ way to write the same specs as the .attn language, for programs that embed attnc:
//
//   using namespace attnc::dsl;
//   Spec spec;
//   Pattern &p = spec.pattern("sliding_window");
//   Expr window = p.param("window", 256);
//   p.mask(k <= q && q - k < window);
//   p.score(30.0 * tanh(s / 30.0));
//   spec.pattern("based").headDim(16, 64).linear({taylor2(), std::nullopt, true})
//       .normalize(Normalizer::Sum);
//   mlir::OwningOpRef<mlir::ModuleOp> module = spec.build(context, sourceMgr);
//
// The builder renders .attn text (Spec::str()) and compiles it through the same parser and
// MLIRGen as a file, so the IR is the text's IR by construction and every diagnostic points
// into the rendered text (buffer "<builder>").
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_FRONTEND_BUILDER_H
#define ATTN_FRONTEND_BUILDER_H

#include "attn/Frontend/MLIRGen.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnc::dsl {

/// An expression of the language (int, float or bool; checked when the spec is built).
class Expr {
public:
  Expr(int value);
  Expr(double value);
  /// A name: b h q k Sq Skv s, or a param / let / scalar declared in the pattern.
  static Expr name(std::string name);
  const std::string &str() const { return text; }

  /// input[i, j, ...]
  Expr operator[](std::initializer_list<Expr> indices) const;

private:
  explicit Expr(std::string text) : text(std::move(text)) {}
  friend Expr binary(const Expr &a, const char *op, const Expr &b);
  friend Expr unary(const char *op, const Expr &a);
  friend Expr call(const char *fn, std::initializer_list<Expr> args);
  std::string text;
};

Expr binary(const Expr &a, const char *op, const Expr &b);
Expr unary(const char *op, const Expr &a);
Expr call(const char *fn, std::initializer_list<Expr> args);

inline Expr operator+(const Expr &a, const Expr &b) { return binary(a, "+", b); }
inline Expr operator-(const Expr &a, const Expr &b) { return binary(a, "-", b); }
inline Expr operator*(const Expr &a, const Expr &b) { return binary(a, "*", b); }
inline Expr operator/(const Expr &a, const Expr &b) { return binary(a, "/", b); }
inline Expr operator%(const Expr &a, const Expr &b) { return binary(a, "%", b); }
inline Expr operator<(const Expr &a, const Expr &b) { return binary(a, "<", b); }
inline Expr operator<=(const Expr &a, const Expr &b) { return binary(a, "<=", b); }
inline Expr operator>(const Expr &a, const Expr &b) { return binary(a, ">", b); }
inline Expr operator>=(const Expr &a, const Expr &b) { return binary(a, ">=", b); }
inline Expr operator==(const Expr &a, const Expr &b) { return binary(a, "==", b); }
inline Expr operator!=(const Expr &a, const Expr &b) { return binary(a, "!=", b); }
inline Expr operator&&(const Expr &a, const Expr &b) { return binary(a, "&&", b); }
inline Expr operator||(const Expr &a, const Expr &b) { return binary(a, "||", b); }
inline Expr operator-(const Expr &a) { return unary("-", a); }
inline Expr operator!(const Expr &a) { return unary("!", a); }

inline Expr min(const Expr &a, const Expr &b) { return call("min", {a, b}); }
inline Expr max(const Expr &a, const Expr &b) { return call("max", {a, b}); }
inline Expr clamp(const Expr &x, const Expr &lo, const Expr &hi) {
  return call("clamp", {x, lo, hi});
}
inline Expr select(const Expr &c, const Expr &a, const Expr &b) {
  return call("select", {c, a, b});
}
inline Expr abs(const Expr &x) { return call("abs", {x}); }
inline Expr toInt(const Expr &x) { return call("int", {x}); }
inline Expr toFloat(const Expr &x) { return call("float", {x}); }
inline Expr tanh(const Expr &x) { return call("tanh", {x}); }
inline Expr exp(const Expr &x) { return call("exp", {x}); }
inline Expr exp2(const Expr &x) { return call("exp2", {x}); }
inline Expr log(const Expr &x) { return call("log", {x}); }
inline Expr log2(const Expr &x) { return call("log2", {x}); }
inline Expr floor(const Expr &x) { return call("floor", {x}); }
inline Expr ceil(const Expr &x) { return call("ceil", {x}); }
inline Expr sqrt(const Expr &x) { return call("sqrt", {x}); }
inline Expr pow(const Expr &x, const Expr &y) { return call("pow", {x, y}); }

/// The built-in names; t (a token's position) and d (a key dimension) in a linear form's
/// decay, x (an element of q or k) in its feature map.
extern const Expr b, h, q, k, Sq, Skv, s, t, d, x;

/// The maps of whole rows of a linear form's `feature`: Based's Taylor-2 map, Hedgehog's
/// learned map with its weights' input (float[H, D, M]).
inline Expr taylor2() { return Expr::name("taylor2"); }
inline Expr hedgehog(const Expr &weights) { return call("hedgehog", {weights}); }

enum class Normalizer { Softmax, Sigmoid, None, Sum };
/// Elem: the kernel's element type (bf16 / fp16), for a composite branch's own q and k.
enum class ElementType { Int, Float, Elem };

/// A linear form (`linear { ... }`): a feature map (per element over x, or a map of whole
/// rows), a decay over b h t d, causality. Its normaliser is the pattern's (None or Sum).
struct Linear {
  std::optional<Expr> feature, decay;
  bool causal = false;
};

/// One `attention NAME { ... }`; every method adds one clause.
class Pattern {
public:
  explicit Pattern(std::string name) : name(std::move(name)) {}

  Expr param(const std::string &name, int value, std::optional<std::pair<int, int>> range = {});
  Expr param(const std::string &name, double value,
             std::optional<std::pair<double, double>> range = {});
  Expr scalar(const std::string &name, std::optional<double> defaultValue = {});
  /// Dimensions are "B" "H" "Hkv" "Sq" "Skv" "D" or integers written as text ("32").
  Expr input(const std::string &name, ElementType type, std::vector<std::string> shape);
  Expr let(const std::string &name, const Expr &value);
  Pattern &mask(const Expr &e);
  Pattern &score(const Expr &e);
  Pattern &weight(const Expr &e);
  Pattern &normalize(Normalizer kind, std::optional<double> scale = {},
                     std::optional<double> temperature = {}, std::optional<double> bias = {});
  Pattern &heads(int queryHeads, int kvHeads);
  Pattern &headDim(int d, int dv);
  Pattern &varlen();
  Pattern &outputLse();
  Pattern &linear(const Linear &form);
  /// A composite's branch `NAME { ... }` (add its clauses to the returned pattern); the
  /// composite's `combine` reads each branch's output element by its name (Expr::name). With
  /// `ownQK`, `NAME(q = X, k = Y)`: the composite's Elem inputs X and Y as its q and k.
  Pattern &branch(const std::string &name,
                  std::optional<std::pair<std::string, std::string>> ownQK = {});
  Pattern &combine(const Expr &e);

  std::string str() const;

private:
  /// The clauses and branches, `indent` deep.
  std::string body(const std::string &indent) const;
  std::string name;
  std::string ownQK; // a branch's "(q = X, k = Y)", or empty
  std::vector<std::string> clauses;
  std::vector<std::unique_ptr<Pattern>> branches; // in order, rendered after the clauses
};

/// A set of patterns (one .attn file).
class Spec {
public:
  Pattern &pattern(const std::string &name);
  /// The .attn text of the spec.
  std::string str() const;
  /// Parses and verifies the spec into pattern-level IR through `sourceMgr` (which receives
  /// the rendered text; install a diagnostic handler on it for file:line:col errors). Null on
  /// error.
  mlir::OwningOpRef<mlir::ModuleOp> build(mlir::MLIRContext &context, llvm::SourceMgr &sourceMgr,
                                          const ParamOverrides &overrides = {}) const;

private:
  std::vector<std::unique_ptr<Pattern>> patterns;
};

} // namespace attnc::dsl

#endif // ATTN_FRONTEND_BUILDER_H
