//===- Reference.cpp - float64 CPU evaluation of attention patterns -----------===//
//
// For every (b, h, q) row: t_k = score_mod(c * q.k) for the keys the mask keeps, then
//   softmax: p_k = exp(t_k - m) / sum_j exp(t_j - m),  lse = m + log(sum_j exp(t_j - m))
//   sigmoid: p_k = sigmoid(t_k + bias);   none: p_k = t_k
// and out = sum_k w_k p_k v_k with w the pattern's weight (1 without one). Linear patterns:
// evaluateLinear below. Regions are interpreted op by op (RegionEvaluator.h) in double
// precision.
//
//===----------------------------------------------------------------------===//
#include "attn/Codegen/Reference.h"
#include "RegionEvaluator.h"

#include "llvm/ADT/StringSwitch.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;

int64_t ReferenceProblem::rowStart(int64_t b, bool keys) const {
  if (isVarlen())
    return (keys ? cuSeqlensK : cuSeqlensQ)[b];
  return b * (keys ? seqK : seqQ);
}

int64_t ReferenceProblem::length(int64_t b, bool keys) const {
  if (isVarlen()) {
    const std::vector<int64_t> &cu = keys ? cuSeqlensK : cuSeqlensQ;
    return cu[b + 1] - cu[b];
  }
  return keys ? seqK : seqQ;
}

int64_t ReferenceProblem::lseIndex(int64_t b, int64_t h, int64_t q) const {
  if (isVarlen())
    return h * totalQ() + cuSeqlensQ[b] + q;
  return (b * heads + h) * seqQ + q;
}

std::vector<int64_t> mlir::attn::resolveInputShape(InputOp input, const ReferenceProblem &p) {
  std::vector<int64_t> shape;
  for (Attribute dim : input.getShape()) {
    if (auto size = dyn_cast<IntegerAttr>(dim)) {
      shape.push_back(size.getInt());
      continue;
    }
    StringRef name = cast<StringAttr>(dim).getValue();
    shape.push_back(llvm::StringSwitch<int64_t>(name)
                        .Case("B", p.batch)
                        .Case("H", p.heads)
                        .Case("Hkv", p.kvHeads)
                        .Case("Sq", p.seqQ)
                        .Case("D", p.headDim)
                        .Default(p.seqK));
  }
  return shape;
}

LogicalResult mlir::attn::verifyProblem(Operation *container, const ReferenceProblem &p) {
  if (p.batch <= 0 || p.heads <= 0 || p.kvHeads <= 0 || p.seqQ < 0 || p.seqK < 0 ||
      p.headDim <= 0 || p.headDimV <= 0)
    return container->emitError("problem sizes must be positive");
  if (p.heads % p.kvHeads != 0)
    return container->emitError("heads (")
           << p.heads << ") must be a multiple of kv heads (" << p.kvHeads << ")";
  if (p.isVarlen()) {
    if (p.cuSeqlensQ.size() != size_t(p.batch) + 1 || p.cuSeqlensK.size() != size_t(p.batch) + 1)
      return container->emitError("varlen offsets must have batch + 1 = ")
             << p.batch + 1 << " entries each";
    for (int64_t b = 0; b < p.batch; ++b)
      for (bool keys : {false, true}) {
        int64_t len = p.length(b, keys);
        if ((keys ? p.cuSeqlensK : p.cuSeqlensQ)[0] != 0 || len < 0 ||
            len > (keys ? p.seqK : p.seqQ))
          return container->emitError("varlen offsets must start at 0, increase, and give "
                                      "lengths no longer than seqQ / seqK");
      }
  } else if (!p.cuSeqlensK.empty()) {
    return container->emitError("varlen needs both query and key offsets");
  }
  if (p.q.size() != size_t(p.totalQ() * p.heads * p.headDim) ||
      p.k.size() != size_t(p.totalK() * p.kvHeads * p.headDim) ||
      p.v.size() != size_t(p.totalK() * p.kvHeads * p.headDimV))
    return container->emitError("q, k, v sizes do not match the problem shape");
  auto pattern = dyn_cast<PatternOp>(container);
  if (pattern) {
    if (pattern.getHeads() &&
        (int64_t(*pattern.getHeads()) != p.heads || int64_t(*pattern.getKvHeads()) != p.kvHeads))
      return container->emitError("the pattern fixes ")
             << *pattern.getHeads() << " query and " << *pattern.getKvHeads()
             << " KV heads, the problem has " << p.heads << " and " << p.kvHeads;
    if (pattern.getHeadDim() && (int64_t(*pattern.getHeadDim()) != p.headDim ||
                                 int64_t(*pattern.getHeadDimV()) != p.headDimV))
      return container->emitError("the pattern fixes head dims ")
             << *pattern.getHeadDim() << "/" << *pattern.getHeadDimV() << ", the problem has "
             << p.headDim << "/" << p.headDimV;
  }
  for (Operation &op : container->getRegion(0).front()) {
    if (auto input = dyn_cast<InputOp>(op)) {
      auto it = p.inputs.find(input.getName());
      if (it == p.inputs.end())
        return input.emitError("no values given for input '") << input.getName() << "'";
      // A branch's own q or k (the element type) is read as that branch's q or k, not by a
      // region: its composite checks it against the call, which a linear branch's tokens cut.
      if (isa<NoneType>(input.getElementType()) && !isa<CompositeOp>(container))
        continue;
      int64_t count = 1;
      for (int64_t extent : resolveInputShape(input, p))
        count *= extent;
      if (int64_t(it->second.size()) != count)
        return input.emitError("input '")
               << input.getName() << "' needs " << count << " elements, got " << it->second.size();
    } else if (auto scalar = dyn_cast<ScalarOp>(op)) {
      if (!p.scalars.count(scalar.getName()) && !scalar.getDefaultValueAttr())
        return scalar.emitError("scalar '") << scalar.getName() << "' has no value and no default";
    }
  }
  return success();
}

