//===- MaskAnalysis.cpp - Interval analysis of mask regions -------------------===//
//
// See MaskAnalysis.h. Index values are signed; unsigned comparisons are read as signed (the
// frontend never makes them). Unknown values stay unknown at compile time (no sentinel
// arithmetic), so no bound can overflow into a wrong answer.
//
//===----------------------------------------------------------------------===//
#include "MaskAnalysis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <optional>

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr unsigned kArgK = 3; // the key position among the mask's arguments (b h q k sq skv)
constexpr int64_t kBig = int64_t(1) << 30; // "no bound" for a dynamically empty key range

std::optional<int64_t> constantInt(Value v) {
  APInt value;
  if (!v.getType().isInteger(1) && matchPattern(v, m_ConstantInt(&value)))
    return value.getSExtValue();
  return std::nullopt;
}

/// Read unsigned predicates as signed ones.
arith::CmpIPredicate signedPredicate(arith::CmpIPredicate p) {
  using P = arith::CmpIPredicate;
  switch (p) {
  case P::ult:
    return P::slt;
  case P::ule:
    return P::sle;
  case P::ugt:
    return P::sgt;
  case P::uge:
    return P::sge;
  default:
    return p;
  }
}

/// not (a p b)  ==  a invert(p) b
arith::CmpIPredicate invert(arith::CmpIPredicate p) {
  using P = arith::CmpIPredicate;
  switch (signedPredicate(p)) {
  case P::slt:
    return P::sge;
  case P::sle:
    return P::sgt;
  case P::sgt:
    return P::sle;
  case P::sge:
    return P::slt;
  case P::eq:
    return P::ne;
  default:
    return P::eq;
  }
}

/// a p b  ==  b swap(p) a  ==  -a swap(p) -b
arith::CmpIPredicate swapSides(arith::CmpIPredicate p) {
  using P = arith::CmpIPredicate;
  switch (signedPredicate(p)) {
  case P::slt:
    return P::sgt;
  case P::sle:
    return P::sge;
  case P::sgt:
    return P::slt;
  case P::sge:
    return P::sle;
  default:
    return signedPredicate(p);
  }
}

/// An interval of an int value; `known` false means no bound.
struct IntAbs {
  bool known = false;
  Value lo, hi;
};

/// A bool over a box: `must` (true everywhere), `may` (true somewhere).
struct BoolAbs {
  Value must, may;
};

/// a * b and a + b, or nullopt when the int64 result would overflow (the analysis then gives
/// up on that form, which is always sound).
std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t r;
  if (llvm::MulOverflow(a, b, r))
    return std::nullopt;
  return r;
}
std::optional<int64_t> checkedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (llvm::AddOverflow(a, b, r))
    return std::nullopt;
  return r;
}

/// c0 * k + sum(factor_i * term_i) + constant, where the terms do not depend on k.
struct Linear {
  int64_t coef = 0;
  SmallVector<std::pair<int64_t, Value>> terms;
  int64_t constant = 0;

  std::optional<Linear> scaled(int64_t f) const {
    Linear r = *this;
    auto coef = checkedMul(r.coef, f), constant = checkedMul(r.constant, f);
    if (!coef || !constant)
      return std::nullopt;
    r.coef = *coef;
    r.constant = *constant;
    for (auto &term : r.terms) {
      auto factor = checkedMul(term.first, f);
      if (!factor)
        return std::nullopt;
      term.first = *factor;
    }
    return r;
  }
  std::optional<Linear> plus(const Linear &o) const {
    Linear r = *this;
    auto coef = checkedAdd(r.coef, o.coef), constant = checkedAdd(r.constant, o.constant);
    if (!coef || !constant)
      return std::nullopt;
    r.coef = *coef;
    r.constant = *constant;
    r.terms.append(o.terms.begin(), o.terms.end());
    return r;
  }
  /// this - o
  std::optional<Linear> minus(const Linear &o) const {
    std::optional<Linear> negated = o.scaled(-1);
    return negated ? plus(*negated) : std::nullopt;
  }
};

/// A key range [lo, hi); a null side is unbounded.
struct KeyRange {
  Value lo, hi;
};

/// Builds interval IR for the values of one mask block into the destination block.
class Analysis {
public:
  Analysis(OpBuilder &builder, Location loc, MaskOp mask, const ArgIntervals &args)
      : b(builder), loc(loc), block(mask.getBody().front()), args(args) {
    kArg = block.getArgument(kArgK);
    // Values that depend on k, in block order.
    dependsOnK.insert(kArg);
    for (Operation &op : block.without_terminator())
      if (llvm::any_of(op.getOperands(), [&](Value v) { return dependsOnK.contains(v); }))
        dependsOnK.insert(op.getResult(0));
  }

  Value yielded() { return block.getTerminator()->getOperand(0); }

