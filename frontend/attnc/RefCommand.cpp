//===- RefCommand.cpp - attnc ref ---------------------------------------------===//
//
// Evaluates the float64 reference of one pattern on tensors from .npy files:
//   dense:  q [B, Sq, Hq, D], k [B, Skv, Hkv, D], v [B, Skv, Hkv, Dv]  ->  out [B, Sq, Hq, Dv],
//           lse [B, Hq, Sq]
//   varlen (--cu-seqlens-q/-k, B + 1 offsets each): q [total_q, Hq, D], k [total_k, Hkv, D],
//           v [total_k, Hkv, Dv]  ->  out [total_q, Hq, Dv], lse [Hq, total_q]
// Every size comes from the .npy headers and is checked before anything is evaluated; out and
// lse are written as float32. A linear pattern's state: --state-in / --state-out
// [B, Hq, D, Dv] and, with the sum normaliser, --key-sum-in / --key-sum-out [B, Hq, D]. A
// composite (--pattern naming an attn.composite) evaluates each branch, then the combine. Extra
// inputs and scalars: Inputs.cpp.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Npy.h"

#include "attnc/Forward.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <tuple>

using namespace mlir;
using llvm::errs;

namespace {

/// Prints "attnc: MESSAGE" and returns 1, the exit code of a user error.
int fail(const llvm::Twine &message) {
  errs() << "attnc: " << message << "\n";
  return 1;
}

/// Reads a .npy file, printing why it cannot be read.
std::optional<attnc::NpyArray> load(const std::string &path) {
  llvm::Expected<attnc::NpyArray> array = attnc::readNpy(path);
  if (!array) {
    errs() << "attnc: " << llvm::toString(array.takeError()) << "\n";
    return std::nullopt;
  }
  return std::move(*array);
}

/// Checks that `array` has rank `layout.size()`; prints "q must be [B, Sq, Hq, D], ..." if not.
bool checkRank(const attnc::NpyArray &array, const std::string &path, llvm::StringRef tensor,
               llvm::ArrayRef<llvm::StringRef> layout) {
  if (array.shape.size() == layout.size())
    return true;
  errs() << "attnc: " << path << ": " << tensor << " must be [" << llvm::join(layout, ", ")
         << "], the file has shape " << attnc::formatShape(array.shape) << "\n";
  return false;
}

/// Converts varlen offsets to integers: a 1-D array of at least two integers starting at 0,
/// non-decreasing, ending at `total`. Prints what is wrong otherwise.
bool readOffsets(const attnc::NpyArray &array, const std::string &path, int64_t total,
                 llvm::StringRef rows, std::vector<int64_t> &offsets) {
  auto bad = [&](const llvm::Twine &why) {
    errs() << "attnc: " << path << ": " << why << "\n";
    return false;
  };
  if (array.shape.size() != 1 || array.shape[0] < 2)
    return bad("varlen offsets must be a 1-D array of B + 1 >= 2 integers, the file has shape " +
               attnc::formatShape(array.shape));
  for (double value : array.values) {
    if (value != std::floor(value) || std::fabs(value) > 9.0e15)
      return bad("varlen offsets must be integers");
    offsets.push_back(int64_t(value));
  }
  if (offsets.front() != 0)
    return bad("varlen offsets must start at 0");
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] < offsets[i - 1])
      return bad("varlen offsets must not decrease (entry " + llvm::Twine(i) + ")");
  if (offsets.back() != total)
    return bad("the last offset is " + llvm::Twine(offsets.back()) + ", but " + rows + " has " +
               llvm::Twine(total) + " rows");
  return true;
}

int64_t longest(const std::vector<int64_t> &offsets) {
  int64_t longest = 0;
  for (size_t i = 1; i < offsets.size(); ++i)
    longest = std::max(longest, offsets[i] - offsets[i - 1]);
  return longest;
}

} // namespace