void mlir::attn::applyRowFeatureMap(LinearOp linear, int64_t headDim, ArrayRef<double> weights,
                                    int64_t h, const double *x, double *out) {
  const int64_t D = headDim, rows = getLinearStateDim(linear, D);
  std::fill(out, out + rows, 0.0);
  if (getFeatureMap(linear) == FeatureMap::Taylor2) {
    // 1 + z + z^2 / 2 with z = q.k / sqrt(D): [1, x_i D^(-1/4), x_i x_j c_ij (i <= j)].
    const double linearScale = std::pow(double(D), -0.25), cross = 1.0 / std::sqrt(double(D));
    const double square = 1.0 / std::sqrt(2.0 * double(D));
    int64_t f = 0;
    out[f++] = 1.0;
    for (int64_t i = 0; i < D; ++i)
      out[f++] = x[i] * linearScale;
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = i; j < D; ++j)
        out[f++] = x[i] * x[j] * (i == j ? square : cross);
    return;
  }
  // Hedgehog: y = x W_h (M values), phi = [softmax(y), softmax(-y)].
  const int64_t M = getFeatureDim(linear, D) / 2;
  std::vector<double> y(M, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < D; ++i)
      y[m] += x[i] * weights[(h * D + i) * M + m];
  for (int sign : {1, -1}) {
    double top = -INFINITY, total = 0.0;
    for (double v : y)
      top = std::max(top, sign * v);
    for (int64_t m = 0; m < M; ++m)
      total += std::exp(sign * y[m] - top);
    for (int64_t m = 0; m < M; ++m)
      out[(sign > 0 ? 0 : M) + m] = std::exp(sign * y[m] - top) / total;
  }
}

