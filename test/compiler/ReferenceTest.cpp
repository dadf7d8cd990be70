//===- ReferenceTest.cpp - The float64 reference against hand-written loops ---===//
//
// The reference interprets the pattern's IR; these tests compute the same attention with plain
// loops written from the papers' formulas (no IR involved) on random ragged problems, GQA and
// Dv != D included, and require agreement to rounding.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"

#include "attn/Codegen/Reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

using namespace attnc::test;
using namespace mlir::attn;

namespace {

enum class Norm { Softmax, Sigmoid };

struct Hand {
  std::function<bool(int64_t b, int64_t h, int64_t q, int64_t k, int64_t sq, int64_t skv)> keep =
      [](int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) { return true; };
  std::function<double(double s, int64_t b, int64_t h, int64_t q, int64_t k)> score =
      [](double s, int64_t, int64_t, int64_t, int64_t) { return s; };
  std::function<double(int64_t h, int64_t q, int64_t k)> weight = [](int64_t, int64_t, int64_t) {
    return 1.0;
  };
  Norm norm = Norm::Softmax;
  double bias = 0;  // sigmoid
  double scale = 0; // 0: 1/sqrt(D)
};

/// Straight loops: out[b, q, h] = sum_k w p(q, k) v[b, k, h / group].
std::vector<double> handAttention(const ReferenceProblem &p, const Hand &f) {
  std::vector<double> out(p.totalQ() * p.heads * p.headDimV, 0.0);
  const int64_t group = p.heads / p.kvHeads;
  const double scale = f.scale ? f.scale : 1.0 / std::sqrt(double(p.headDim));
  for (int64_t b = 0; b < p.batch; ++b) {
    int64_t sq = p.length(b, false), skv = p.length(b, true);
    int64_t q0 = p.rowStart(b, false), k0 = p.rowStart(b, true);
    for (int64_t h = 0; h < p.heads; ++h)
      for (int64_t q = 0; q < sq; ++q) {
        std::vector<double> t(skv, -INFINITY);
        double m = -INFINITY;
        for (int64_t k = 0; k < skv; ++k) {
          if (!f.keep(b, h, q, k, sq, skv))
            continue;
          double dot = 0;
          for (int64_t d = 0; d < p.headDim; ++d)
            dot += p.q[((q0 + q) * p.heads + h) * p.headDim + d] *
                   p.k[((k0 + k) * p.kvHeads + h / group) * p.headDim + d];
          t[k] = f.score(scale * dot, b, h, q, k);
          m = std::max(m, t[k]);
        }
        double sum = 0;
        for (int64_t k = 0; k < skv; ++k)
          if (t[k] != -INFINITY)
            sum += std::exp(t[k] - m);
        for (int64_t k = 0; k < skv; ++k) {
          if (t[k] == -INFINITY)
            continue;
          double w = f.norm == Norm::Softmax ? std::exp(t[k] - m) / sum
                                             : 1.0 / (1.0 + std::exp(-(t[k] + f.bias)));
          w *= f.weight(h, q, k);
          for (int64_t d = 0; d < p.headDimV; ++d)
            out[((q0 + q) * p.heads + h) * p.headDimV + d] +=
                w * p.v[((k0 + k) * p.kvHeads + h / group) * p.headDimV + d];
        }
      }
  }
  return out;
}

/// A random problem: B 2, H 4 over 2 KV heads, Sq 37, Skv 53, D 16, Dv 8 (or varlen).
struct RandomProblem {
  std::vector<double> q, k, v;
  ReferenceProblem p;
  explicit RandomProblem(unsigned seed, bool varlen = false, int64_t sq = 37, int64_t skv = 53,
                         double qScale = 1.0) {
    std::mt19937 rng(seed);
    p.batch = 2;
    p.heads = 4;
    p.kvHeads = 2;
    p.seqQ = sq;
    p.seqK = skv;
    p.headDim = 16;
    p.headDimV = 8;
    if (varlen) {
      p.cuSeqlensQ = {0, sq - 11, 2 * sq - 11};
      p.cuSeqlensK = {0, skv, skv + skv - 20};
    }
    q = randomVector(p.totalQ() * p.heads * p.headDim, rng);
    for (double &x : q)
      x *= qScale;
    k = randomVector(p.totalK() * p.kvHeads * p.headDim, rng);
    v = randomVector(p.totalK() * p.kvHeads * p.headDimV, rng);
    p.q = q;
    p.k = k;
    p.v = v;
  }
};

double maxAbsDiff(const std::vector<double> &a, const std::vector<double> &b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

void expectMatches(const std::string &spec, RandomProblem &rp, const Hand &hand,
                   const attnc::ParamOverrides &overrides = {}, double tolerance = 1e-12) {
  std::unique_ptr<Compiled> c = compile(spec, overrides);
  ASSERT_TRUE(c) << spec;
  mlir::FailureOr<ReferenceResult> ref = evaluateReference(c->pattern(), rp.p);
  ASSERT_TRUE(mlir::succeeded(ref)) << spec;
  std::vector<double> want = handAttention(rp.p, hand);
  double norm = 0;
  for (double x : want)
    norm = std::max(norm, std::fabs(x));
  ASSERT_GT(norm, 0.1) << "degenerate problem";
  EXPECT_LT(maxAbsDiff(ref->out, want), tolerance) << spec;
}

TEST(Reference, Causal) {
  RandomProblem rp(1);
  Hand hand;
  hand.keep = [](int64_t, int64_t, int64_t q, int64_t k, int64_t sq, int64_t skv) {
    return k <= q + skv - sq;
  };
  expectMatches("attention c { mask k <= q + Skv - Sq }", rp, hand);
}

TEST(Reference, SlidingWindowWithParamOverride) {
  RandomProblem rp(2);
  Hand hand;
  hand.keep = [](int64_t, int64_t, int64_t q, int64_t k, int64_t, int64_t) {
    return k <= q && q - k < 5;
  };
  expectMatches("attention w { param window: int = 256 in [1, 4096]\n"
                "  mask k <= q && q - k < window }",
                rp, hand, {{"window", "5"}});
}

TEST(Reference, PrefixLM) {
  RandomProblem rp(3);
  Hand hand;
  hand.keep = [](int64_t, int64_t, int64_t q, int64_t k, int64_t, int64_t) {
    return k < 9 || k <= q;
  };
  expectMatches("attention p { param prefix: int = 9\n mask k < prefix || k <= q }", rp, hand);
}

TEST(Reference, Document) {
  RandomProblem rp(4);
  // Sorted document ids: three documents per row, boundaries differing per batch.
  std::vector<double> docQ, docK;
  auto id = [](int64_t b, int64_t pos, int64_t len) { return double((pos * 3 + b) / (len + 1)); };
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t i = 0; i < rp.p.seqQ; ++i)
      docQ.push_back(id(b, i, rp.p.seqQ));
    for (int64_t i = 0; i < rp.p.seqK; ++i)
      docK.push_back(id(b, i, rp.p.seqK));
  }
  rp.p.inputs["dq"] = docQ;
  rp.p.inputs["dk"] = docK;
  Hand hand;
  hand.keep = [&](int64_t b, int64_t, int64_t q, int64_t k, int64_t, int64_t) {
    return docQ[b * rp.p.seqQ + q] == docK[b * rp.p.seqK + k] && k <= q;
  };
  expectMatches("attention d { input dq: int[B, Sq]\n input dk: int[B, Skv]\n"
                " mask dq[b, q] == dk[b, k] && k <= q }",
                rp, hand);
}

