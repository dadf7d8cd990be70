//===- CheckProblems.cpp - The random problems of attnc check and their errors -===//
#include "CheckProblems.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>

using namespace mlir;
using namespace attnc::check;

static void fillRandom(std::vector<uint16_t> &bits, std::vector<double> &values, size_t n,
                       attnc::ElementType type, std::mt19937 &rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  bits.resize(n);
  values.resize(n);
  for (size_t i = 0; i < n; ++i) {
    bits[i] = attnc::floatToBits(dist(rng), type);
    values[i] = attnc::bitsToFloat(bits[i], type);
  }
}

std::unique_ptr<Problem> attnc::check::makeProblem(attn::PatternOp pattern, Shape shape, int d,
                                                   int dv, attnc::ElementType type, unsigned seed) {
  std::mt19937 rng(seed);
  auto problem = std::make_unique<Problem>();
  attn::ReferenceProblem &p = problem->ref;
  if (pattern.getHeads()) {
    shape.heads = int(*pattern.getHeads());
    shape.kvHeads = int(*pattern.getKvHeads());
  }
  p.batch = shape.batch;
  p.heads = shape.heads;
  p.kvHeads = shape.kvHeads;
  p.seqQ = shape.seqQ;
  p.seqK = shape.seqK;
  p.headDim = d;
  p.headDimV = dv;
  if (pattern.getVarlen()) {
    p.cuSeqlensQ = {0};
    p.cuSeqlensK = {0};
    for (int b = 0; b < shape.batch; ++b) {
      // The last sequence has the full lengths, so that seqQ / seqK are the maxima.
      int64_t lq = b + 1 == shape.batch ? shape.seqQ : rng() % (shape.seqQ + 1);
      int64_t lk = b + 1 == shape.batch ? shape.seqK : rng() % (shape.seqK + 1);
      if (pattern.getUnique<attn::LinearOp>())
        lk = lq; // a linear form attends within one sequence
      p.cuSeqlensQ.push_back(p.cuSeqlensQ.back() + lq);
      p.cuSeqlensK.push_back(p.cuSeqlensK.back() + lk);
    }
    problem->cuQ.assign(p.cuSeqlensQ.begin(), p.cuSeqlensQ.end());
    problem->cuK.assign(p.cuSeqlensK.begin(), p.cuSeqlensK.end());
  }
  fillRandom(problem->q, problem->qd, size_t(p.totalQ()) * p.heads * d, type, rng);
  fillRandom(problem->k, problem->kd, size_t(p.totalK()) * p.kvHeads * d, type, rng);
  fillRandom(problem->v, problem->vd, size_t(p.totalK()) * p.kvHeads * dv, type, rng);
  p.q = problem->qd;
  p.k = problem->kd;
  p.v = problem->vd;
  std::normal_distribution<float> normal(0.f, 1.f);
  const bool linear = bool(pattern.getUnique<attn::LinearOp>());
  for (Operation &op : pattern.getBody().front()) {
    if (auto input = dyn_cast<attn::InputOp>(op)) {
      int64_t count = 1;
      for (int64_t extent : attn::resolveInputShape(input, p))
        count *= extent;
      std::vector<double> &values = p.inputs[input.getName()];
      std::vector<uint32_t> &bits = problem->inputBits.emplace_back();
      for (int64_t i = 0; i < count; ++i) {
        if (isa<NoneType>(input.getElementType())) {
          // A branch's own q or k: normals in the element type, like q and k (the bits a
          // kernel would read; none does, CompositeKernel binds them as q and k).
          const uint32_t u = attnc::floatToBits(normal(rng), type);
          values.push_back(attnc::bitsToFloat(u, type));
          bits.push_back(u);
        } else if (input.getElementType().isF32()) {
          // A linear pattern's inputs are typically decay rates: positive, so that its decays
          // stay in (0, 1].
          float x = linear ? std::uniform_real_distribution<float>(0.05f, 1.f)(rng) : normal(rng);
          values.push_back(x);
          uint32_t u;
          std::memcpy(&u, &x, 4);
          bits.push_back(u);
        } else {
          int32_t x = int32_t(rng() % 4);
          values.push_back(x);
          bits.push_back(uint32_t(x));
        }
      }
      // Integer inputs over a sequence (their last dimension Sq or Skv) are sorted along it on
      // problems of even seed: runs of equal ids, as documents give, whose masks keep one
      // interval of keys per row (the row bounds of a run-time map, blockmap.cuh); odd seeds
      // keep independent ids.
      auto dims = input.getShape();
      auto last = dims.empty() ? StringAttr() : dyn_cast<StringAttr>(dims.getValue().back());
      if (isa<IntegerType>(input.getElementType()) && seed % 2 == 0 && last &&
          (last.getValue() == "Sq" || last.getValue() == "Skv")) {
        const int64_t run = attn::resolveInputShape(input, p).back();
        for (int64_t i = 0; run > 0 && i + run <= count; i += run)
          std::sort(values.begin() + i, values.begin() + i + run);
        for (int64_t i = 0; i < count; ++i)
          bits[i] = uint32_t(int32_t(values[i]));
      }
    } else if (auto scalar = dyn_cast<attn::ScalarOp>(op)) {
      if (!scalar.getDefaultValueAttr())
        p.scalars[scalar.getName()] = 1.0 + double(rng() % 1000) / 1000.0;
    }
  }
  return problem;
}

template <class T>
std::vector<T> attnc::check::sliceSequenceRows(attn::InputOp input,
                                               const attn::ReferenceProblem &rp,
                                               llvm::ArrayRef<T> bits, int64_t from, int64_t count,
                                               std::optional<int64_t> keysTo) {
  const std::vector<int64_t> shape = attn::resolveInputShape(input, rp);
  std::vector<int64_t> begin(shape.size(), 0), extent = shape;
  for (auto [i, dim] : llvm::enumerate(input.getShape()))
    if (auto name = dyn_cast<StringAttr>(dim);
        name && (name.getValue() == "Sq" || name.getValue() == "Skv")) {
      const bool cache = keysTo && name.getValue() == "Skv";
      begin[i] = cache ? 0 : from;
      extent[i] = cache ? *keysTo : count;
    }
  std::vector<T> out;
  // Row-major walk over the slice: each output element's source offset.
  std::function<void(size_t, int64_t)> walk = [&](size_t dim, int64_t offset) {
    if (dim == shape.size()) {
      out.push_back(bits[offset]);
      return;
    }
    for (int64_t i = 0; i < extent[dim]; ++i)
      walk(dim + 1, offset * shape[dim] + begin[dim] + i);
  };
  walk(0, 0);
  return out;
}

double attnc::check::relativeError(llvm::ArrayRef<double> a, llvm::ArrayRef<double> b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]))
      return INFINITY;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

double attnc::check::maxAbsError(llvm::ArrayRef<double> a, llvm::ArrayRef<double> b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isinf(a[i]) || std::isinf(b[i])) {
      if (a[i] != b[i])
        return INFINITY;
      continue;
    }
    if (std::isnan(a[i]))
      return INFINITY;
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  }
  return worst;
}

template std::vector<uint32_t>
attnc::check::sliceSequenceRows<uint32_t>(attn::InputOp, const attn::ReferenceProblem &,
                                          llvm::ArrayRef<uint32_t>, int64_t, int64_t,
                                          std::optional<int64_t>);
template std::vector<double> attnc::check::sliceSequenceRows<double>(attn::InputOp,
                                                                     const attn::ReferenceProblem &,
                                                                     llvm::ArrayRef<double>,
                                                                     int64_t, int64_t,
                                                                     std::optional<int64_t>);