/// A linear pattern: for each (sequence, head) with gamma_t = decay(b, h, t, d), its running
/// products G_d(s, t] = gamma_{s+1,d} ... gamma_{t,d} (constant decays: gamma^(t-s); a decay
/// that does not read d has one G for every d) and phi the feature map,
///   num_t = sum_{s <= t} sum_d G_d(s, t] phi(q_t)_d phi(k_s)_d v_s + sum_d G_d(-1, t] phi(q_t)_d
///   S0_d den_t = sum_{s <= t} sum_d G_d(s, t] phi(q_t)_d phi(k_s)_d     + sum_d G_d(-1, t]
///   phi(q_t)_d z0_d
/// (every s and no gamma without `causal`), o_t = c num_t (none) or num_t / den_t (sum; 0 where
/// den_t = 0), and the final state S_d = G_d(-1, L-1] S0_d + sum_s G_d(s, L-1] phi(k_s)_d v_s^T
/// (S_d: row d).
static FailureOr<ReferenceResult> evaluateLinear(PatternOp pattern, const ReferenceProblem &p) {
  auto feature = RegionEvaluator::createFor(pattern.getUnique<FeatureOp>(), p);
  DecayOp decayOp = pattern.getUnique<DecayOp>();
  auto decay = RegionEvaluator::createFor(decayOp, p);
  if (failed(feature) || failed(decay))
    return failure();
  // A gate per key dimension keeps one running log per d; any other decay one for all d.
  const bool perDim = decayOp && decayOp.readsKeyDim();
  NormalizeOp normalize = pattern.getUnique<NormalizeOp>();
  const bool causal = pattern.getUnique<LinearOp>().getCausal();
  const bool sum = normalize.getKind() == NormalizerKind::Sum;
  const double scale = p.scale ? *p.scale : normalize.getEffectiveScale(p.headDim);
  LinearOp linear = pattern.getUnique<LinearOp>();
  const FeatureMap map = getFeatureMap(linear);
  // D: the state's rows (the features of a row map, else the head dim).
  const int64_t H = p.heads, Hkv = p.kvHeads, Din = p.headDim, Dv = p.headDimV;
  const int64_t D = getLinearStateDim(linear, Din);
  const int64_t group = H / Hkv, logs = perDim ? D : 1;
  // Each (sequence, head) keeps its rows' features: L x D doubles for q and k.
  constexpr int64_t kMaxFeatureDoubles = int64_t(1) << 27;
  if (D > kMaxFeatureDoubles / std::max<int64_t>(1, p.seqQ))
    return pattern.emitError("the reference keeps ")
           << D << " features per row (head dim " << Din << "), too many for sequences of "
           << p.seqQ << " rows: at most " << kMaxFeatureDoubles << " features x rows";
  ArrayRef<double> weights;
  if (InputOp w = getFeatureWeights(linear))
    if (auto it = p.inputs.find(w.getName()); it != p.inputs.end())
      weights = it->second; // (lookup would return a copy)
  if (p.seqQ != p.seqK || p.cuSeqlensQ != p.cuSeqlensK)
    return pattern.emitError("a linear pattern attends within one sequence: queries and keys "
                             "need the same lengths, got ")
           << p.seqQ << " and " << p.seqK;
  const size_t states = size_t(p.batch * H);
  if ((!p.stateIn.empty() && p.stateIn.size() != states * D * Dv) ||
      (!p.keySumIn.empty() && p.keySumIn.size() != states * D))
    return pattern.emitError("the initial state must be [B, H, ")
           << D << ", Dv] (and [B, H, " << D << "] for the key sum)";
  using S = Scalar;
  auto phi = [&](double x) { return *feature ? (*feature)->run({S{0, x}})[0].f : x; };

  ReferenceResult result;
  result.out.assign(p.totalQ() * H * Dv, 0.0);
  result.state.assign(states * D * Dv, 0.0);
  if (sum)
    result.keySum.assign(states * D, 0.0);
  std::vector<double> fq, fk, logG;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t L = p.length(b, false), base = p.rowStart(b, false);
    for (int64_t h = 0; h < H; ++h) {
      // logG[(t + 1) logs + c] = log G_c(-1, t], the decay accumulated up to and including
      // token t (c = d for a gate per key dimension, else 0).
      logG.assign((L + 1) * logs, 0.0);
      for (int64_t t = 0; t < L; ++t)
        for (int64_t c = 0; c < logs; ++c) {
          const double gamma = *decay ? (*decay)->run({S{b}, S{h}, S{t}, S{c}})[0].f : 1.0;
          if (!(gamma > 0.0 && gamma <= 1.0)) {
            InFlightDiagnostic diag = pattern.emitError("decay of sequence ")
                                      << b << ", head " << h << ", token " << t;
            if (perDim)
              diag << ", key dimension " << c;
            return diag << " is " << gamma << ", outside (0, 1]";
          }
          logG[(t + 1) * logs + c] = logG[t * logs + c] + std::log(gamma);
        }
      auto decayed = [&](int64_t from, int64_t to, int64_t d) { // G_d(from, to]
        const int64_t c = perDim ? d : 0;
        return std::exp(logG[(to + 1) * logs + c] - logG[(from + 1) * logs + c]);
      };
      const int64_t hk = h / group, st = b * H + h;
      const double *s0 = p.stateIn.empty() ? nullptr : &p.stateIn[st * D * Dv];
      const double *z0 = p.keySumIn.empty() ? nullptr : &p.keySumIn[st * D];
      fq.assign(L * D, 0.0);
      fk.assign(L * D, 0.0);
      for (int64_t t = 0; t < L; ++t) {
        const double *qRow = &p.q[((base + t) * H + h) * Din];
        const double *kRow = &p.k[((base + t) * Hkv + hk) * Din];
        if (map != FeatureMap::Elementwise) {
          applyRowFeatureMap(linear, Din, weights, h, qRow, &fq[t * D]);
          applyRowFeatureMap(linear, Din, weights, h, kRow, &fk[t * D]);
          continue;
        }
        for (int64_t d = 0; d < D; ++d) {
          fq[t * D + d] = phi(qRow[d]);
          fk[t * D + d] = phi(kRow[d]);
        }
      }
      for (int64_t t = 0; t < L; ++t) {
        double *o = &result.out[((base + t) * H + h) * Dv];
        const double *qt = &fq[t * D];
        double den = 0;
        for (int64_t s = 0; s < (causal ? t + 1 : L); ++s) {
          double weight = 0;
          if (perDim) {
            for (int64_t d = 0; d < D; ++d)
              weight += decayed(s, t, d) * qt[d] * fk[s * D + d];
          } else {
            for (int64_t d = 0; d < D; ++d)
              weight += qt[d] * fk[s * D + d];
            weight *= decayed(s, t, 0);
          }
          den += weight;
          const double *v = &p.v[((base + s) * Hkv + hk) * Dv];
          for (int64_t e = 0; e < Dv; ++e)
            o[e] += weight * v[e];
        }
        for (int64_t d = 0; d < D; ++d) {
          const double carry = decayed(-1, t, d);
          if (s0)
            for (int64_t e = 0; e < Dv; ++e)
              o[e] += carry * qt[d] * s0[d * Dv + e];
          if (z0)
            den += carry * qt[d] * z0[d];
        }
        for (int64_t e = 0; e < Dv; ++e)
          o[e] = sum ? (den != 0.0 ? o[e] / den : 0.0) : scale * o[e];
      }
      double *state = &result.state[st * D * Dv];
      for (int64_t s = 0; s < L; ++s) {
        const double *v = &p.v[((base + s) * Hkv + hk) * Dv];
        for (int64_t d = 0; d < D; ++d) {
          const double f = decayed(s, L - 1, d);
          for (int64_t e = 0; e < Dv; ++e)
            state[d * Dv + e] += f * fk[s * D + d] * v[e];
          if (sum)
            result.keySum[st * D + d] += f * fk[s * D + d];
        }
      }
      for (int64_t d = 0; d < D; ++d) {
        const double carried = decayed(-1, L - 1, d);
        for (int64_t e = 0; s0 && e < Dv; ++e)
          state[d * Dv + e] += carried * s0[d * Dv + e];
        if (sum && z0)
          result.keySum[st * D + d] += carried * z0[d];
      }
    }
  }
  for (auto *eval : {&*feature, &*decay})
    if (*eval && (*eval)->outOfBounds())
      return pattern.emitError(*(*eval)->outOfBounds());
  return result;
}