TEST(Reference, ALiBi) {
  RandomProblem rp(5);
  Hand hand;
  hand.keep = [](int64_t, int64_t, int64_t q, int64_t k, int64_t, int64_t) { return k <= q; };
  hand.score = [](double s, int64_t, int64_t h, int64_t q, int64_t k) {
    double slope = std::pow(2.0, -8.0 * double(h + 1) / 4.0);
    return s - slope * double(q - k);
  };
  // The spec computes the slope in f32 like the kernel; compare at f32 resolution.
  expectMatches(
      "attention a { param n: int = 4\n let slope = exp2(-8.0 * float(h + 1) / float(n))\n"
      " mask k <= q\n score s - slope * float(q - k) }",
      rp, hand, {}, /*tolerance=*/1e-6);
}

TEST(Reference, Softcap) {
  RandomProblem rp(6, false, 37, 53, /*qScale=*/8.0); // large scores, so the cap matters
  Hand hand;
  hand.score = [](double s, int64_t, int64_t, int64_t, int64_t) {
    return 5.0 * std::tanh(s / 5.0);
  };
  expectMatches("attention s { param cap: float = 5.0\n score cap * tanh(s / cap) }", rp, hand);
  // And the cap changed the result (the test would be vacuous otherwise).
  EXPECT_GT(maxAbsDiff(handAttention(rp.p, hand), handAttention(rp.p, Hand{})), 1e-3);
}

TEST(Reference, SigmoidWithBiasAndWeight) {
  RandomProblem rp(7);
  Hand hand;
  hand.norm = Norm::Sigmoid;
  hand.bias = -2.0;
  hand.weight = [](int64_t, int64_t q, int64_t k) {
    return std::pow(0.5, double(std::abs(q / 4 - k / 4) + std::abs(q % 4 - k % 4)));
  };
  expectMatches("attention g { weight pow(0.5, float(abs(q / 4 - k / 4) + abs(q % 4 - k % 4)))\n"
                " normalize sigmoid(bias = -2.0) }",
                rp, hand);
}