  //===--- constants and combinators -------------------------------------===//

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value boolean(bool v) { return arith::ConstantIntOp::create(b, loc, v ? 1 : 0, 1); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, loc, x, y); }
  Value max(Value x, Value y) { return arith::MaxSIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value land(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value lor(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value lnot(Value x) { return arith::XOrIOp::create(b, loc, x, boolean(true)); }
  Value select(Value c, Value x, Value y) { return arith::SelectOp::create(b, loc, c, x, y); }

  //===--- interval interpretation ---------------------------------------===//

  IntAbs intOf(Value v) {
    if (auto it = ints.find(v); it != ints.end())
      return it->second;
    IntAbs r = computeInt(v);
    ints[v] = r;
    return r;
  }

  BoolAbs boolOf(Value v) {
    if (auto it = bools.find(v); it != bools.end())
      return it->second;
    BoolAbs r = computeBool(v);
    bools[v] = r;
    return r;
  }

  BoolAbs unknownBool() { return {boolean(false), boolean(true)}; }

  IntAbs computeInt(Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      unsigned i = arg.getArgNumber();
      if (i >= kMaskIndexArgs || !args.lo[i])
        return {};
      return {true, args.lo[i], args.hi[i]};
    }
    if (std::optional<int64_t> c = constantInt(v)) {
      Value x = index(*c);
      return {true, x, x};
    }
    Operation *op = v.getDefiningOp();
    auto operand = [&](unsigned i) { return intOf(op->getOperand(i)); };
    return llvm::TypeSwitch<Operation *, IntAbs>(op)
        .Case([&](arith::AddIOp) -> IntAbs {
          IntAbs x = operand(0), y = operand(1);
          if (!x.known || !y.known)
            return {};
          return {true, add(x.lo, y.lo), add(x.hi, y.hi)};
        })
        .Case([&](arith::SubIOp) -> IntAbs {
          IntAbs x = operand(0), y = operand(1);
          if (!x.known || !y.known)
            return {};
          return {true, sub(x.lo, y.hi), sub(x.hi, y.lo)};
        })
        .Case([&](arith::MulIOp m) -> IntAbs {
          IntAbs x = operand(0), y = operand(1);
          if (!x.known || !y.known)
            return {};
          std::optional<int64_t> cx = constantInt(m.getLhs()), cy = constantInt(m.getRhs());
          if (cx || cy) {
            int64_t c = cx ? *cx : *cy;
            IntAbs other = cx ? y : x;
            Value f = index(c);
            Value a = mul(other.lo, f), bb = mul(other.hi, f);
            return c >= 0 ? IntAbs{true, a, bb} : IntAbs{true, bb, a};
          }
          Value p1 = mul(x.lo, y.lo), p2 = mul(x.lo, y.hi), p3 = mul(x.hi, y.lo),
                p4 = mul(x.hi, y.hi);
          return {true, min(min(p1, p2), min(p3, p4)), max(max(p1, p2), max(p3, p4))};
        })
        .Case<arith::DivSIOp, arith::FloorDivSIOp>([&](Operation *) -> IntAbs {
          IntAbs x = operand(0);
          std::optional<int64_t> c = constantInt(op->getOperand(1));
          if (!x.known || !c || *c == 0)
            return {};
          // Truncating and flooring division by a constant are monotone in the dividend.
          Value f = index(*c);
          auto divide = [&](Value n) -> Value {
            if (isa<arith::DivSIOp>(op))
              return arith::DivSIOp::create(b, loc, n, f);
            return arith::FloorDivSIOp::create(b, loc, n, f);
          };
          Value a = divide(x.lo), bb = divide(x.hi);
          return *c > 0 ? IntAbs{true, a, bb} : IntAbs{true, bb, a};
        })
        .Case([&](arith::RemSIOp r) -> IntAbs {
          IntAbs x = operand(0);
          std::optional<int64_t> c = constantInt(r.getRhs());
          if (!x.known || !c || *c == 0 || *c == INT64_MIN)
            return {};
          int64_t m = *c > 0 ? *c : -*c;
          Value f = index(m);
          // Exact when x stays non-negative inside one period; else the remainder's range.
          Value rlo = arith::RemSIOp::create(b, loc, x.lo, f);
          Value rhi = arith::RemSIOp::create(b, loc, x.hi, f);
          Value nonNeg = cmp(arith::CmpIPredicate::sge, x.lo, index(0));
          Value exact = land(land(nonNeg, cmp(arith::CmpIPredicate::slt, sub(x.hi, x.lo), f)),
                             cmp(arith::CmpIPredicate::sle, rlo, rhi));
          Value lo = select(exact, rlo, select(nonNeg, index(0), index(-(m - 1))));
          Value hi = select(exact, rhi, index(m - 1));
          return {true, lo, hi};
        })
        .Case<arith::MinSIOp, arith::MaxSIOp>([&](Operation *) -> IntAbs {
          IntAbs x = operand(0), y = operand(1);
          if (!x.known || !y.known)
            return {};
          if (isa<arith::MinSIOp>(op))
            return {true, min(x.lo, y.lo), min(x.hi, y.hi)};
          return {true, max(x.lo, y.lo), max(x.hi, y.hi)};
        })
        .Case([&](math::AbsIOp) -> IntAbs {
          IntAbs x = operand(0);
          if (!x.known)
            return {};
          Value zero = index(0);
          Value negHi = sub(zero, x.hi), negLo = sub(zero, x.lo);
          Value lo = select(cmp(arith::CmpIPredicate::sge, x.lo, zero), x.lo,
                            select(cmp(arith::CmpIPredicate::sle, x.hi, zero), negHi, zero));
          return {true, lo, max(negLo, x.hi)};
        })
        .Case([&](arith::SelectOp s) -> IntAbs {
          IntAbs x = intOf(s.getTrueValue()), y = intOf(s.getFalseValue());
          if (!x.known || !y.known)
            return {};
          BoolAbs c = boolOf(s.getCondition());
          Value never = lnot(c.may);
          Value lo = select(c.must, x.lo, select(never, y.lo, min(x.lo, y.lo)));
          Value hi = select(c.must, x.hi, select(never, y.hi, max(x.hi, y.hi)));
          return {true, lo, hi};
        })
        .Case([&](arith::IndexCastOp) -> IntAbs { return operand(0); })
        .Default([](Operation *) -> IntAbs { return {}; });
  }

  BoolAbs computeBool(Value v) {
    if (!v.getType().isInteger(1))
      return unknownBool();
    APInt bit;
    if (matchPattern(v, m_ConstantInt(&bit))) {
      Value c = boolean(!bit.isZero());
      return {c, c};
    }
    Operation *op = v.getDefiningOp();
    if (!op)
      return unknownBool();
    return llvm::TypeSwitch<Operation *, BoolAbs>(op)
        .Case([&](arith::CmpIOp c) -> BoolAbs {
          if (!c.getLhs().getType().isIntOrIndex() || c.getLhs().getType().isInteger(1))
            return unknownBool();
          IntAbs x = intOf(c.getLhs()), y = intOf(c.getRhs());
          if (!x.known || !y.known)
            return unknownBool();
          return compare(signedPredicate(c.getPredicate()), x, y);
        })
        .Case([&](arith::AndIOp) -> BoolAbs {
          BoolAbs x = boolOf(op->getOperand(0)), y = boolOf(op->getOperand(1));
          // Never true also where the keys each side allows do not meet inside the box (a
          // lower and an upper bound on k whose ranges are disjoint there).
          return {land(x.must, y.must), land(land(x.may, y.may), keysMayHold(v, true))};
        })
        .Case([&](arith::OrIOp) -> BoolAbs {
          BoolAbs x = boolOf(op->getOperand(0)), y = boolOf(op->getOperand(1));
          // Always true also where the keys that fail both sides leave the box: a window's
          // lower edge that reaches the sink keys (k < s || k > q - w) covers the tile though
          // neither side does alone.
          return {lor(lor(x.must, y.must), lnot(keysMayHold(v, false))), lor(x.may, y.may)};
        })
        .Case([&](arith::XOrIOp) -> BoolAbs {
          BoolAbs x = boolOf(op->getOperand(0)), y = boolOf(op->getOperand(1));
          // true everywhere: one side always true while the other is never true, or vice versa.
          Value must = lor(land(x.must, lnot(y.may)), land(lnot(x.may), y.must));
          // false everywhere: both always true, or both never true.
          Value never = lor(land(x.must, y.must), land(lnot(x.may), lnot(y.may)));
          return {must, lnot(never)};
        })
        .Case([&](arith::SelectOp s) -> BoolAbs {
          BoolAbs c = boolOf(s.getCondition());
          BoolAbs x = boolOf(s.getTrueValue()), y = boolOf(s.getFalseValue());
          Value never = lnot(c.may);
          Value must = select(c.must, x.must, select(never, y.must, land(x.must, y.must)));
          Value may = select(c.must, x.may, select(never, y.may, lor(x.may, y.may)));
          return {must, may};
        })
        .Default([&](Operation *) { return unknownBool(); });
  }

  BoolAbs compare(arith::CmpIPredicate p, IntAbs x, IntAbs y) {
    using P = arith::CmpIPredicate;
    switch (p) {
    case P::slt:
      return {cmp(P::slt, x.hi, y.lo), cmp(P::slt, x.lo, y.hi)};
    case P::sle:
      return {cmp(P::sle, x.hi, y.lo), cmp(P::sle, x.lo, y.hi)};
    case P::sgt:
      return {cmp(P::sgt, x.lo, y.hi), cmp(P::sgt, x.hi, y.lo)};
    case P::sge:
      return {cmp(P::sge, x.lo, y.hi), cmp(P::sge, x.hi, y.lo)};
    case P::eq:
    case P::ne: {
      Value same =
          land(land(cmp(P::eq, x.lo, x.hi), cmp(P::eq, y.lo, y.hi)), cmp(P::eq, x.lo, y.lo));
      Value overlap = land(cmp(P::sle, x.lo, y.hi), cmp(P::sle, y.lo, x.hi));
      if (p == P::eq)
        return {same, overlap};
      return {lnot(overlap), lnot(same)};
    }
    default:
      return unknownBool();
    }
  }

  //===--- key ranges ----------------------------------------------------===//

  /// The linear form of `v` in k, if it is one.
  std::optional<Linear> decompose(Value v) {
    if (v == kArg)
      return Linear{1, {}, 0};
    if (!dependsOnK.contains(v)) {
      if (std::optional<int64_t> c = constantInt(v))
        return Linear{0, {}, *c};
      Linear l;
      l.terms.push_back({1, v});
      return l;
    }
    Operation *op = v.getDefiningOp();
    if (!op)
      return std::nullopt;
    if (isa<arith::AddIOp, arith::SubIOp>(op)) {
      std::optional<Linear> x = decompose(op->getOperand(0)), y = decompose(op->getOperand(1));
      if (!x || !y)
        return std::nullopt;
      return isa<arith::SubIOp>(op) ? x->minus(*y) : x->plus(*y);
    }
    if (isa<arith::MulIOp>(op)) {
      std::optional<int64_t> cx = constantInt(op->getOperand(0)),
                             cy = constantInt(op->getOperand(1));
      if (!cx && !cy)
        return std::nullopt;
      std::optional<Linear> other = decompose(op->getOperand(cx ? 1 : 0));
      if (!other)
        return std::nullopt;
      return other->scaled(cx ? *cx : *cy);
    }
    if (isa<arith::IndexCastOp>(op))
      return decompose(op->getOperand(0));
    return std::nullopt;
  }

  /// The interval of the k-free part of `l` over the box.
  IntAbs intervalOf(const Linear &l) {
    IntAbs r{true, index(l.constant), index(l.constant)};
    bool first = l.constant == 0;
    for (auto [factor, term] : l.terms) {
      IntAbs t = intOf(term);
      if (!t.known)
        return {};
      Value a = t.lo, bb = t.hi;
      if (factor == -1) {
        a = sub(index(0), t.hi);
        bb = sub(index(0), t.lo);
      } else if (factor != 1) {
        Value f = index(factor);
        a = mul(t.lo, f);
        bb = mul(t.hi, f);
        if (factor < 0)
          std::swap(a, bb);
      }
      r = first ? IntAbs{true, a, bb} : IntAbs{true, add(r.lo, a), add(r.hi, bb)};
      first = false;
    }
    return r;
  }

  KeyRange unbounded() { return {}; }

  KeyRange intersect(KeyRange x, KeyRange y) {
    KeyRange r;
    r.lo = !x.lo ? y.lo : !y.lo ? x.lo : max(x.lo, y.lo);
    r.hi = !x.hi ? y.hi : !y.hi ? x.hi : min(x.hi, y.hi);
    return r;
  }

  KeyRange hull(KeyRange x, KeyRange y) {
    KeyRange r;
    if (x.lo && y.lo)
      r.lo = min(x.lo, y.lo);
    if (x.hi && y.hi)
      r.hi = max(x.hi, y.hi);
    return r;
  }

  /// Keys where `l pred 0` can hold for some row of the box.
  KeyRange solveLinear(arith::CmpIPredicate pred, Linear l) {
    using P = arith::CmpIPredicate;
    pred = signedPredicate(pred);
    if (l.coef == -1) {
      std::optional<Linear> negated = l.scaled(-1);
      if (!negated)
        return unbounded();
      l = *negated;
      pred = swapSides(pred);
    }
    if (l.coef != 1)
      return unbounded();
    // k + g pred 0: k pred -g, with -g in [negLo, negHi] over the box.
    l.coef = 0;
    std::optional<Linear> negG0 = l.scaled(-1);
    if (!negG0)
      return unbounded();
    IntAbs negG = intervalOf(*negG0);
    if (!negG.known)
      return unbounded();
    Value negLo = negG.lo, negHi = negG.hi;
    Value one = index(1);
    switch (pred) {
    case P::slt:
      return {nullptr, negHi};
    case P::sle:
      return {nullptr, add(negHi, one)};
    case P::sgt:
      return {add(negLo, one), nullptr};
    case P::sge:
      return {negLo, nullptr};
    case P::eq:
      return {negLo, add(negHi, one)};
    default:
      return unbounded();
    }
  }

  /// `x / C == e`, x = k + g, C > 0 constant, e free of k.
  std::optional<KeyRange> solveBlock(Value quotient, Value other) {
    Operation *div = quotient.getDefiningOp();
    if (!div || !isa<arith::DivSIOp, arith::FloorDivSIOp>(div) || dependsOnK.contains(other))
      return std::nullopt;
    std::optional<int64_t> c = constantInt(div->getOperand(1));
    std::optional<Linear> x = decompose(div->getOperand(0));
    if (!c || *c <= 0 || !x || x->coef != 1)
      return std::nullopt;
    Linear g = *x;
    g.coef = 0;
    IntAbs gi = intervalOf(g), e = intOf(other);
    if (!gi.known || !e.known)
      return std::nullopt;
    // floor: k + g in [C e, C e + C - 1]; truncation also reaches C e - (C - 1) for negative
    // dividends, except when the dividend is k itself (k >= 0).
    bool exact = isa<arith::FloorDivSIOp>(div) || (g.terms.empty() && g.constant == 0);
    Value cv = index(*c);
    Value lo = sub(sub(mul(e.lo, cv), index(exact ? 0 : *c - 1)), gi.hi);
    Value hi = sub(add(mul(e.hi, cv), cv), gi.lo);
    return KeyRange{lo, hi};
  }

  KeyRange solveAtom(arith::CmpIPredicate pred, Value x, Value y) {
    using P = arith::CmpIPredicate;
    pred = signedPredicate(pred);
    if (x.getType().isInteger(1))
      return unbounded();
    // |u| <= y (or < y): both u <= y and -u <= y.
    auto absBand = [&](Value absValue, Value bound, P p) -> std::optional<KeyRange> {
      auto abs = absValue.getDefiningOp<math::AbsIOp>();
      if (!abs || dependsOnK.contains(bound) || (p != P::sle && p != P::slt))
        return std::nullopt;
      std::optional<Linear> u = decompose(abs.getOperand()), v = decompose(bound);
      if (!u || !v)
        return std::nullopt;
      std::optional<Linear> negU = u->scaled(-1);
      std::optional<Linear> upper = u->minus(*v), lower = negU ? negU->minus(*v) : std::nullopt;
      if (!upper || !lower)
        return std::nullopt;
      return intersect(solveLinear(p, *upper), solveLinear(p, *lower));
    };
    if (auto r = absBand(x, y, pred))
      return *r;
    if (auto r = absBand(y, x, swapSides(pred)))
      return *r;
    if (pred == P::eq) {
      if (auto r = solveBlock(x, y))
        return *r;
      if (auto r = solveBlock(y, x))
        return *r;
    }
    std::optional<Linear> lx = decompose(x), ly = decompose(y);
    std::optional<Linear> difference = lx && ly ? lx->minus(*ly) : std::nullopt;
    if (!difference)
      return unbounded();
    return solveLinear(pred, *difference);
  }

  /// Whether `v == positive` can hold at some key of the box (for some row): false when the
  /// box's keys miss solve(v, positive). True when v does not depend on k or the box has no
  /// key interval (the caller's other terms decide).
  Value keysMayHold(Value v, bool positive) {
    if (!dependsOnK.contains(v) || !args.lo[kArgK] || !args.hi[kArgK])
      return boolean(true);
    using P = arith::CmpIPredicate;
    KeyRange r = solve(v, positive);
    Value misses = boolean(false); // the box's keys [lo, hi] and r = [r.lo, r.hi) are disjoint
    if (r.hi)
      misses = lor(misses, cmp(P::sle, r.hi, args.lo[kArgK]));
    if (r.lo)
      misses = lor(misses, cmp(P::sgt, r.lo, args.hi[kArgK]));
    if (r.lo && r.hi)
      misses = lor(misses, cmp(P::sge, r.lo, r.hi));
    return lnot(misses);
  }

  /// Keys where `v == positive` can hold for some row of the box (built once per value and
  /// sign: keysMayHold asks again at every And / Or of a nested mask).
  KeyRange solve(Value v, bool positive) {
    llvm::DenseMap<Value, KeyRange> &cache = ranges[positive];
    if (auto it = cache.find(v); it != cache.end())
      return it->second;
    KeyRange r = computeRange(v, positive);
    cache[v] = r;
    return r;
  }

  KeyRange computeRange(Value v, bool positive) {
    if (!dependsOnK.contains(v)) {
      BoolAbs t = boolOf(v);
      Value possible = positive ? t.may : lnot(t.must);
      return {select(possible, index(0), index(kBig)), select(possible, index(kBig), index(0))};
    }
    Operation *op = v.getDefiningOp();
    if (isa<arith::AndIOp, arith::OrIOp>(op)) {
      KeyRange x = solve(op->getOperand(0), positive), y = solve(op->getOperand(1), positive);
      return isa<arith::AndIOp>(op) == positive ? intersect(x, y) : hull(x, y);
    }
    if (isa<arith::XOrIOp>(op)) {
      for (unsigned i = 0; i < 2; ++i) {
        APInt bit;
        if (matchPattern(op->getOperand(i), m_ConstantInt(&bit)))
          return solve(op->getOperand(1 - i), bit.isZero() ? positive : !positive);
      }
      return unbounded();
    }
    if (auto c = dyn_cast<arith::CmpIOp>(op))
      return solveAtom(positive ? c.getPredicate() : invert(c.getPredicate()), c.getLhs(),
                       c.getRhs());
    return unbounded();
  }

private:
  OpBuilder &b;
  Location loc;
  Block &block;
  const ArgIntervals &args;
  Value kArg;
  llvm::DenseSet<Value> dependsOnK;
  llvm::DenseMap<Value, IntAbs> ints;
  llvm::DenseMap<Value, BoolAbs> bools;
  llvm::DenseMap<Value, KeyRange> ranges[2]; // solve's, by sign
};

} // namespace