FailureOr<ReferenceResult> mlir::attn::evaluateReference(PatternOp pattern,
                                                         const ReferenceProblem &p) {
  if (failed(verifyProblem(pattern, p)))
    return failure();
  if (pattern.getUnique<LinearOp>())
    return evaluateLinear(pattern, p);
  auto mask = RegionEvaluator::createFor(pattern.getUnique<MaskOp>(), p);
  auto scoreMod = RegionEvaluator::createFor(pattern.getUnique<ScoreModOp>(), p);
  auto weight = RegionEvaluator::createFor(pattern.getUnique<WeightOp>(), p);
  if (failed(mask) || failed(scoreMod) || failed(weight))
    return failure();
  NormalizeOp normalize = pattern.getUnique<NormalizeOp>();
  const double scale = p.scale ? *p.scale : normalize.getEffectiveScale(p.headDim);
  const double bias = normalize.getBiasAttr() ? normalize.getBiasAttr().getValueAsDouble() : 0.0;
  const NormalizerKind kind = normalize.getKind();

  const int64_t H = p.heads, Hkv = p.kvHeads, D = p.headDim, Dv = p.headDimV;
  const int64_t group = H / Hkv;
  const double inf = std::numeric_limits<double>::infinity();
  ReferenceResult result;
  result.out.assign(p.totalQ() * H * Dv, 0.0);
  result.lse.assign(p.totalQ() * H, -inf);
  std::vector<double> t(p.seqK);
  std::vector<char> kept(p.seqK);
  using S = Scalar;

  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t Sq = p.length(b, false), Skv = p.length(b, true);
    const int64_t qBase = p.rowStart(b, false), kBase = p.rowStart(b, true);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t q = 0; q < Sq; ++q) {
        const double *qRow = &p.q[((qBase + q) * H + h) * D];
        int64_t hk = h / group;
        double m = -inf;
        for (int64_t k = 0; k < Skv; ++k) {
          kept[k] = !*mask || (*mask)->run({S{b}, S{h}, S{q}, S{k}, S{Sq}, S{Skv}})[0].i != 0;
          if (!kept[k])
            continue;
          const double *kRow = &p.k[((kBase + k) * Hkv + hk) * D];
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += qRow[d] * kRow[d];
          double s = scale * dot;
          if (*scoreMod)
            s = (*scoreMod)->run({S{0, s}, S{b}, S{h}, S{q}, S{k}, S{Sq}, S{Skv}})[0].f;
          t[k] = s;
          m = std::max(m, s);
        }
        // The softmax denominator (1 for the other normalisers).
        double denom = 1.0;
        if (kind == NormalizerKind::Softmax) {
          if (m == -inf)
            continue; // no visible key: O = 0, LSE = -inf
          denom = 0;
          for (int64_t k = 0; k < Skv; ++k)
            if (kept[k])
              denom += std::exp(t[k] - m);
          result.lse[p.lseIndex(b, h, q)] = m + std::log(denom);
        }
        double *oRow = &result.out[((qBase + q) * H + h) * Dv];
        for (int64_t k = 0; k < Skv; ++k) {
          if (!kept[k])
            continue;
          double w = kind == NormalizerKind::Softmax   ? std::exp(t[k] - m) / denom
                     : kind == NormalizerKind::Sigmoid ? 1.0 / (1.0 + std::exp(-(t[k] + bias)))
                                                       : t[k];
          if (*weight)
            w *= (*weight)->run({S{b}, S{h}, S{q}, S{k}, S{Sq}, S{Skv}})[0].f;
          const double *vRow = &p.v[((kBase + k) * Hkv + hk) * Dv];
          for (int64_t d = 0; d < Dv; ++d)
            oRow[d] += w * vRow[d];
        }
      }
  }
  for (auto *eval : {&*mask, &*scoreMod, &*weight})
    if (*eval && (*eval)->outOfBounds())
      return pattern.emitError(*(*eval)->outOfBounds());
  return result;
}

