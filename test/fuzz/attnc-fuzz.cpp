//===- attnc-fuzz.cpp - libFuzzer target over the whole compile path ----------===//
//
// Each input is a .attn buffer. It goes through everything a user's spec goes through:
//   parsePatterns (lexer, parser, MLIRGen, verifier)
//   -> lowerToKernels for bf16 D64 and f16 D128 (skipUnsupported) -> emitKernels (CUDA C++)
//   -> the float64 reference on a tiny problem (B1 Sq3 Skv5)
//   -> the block maps of attn-classify-blocks checked against the mask on every pair (sound:
//      no EMPTY tile with a kept pair, no FULL tile with a dropped one; abort otherwise).
// A diagnosed error is fine; a crash, an assertion, an ASan/UBSan report, an unsound block map
// or a hang is a bug.
// Nothing is printed per input: MLIR diagnostics and the SourceMgr's messages are dropped.
//
// Built with -DATTNC_FUZZ=ON (see scripts/fuzz.sh), run as
//   attnc-fuzz -dict=test/fuzz/attn.dict CORPUS_DIR
// or on single files to reproduce: attnc-fuzz test/fuzz/crashes/crash-...
//
//===----------------------------------------------------------------------===//
#include "attn/Codegen/BlockMap.h"
#include "attn/Codegen/Reference.h"
#include "attn/Frontend/Compiler.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>

using namespace mlir;