std::pair<Value, Value> mlir::attn::buildTileTruth(OpBuilder &builder, Location loc, MaskOp mask,
                                                   const ArgIntervals &args) {
  Analysis analysis(builder, loc, mask, args);
  BoolAbs truth = analysis.boolOf(analysis.yielded());
  return {truth.must, truth.may};
}

std::pair<Value, Value> mlir::attn::buildKeyRange(OpBuilder &builder, Location loc, MaskOp mask,
                                                  const ArgIntervals &args, Value skv) {
  Analysis analysis(builder, loc, mask, args);
  KeyRange range = analysis.solve(analysis.yielded(), /*positive=*/true);
  Value zero = analysis.index(0);
  Value lo = range.lo ? analysis.max(range.lo, zero) : zero;
  Value hi = range.hi ? analysis.min(range.hi, skv) : skv;
  lo = analysis.min(lo, skv);
  return {lo, analysis.max(hi, lo)};
}

//===----------------------------------------------------------------------===//
// Recognition
//===----------------------------------------------------------------------===//

namespace {

/// sum(coef * name) + constant over the region arguments; `ok` false for anything else.
struct SymLinear {
  std::map<std::string, int64_t> coefs;
  int64_t constant = 0;
  bool ok = true;

  SymLinear scaled(int64_t f) const {
    SymLinear r = *this;
    auto constant = checkedMul(r.constant, f);
    r.ok = r.ok && constant;
    r.constant = constant.value_or(0);
    for (auto &[name, c] : r.coefs) {
      auto scaledCoef = checkedMul(c, f);
      r.ok = r.ok && scaledCoef;
      c = scaledCoef.value_or(0);
    }
    return r;
  }
  SymLinear plus(const SymLinear &o) const {
    SymLinear r = *this;
    auto constant = checkedAdd(r.constant, o.constant);
    r.ok = ok && o.ok && constant;
    r.constant = constant.value_or(0);
    for (auto &[name, c] : o.coefs) {
      auto sum = checkedAdd(r.coefs[name], c);
      r.ok = r.ok && sum;
      if ((r.coefs[name] = sum.value_or(0)) == 0)
        r.coefs.erase(name);
    }
    return r;
  }
  /// Constants this large are not a window or a prefix anyone writes; keeping names to
  /// smaller ones also keeps the arithmetic of naming (w + 1, ...) far from overflow.
  bool small() const { return constant > -(int64_t(1) << 40) && constant < (int64_t(1) << 40); }
  /// Whether this is exactly `q + c` (returns c).
  std::optional<int64_t> qPlus() const {
    if (ok && small() && coefs.size() == 1 && coefs.count("q") && coefs.at("q") == 1)
      return constant;
    return std::nullopt;
  }
  bool isConstant() const { return ok && small() && coefs.empty(); }
  bool isBottomRightDiagonal() const { return bottomRightPlus() == 0; }
  /// Whether this is exactly `q + Skv - Sq + c` (returns c): q's diagonal aligned to the last
  /// keys, as a decode call with a KV cache sees it.
  std::optional<int64_t> bottomRightPlus() const {
    if (ok && small() && coefs.size() == 3 && coefs.count("q") && coefs.at("q") == 1 &&
        coefs.count("Skv") && coefs.at("Skv") == 1 && coefs.count("Sq") && coefs.at("Sq") == -1)
      return constant;
    return std::nullopt;
  }
  /// c of `q + c` or of `q + Skv - Sq + c` (then bottomRight).
  std::optional<int64_t> diagonalPlus(bool &bottomRight) const {
    bottomRight = !qPlus() && bottomRightPlus();
    return bottomRight ? bottomRightPlus() : qPlus();
  }
};

/// A normalised piece of a mask: k <= X, k >= Y, k / C == q / C, and/or of pieces, or other.
struct Piece {
  enum class Kind { Upper, Lower, Block, And, Or, Other } kind = Kind::Other;
  SymLinear bound;
  int64_t block = 0;
  std::vector<Piece> parts;
};

class Recognizer {
public:
  explicit Recognizer(MaskOp mask) : block(mask.getBody().front()) {}