FailureOr<std::vector<double>>
mlir::attn::combineBranchOutputs(CompositeOp composite, const ReferenceProblem &p,
                                 ArrayRef<std::vector<double>> outputs) {
  const size_t count = size_t(p.totalQ() * p.heads * p.headDimV);
  if (outputs.size() != composite.getBranches().size())
    return composite.emitError("expected ")
           << composite.getBranches().size() << " branch outputs, got " << outputs.size();
  for (const std::vector<double> &out : outputs)
    if (out.size() != count)
      return composite.emitError("a branch output has ")
             << out.size() << " elements, not " << count;
  FailureOr<RegionEvaluator> combine =
      RegionEvaluator::create(composite.getUnique<CombineOp>().getBody(), &p);
  if (failed(combine))
    return failure();
  std::vector<double> out(count);
  SmallVector<Scalar, 8> args(kCombineIndexArgs + outputs.size());
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t q = 0; q < p.length(b, /*keys=*/false); ++q)
      for (int64_t h = 0; h < p.heads; ++h) {
        const int64_t base = ((p.rowStart(b, /*keys=*/false) + q) * p.heads + h) * p.headDimV;
        args[0].i = b;
        args[1].i = h;
        args[2].i = q;
        for (int64_t e = 0; e < p.headDimV; ++e) {
          for (size_t i = 0; i < outputs.size(); ++i)
            args[kCombineIndexArgs + i].f = outputs[i][base + e];
          out[base + e] = combine->run(args)[0].f;
        }
      }
  if (combine->outOfBounds())
    return composite.emitError(*combine->outOfBounds());
  return out;
}