namespace {

constexpr size_t kMaxInputBytes = 4096;
constexpr int64_t kMaxReferenceElements = 100000;
constexpr int64_t kMaxReferenceHeadDim = 256;

/// a * b, or nullopt when it passes `limit` (or overflows).
std::optional<int64_t> boundedMul(int64_t a, int64_t b, int64_t limit) {
  if (a < 0 || b < 0)
    return std::nullopt;
  if (a != 0 && b > limit / a)
    return std::nullopt;
  return a * b;
}

/// The element count of `extents`, or nullopt when it passes kMaxReferenceElements.
std::optional<int64_t> boundedCount(llvm::ArrayRef<int64_t> extents) {
  int64_t count = 1;
  for (int64_t e : extents) {
    std::optional<int64_t> next = boundedMul(count, e, kMaxReferenceElements);
    if (!next)
      return std::nullopt;
    count = *next;
  }
  return count;
}

/// A problem for `pattern` and the storage behind its q/k/v views. Sizes are the pattern's fixed
/// heads and head dims (else `heads`/1 and 8); varlen patterns get `batch` sequences with the
/// given lengths (the first sequence has the longest). Inputs hold small deterministic values
/// (ints 0..3, floats in [-1, 1]); scalars without a default are 1.
struct Problem {
  attn::ReferenceProblem p;
  std::vector<double> q, k, v;
};

std::unique_ptr<Problem> makeProblem(attn::PatternOp pattern, int64_t batch, int64_t defaultHeads,
                                     llvm::ArrayRef<int64_t> lensQ, llvm::ArrayRef<int64_t> lensK,
                                     bool withQKV) {
  auto problem = std::make_unique<Problem>();
  attn::ReferenceProblem &p = problem->p;
  p.batch = batch;
  p.heads = pattern.getHeads() ? int64_t(*pattern.getHeads()) : defaultHeads;
  p.kvHeads = pattern.getKvHeads() ? int64_t(*pattern.getKvHeads()) : 1;
  p.seqQ = lensQ[0];
  p.seqK = lensK[0];
  p.headDim = 8;
  p.headDimV = 8;
  if (pattern.getHeadDim()) {
    p.headDim = int64_t(*pattern.getHeadDim());
    p.headDimV = pattern.getHeadDimV() ? int64_t(*pattern.getHeadDimV()) : p.headDim;
  }
  if (p.headDim <= 0 || p.headDimV <= 0 || p.headDim > kMaxReferenceHeadDim ||
      p.headDimV > kMaxReferenceHeadDim || p.heads <= 0 || p.kvHeads <= 0 ||
      p.heads > kMaxReferenceElements || p.heads % p.kvHeads != 0)
    return nullptr;
  if (pattern.getVarlen()) {
    p.cuSeqlensQ = {0};
    p.cuSeqlensK = {0};
    for (int64_t b = 0; b < batch; ++b) {
      p.cuSeqlensQ.push_back(p.cuSeqlensQ.back() + lensQ[b]);
      p.cuSeqlensK.push_back(p.cuSeqlensK.back() + lensK[b]);
    }
  }
  if (withQKV) {
    std::optional<int64_t> nq = boundedCount({p.totalQ(), p.heads, p.headDim});
    std::optional<int64_t> nk = boundedCount({p.totalK(), p.kvHeads, p.headDim});
    std::optional<int64_t> nv = boundedCount({p.totalK(), p.kvHeads, p.headDimV});
    if (!nq || !nk || !nv)
      return nullptr;
    // Small distinct values so that scores differ.
    for (int64_t i = 0; i < *nq; ++i)
      problem->q.push_back(double(i % 7 - 3) * 0.25);
    for (int64_t i = 0; i < *nk; ++i)
      problem->k.push_back(double(i % 5 - 2) * 0.5);
    for (int64_t i = 0; i < *nv; ++i)
      problem->v.push_back(double(i % 3 - 1));
    p.q = problem->q;
    p.k = problem->k;
    p.v = problem->v;
  }
  for (Operation &op : pattern.getBody().front()) {
    if (auto input = dyn_cast<attn::InputOp>(op)) {
      std::optional<int64_t> count = boundedCount(attn::resolveInputShape(input, p));
      if (!count)
        return nullptr;
      std::vector<double> &values = p.inputs[input.getName()];
      bool isFloat = input.getElementType().isF32();
      for (int64_t i = 0; i < *count; ++i)
        values.push_back(isFloat ? double(i % 9 - 4) * 0.25 : double((i * 7 + 3) % 4));
    } else if (auto scalar = dyn_cast<attn::ScalarOp>(op)) {
      if (!scalar.getDefaultValueAttr())
        p.scalars[scalar.getName()] = 1.0;
    }
  }
  return problem;
}

/// Runs the float64 reference of `pattern` on a tiny problem (B1 Sq3 Skv5); skips patterns whose
/// fixed shape would make it large.
void runReference(attn::PatternOp pattern) {
  std::unique_ptr<Problem> problem = makeProblem(pattern, 1, 1, {3}, {5}, /*withQKV=*/true);
  if (!problem)
    return;
  FailureOr<attn::ReferenceResult> result = attn::evaluateReference(pattern, problem->p);
  (void)result;
}

/// The oracle of attn-classify-blocks: on a small ragged problem, the tile functions of the
/// classified `pattern` (what the kernel runs to skip tiles or drop the mask) must be sound
/// against the mask evaluated on every pair. An unsound map means wrong kernel results: abort.
void checkBlockMaps(attn::PatternOp pattern) {
  if (!pattern.getUnique<attn::KvRangeOp>())
    return; // left unclassified (unsupported for the target)
  const int64_t batch = 2;
  std::unique_ptr<Problem> problem =
      makeProblem(pattern, batch, 3, {19, 11}, {27, 9}, /*withQKV=*/false);
  if (!problem)
    return;
  const attn::ReferenceProblem &p = problem->p;
  if (failed(attn::verifyProblem(pattern, p)))
    return;
  static const int64_t tiles[][2] = {{4, 8}, {16, 16}, {8, 64}};
  for (int64_t b = 0; b < (p.isVarlen() ? batch : 1); ++b)
    for (int64_t h : {int64_t(0), p.heads - 1}) {
      // Every pair once (1x1 tiles), then the truth for each tile size from it.
      FailureOr<attn::BlockMap> pairs = attn::bruteForceTiles(pattern, p, b, h, 1, 1);
      if (failed(pairs))
        return;
      for (auto [blockM, blockN] : tiles) {
        FailureOr<attn::BlockMap> claimed = attn::classifyTiles(pattern, p, b, h, blockM, blockN);
        if (failed(claimed))
          return;
        attn::BlockMap truth = *claimed;
        for (int64_t r = 0; r < truth.rows; ++r)
          for (int64_t c = 0; c < truth.cols; ++c) {
            bool any = false, all = true;
            for (int64_t q = r * blockM; q < std::min((r + 1) * blockM, pairs->rows); ++q)
              for (int64_t k = c * blockN; k < std::min((c + 1) * blockN, pairs->cols); ++k) {
                bool keep = pairs->at(q, k) != attn::TileKind::Empty;
                any |= keep;
                all &= keep;
              }
            truth.tiles[r * truth.cols + c] = !any  ? attn::TileKind::Empty
                                              : all ? attn::TileKind::Full
                                                    : attn::TileKind::Partial;
          }
        std::string unsound = attn::checkSoundness(*claimed, truth);
        if (!unsound.empty()) {
          llvm::errs() << "attnc-fuzz: unsound block map for @" << pattern.getSymName()
                       << " (mask_class " << pattern.getMaskClass().value_or("none") << ") b " << b
                       << " h " << h << " Sq " << p.length(b, false) << " Skv " << p.length(b, true)
                       << " tiles " << blockM << "x" << blockN << ": " << unsound << "\n";
          abort();
        }
      }
    }
}

} // namespace