  std::string describe() { return name(piece(block.getTerminator()->getOperand(0), true)); }

  bool keepsPrefixes() { return prefixes(piece(block.getTerminator()->getOperand(0), true)); }

private:
  static constexpr const char *kArgNames[] = {"b", "h", "q", "k", "Sq", "Skv"};

  /// (coefficient of k, the rest) of v, when v is linear.
  std::pair<int64_t, SymLinear> linear(Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (arg.getArgNumber() == kArgK)
        return {1, SymLinear{}};
      SymLinear l;
      l.coefs[kArgNames[arg.getArgNumber()]] = 1;
      return {0, l};
    }
    if (std::optional<int64_t> c = constantInt(v))
      return {0, SymLinear{{}, *c, true}};
    Operation *op = v.getDefiningOp();
    if (isa<arith::AddIOp, arith::SubIOp>(op)) {
      auto [cx, x] = linear(op->getOperand(0));
      auto [cy, y] = linear(op->getOperand(1));
      int64_t sign = isa<arith::SubIOp>(op) ? -1 : 1;
      std::optional<int64_t> signedCy = checkedMul(cy, sign);
      std::optional<int64_t> coef = signedCy ? checkedAdd(cx, *signedCy) : std::nullopt;
      SymLinear rest = x.plus(y.scaled(sign));
      rest.ok = rest.ok && coef;
      return {coef.value_or(0), rest};
    }
    if (isa<arith::MulIOp>(op)) {
      for (unsigned i = 0; i < 2; ++i)
        if (std::optional<int64_t> c = constantInt(op->getOperand(i))) {
          auto [co, rest] = linear(op->getOperand(1 - i));
          std::optional<int64_t> coef = checkedMul(co, *c);
          SymLinear scaledRest = rest.scaled(*c);
          scaledRest.ok = scaledRest.ok && coef;
          return {coef.value_or(0), scaledRest};
        }
    }
    if (isa<arith::IndexCastOp>(op))
      return linear(op->getOperand(0));
    SymLinear bad;
    bad.ok = false;
    return {0, bad};
  }