TEST(Reference, TemperatureAndScale) {
  RandomProblem rp(8);
  Hand hand;
  hand.scale = 0.3 / 0.5;
  expectMatches("attention t { normalize softmax(scale = 0.3, temperature = 0.5) }", rp, hand);
}

TEST(Reference, VarlenCausalGqa) {
  RandomProblem rp(9, /*varlen=*/true);
  Hand hand;
  hand.keep = [](int64_t, int64_t, int64_t q, int64_t k, int64_t, int64_t) { return k <= q; };
  expectMatches("attention v { varlen\n mask k <= q }", rp, hand);
  // LSE is laid out [H, total_q] and is -inf only for rows without keys.
  std::unique_ptr<Compiled> c = compile("attention v { varlen\n mask k <= q }");
  auto ref = evaluateReference(c->pattern(), rp.p);
  ASSERT_TRUE(mlir::succeeded(ref));
  ASSERT_EQ(ref->lse.size(), size_t(rp.p.totalQ() * rp.p.heads));
  for (double x : ref->lse)
    EXPECT_TRUE(std::isfinite(x));
}

/// The decay of token t of sequence b, head h, key dimension (state row) d.
using GammaFn = std::function<double(int64_t b, int64_t h, int64_t t, int64_t d)>;

/// A linear pattern token by token (the recurrent form, independent of the reference's
/// quadratic one): S <- gamma_t S + phi(k) v^T, z <- gamma_t z + phi(k), o = c phi(q)^T S or
/// phi(q)^T S / phi(q) . z. Non-causal: S and z over every key first. Returns O, then the final
/// state appended.
std::vector<double> handLinear(const ReferenceProblem &p, const std::function<double(double)> &phi,
                               const GammaFn &gamma, bool causal, bool sum, double scale) {
  const int64_t H = p.heads, D = p.headDim, Dv = p.headDimV, group = H / p.kvHeads;
  std::vector<double> out(p.totalQ() * H * Dv, 0.0), states;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t L = p.length(b, false), base = p.rowStart(b, false), st = b * H + h;
      std::vector<double> S(D * Dv, 0.0), z(D, 0.0);
      for (int64_t i = 0; !p.stateIn.empty() && i < D * Dv; ++i)
        S[i] = p.stateIn[st * D * Dv + i];
      auto absorb = [&](int64_t t) {
        for (int64_t d = 0; d < D; ++d) {
          const double g = causal ? gamma(b, h, t, d) : 1.0;
          const double fk = phi(p.k[((base + t) * p.kvHeads + h / group) * D + d]);
          z[d] = g * z[d] + fk;
          for (int64_t e = 0; e < Dv; ++e)
            S[d * Dv + e] =
                g * S[d * Dv + e] + fk * p.v[((base + t) * p.kvHeads + h / group) * Dv + e];
        }
      };
      auto emit = [&](int64_t t) {
        double den = 0;
        std::vector<double> num(Dv, 0.0);
        for (int64_t d = 0; d < D; ++d) {
          const double fq = phi(p.q[((base + t) * H + h) * D + d]);
          den += fq * z[d];
          for (int64_t e = 0; e < Dv; ++e)
            num[e] += fq * S[d * Dv + e];
        }
        for (int64_t e = 0; e < Dv; ++e)
          out[((base + t) * H + h) * Dv + e] = sum ? (den != 0 ? num[e] / den : 0) : scale * num[e];
      };
      for (int64_t t = 0; t < L; ++t) {
        absorb(t);
        if (causal)
          emit(t);
      }
      for (int64_t t = 0; !causal && t < L; ++t)
        emit(t);
      states.insert(states.end(), S.begin(), S.end());
    }
  out.insert(out.end(), states.begin(), states.end());
  return out;
}

void expectLinear(const std::string &spec, RandomProblem &rp,
                  const std::function<double(double)> &phi, const GammaFn &gamma, bool causal,
                  bool sum) {
  std::unique_ptr<Compiled> c = compile(spec);
  ASSERT_TRUE(c) << spec;
  mlir::FailureOr<ReferenceResult> ref = evaluateReference(c->pattern(), rp.p);
  ASSERT_TRUE(mlir::succeeded(ref)) << spec;
  std::vector<double> want = handLinear(rp.p, phi, gamma, causal, sum, 1.0 / 4.0);
  std::vector<double> got = ref->out;
  got.insert(got.end(), ref->state.begin(), ref->state.end());
  double norm = 0;
  for (double x : want)
    norm = std::max(norm, std::fabs(x));
  ASSERT_GT(norm, 0.1) << "degenerate problem";
  EXPECT_LT(maxAbsDiff(got, want), 1e-9 * norm) << spec;
}