// LLVM's headers poison and unpoison memory by hand when they see ASan (BumpPtrAllocator slabs,
// ...). The inline copies compiled into attnc's instrumented code and the uninstrumented ones in
// the installed LLVM/MLIR archives do not agree, which gives false use-after-poison reports:
// turn manual poisoning off (heap, stack and global checks stay on).
extern "C" const char *__asan_default_options() { return "allow_user_poisoning=0"; }
extern "C" const char *__ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > kMaxInputBytes)
    return -1; // not added to the corpus

  // A fresh context per input, so that every crash reproduces from its input alone.
  MLIRContext context(MLIRContext::Threading::DISABLED);
  attnc::loadAttnDialects(context);
  ScopedDiagnosticHandler dropDiagnostics(&context, [](Diagnostic &) { return success(); });

  llvm::SourceMgr sourceMgr;
  sourceMgr.setDiagHandler([](const llvm::SMDiagnostic &, void *) {}, nullptr);
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.attn"),
      llvm::SMLoc());

  OwningOpRef<ModuleOp> module = attnc::parsePatterns(context, sourceMgr);
  if (!module)
    return 0;

  // The printer of the pattern level (custom assembly of the attn ops).
  {
    llvm::raw_null_ostream os;
    module->print(os);
  }

  static const attn::KernelTarget targets[] = {
      {"bf16", 64, 0, "sm_90a", /*skipUnsupported=*/true},
      {"f16", 128, 0, "sm_90a", /*skipUnsupported=*/true},
  };
  for (const attn::KernelTarget &target : targets) {
    OwningOpRef<ModuleOp> lowered = module->clone();
    if (failed(attnc::lowerToKernels(*lowered, target)))
      continue;
    {
      llvm::raw_null_ostream os;
      lowered->print(os);
    }
    FailureOr<std::vector<attnc::CompiledKernel>> kernels = attnc::emitKernels(*lowered);
    (void)kernels;
    if (&target == &targets[0])
      for (attn::PatternOp pattern : lowered->getOps<attn::PatternOp>())
        checkBlockMaps(pattern);
  }

  for (attn::PatternOp pattern : module->getOps<attn::PatternOp>())
    runReference(pattern);
  // A composite's reference: its branches on the same problem (their first one's declarations
  // are the composite's), then the combine.
  for (attn::CompositeOp composite : module->getOps<attn::CompositeOp>()) {
    std::unique_ptr<Problem> problem =
        makeProblem(attn::getBranchPatterns(composite).front(), 1, 1, {3}, {3}, /*withQKV=*/true);
    if (problem) {
      FailureOr<attn::ReferenceResult> result = attn::evaluateComposite(composite, problem->p);
      (void)result;
    }
  }
  return 0;
}