/// The problem a composite's linear branch sees: the call's own tokens, the last Sq rows of
/// each sequence's keys and values (all of them when Sq = Skv). A decode call passes the KV
/// cache with its new tokens last, which the other branches attend over; `k` and `v` hold the
/// slices.
static FailureOr<ReferenceProblem> callTokens(CompositeOp composite, const ReferenceProblem &p,
                                              std::vector<double> &k, std::vector<double> &v) {
  ReferenceProblem tokens = p;
  if (p.seqQ == p.seqK && p.cuSeqlensQ == p.cuSeqlensK)
    return tokens;
  for (Operation &op : composite.getBody().front())
    if (auto input = dyn_cast<InputOp>(op); input && !isa<NoneType>(input.getElementType()))
      for (Attribute dim : input.getShape())
        if (auto name = dyn_cast<StringAttr>(dim); name && name.getValue() == "Skv")
          return composite.emitError("input '")
                 << input.getName()
                 << "' runs along the keys (Skv), which the linear branch's call tokens do not "
                    "cover: call a composite with a linear branch and such an input with q and "
                    "k of the same lengths";
  const int64_t D = p.headDim, Dv = p.headDimV;
  k.clear();
  v.clear();
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t lq = p.length(b, false), lk = p.length(b, true);
    if (lk < lq)
      return composite.emitError("sequence ")
             << b << " has " << lk << " keys for " << lq
             << " queries: a linear branch reads the call's tokens, the last rows of k and v";
    const int64_t from = p.rowStart(b, true) + lk - lq;
    k.insert(k.end(), p.k.begin() + from * p.kvHeads * D,
             p.k.begin() + (from + lq) * p.kvHeads * D);
    v.insert(v.end(), p.v.begin() + from * p.kvHeads * Dv,
             p.v.begin() + (from + lq) * p.kvHeads * Dv);
  }
  tokens.k = k;
  tokens.v = v;
  tokens.seqK = p.seqQ;
  tokens.cuSeqlensK = p.cuSeqlensQ;
  return tokens;
}

ReferenceProblem mlir::attn::branchProblem(CompositeOp composite, unsigned index,
                                           const ReferenceProblem &p) {
  ReferenceProblem own = p;
  if (std::optional<std::pair<unsigned, unsigned>> qk = getBranchOwnQK(composite, index)) {
    auto inputs = composite.getBody().front().getOps<InputOp>();
    InputOp q = *std::next(inputs.begin(), qk->first), k = *std::next(inputs.begin(), qk->second);
    auto q_ = p.inputs.find(q.getName()), k_ = p.inputs.find(k.getName());
    own.q = q_ != p.inputs.end() ? ArrayRef<double>(q_->second) : ArrayRef<double>();
    own.k = k_ != p.inputs.end() ? ArrayRef<double>(k_->second) : ArrayRef<double>();
    own.headDim = cast<IntegerAttr>(q.getShape()[3]).getInt();
  }
  return own;
}

FailureOr<ReferenceResult> mlir::attn::evaluateComposite(CompositeOp composite,
                                                         const ReferenceProblem &p) {
  if (failed(verifyProblem(composite, p)))
    return failure();
  const PatternOp stateful = getStatefulBranch(composite);
  if ((!p.stateIn.empty() || !p.keySumIn.empty()) && !stateful)
    return composite.emitError("a composite's state is its one linear branch's; '")
           << composite.getSymName() << "' has none or several";
  ReferenceResult result;
  std::vector<std::vector<double>> outputs;
  std::vector<double> tokenK, tokenV;
  unsigned index = 0;
  for (PatternOp branch : getBranchPatterns(composite)) {
    if (!branch)
      return composite.emitError("a branch of '") << composite.getSymName() << "' is missing";
    const ReferenceProblem own = branchProblem(composite, index++, p);
    FailureOr<ReferenceResult> out;
    if (branch.getUnique<LinearOp>()) {
      FailureOr<ReferenceProblem> tokens = callTokens(composite, own, tokenK, tokenV);
      if (failed(tokens))
        return failure();
      out = evaluateReference(branch, *tokens);
      if (succeeded(out) && branch == stateful) {
        result.state = std::move(out->state);
        result.keySum = std::move(out->keySum);
      }
    } else {
      ReferenceProblem stateless = own;
      stateless.stateIn.clear();
      stateless.keySumIn.clear();
      out = evaluateReference(branch, stateless);
    }
    if (failed(out))
      return failure();
    outputs.push_back(std::move(out->out));
  }
  FailureOr<std::vector<double>> out = combineBranchOutputs(composite, p, outputs);
  if (failed(out))
    return failure();
  result.out = std::move(*out);
  return result;
}