/// Square problems (a linear pattern attends within one sequence), with a random initial state.
RandomProblem linearProblem(unsigned seed, bool varlen = false) {
  RandomProblem rp(seed, varlen, 45, 45);
  std::mt19937 rng(seed + 1000);
  if (varlen) { // the keys' sequences are the queries'
    rp.p.cuSeqlensK = rp.p.cuSeqlensQ;
    rp.k = randomVector(rp.p.totalK() * rp.p.kvHeads * rp.p.headDim, rng);
    rp.v = randomVector(rp.p.totalK() * rp.p.kvHeads * rp.p.headDimV, rng);
    rp.p.k = rp.k;
    rp.p.v = rp.v;
  }
  rp.p.stateIn = randomVector(rp.p.batch * rp.p.heads * rp.p.headDim * rp.p.headDimV, rng);
  return rp;
}

TEST(ReferenceLinear, DecayAndFeatureMatchTheRecurrence) {
  RandomProblem rp = linearProblem(21);
  expectLinear(
      "attention l { linear { feature select(x > 0.0, x + 1.0, exp(x)); "
      "decay 1.0 - exp2(-2.0 - float(h)); causal } }",
      rp, [](double x) { return x > 0 ? x + 1 : std::exp(x); },
      [](int64_t, int64_t h, int64_t, int64_t) { return 1.0 - std::exp2(-2.0 - double(h)); }, true,
      false);
}

TEST(ReferenceLinear, SumNormaliserWithoutCausality) {
  RandomProblem rp = linearProblem(22);
  rp.p.stateIn.clear(); // the sum normaliser's key sum starts at zero with the state
  expectLinear(
      "attention l { linear { feature max(x, 0.0); normalize sum } }", rp,
      [](double x) { return std::max(x, 0.0); },
      [](int64_t, int64_t, int64_t, int64_t) { return 1.0; }, false, true);
}

TEST(ReferenceLinear, VarlenGqaWithScale) {
  RandomProblem rp = linearProblem(23, /*varlen=*/true);
  expectLinear(
      "attention l { varlen\n linear { causal; decay 0.75; normalize none(scale = 0.25) } }", rp,
      [](double x) { return x; }, [](int64_t, int64_t, int64_t, int64_t) { return 0.75; }, true,
      false);
}

/// A gate per token (the decay reads t) from an input [B, H, Sq], padded to the longest
/// sequence under varlen; with the sum normaliser the key sum decays by the same gates.
TEST(ReferenceLinear, PerTokenGateMatchesTheRecurrence) {
  for (bool varlen : {false, true}) {
    RandomProblem rp = linearProblem(26 + varlen, varlen);
    rp.p.stateIn.clear(); // the key sum starts at zero with the state
    const int64_t H = rp.p.heads, S = rp.p.seqQ;
    std::mt19937 rng(77);
    std::vector<double> &gate = rp.p.inputs["gate"];
    for (int64_t i = 0; i < rp.p.batch * H * S; ++i)
      gate.push_back(std::uniform_real_distribution<double>(0.05, 1.0)(rng));
    expectLinear(
        std::string("attention l { ") + (varlen ? "varlen " : "") +
            "input gate: float[B, H, Sq]\n linear { feature max(x, 0.0); "
            "decay exp(-gate[b, h, t]); causal; normalize sum } }",
        rp, [](double x) { return std::max(x, 0.0); },
        [&](int64_t b, int64_t h, int64_t t, int64_t) {
          return std::exp(-gate[(b * H + h) * S + t]);
        },
        true, true);
  }
}

/// A gate per token and key dimension (GLA: the decay reads t and d) from an input
/// [B, H, Sq, D]: row d of the state decays by its own gate. Strong gates (down to e^-4 per
/// token) make the per-dimension products differ by orders of magnitude across d.
TEST(ReferenceLinear, PerKeyDimGateMatchesTheRecurrence) {
  for (bool varlen : {false, true}) {
    RandomProblem rp = linearProblem(28 + varlen, varlen);
    const int64_t H = rp.p.heads, S = rp.p.seqQ, D = rp.p.headDim;
    std::mt19937 rng(78);
    std::vector<double> &gate = rp.p.inputs["gate"];
    for (int64_t i = 0; i < rp.p.batch * H * S * D; ++i)
      gate.push_back(std::uniform_real_distribution<double>(0.0, 4.0)(rng));
    expectLinear(
        std::string("attention l { ") + (varlen ? "varlen " : "") +
            "input gate: float[B, H, Sq, D]\n linear { decay exp(-gate[b, h, t, d]); causal; "
            "normalize none(scale = 0.25) } }",
        rp, [](double x) { return x; },
        [&](int64_t b, int64_t h, int64_t t, int64_t d) {
          return std::exp(-gate[((b * H + h) * S + t) * D + d]);
        },
        true, false);
  }
}