  Piece atom(arith::CmpIPredicate pred, Value x, Value y) {
    using P = arith::CmpIPredicate;
    pred = signedPredicate(pred);
    // k / C == q / C
    if (pred == P::eq)
      for (int i = 0; i < 2; ++i) {
        auto dk = (i ? y : x).getDefiningOp<arith::DivSIOp>();
        auto dq = (i ? x : y).getDefiningOp<arith::DivSIOp>();
        if (dk && dq && dk.getRhs() == dq.getRhs() && constantInt(dk.getRhs())) {
          auto [ck, rk] = linear(dk.getLhs());
          auto [cq, rq] = linear(dq.getLhs());
          if (ck == 1 && rk.isConstant() && rk.constant == 0 && cq == 0 && rq.qPlus() == 0) {
            Piece p;
            p.kind = Piece::Kind::Block;
            p.block = *constantInt(dk.getRhs());
            return p;
          }
        }
      }
    // |u| <= v
    for (int i = 0; i < 2; ++i) {
      auto abs = (i ? y : x).getDefiningOp<math::AbsIOp>();
      P p = i ? swapSides(pred) : pred;
      if (abs && (p == P::sle || p == P::slt)) {
        auto [cu, u] = linear(abs.getOperand());
        auto [cv, v] = linear(i ? x : y);
        if (cv != 0)
          return {};
        Piece both;
        both.kind = Piece::Kind::And;
        if (cu == INT64_MIN)
          return {};
        both.parts.push_back(bound(p, cu, u.plus(v.scaled(-1))));
        both.parts.push_back(bound(p, -cu, u.scaled(-1).plus(v.scaled(-1))));
        return both;
      }
    }
    auto [cx, lx] = linear(x);
    auto [cy, ly] = linear(y);
    std::optional<int64_t> negCy = checkedMul(cy, -1);
    std::optional<int64_t> coef = negCy ? checkedAdd(cx, *negCy) : std::nullopt;
    if (!coef)
      return {};
    return bound(pred, *coef, lx.plus(ly.scaled(-1)));
  }

