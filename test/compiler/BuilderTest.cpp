//===- BuilderTest.cpp - The C++ builder produces the text's IR ---------------===//
#include "TestUtil.h"

#include "attn/Frontend/Builder.h"

#include <gtest/gtest.h>

using namespace attnc::dsl;

namespace {

std::string printIR(mlir::ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  return text;
}

std::string fromText(const std::string &spec) {
  mlir::MLIRContext context;
  attnc::loadAttnDialects(context);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(spec, "spec.attn"),
                               llvm::SMLoc());
  auto module = attnc::parsePatterns(context, sourceMgr);
  return module ? printIR(*module) : "<error>";
}

std::string fromBuilder(const Spec &spec) {
  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  auto module = spec.build(context, sourceMgr);
  return module ? printIR(*module) : "<error>";
}

TEST(Builder, SameIRAsText) {
  Spec spec;
  Pattern &window = spec.pattern("sliding_window");
  Expr w = window.param("window", 256, std::make_pair(1, 4096));
  window.mask(k <= q && q - k < w);

  Pattern &doc = spec.pattern("document_softcap");
  Expr ids = doc.input("doc", ElementType::Int, {"B", "Skv"});
  Expr cap = doc.param("cap", 30.0);
  Expr gain = doc.scalar("gain", 1.5);
  doc.mask(ids[{b, q}] == ids[{b, k}] && !(k > q));
  doc.score(gain * (cap * tanh(s / cap)));
  doc.normalize(Normalizer::Softmax, 0.125, 0.5);
  doc.heads(8, 2).headDim(128, 64).varlen().outputLse();

  Pattern &grid = spec.pattern("grid");
  Expr dist = grid.let("dist", abs(q / 16 - k / 16) + abs(q % 16 - k % 16));
  grid.weight(pow(0.9, toFloat(dist)));
  grid.normalize(Normalizer::Sigmoid, std::nullopt, std::nullopt, -2.5);

  std::string text = R"(
attention sliding_window {
  param window: int = 256 in [1, 4096]
  mask k <= q && q - k < window
}
attention document_softcap {
  input doc: int[B, Skv]
  param cap: float = 30.0
  scalar gain = 1.5
  mask doc[b, q] == doc[b, k] && !(k > q)
  score gain * (cap * tanh(s / cap))
  normalize softmax(scale = 0.125, temperature = 0.5)
  heads 8, 2
  head_dim 128, 64
  varlen
  output lse
}
attention grid {
  let dist = abs(q / 16 - k / 16) + abs(q % 16 - k % 16)
  weight pow(0.9, float(dist))
  normalize sigmoid(bias = -2.5)
}
)";
  std::string built = fromBuilder(spec);
  EXPECT_NE(built, "<error>") << spec.str();
  EXPECT_EQ(built, fromText(text)) << spec.str();
}

/// Linear forms (a per-element map, a map of whole rows, decays over t and d) and a composite
/// of branches mixed by its combine.
TEST(Builder, LinearFormsAndCompositesAsText) {
  Spec spec;
  Pattern &lin = spec.pattern("linear_transformer");
  lin.linear({select(x > 0.0, x + 1.0, exp(x)), std::nullopt, true}).normalize(Normalizer::Sum);

  Pattern &gla = spec.pattern("gla");
  Expr gate = gla.input("gate", ElementType::Float, {"B", "H", "Sq", "D"});
  gla.linear({std::nullopt, exp(-log(1.0 + exp(-gate[{b, h, t, d}])) / 16.0), true});
  gla.normalize(Normalizer::None, 1.0);

  Pattern &based = spec.pattern("based");
  based.headDim(16, 64).linear({taylor2(), std::nullopt, true}).normalize(Normalizer::Sum);

  Pattern &hh = spec.pattern("hedgehog");
  Expr w = hh.input("w", ElementType::Float, {"H", "D", "64"});
  hh.linear({hedgehog(w), std::nullopt, true}).normalize(Normalizer::Sum);

  Pattern &mix = spec.pattern("mixed");
  Expr weight = mix.input("mix", ElementType::Float, {"H"});
  mix.branch("global").linear({std::nullopt, std::nullopt, true});
  mix.branch("local").mask(k <= q && q - k < 64);
  Expr g = 1.0 / (1.0 + exp(-weight[{h}]));
  mix.combine(g * Expr::name("global") + (1.0 - g) * Expr::name("local"));

  Pattern &layer = spec.pattern("based_layer"); // Based: Taylor-2 on q, k of its own + a window
  layer.headDim(64, 64);
  layer.input("fq", ElementType::Elem, {"B", "Sq", "H", "16"});
  layer.input("fk", ElementType::Elem, {"B", "Skv", "Hkv", "16"});
  layer.branch("global", std::pair{std::string("fq"), std::string("fk")})
      .linear({taylor2(), std::nullopt, true})
      .normalize(Normalizer::Sum);
  layer.branch("local").mask(k <= q && q - k < 64);
  layer.combine(Expr::name("global") + Expr::name("local"));

  std::string text = R"(
attention linear_transformer {
  linear { feature select(x > 0.0, x + 1.0, exp(x)); causal }
  normalize sum
}
attention gla {
  input gate: float[B, H, Sq, D]
  linear { decay exp(-log(1.0 + exp(-gate[b, h, t, d])) / 16.0); causal }
  normalize none(scale = 1.0)
}
attention based {
  head_dim 16, 64
  linear { feature taylor2; causal }
  normalize sum
}
attention hedgehog {
  input w: float[H, D, 64]
  linear { feature hedgehog(w); causal }
  normalize sum
}
attention mixed {
  input mix: float[H]
  combine 1.0 / (1.0 + exp(-mix[h])) * global + (1.0 - 1.0 / (1.0 + exp(-mix[h]))) * local
  branch global {
    linear { causal }
  }
  branch local {
    mask k <= q && q - k < 64
  }
}
attention based_layer {
  head_dim 64, 64
  input fq: elem[B, Sq, H, 16]
  input fk: elem[B, Skv, Hkv, 16]
  combine global + local
  branch global(q = fq, k = fk) {
    linear { feature taylor2; causal }
    normalize sum
  }
  branch local {
    mask k <= q && q - k < 64
  }
}
)";
  std::string built = fromBuilder(spec);
  EXPECT_NE(built, "<error>") << spec.str();
  EXPECT_EQ(built, fromText(text)) << spec.str();
}

TEST(Builder, ErrorsPointIntoTheRenderedText) {
  Spec spec;
  spec.pattern("bad").mask(q + k); // an int, not a bool
  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  std::string diagnostics;
  sourceMgr.setDiagHandler(
      [](const llvm::SMDiagnostic &d, void *out) {
        llvm::raw_string_ostream os(*static_cast<std::string *>(out));
        d.print(nullptr, os, /*ShowColors=*/false);
      },
      &diagnostics);
  EXPECT_FALSE(spec.build(context, sourceMgr));
  EXPECT_NE(diagnostics.find("<builder>:2:"), std::string::npos) << diagnostics;
  EXPECT_NE(diagnostics.find("a mask must be a bool expression"), std::string::npos) << diagnostics;
}

} // namespace