/// Causal, sum-normalised linear attention written as its weights: o_t = sum_{s <= t} w(q_t, k_s)
/// v_s / sum_{s <= t} w(q_t, k_s), for a weight function of the two rows (D values each).
std::vector<double>
handWeighted(const ReferenceProblem &p,
             const std::function<double(int64_t h, const double *q, const double *k)> &weight) {
  const int64_t H = p.heads, D = p.headDim, Dv = p.headDimV, group = H / p.kvHeads;
  std::vector<double> out(p.totalQ() * H * Dv, 0.0);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t L = p.length(b, false), base = p.rowStart(b, false);
      for (int64_t t = 0; t < L; ++t) {
        double den = 0;
        std::vector<double> num(Dv, 0.0);
        for (int64_t s = 0; s <= t; ++s) {
          const int64_t ks = (base + s) * p.kvHeads + h / group;
          const double w = weight(h, &p.q[((base + t) * H + h) * D], &p.k[ks * D]);
          den += w;
          for (int64_t e = 0; e < Dv; ++e)
            num[e] += w * p.v[ks * Dv + e];
        }
        for (int64_t e = 0; e < Dv; ++e)
          out[((base + t) * H + h) * Dv + e] = num[e] / den;
      }
    }
  return out;
}

/// Based's Taylor-2 map: its features' products are 1 + z + z^2 / 2 with z = q.k / sqrt(D)
/// (the formula, no features), over packed sequences with GQA; the final state has F = 153
/// features padded to 192 rows, and phi(q)^T S gives the weighted sum over every key.
TEST(ReferenceLinear, Taylor2MatchesItsWeights) {
  RandomProblem rp = linearProblem(31, /*varlen=*/true);
  rp.p.stateIn.clear();
  std::unique_ptr<Compiled> c =
      compile("attention l { varlen\n linear { feature taylor2; causal; normalize sum } }");
  ASSERT_TRUE(c);
  mlir::FailureOr<ReferenceResult> ref = evaluateReference(c->pattern(), rp.p);
  ASSERT_TRUE(mlir::succeeded(ref));
  const int64_t D = rp.p.headDim;
  auto weight = [&](int64_t, const double *q, const double *k) {
    double z = 0;
    for (int64_t d = 0; d < D; ++d)
      z += q[d] * k[d];
    z /= std::sqrt(double(D));
    return 1 + z + z * z / 2;
  };
  EXPECT_LT(maxAbsDiff(ref->out, handWeighted(rp.p, weight)), 1e-9);
  const int64_t rows = 192, Dv = rp.p.headDimV;
  ASSERT_EQ(ref->state.size(), size_t(rp.p.batch * rp.p.heads * rows * Dv));
  // Sequence 0, head 1: phi(x)^T S for a new row x against sum_s w(x, k_s) v_s.
  LinearOp linear = c->pattern().getUnique<LinearOp>();
  std::mt19937 rng(5);
  std::vector<double> x = randomVector(D, rng), phi(rows);
  applyRowFeatureMap(linear, D, {}, 1, x.data(), phi.data());
  for (int64_t f = 153; f < rows; ++f)
    EXPECT_EQ(phi[f], 0.0);
  for (int64_t e = 0; e < Dv; ++e) {
    double viaState = 0, direct = 0;
    for (int64_t f = 0; f < rows; ++f)
      viaState += phi[f] * ref->state[(1 * rows + f) * Dv + e];
    for (int64_t s = 0; s < rp.p.length(0, true); ++s) {
      const int64_t ks = s * rp.p.kvHeads + 0; // head 1 reads KV head 0
      direct += weight(1, x.data(), &rp.p.k[ks * D]) * rp.p.v[ks * Dv + e];
    }
    EXPECT_NEAR(viaState, direct, 1e-9 * std::max(1.0, std::fabs(direct)));
  }
}