  /// coef * k + g pred 0.
  Piece bound(arith::CmpIPredicate pred, int64_t coef, SymLinear g) {
    using P = arith::CmpIPredicate;
    if (coef == -1) {
      coef = 1;
      g = g.scaled(-1);
      pred = swapSides(pred);
    }
    if (coef != 1 || !g.ok)
      return {};
    SymLinear negG = g.scaled(-1);
    Piece p;
    switch (pred) {
    case P::slt:
      p.kind = Piece::Kind::Upper;
      p.bound = negG.plus(SymLinear{{}, -1, true});
      return p;
    case P::sle:
      p.kind = Piece::Kind::Upper;
      p.bound = negG;
      return p;
    case P::sgt:
      p.kind = Piece::Kind::Lower;
      p.bound = negG.plus(SymLinear{{}, 1, true});
      return p;
    case P::sge:
      p.kind = Piece::Kind::Lower;
      p.bound = negG;
      return p;
    default:
      return {};
    }
  }

  Piece piece(Value v, bool positive) {
    Operation *op = v.getDefiningOp();
    if (!op)
      return {};
    if (isa<arith::AndIOp, arith::OrIOp>(op)) {
      Piece p;
      p.kind = isa<arith::AndIOp>(op) == positive ? Piece::Kind::And : Piece::Kind::Or;
      for (Value operand : op->getOperands()) {
        Piece part = piece(operand, positive);
        if (part.kind == p.kind) // flatten
          p.parts.insert(p.parts.end(), part.parts.begin(), part.parts.end());
        else
          p.parts.push_back(std::move(part));
      }
      return p;
    }
    if (isa<arith::XOrIOp>(op))
      for (unsigned i = 0; i < 2; ++i) {
        APInt bit;
        if (matchPattern(op->getOperand(i), m_ConstantInt(&bit)))
          return piece(op->getOperand(1 - i), bit.isZero() ? positive : !positive);
      }
    if (auto c = dyn_cast<arith::CmpIOp>(op))
      return atom(positive ? c.getPredicate() : invert(c.getPredicate()), c.getLhs(), c.getRhs());
    return {};
  }