int attnc::runRefCommand(const RefCommandOptions &o) {
  Assignments given;
  if (!parseAssignments(o.params, o.inputs, o.scalars, given))
    return 1;
  const ParamOverrides &params = given.params;
  const llvm::StringMap<std::string> &inputFiles = given.inputs, &scalarValues = given.scalars;
  if (o.outputPath.empty())
    return fail(std::string(o.gpu ? "run" : "ref") + " needs -o OUT.npy");
  if (o.cuSeqlensQPath.empty() != o.cuSeqlensKPath.empty())
    return fail("varlen needs both --cu-seqlens-q and --cu-seqlens-k");
  const bool varlen = !o.cuSeqlensQPath.empty();

  std::unique_ptr<LoadedSpec> spec = loadSpec(o.specPath, params);
  if (!spec)
    return 1;
  // A composite (several branches combined) is evaluated branch by branch; its first branch
  // stands for it in the checks of inputs and shape (every branch declares the same ones).
  attn::CompositeOp composite;
  if (!o.patternName.empty())
    composite = spec->module->lookupSymbol<attn::CompositeOp>(o.patternName);
  attn::PatternOp pattern = composite ? attn::getBranchPatterns(composite).front()
                                      : selectPattern(*spec->module, o.patternName);
  if (!pattern || !checkDeclared({pattern}, inputFiles, scalarValues))
    return 1;
  if (composite && !o.lsePath.empty())
    return fail("composite '" + o.patternName + "' has no LSE (its output is the combine's)");
  if (pattern.getVarlen() && !varlen)
    return fail("pattern '" + pattern.getSymName() +
                "' is varlen: give the sequence offsets with --cu-seqlens-q and --cu-seqlens-k");

  std::optional<NpyArray> q = load(o.qPath), k, v;
  if (q)
    k = load(o.kPath);
  if (k)
    v = load(o.vPath);
  if (!v)
    return 1;

  // Sizes from the headers: every tensor has [rows..., heads, dim] with rows = [B, S] dense and
  // [total] varlen.
  attn::ReferenceProblem p;
  llvm::SmallVector<llvm::StringRef> qLayout = {"B", "Sq", "Hq", "D"};
  llvm::SmallVector<llvm::StringRef> kLayout = {"B", "Skv", "Hkv", "D"};
  llvm::SmallVector<llvm::StringRef> vLayout = {"B", "Skv", "Hkv", "Dv"};
  if (varlen) {
    qLayout = {"total_q", "Hq", "D"};
    kLayout = {"total_k", "Hkv", "D"};
    vLayout = {"total_k", "Hkv", "Dv"};
  }
  if (!checkRank(*q, o.qPath, "q", qLayout) || !checkRank(*k, o.kPath, "k", kLayout) ||
      !checkRank(*v, o.vPath, "v", vLayout))
    return 1;
  const size_t rank = qLayout.size();
  const int64_t hq = q->shape[rank - 2], d = q->shape[rank - 1];
  const int64_t hkv = k->shape[rank - 2], dv = v->shape[rank - 1];
  if (!varlen) {
    if (k->shape[0] != q->shape[0] || v->shape[0] != q->shape[0])
      return fail(llvm::formatv("batch mismatch: q has B = {0}, k has {1}, v has {2}", q->shape[0],
                                k->shape[0], v->shape[0])
                      .str());
    if (q->shape[0] == 0)
      return fail("the batch is empty (B = 0)");
  }
  if (k->shape[rank - 3] != v->shape[rank - 3])
    return fail(llvm::formatv("k and v differ in their number of keys: {0} and {1}",
                              k->shape[rank - 3], v->shape[rank - 3])
                    .str());
  if (v->shape[rank - 2] != hkv)
    return fail(llvm::formatv("k and v differ in their number of heads: {0} and {1}", hkv,
                              v->shape[rank - 2])
                    .str());
  if (k->shape[rank - 1] != d)
    return fail(
        llvm::formatv("q and k differ in head dim: D = {0} and {1}", d, k->shape[rank - 1]).str());
  if (d == 0 || dv == 0 || hq == 0 || hkv == 0)
    return fail("head dims and head counts must be positive (D = " + llvm::Twine(d) +
                ", Dv = " + llvm::Twine(dv) + ", Hq = " + llvm::Twine(hq) +
                ", Hkv = " + llvm::Twine(hkv) + ")");
  if (hq % hkv != 0)
    return fail(
        llvm::formatv("Hq = {0} query heads is not a multiple of Hkv = {1} KV heads", hq, hkv)
            .str());
  p.heads = hq;
  p.kvHeads = hkv;
  p.headDim = d;
  p.headDimV = dv;
  if (varlen) {
    std::optional<NpyArray> cuQ = load(o.cuSeqlensQPath), cuK;
    if (cuQ)
      cuK = load(o.cuSeqlensKPath);
    if (!cuK || !readOffsets(*cuQ, o.cuSeqlensQPath, q->shape[0], "q", p.cuSeqlensQ) ||
        !readOffsets(*cuK, o.cuSeqlensKPath, k->shape[0], "k", p.cuSeqlensK))
      return 1;
    if (p.cuSeqlensQ.size() != p.cuSeqlensK.size())
      return fail(llvm::formatv("--cu-seqlens-q has {0} offsets, --cu-seqlens-k {1}: both need "
                                "B + 1",
                                p.cuSeqlensQ.size(), p.cuSeqlensK.size())
                      .str());
    p.batch = int64_t(p.cuSeqlensQ.size()) - 1;
    p.seqQ = longest(p.cuSeqlensQ);
    p.seqK = longest(p.cuSeqlensK);
  } else {
    p.batch = q->shape[0];
    p.seqQ = q->shape[1];
    p.seqK = k->shape[1];
  }
  p.scale = o.scale;
  if (!bindInputsAndScalars(pattern, inputFiles, scalarValues, p))
    return 1;
  if (o.gpu) {
    // The kernel computes on q, k, v (and a branch's own q and k, inputs of the element type)
    // rounded to its dtype: so does the reference it is checked against, so that --check
    // measures the kernel, not the rounding of its inputs.
    const attnc::ElementType type =
        o.dtype == "f16" ? attnc::ElementType::F16 : attnc::ElementType::BF16;
    std::vector<std::vector<double> *> rounded = {&q->values, &k->values, &v->values};
    for (attn::InputOp input : pattern.getBody().front().getOps<attn::InputOp>())
      if (isa<NoneType>(input.getElementType()))
        rounded.push_back(&p.inputs[input.getName()]);
    for (std::vector<double> *values : rounded)
      for (double &x : *values)
        x = attnc::bitsToFloat(attnc::floatToBits(float(x), type), type);
  }
  p.q = q->values;
  p.k = k->values;
  p.v = v->values;
  if (!o.lsePath.empty() &&
      pattern.getUnique<attn::NormalizeOp>().getKind() != attn::NormalizerKind::Softmax)
    return fail("pattern '" + pattern.getSymName() +
                "' does not normalise with softmax: it has no LSE to write");
  // A linear pattern's recurrent state (a composite's: its one linear branch's): read the initial
  // one, check what is asked of it.
  attn::PatternOp stateful = composite ? attn::getStatefulBranch(composite)
                             : pattern.getUnique<attn::LinearOp>() ? pattern
                                                                   : attn::PatternOp();
  const bool linear = bool(stateful);
  const llvm::StringRef what = composite ? "composite" : "pattern";
  const std::string name = composite ? composite.getSymName().str() : pattern.getSymName().str();
  if (!linear && !(o.stateInPath + o.stateOutPath + o.keySumInPath + o.keySumOutPath).empty())
    return fail(what + " '" + name +
                "' has no state (a linear pattern's, or a composite's one linear branch's): "
                "--state-in/-out, --key-sum-in/-out");
  const bool keySum =
      linear && stateful.getUnique<attn::NormalizeOp>().getKind() == attn::NormalizerKind::Sum;
  if (!keySum && !(o.keySumInPath + o.keySumOutPath).empty())
    return fail(what + " '" + name +
                "' does not normalise with sum: it has no key sum (--key-sum-in/-out)");
  // The state's rows: of the stateful pattern's head dim (a composite branch's own q and k
  // have theirs).
  const int64_t stateD = linear && stateful.getHeadDim() ? int64_t(*stateful.getHeadDim()) : d;
  const int64_t rows =
      linear ? attn::getLinearStateDim(stateful.getUnique<attn::LinearOp>(), stateD) : d;
  const std::vector<int64_t> stateShape = {p.batch, hq, rows, dv},
                             keySumShape = {p.batch, hq, rows};
  for (auto [path, shape, target] : {std::tuple{&o.stateInPath, &stateShape, &p.stateIn},
                                     std::tuple{&o.keySumInPath, &keySumShape, &p.keySumIn}}) {
    if (path->empty())
      continue;
    std::optional<NpyArray> array = load(*path);
    if (!array)
      return 1;
    if (array->shape != *shape)
      return fail(*path + ": must be " + formatShape(*shape) + " ([B, Hq, D" +
                  (shape->size() == 4 ? ", Dv]" : "]") + "), the file has shape " +
                  formatShape(array->shape));
    *target = std::move(array->values);
  }

  // Pattern-level checks (fixed heads or head dims) are reported on the pattern by the reference.
  FailureOr<attn::ReferenceResult> result;
  if (o.gpu) {
    const bool softmax = !composite && pattern.getUnique<attn::NormalizeOp>().getKind() ==
                                           attn::NormalizerKind::Softmax;
    result = composite ? runCompositeOnGpu(*spec, composite, p, o.dtype, o.arch)
                       : runPatternOnGpu(*spec, pattern, p, o.dtype, o.arch,
                                         !o.lsePath.empty() || (o.check && softmax));
    if (failed(result))
      return 1;
    if (o.check) {
      FailureOr<attn::ReferenceResult> ref =
          composite ? attn::evaluateComposite(composite, p) : attn::evaluateReference(pattern, p);
      if (failed(ref))
        return 1;
      // ||got - want|| / ||want|| (the norm itself where want is zero).
      auto relative = [](llvm::ArrayRef<double> got, llvm::ArrayRef<double> want) {
        double err = 0, norm = 0;
        for (size_t i = 0; i < want.size(); ++i) {
          err += (got[i] - want[i]) * (got[i] - want[i]);
          norm += want[i] * want[i];
        }
        return norm > 0 ? std::sqrt(err / norm) : std::sqrt(err);
      };
      double lseErr = 0;
      for (size_t i = 0; softmax && i < ref->lse.size(); ++i)
        if (!(std::isinf(ref->lse[i]) && ref->lse[i] == result->lse[i]))
          lseErr = std::max(lseErr, std::fabs(result->lse[i] - ref->lse[i]));
      const double rel = relative(result->out, ref->out);
      // A linear pattern's final state (and key sum), against the reference's.
      const double stateRel = linear ? std::max(relative(result->state, ref->state),
                                                relative(result->keySum, ref->keySum))
                                     : 0.0;
      const double tolerance = o.dtype == "bf16" ? 1e-2 : 3e-3;
      llvm::outs() << llvm::formatv(
          "check against the float64 reference: |O - ref| / |ref| = "
          "{0:e2}{1}{2} (tolerance {3:e0})\n",
          rel, softmax ? llvm::formatv(", max |LSE - ref| = {0:e2}", lseErr).str() : std::string(),
          linear ? llvm::formatv(", state {0:e2}", stateRel).str() : std::string(), tolerance);
      if (!(rel < tolerance) || !(lseErr < 1e-3) || !(stateRel < tolerance))
        return fail("the GPU result is outside the tolerance");
    }
  } else {
    result =
        composite ? attn::evaluateComposite(composite, p) : attn::evaluateReference(pattern, p);
    if (failed(result))
      return 1;
  }

  std::vector<int64_t> outShape = q->shape;
  outShape.back() = dv;
  if (llvm::Error error = writeNpyFloat32(o.outputPath, outShape, result->out))
    return fail(llvm::toString(std::move(error)));
  std::vector<int64_t> lseShape =
      varlen ? std::vector<int64_t>{hq, p.totalQ()} : std::vector<int64_t>{p.batch, hq, p.seqQ};
  if (!o.lsePath.empty())
    if (llvm::Error error = writeNpyFloat32(o.lsePath, lseShape, result->lse))
      return fail(llvm::toString(std::move(error)));
  for (auto [path, shape, values] : {std::tuple{&o.stateOutPath, &stateShape, &result->state},
                                     std::tuple{&o.keySumOutPath, &keySumShape, &result->keySum}})
    if (!path->empty())
      if (llvm::Error error = writeNpyFloat32(*path, *shape, *values))
        return fail(llvm::toString(std::move(error)));
  if (o.outputPath != "-")
    llvm::outs()
        << llvm::formatv("@{0}: B={1} Sq={2} Skv={3} Hq={4} Hkv={5} D={6} Dv={7}{8}; "
                         "wrote {9} {10}",
                         composite ? composite.getSymName() : pattern.getSymName(), p.batch, p.seqQ,
                         p.seqK, hq, hkv, d, dv, varlen ? " varlen" : "", o.outputPath,
                         formatShape(outShape))
        << (o.lsePath.empty() ? "" : ", " + o.lsePath + " " + formatShape(lseShape))
        << (o.stateOutPath.empty() ? "" : ", " + o.stateOutPath + " " + formatShape(stateShape))
        << (o.keySumOutPath.empty() ? "" : ", " + o.keySumOutPath + " " + formatShape(keySumShape))
        << "\n";
  return 0;
}
