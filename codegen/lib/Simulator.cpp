//===- Simulator.cpp - Run a kernel's tile algorithm on the CPU ---------------===//
//
// Per (b, h, query tile [q0, q1)):
//   [lo, hi) = kv_range(...); for key tiles from the last to the first inside [lo, hi):
//     skip the tile when tile_empty(...) (and the run of EMPTY tiles below it that one box
//     covers, doubled as KeyTiles::prev does);
//     full = tile_full(...) && the tile lies inside [0, Skv)
//     (with a run-time block map, EMPTY / FULL come from the mask on every pair of the tile)
//     s = c * q.k (float);  t = score_mod(s);  masked / out-of-range keys -> -inf unless full
//     softmax: m_new = max(m_old, rowmax(t));  alpha = exp(m_old - m_new);
//              l = alpha l + sum exp(t - m_new);  acc = alpha acc + (w * exp(t - m_new)) V
//     sigmoid: acc += (w * sigmoid(t + bias)) V;   none: acc += (w * t) V
//   softmax: out = acc / l (0 when l = 0), lse = m + log l (-inf when l = 0); else out = acc
//
//===----------------------------------------------------------------------===//
#include "attn/Codegen/Simulator.h"
#include "RegionEvaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;

/// The chunked linear template (linear_sm80.cuh) in float32: per (sequence, head), chunks of
/// C = block_m rows with n valid, phi applied to q and k, G_i = sum_{r <= i} log2(gamma_r) over
/// the chunk's rows (constant decays: (i + 1) log2(gamma)):
///   O_i = c (2^G_i Q_i S + sum_{j <= i} 2^(G_i - G_j) (Q_i . K_j) V_j)
///   S   = 2^G_(n-1) S + sum_j 2^(G_(n-1) - G_j) K_j^T V_j
/// (sum normaliser: O_i divided by the same sums with z and 1 for S and V_j, c not applied; z
/// updated like S with K_j for K_j^T V_j)
/// and without `causal` S summed over every chunk first, then O = c Q S. A gate per key dimension
/// has one G per d (each log2 floored at -15, as the kernel does) and applies every factor to q
/// and k in the kernel's steps, around the midpoint m(i) = 16 floor(i / 16) + 7 and the last
/// row e(i) = m(i) + 8 of row i's sub-chunk (linear_sm80.cuh): q^ = q 2^(G_i - G_m(i)),
/// k^ = k 2^(G_m(j) - G_j), then
///   i, j in one sub-chunk: q^ k^;  else (q^ 2^(G_m(i) - G_e(j))) (k^ 2^(G_e(j) - G_m(j)));
///   carry: q^ 2^G_m(i);  update: (k^ 2^(G_e(j) - G_m(j))) 2^(G_(C-1) - G_e(j)).
/// With linearSegmentRows > 0 it runs the sequence split of launchForward (segments of that
/// many rows, two passes, below). Its agreement with the quadratic float64 reference checks the
/// chunk decomposition (decay factors, partial last chunk, carried state, the split's
/// combination) without a GPU. Every chunk of the output pass is counted as one PARTIAL tile.
static FailureOr<ReferenceResult> simulateLinear(KernelOp kernel, const ReferenceProblem &p,
                                                 TileCounts *counts, int64_t linearSegmentRows) {
  auto feature = RegionEvaluator::createFor(kernel.getUnique<FeatureOp>(), p);
  DecayOp decayOp = kernel.getUnique<DecayOp>();
  auto decay = RegionEvaluator::createFor(decayOp, p);
  if (failed(feature) || failed(decay))
    return failure();
  const bool perDim = decayOp && decayOp.readsKeyDim();
  const bool causal = kernel.getUnique<LinearOp>().getCausal();
  const bool sum = kernel.getNormalizer() == NormalizerKind::Sum;
  // D: the state's rows (a row map's features, else the head dim Din).
  LinearOp linear = kernel.getUnique<LinearOp>();
  const bool rowMap = getFeatureMap(linear) != FeatureMap::Elementwise;
  const int64_t H = p.heads, Din = p.headDim, Dv = p.headDimV, group = H / p.kvHeads;
  const int64_t D = getLinearStateDim(linear, Din);
  llvm::ArrayRef<double> weights;
  if (InputOp w = getFeatureWeights(linear))
    if (auto it = p.inputs.find(w.getName()); it != p.inputs.end())
      weights = it->second; // (lookup would return a copy)
  std::vector<double> rowFeatures(D);
  const int64_t C = kernel.getBlockM();
  const bool split = linearSegmentRows > 0;
  if (split && (!causal || sum || rowMap || linearSegmentRows % C != 0))
    return kernel.emitError("a sequence split needs a causal form without the sum normaliser or "
                            "a map of whole rows, in segments of whole chunks");
  const float scale = static_cast<float>(p.scale ? *p.scale : kernel.getScale().convertToDouble());
  if (p.seqQ != p.seqK || p.cuSeqlensQ != p.cuSeqlensK)
    return kernel.emitError("a linear kernel needs queries and keys of the same lengths");
  using S = Scalar;
  auto phi = [&](double x) { return float(*feature ? (*feature)->run({S{0, x}})[0].f : x); };
  ReferenceResult result;
  result.out.assign(p.totalQ() * H * Dv, 0.0);
  result.state.assign(p.batch * H * D * Dv, 0.0);
  if (sum)
    result.keySum.assign(p.batch * H * D, 0.0);
  TileCounts local;
  std::vector<float> state(D * Dv), z(D), q(C * D), k(C * D);
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t L = p.length(b, false), base = p.rowStart(b, false);
    for (int64_t h = 0; h < H; ++h) {
      const int64_t hk = h / group, st = b * H + h;
      // G(i, d) = log2 of the decay accumulated over the current chunk's rows 0 .. i (the
      // kernel's prefix over its per-token gates; with a constant gamma, (i + 1) lg); one column
      // per key dimension d for a gate per key dimension, else one for all.
      const int64_t logs = perDim ? D : 1;
      std::vector<float> G(C * logs);
      auto loadDecay = [&](int64_t c0, int64_t n) {
        for (int64_t c = 0; c < logs; ++c) {
          float acc = 0.f;
          for (int64_t i = 0; i < C; ++i) {
            float lg = *decay && i < n
                           ? std::log2(float((*decay)->run({S{b}, S{h}, S{c0 + i}, S{c}})[0].f))
                           : 0.f;
            if (perDim)
              lg = std::max(lg, -15.f);
            G[i * logs + c] = acc += lg;
          }
        }
      };
      auto Gat = [&](int64_t i, int64_t d) { return G[i * logs + (perDim ? d : 0)]; };
      auto mid = [](int64_t i) { return 16 * (i / 16) + 7; };
      auto end = [](int64_t i) { return 16 * (i / 16) + 15; };
      auto e2 = [](float x) { return std::exp2(x); };
      // Query x of row i and key y of row j in dimension d with the decay factors applied (the
      // carry, a key of the state update, and a pair j <= i, whose terms sum to its weight);
      // without a gate per key dimension, the plain differences of G.
      auto carried = [&](float x, int64_t i, int64_t d) {
        return perDim ? x * e2(Gat(i, d) - Gat(mid(i), d)) * e2(Gat(mid(i), d)) : x * e2(Gat(i, d));
      };
      auto updated = [&](float y, int64_t last, int64_t j, int64_t d) {
        return perDim ? y * e2(Gat(mid(j), d) - Gat(j, d)) * e2(Gat(end(j), d) - Gat(mid(j), d)) *
                            e2(Gat(last, d) - Gat(end(j), d))
                      : y * e2(Gat(last, d) - Gat(j, d));
      };
      auto pairTerm = [&](float x, float y, int64_t i, int64_t j, int64_t d) {
        if (!perDim)
          return x * y * e2(Gat(i, d) - Gat(j, d));
        float qs = x * e2(Gat(i, d) - Gat(mid(i), d)), ks = y * e2(Gat(mid(j), d) - Gat(j, d));
        if (i / 16 > j / 16) {
          qs *= e2(Gat(mid(i), d) - Gat(end(j), d));
          ks *= e2(Gat(end(j), d) - Gat(mid(j), d));
        }
        return qs * ks;
      };
      for (int64_t i = 0; i < D * Dv; ++i)
        state[i] = p.stateIn.empty() ? 0.f : float(p.stateIn[st * D * Dv + i]);
      for (int64_t d = 0; d < D; ++d)
        z[d] = p.keySumIn.empty() ? 0.f : float(p.keySumIn[st * D + d]);
      auto loadRows = [&](std::vector<float> &dst, int64_t c0, int64_t n, bool keys) {
        llvm::ArrayRef<double> src = keys ? p.k : p.q;
        const int64_t heads = keys ? p.kvHeads : H, head = keys ? hk : h;
        for (int64_t i = 0; i < C; ++i) {
          const double *row = &src[((base + std::min(c0 + i, L - 1)) * heads + head) * Din];
          if (rowMap && i < n)
            applyRowFeatureMap(linear, Din, weights, h, row, rowFeatures.data());
          for (int64_t d = 0; d < D; ++d)
            dst[i * D + d] = i >= n ? 0.f : rowMap ? float(rowFeatures[d]) : phi(row[d]);
        }
      };
      auto vAt = [&](int64_t row, int64_t e) {
        return float(p.v[((base + row) * p.kvHeads + hk) * Dv + e]);
      };
      auto update = [&](int64_t c0, int64_t n) {
        loadRows(k, c0, n, true);
        // The kernel's per-key-dimension path reads G at the chunk's last row (rows past n add
        // nothing to it); the others at n - 1.
        const int64_t last = perDim ? C - 1 : n - 1;
        for (int64_t d = 0; d < D; ++d) {
          const float carry = std::exp2(Gat(last, d));
          for (int64_t e = 0; e < Dv; ++e)
            state[d * Dv + e] *= carry;
          z[d] *= carry;
        }
        for (int64_t j = 0; j < n; ++j)
          for (int64_t d = 0; d < D; ++d) {
            const float fk = updated(k[j * D + d], last, j, d);
            z[d] += fk;
            for (int64_t e = 0; e < Dv; ++e)
              state[d * Dv + e] += fk * vAt(c0 + j, e);
          }
      };
      auto output = [&](int64_t c0, int64_t n) {
        loadRows(q, c0, n, false);
        if (causal)
          loadRows(k, c0, n, true);
        for (int64_t i = 0; i < n; ++i) {
          double *o = &result.out[((base + c0 + i) * H + h) * Dv];
          for (int64_t e = 0; e < Dv; ++e)
            o[e] = 0;
          float den = 0;
          for (int64_t d = 0; d < D; ++d) {
            const float fq = causal ? carried(q[i * D + d], i, d) : q[i * D + d];
            for (int64_t e = 0; e < Dv; ++e)
              o[e] += fq * state[d * Dv + e];
            den += fq * z[d];
          }
          for (int64_t j = 0; causal && j <= i; ++j) {
            float a = 0;
            if (perDim) {
              for (int64_t d = 0; d < D; ++d)
                a += pairTerm(q[i * D + d], k[j * D + d], i, j, d);
            } else {
              for (int64_t d = 0; d < D; ++d)
                a += q[i * D + d] * k[j * D + d];
              a = pairTerm(a, 1.f, i, j, 0);
            }
            den += a;
            for (int64_t e = 0; e < Dv; ++e)
              o[e] += a * vAt(c0 + j, e);
          }
          const float factor = sum ? (den != 0.f ? 1.f / den : 0.f) : scale;
          for (int64_t e = 0; e < Dv; ++e)
            o[e] = float(o[e]) * factor;
        }
      };
      // A split: pass 0 runs each segment but the last from a zero state and keeps its state
      // and its log2 decay (per key dimension with such a gate: the chunks' G at the last row);
      // pass 1 starts segment q from 2^T(q) S0 + sum_{q' < q} 2^(T(q) - T(q' + 1)) S(q'), T(q)
      // the decay before segment q, adding in the kernel's order.
      const int64_t segRows = split ? linearSegmentRows : std::max<int64_t>(L, 1);
      const int64_t segments = split ? (L + segRows - 1) / segRows : 1;
      std::vector<std::vector<float>> own(segments);
      std::vector<std::vector<float>> segmentLog(segments, std::vector<float>(logs, 0.f));
      const std::vector<float> initial = state;
      auto chunks = [&](int64_t q, auto &&fn) {
        for (int64_t c0 = q * segRows; c0 < std::min(L, (q + 1) * segRows); c0 += C)
          fn(c0, std::min(C, L - c0));
      };
      for (int64_t q = 0; q + 1 < segments; ++q) {
        std::fill(state.begin(), state.end(), 0.f);
        chunks(q, [&](int64_t c0, int64_t n) {
          loadDecay(c0, n);
          update(c0, n);
          for (int64_t c = 0; c < logs; ++c)
            segmentLog[q][c] += G[(perDim ? C - 1 : n - 1) * logs + c];
        });
        own[q] = state;
      }
      for (int64_t q = 0; q < segments; ++q) {
        for (int64_t d = 0; split && d < D; ++d) {
          const int64_t col = perDim ? d : 0;
          float total = 0.f, through = 0.f;
          for (int64_t r = 0; r < q; ++r)
            total += segmentLog[r][col];
          for (int64_t e = 0; e < Dv; ++e)
            state[d * Dv + e] = initial[d * Dv + e] * std::exp2(total);
          for (int64_t r = 0; r < q; ++r) {
            through += segmentLog[r][col];
            const float f = std::exp2(total - through);
            for (int64_t e = 0; e < Dv; ++e)
              state[d * Dv + e] += f * own[r][d * Dv + e];
          }
        }
        chunks(q, [&](int64_t c0, int64_t n) {
          ++local.partial;
          loadDecay(c0, n); // a decay needs `causal`: G stays 0 for the other forms
          if (causal)
            output(c0, n);
          update(c0, n);
        });
      }
      for (int64_t c0 = 0; !causal && c0 < L; c0 += C)
        output(c0, std::min(C, L - c0));
      for (int64_t i = 0; i < D * Dv; ++i)
        result.state[st * D * Dv + i] = state[i];
      for (int64_t d = 0; sum && d < D; ++d)
        result.keySum[st * D + d] = z[d];
    }
  }
  if (counts)
    *counts = local;
  return result;
}