/// Hedgehog's map, phi(x) = [softmax(x W_h), softmax(-x W_h)] per head, written out here.
TEST(ReferenceLinear, HedgehogMatchesItsMap) {
  RandomProblem rp = linearProblem(32);
  rp.p.stateIn.clear();
  const int64_t H = rp.p.heads, D = rp.p.headDim, M = 8;
  std::mt19937 rng(6);
  std::vector<double> &w = rp.p.inputs["w"];
  w = randomVector(H * D * M, rng);
  std::unique_ptr<Compiled> c = compile("attention l { input w: float[H, D, 8]\n linear { "
                                        "feature hedgehog(w); causal; normalize sum } }");
  ASSERT_TRUE(c);
  mlir::FailureOr<ReferenceResult> ref = evaluateReference(c->pattern(), rp.p);
  ASSERT_TRUE(mlir::succeeded(ref));
  auto phi = [&](int64_t h, const double *x) {
    std::vector<double> y(M, 0.0), out;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < D; ++i)
        y[m] += x[i] * w[(h * D + i) * M + m];
    for (double sign : {1.0, -1.0}) {
      double total = 0;
      for (double v : y)
        total += std::exp(sign * v);
      for (double v : y)
        out.push_back(std::exp(sign * v) / total);
    }
    return out;
  };
  auto weight = [&](int64_t h, const double *q, const double *k) {
    std::vector<double> a = phi(h, q), b = phi(h, k);
    double dot = 0;
    for (int64_t f = 0; f < 2 * M; ++f)
      dot += a[f] * b[f];
    return dot;
  };
  EXPECT_LT(maxAbsDiff(ref->out, handWeighted(rp.p, weight)), 1e-9);
  EXPECT_EQ(ref->state.size(), size_t(rp.p.batch * H * 64 * rp.p.headDimV)); // 16 rows -> 64
}

TEST(ReferenceLinear, RejectsDecaysOutsideTheUnitInterval) {
  RandomProblem rp = linearProblem(24);
  std::unique_ptr<Compiled> c = compile("attention l { linear { decay 1.5; causal } }");
  ASSERT_TRUE(c);
  EXPECT_TRUE(mlir::failed(evaluateReference(c->pattern(), rp.p)));
  RandomProblem tall(25, false, 40, 30); // queries and keys of different lengths
  std::unique_ptr<Compiled> ok = compile("attention l { linear { causal } }");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(mlir::failed(evaluateReference(ok->pattern(), tall.p)));
}

/// Rows [from, from + n) of every one of `batch` sequences of L rows of a [batch, L, rowWidth]
/// tensor (rowWidth = heads x width).
std::vector<double> sequenceRows(const std::vector<double> &x, int64_t batch, int64_t L,
                                 int64_t rowWidth, int64_t from, int64_t n) {
  std::vector<double> out;
  for (int64_t b = 0; b < batch; ++b)
    out.insert(out.end(), x.begin() + (b * L + from) * rowWidth,
               x.begin() + (b * L + from + n) * rowWidth);
  return out;
}

/// A dense problem split for decoding: the prefill over the first L - 1 tokens, and the step
/// of the last token's query over the whole sequence as the KV cache.
struct DecodeSplit {
  std::vector<double> q0, k0, v0, q1;
  ReferenceProblem prefill, step;
  explicit DecodeSplit(const RandomProblem &rp) : prefill(rp.p), step(rp.p) {
    const ReferenceProblem &p = rp.p;
    const int64_t B = p.batch, L = p.seqQ;
    q0 = sequenceRows(rp.q, B, L, p.heads * p.headDim, 0, L - 1);
    k0 = sequenceRows(rp.k, B, L, p.kvHeads * p.headDim, 0, L - 1);
    v0 = sequenceRows(rp.v, B, L, p.kvHeads * p.headDimV, 0, L - 1);
    q1 = sequenceRows(rp.q, B, L, p.heads * p.headDim, L - 1, 1);
    prefill.seqQ = prefill.seqK = L - 1;
    prefill.q = q0;
    prefill.k = k0;
    prefill.v = v0;
    step.seqQ = 1;
    step.q = q1;
  }
};