  /// Upper bounds on k joined by && and ||: every row keeps a prefix of the keys.
  static bool prefixes(const Piece &p) {
    if (p.kind == Piece::Kind::Upper)
      return true;
    if (p.kind != Piece::Kind::And && p.kind != Piece::Kind::Or)
      return false;
    return llvm::all_of(p.parts, prefixes);
  }

  static bool isCausal(const Piece &p) {
    return p.kind == Piece::Kind::Upper &&
           (p.bound.qPlus() == 0 || p.bound.isBottomRightDiagonal());
  }

  /// The width w of a window `q - w < k <= q` (or band half-width with band = true), its
  /// diagonal q or bottom-right aligned (`bottomRight`: q + Skv - Sq).
  static std::optional<std::pair<int64_t, bool>> window(const Piece &p, bool &bottomRight) {
    if (p.kind != Piece::Kind::And || p.parts.size() != 2)
      return std::nullopt;
    const Piece *upper = nullptr, *lower = nullptr;
    for (const Piece &part : p.parts) {
      if (part.kind == Piece::Kind::Upper)
        upper = &part;
      else if (part.kind == Piece::Kind::Lower)
        lower = &part;
    }
    if (!upper || !lower)
      return std::nullopt;
    bool lowerBottomRight = false;
    std::optional<int64_t> up = upper->bound.diagonalPlus(bottomRight),
                           low = lower->bound.diagonalPlus(lowerBottomRight);
    if (!up || !low || bottomRight != lowerBottomRight)
      return std::nullopt;
    int64_t a = *up, w = -*low;
    if (a == 0)
      return std::make_pair(w + 1, false);
    if (a == w)
      return std::make_pair(w, true);
    return std::nullopt;
  }

