//===- Reference.cpp - float64 CPU evaluation of attention patterns -----------===//
//
// For every (b, h, q) row: t_k = score_mod(c * q.k) for the keys the mask keeps, then
//   softmax: out = sum_k exp(t_k - m) v_k / sum_k exp(t_k - m),  lse = m + log(sum exp(t_k - m))
//   sigmoid: out = sum_k sigmoid(t_k) v_k;   none: out = sum_k t_k v_k.
// Regions are interpreted op by op (RegionEvaluator.h) in double precision.
//
//===----------------------------------------------------------------------===//
#include "attn/Codegen/Reference.h"
#include "RegionEvaluator.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;

FailureOr<ReferenceResult> mlir::attn::evaluateReference(PatternOp pattern,
                                                         const ReferenceProblem &p) {
  std::optional<RegionEvaluator> mask, scoreMod;
  if (auto op = pattern.getUnique<MaskOp>()) {
    FailureOr<RegionEvaluator> eval = RegionEvaluator::create(op.getBody());
    if (failed(eval))
      return failure();
    mask = std::move(*eval);
  }
  if (auto op = pattern.getUnique<ScoreModOp>()) {
    FailureOr<RegionEvaluator> eval = RegionEvaluator::create(op.getBody());
    if (failed(eval))
      return failure();
    scoreMod = std::move(*eval);
  }
  NormalizeOp normalize = pattern.getUnique<NormalizeOp>();
  if (p.kvHeads <= 0 || p.heads % p.kvHeads != 0)
    return pattern.emitError("heads (")
           << p.heads << ") must be a multiple of kv heads (" << p.kvHeads << ")";
  double scale = 1.0 / std::sqrt(static_cast<double>(p.headDim));
  if (normalize.getScaleValue())
    scale = *normalize.getScaleValue();
  if (p.scale)
    scale = *p.scale;

  const int64_t B = p.batch, H = p.heads, Hkv = p.kvHeads, Sq = p.seqQ, Skv = p.seqK;
  const int64_t D = p.headDim, Dv = p.headDimV, group = H / Hkv;
  const double inf = std::numeric_limits<double>::infinity();
  ReferenceResult result;
  result.out.assign(B * Sq * H * Dv, 0.0);
  result.lse.assign(B * H * Sq, -inf);
  std::vector<double> t(Skv);
  std::vector<char> kept(Skv);

  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t q = 0; q < Sq; ++q) {
        const double *qRow = &p.q[((b * Sq + q) * H + h) * D];
        int64_t hk = h / group;
        double m = -inf;
        for (int64_t k = 0; k < Skv; ++k) {
          kept[k] = !mask || mask->run({Scalar{b}, Scalar{h}, Scalar{q}, Scalar{k}, Scalar{Sq},
                                        Scalar{Skv}})[0]
                                     .i != 0;
          if (!kept[k])
            continue;
          const double *kRow = &p.k[((b * Skv + k) * Hkv + hk) * D];
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += qRow[d] * kRow[d];
          double s = scale * dot;
          if (scoreMod)
            s = scoreMod
                    ->run({Scalar{0, s}, Scalar{b}, Scalar{h}, Scalar{q}, Scalar{k}, Scalar{Sq},
                           Scalar{Skv}})[0]
                    .f;
          t[k] = s;
          m = std::max(m, s);
        }
        // Weights per kept key, and the normaliser's denominator (1 when there is none).
        double denom = 1.0;
        NormalizerKind kind = normalize.getKind();
        if (kind == NormalizerKind::Softmax) {
          if (m == -inf)
            continue; // no visible key: O = 0, LSE = -inf
          denom = 0;
          for (int64_t k = 0; k < Skv; ++k)
            if (kept[k])
              denom += std::exp(t[k] - m);
          result.lse[(b * H + h) * Sq + q] = m + std::log(denom);
        }
        double *oRow = &result.out[((b * Sq + q) * H + h) * Dv];
        for (int64_t k = 0; k < Skv; ++k) {
          if (!kept[k])
            continue;
          double w = kind == NormalizerKind::Softmax   ? std::exp(t[k] - m) / denom
                     : kind == NormalizerKind::Sigmoid ? 1.0 / (1.0 + std::exp(-t[k]))
                                                       : t[k];
          const double *vRow = &p.v[((b * Skv + k) * Hkv + hk) * Dv];
          for (int64_t d = 0; d < Dv; ++d)
            oRow[d] += w * vRow[d];
        }
      }
  return result;
}