TEST(ReferenceComposite, MixesItsBranchesPerElement) {
  // A decayed linear branch and a causal sliding window, mixed per head, plus terms in b and q
  // (the combine's index arguments), on ragged sequences with GQA; against the two branches by
  // hand-written loops.
  RandomProblem rp = linearProblem(31, /*varlen=*/true);
  rp.p.stateIn.clear(); // a composite's linear branches start from zero
  const std::vector<double> mix = {0.2, 0.5, 0.9, 0.0};
  rp.p.inputs["mix"] = mix;
  std::unique_ptr<Compiled> c =
      compile("attention m {\n varlen\n input mix: float[H]\n"
              " branch lin { linear { decay 1.0 - exp2(-2.0 - float(h)); causal } }\n"
              " branch win { mask k <= q && q - k < 5 }\n"
              " combine mix[h] * lin + (1.0 - mix[h]) * win + 0.25 * float(q) + 0.5 * float(b)\n"
              "}");
  ASSERT_TRUE(c);
  auto composite = *c->module->getOps<CompositeOp>().begin();
  mlir::FailureOr<ReferenceResult> ref = evaluateComposite(composite, rp.p);
  ASSERT_TRUE(mlir::succeeded(ref));
  std::vector<double> lin = handLinear(
      rp.p, [](double x) { return x; },
      [](int64_t, int64_t h, int64_t, int64_t) { return 1.0 - std::exp2(-2.0 - double(h)); },
      /*causal=*/true, /*sum=*/false, 1.0 / 4.0);
  Hand window;
  window.keep = [](int64_t, int64_t, int64_t q, int64_t k, int64_t, int64_t) {
    return k <= q && q - k < 5;
  };
  std::vector<double> win = handAttention(rp.p, window);
  std::vector<double> want(win.size());
  for (int64_t b = 0; b < rp.p.batch; ++b)
    for (int64_t q = 0; q < rp.p.length(b, false); ++q)
      for (int64_t h = 0; h < rp.p.heads; ++h)
        for (int64_t e = 0; e < rp.p.headDimV; ++e) {
          const int64_t i = ((rp.p.rowStart(b, false) + q) * rp.p.heads + h) * rp.p.headDimV + e;
          want[i] = mix[h] * lin[i] + (1 - mix[h]) * win[i] + 0.25 * double(q) + 0.5 * double(b);
        }
  EXPECT_LT(maxAbsDiff(ref->out, want), 1e-9);
  // The composite's state is its linear branch's.
  const size_t states = rp.p.batch * rp.p.heads * rp.p.headDim * rp.p.headDimV;
  EXPECT_LT(maxAbsDiff(ref->state, std::vector<double>(lin.begin() + win.size(),
                                                       lin.begin() + win.size() + states)),
            1e-9);
}

/// A hybrid layer decodes: a prefill over the first L - 1 tokens returns the linear branch's
/// state; one step from it, with the whole sequence as the KV cache (the new token last) for
/// the window, gives the full computation's last row and final state. Two linear branches
/// cannot share one state.
TEST(ReferenceComposite, DecodesAfterAPrefill) {
  RandomProblem rp = linearProblem(33);
  rp.p.stateIn.clear();
  const int64_t B = rp.p.batch, H = rp.p.heads, L = rp.p.seqQ;
  const int64_t D = rp.p.headDim, Dv = rp.p.headDimV;
  rp.p.inputs["mix"] = {0.2, 0.5, 0.9, 0.0};
  std::unique_ptr<Compiled> c =
      compile("attention m {\n input mix: float[H]\n"
              " branch lin { linear { decay 0.9; causal; normalize none(scale = 0.5) } }\n"
              " branch win { mask k <= q + (Skv - Sq) && q + (Skv - Sq) - k < 5 }\n"
              " combine mix[h] * lin + (1.0 - mix[h]) * win\n}");
  ASSERT_TRUE(c);
  auto composite = *c->module->getOps<CompositeOp>().begin();
  mlir::FailureOr<ReferenceResult> full = evaluateComposite(composite, rp.p);
  ASSERT_TRUE(mlir::succeeded(full));
  auto rows = [&](const std::vector<double> &x, int64_t heads, int64_t width, int64_t from,
                  int64_t n) { return sequenceRows(x, B, L, heads * width, from, n); };
  DecodeSplit split(rp);
  ReferenceProblem &prefill = split.prefill;
  mlir::FailureOr<ReferenceResult> first = evaluateComposite(composite, prefill);
  ASSERT_TRUE(mlir::succeeded(first));
  ReferenceProblem &step = split.step; // the whole sequence as the cache
  step.stateIn = first->state;
  mlir::FailureOr<ReferenceResult> next = evaluateComposite(composite, step);
  ASSERT_TRUE(mlir::succeeded(next));
  EXPECT_LT(maxAbsDiff(next->out, rows(full->out, H, Dv, L - 1, 1)), 1e-9);
  EXPECT_LT(maxAbsDiff(next->state, full->state), 1e-9);
  std::unique_ptr<Compiled> two = compile("attention t {\n"
                                          " branch a { linear { causal } }\n"
                                          " branch b { linear { decay 0.5; causal } }\n"
                                          " combine a + b\n}");
  ASSERT_TRUE(two);
  ReferenceProblem stated = rp.p;
  stated.stateIn.assign(B * H * D * Dv, 0.0);
  EXPECT_TRUE(mlir::failed(evaluateComposite(*two->module->getOps<CompositeOp>().begin(), stated)));
}