  std::string name(const Piece &p) {
    using K = Piece::Kind;
    if (p.kind == K::Upper && p.bound.qPlus() == 0)
      return "causal";
    if (p.kind == K::Upper && p.bound.isBottomRightDiagonal())
      return "causal_bottom_right";
    if (p.kind == K::Upper && p.bound.qPlus())
      return "causal_offset(" + std::to_string(*p.bound.qPlus()) + ")";
    if (p.kind == K::Upper && p.bound.isConstant())
      return "prefix_keys(" + std::to_string(p.bound.constant + 1) + ")";
    if (p.kind == K::Block)
      return "block_diagonal(" + std::to_string(p.block) + ")";
    // Names of the bottom-right aligned forms (q + Skv - Sq in place of q) end in
    // "_bottom_right".
    auto aligned = [](bool bottomRight) { return bottomRight ? "_bottom_right(" : "("; };
    bool bottomRight = false;
    if (auto w = window(p, bottomRight))
      return (w->second ? "band" : "sliding_window") + std::string(aligned(bottomRight)) +
             std::to_string(w->first) + ")";
    if (p.kind == K::And && p.parts.size() == 2) {
      for (int i = 0; i < 2; ++i) {
        const Piece &causal = p.parts[1 - i], &other = p.parts[i];
        if (!isCausal(causal))
          continue;
        if (other.kind == K::Block)
          return "block_causal(" + std::to_string(other.block) + ")";
        // causal && (k < sinks || k >= q - w + 1): StreamingLLM written with one causal.
        if (other.kind == K::Or && other.parts.size() == 2)
          for (int j = 0; j < 2; ++j) {
            const Piece &keys = other.parts[j], &lower = other.parts[1 - j];
            bool lowerBottomRight = false;
            std::optional<int64_t> low =
                lower.kind == K::Lower ? lower.bound.diagonalPlus(lowerBottomRight) : std::nullopt;
            if (keys.kind == K::Upper && keys.bound.isConstant() && low && *low <= 0 &&
                lowerBottomRight == (causal.bound.qPlus() != 0))
              return "sinks(" + std::to_string(keys.bound.constant + 1) + ")+sliding_window" +
                     aligned(lowerBottomRight) + std::to_string(1 - *low) + ")";
          }
      }
    }
    if (p.kind == K::Or && p.parts.size() == 2) {
      for (int i = 0; i < 2; ++i) {
        const Piece &keys = p.parts[i], &rest = p.parts[1 - i];
        if (keys.kind != K::Upper || !keys.bound.isConstant())
          continue;
        std::string n = std::to_string(keys.bound.constant + 1);
        if (isCausal(rest))
          return "prefix_lm(" + n + ")";
        if (auto w = window(rest, bottomRight); w && !w->second)
          return "sinks(" + n + ")+sliding_window" + aligned(bottomRight) +
                 std::to_string(w->first) + ")";
      }
    }
    return "general";
  }

  Block &block;
};

} // namespace

std::string mlir::attn::describeMask(MaskOp mask) { return Recognizer(mask).describe(); }

bool mlir::attn::keepsKeyPrefixes(MaskOp mask) { return Recognizer(mask).keepsPrefixes(); }