FailureOr<ReferenceResult> mlir::attn::simulateKernel(KernelOp kernel, const ReferenceProblem &p,
                                                      TileCounts *counts,
                                                      int64_t linearSegmentRows) {
  if (failed(verifyProblem(kernel, p)))
    return failure();
  if (p.headDim != int64_t(kernel.getHeadDim()) || p.headDimV != int64_t(kernel.getHeadDimV()))
    return kernel.emitError("problem head dims do not match the kernel");
  if (kernel.getKernelTemplate() == TileTemplate::Linear)
    return simulateLinear(kernel, p, counts, linearSegmentRows);
  if (linearSegmentRows > 0)
    return kernel.emitError("only a linear kernel splits its sequences");
  auto mask = RegionEvaluator::createFor(kernel.getUnique<MaskOp>(), p);
  auto scoreMod = RegionEvaluator::createFor(kernel.getUnique<ScoreModOp>(), p);
  auto weight = RegionEvaluator::createFor(kernel.getUnique<WeightOp>(), p);
  auto kvRange = RegionEvaluator::createFor(kernel.getUnique<KvRangeOp>(), p);
  auto tileFull = RegionEvaluator::createFor(kernel.getUnique<TileFullOp>(), p);
  auto tileEmpty = RegionEvaluator::createFor(kernel.getUnique<TileEmptyOp>(), p);
  if (failed(mask) || failed(scoreMod) || failed(weight) || failed(kvRange) || failed(tileFull) ||
      failed(tileEmpty))
    return failure();

  const int64_t H = p.heads, D = p.headDim, Dv = p.headDimV, group = H / p.kvHeads;
  const int64_t BM = kernel.getBlockM(), BN = kernel.getBlockN();
  const NormalizerKind kind = kernel.getNormalizer();
  const bool blockMap = kernel.getBlockMap() && *mask;
  const float scale = static_cast<float>(p.scale ? *p.scale : kernel.getScale().convertToDouble());
  const float bias = kernel.getBiasAttr() ? float(kernel.getBiasAttr().getValueAsDouble()) : 0.f;
  // The factors attn-lower-to-kernel took out of the score modifier, applied as the templates do.
  const float scoreIn = kernel.getScoreInScaleAttr()
                            ? scale * float(kernel.getScoreInScaleAttr().getValueAsDouble())
                            : scale;
  const float scoreOut =
      kernel.getScoreOutScaleAttr() ? float(kernel.getScoreOutScaleAttr().getValueAsDouble()) : 1.f;
  const float inf = std::numeric_limits<float>::infinity();
  ReferenceResult result;
  result.out.assign(p.totalQ() * H * Dv, 0.0);
  result.lse.assign(p.totalQ() * H, -std::numeric_limits<double>::infinity());
  TileCounts local;

  using S = Scalar;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t Sq = p.length(b, false), Skv = p.length(b, true);
    const int64_t qBase = p.rowStart(b, false), kBase = p.rowStart(b, true);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t q0 = 0; q0 < Sq; q0 += BM) {
        int64_t q1 = std::min(q0 + BM, Sq), rows = q1 - q0;
        auto range = (*kvRange)->run({S{b}, S{h}, S{q0}, S{q1}, S{Sq}, S{Skv}});
        int64_t lo = std::max<int64_t>(range[0].i, 0), hi = std::min(range[1].i, Skv);
        int64_t tileLo = lo / BN, tileHi = hi > lo ? (hi + BN - 1) / BN : tileLo;
        local.empty += ((Skv + BN - 1) / BN) - (tileHi - tileLo);
        std::vector<float> m(rows, -inf), l(rows, 0.f), acc(rows * Dv, 0.f), t(BN);
        // Keys of tiles [from, to] all EMPTY by the closed-form tile_empty (one box).
        auto emptyTiles = [&](int64_t from, int64_t to) {
          return (*tileEmpty)
                     ->run({S{b}, S{h}, S{q0}, S{q1}, S{from * BN}, S{(to + 1) * BN}, S{Sq},
                            S{Skv}})[0]
                     .i != 0;
        };
        for (int64_t tile = tileHi - 1, next; tile >= tileLo; tile = next) {
          next = tile - 1;
          int64_t k0 = tile * BN, k1 = k0 + BN;
          bool empty, full;
          if (blockMap) {
            // The run-time builder: the mask on every in-bounds pair of the tile.
            bool any = false, all = true;
            for (int64_t q = q0; q < q1; ++q)
              for (int64_t k = k0; k < std::min(k1, Skv); ++k) {
                bool keep = (*mask)->run({S{b}, S{h}, S{q}, S{k}, S{Sq}, S{Skv}})[0].i != 0;
                any |= keep;
                all &= keep;
              }
            empty = !any;
            full = all && k1 <= Skv;
          } else {
            std::vector<S> box = {S{b}, S{h}, S{q0}, S{q1}, S{k0}, S{k1}, S{Sq}, S{Skv}};
            empty = emptyTiles(tile, tile);
            full = !empty && k1 <= Skv && (*tileFull)->run(box)[0].i != 0;
            if (empty) {
              // As KeyTiles::prev (tiles.cuh): a run of EMPTY tiles below, doubled while one
              // box of them stays EMPTY.
              int64_t run = 1;
              while (tile - 2 * run + 1 >= tileLo && emptyTiles(tile - 2 * run + 1, tile))
                run *= 2;
              local.empty += run - 1;
              next = tile - run;
            }
          }
          if (empty) {
            ++local.empty;
            continue;
          }
          ++(full ? local.full : local.partial);
          for (int64_t r = 0; r < rows; ++r) {
            int64_t q = q0 + r;
            const double *qRow = &p.q[((qBase + q) * H + h) * D];
            float tileMax = -inf;
            for (int64_t j = 0; j < BN; ++j) {
              int64_t k = k0 + j;
              bool keep = k < Skv && (full || !*mask ||
                                      (*mask)->run({S{b}, S{h}, S{q}, S{k}, S{Sq}, S{Skv}})[0].i);
              if (!keep) {
                t[j] = -inf;
                continue;
              }
              const double *kRow = &p.k[((kBase + k) * p.kvHeads + h / group) * D];
              float dot = 0;
              for (int64_t d = 0; d < D; ++d)
                dot += float(qRow[d]) * float(kRow[d]);
              float s = scale * dot;
              if (*scoreMod)
                s = scoreOut *
                    float((*scoreMod)
                              ->run({S{0, scoreIn * dot}, S{b}, S{h}, S{q}, S{k}, S{Sq}, S{Skv}})[0]
                              .f);
              t[j] = s;
              tileMax = std::max(tileMax, s);
            }
            float mNew = m[r], alpha = 1.f;
            if (kind == NormalizerKind::Softmax) {
              mNew = std::max(m[r], tileMax);
              if (mNew == -inf)
                continue; // nothing visible yet: the -inf rule keeps l and acc at 0
              alpha = std::exp(m[r] - mNew);
              l[r] *= alpha;
              for (int64_t d = 0; d < Dv; ++d)
                acc[r * Dv + d] *= alpha;
            }
            for (int64_t j = 0; j < BN; ++j) {
              if (t[j] == -inf)
                continue;
              float pw = kind == NormalizerKind::Softmax   ? std::exp(t[j] - mNew)
                         : kind == NormalizerKind::Sigmoid ? 1.f / (1.f + std::exp(-(t[j] + bias)))
                                                           : t[j];
              l[r] += pw;
              if (*weight)
                pw *= float((*weight)->run({S{b}, S{h}, S{q}, S{k0 + j}, S{Sq}, S{Skv}})[0].f);
              const double *vRow = &p.v[((kBase + k0 + j) * p.kvHeads + h / group) * Dv];
              for (int64_t d = 0; d < Dv; ++d)
                acc[r * Dv + d] += pw * float(vRow[d]);
            }
            m[r] = mNew;
          }
        }
        for (int64_t r = 0; r < rows; ++r) {
          double *oRow = &result.out[((qBase + q0 + r) * H + h) * Dv];
          if (kind != NormalizerKind::Softmax) {
            for (int64_t d = 0; d < Dv; ++d)
              oRow[d] = acc[r * Dv + d];
            continue;
          }
          if (l[r] == 0.f)
            continue;
          for (int64_t d = 0; d < Dv; ++d)
            oRow[d] = acc[r * Dv + d] / l[r];
          result.lse[p.lseIndex(b, h, q0 + r)] = double(m[r]) + std::log(double(l[r]));
        }
      }
  }
  if (counts)
    *counts = local;
  return result;
}