/// Based: a Taylor-2 branch over queries and keys of its own (inputs of the element type, head
/// dim 8) beside a window over the call's (head dim 16), summed; against the formula 1 + z +
/// z^2 / 2 on the branch's q and k and the window by hand. Then decoding: a prefill over L - 1
/// tokens + one step with the whole sequence as the cache (the own k cut like the call's k)
/// gives the last row and the state.
TEST(ReferenceComposite, BranchWithQueriesAndKeysOfItsOwn) {
  RandomProblem rp = linearProblem(35);
  rp.p.stateIn.clear();
  const int64_t B = rp.p.batch, H = rp.p.heads, Hkv = rp.p.kvHeads, L = rp.p.seqQ, N = 8;
  const int64_t Dv = rp.p.headDimV;
  std::mt19937 rng(36);
  std::vector<double> fq = randomVector(B * L * H * N, rng),
                      fk = randomVector(B * L * Hkv * N, rng);
  rp.p.inputs["fq"] = fq;
  rp.p.inputs["fk"] = fk;
  std::unique_ptr<Compiled> c =
      compile("attention m {\n head_dim 16, 8\n input fq: elem[B, Sq, H, 8]\n"
              " input fk: elem[B, Skv, Hkv, 8]\n"
              " branch lin(q = fq, k = fk) { linear { feature taylor2; causal; normalize sum } }\n"
              " branch win { mask k <= q + (Skv - Sq) && q + (Skv - Sq) - k < 5 }\n"
              " combine lin + win\n}");
  ASSERT_TRUE(c);
  auto composite = *c->module->getOps<CompositeOp>().begin();
  mlir::FailureOr<ReferenceResult> full = evaluateComposite(composite, rp.p);
  ASSERT_TRUE(mlir::succeeded(full));
  ReferenceProblem own = rp.p;
  own.q = fq;
  own.k = fk;
  own.headDim = N;
  auto taylor = [&](int64_t, const double *q, const double *k) {
    double z = 0;
    for (int64_t d = 0; d < N; ++d)
      z += q[d] * k[d];
    z /= std::sqrt(double(N));
    return 1 + z + z * z / 2;
  };
  std::vector<double> lin = handWeighted(own, taylor);
  Hand window;
  window.keep = [](int64_t, int64_t, int64_t q, int64_t k, int64_t, int64_t) {
    return k <= q && q - k < 5;
  };
  std::vector<double> win = handAttention(rp.p, window);
  ASSERT_EQ(lin.size(), win.size());
  for (size_t i = 0; i < lin.size(); ++i)
    lin[i] += win[i];
  EXPECT_LT(maxAbsDiff(full->out, lin), 1e-9);
  EXPECT_EQ(full->state.size(), size_t(B * H * 64 * Dv)); // 45 features -> 64 rows

  auto rows = [&](const std::vector<double> &x, int64_t heads, int64_t width, int64_t from,
                  int64_t n) { return sequenceRows(x, B, L, heads * width, from, n); };
  DecodeSplit split(rp);
  ReferenceProblem &prefill = split.prefill;
  prefill.inputs["fq"] = rows(fq, H, N, 0, L - 1);
  prefill.inputs["fk"] = rows(fk, Hkv, N, 0, L - 1);
  mlir::FailureOr<ReferenceResult> first = evaluateComposite(composite, prefill);
  ASSERT_TRUE(mlir::succeeded(first));
  ReferenceProblem &step = split.step; // the whole sequence as the cache, fk included
  step.inputs["fq"] = rows(fq, H, N, L - 1, 1);
  step.stateIn = first->state;
  step.keySumIn = first->keySum;
  mlir::FailureOr<ReferenceResult> next = evaluateComposite(composite, step);
  ASSERT_TRUE(mlir::succeeded(next));
  EXPECT_LT(maxAbsDiff(next->out, rows(full->out, H, Dv, L - 1, 1)), 1e-9);
  EXPECT_LT(maxAbsDiff(next->state, full->state), 1e-9);
  EXPECT_LT(maxAbsDiff(next->keySum, full->keySum), 1e-9);
  // Without its own k the composite's problem does not verify.
  ReferenceProblem missing = rp.p;
  missing.inputs.erase("fk");
  EXPECT_TRUE(mlir::failed(evaluateComposite(composite, missing)));
}

TEST(Reference, RejectsBadProblems) {
  RandomProblem rp(10);
  std::unique_ptr<Compiled> c = compile("attention d { input doc: int[B, Skv]\n"
                                        " mask doc[b, k] == doc[b, q] }");
  ASSERT_TRUE(c);
  // Missing input, then an input read out of bounds (q runs to 36 < Skv: fine; use Sq > Skv).
  EXPECT_TRUE(mlir::failed(evaluateReference(c->pattern(), rp.p)));
  RandomProblem tall(11, false, 60, 20);
  tall.p.inputs["doc"] = std::vector<double>(2 * 20, 0.0);
  EXPECT_TRUE(mlir::failed(evaluateReference(c->pattern(), tall.p)));
  RandomProblem fits(12, false, 20, 60);
  fits.p.inputs["doc"] = std::vector<double>(2 * 60, 0.0);
  EXPECT_TRUE(mlir::succeeded(evaluateReference(c->pattern(), fits.p)));
}

} // namespace
