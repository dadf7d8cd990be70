//===- ExplainCommand.cpp - attnc explain -------------------------------------===//
//
// Shows what the block classification made of each pattern's mask, for one problem size:
//   1. runs the front of the pipeline (canonicalize, attn-classify-blocks, canonicalize);
//   2. evaluates the tile functions for batch 0 and the chosen head (classifyTiles: the map
//      the kernel runs) and the mask on every pair (the exact map, and the pairs it keeps);
//   3. prints mask_class, the sm_90a kernel's template and tiles with the reasons for them
//      (describeTiling), its work tiles and the order its grid takes them in (sm90WorkGroup,
//      for --batch, --heads and --sms), the tile counts, the tile density (pairs inside
//      visited tiles), the pair density (pairs the mask keeps), whether the map is exact and
//      sound, and the map as characters (grouped to at most 64 x 64), followed by the exact map
//      when they differ; --png draws the map with one pixel a tile.
// The brute force takes a while for long sequences (about 7 s for 8192 x 8192 causal): it
// reports its progress on stderr every 10% of the query rows beyond 2^25 pairs.
// An unsound map (a tile called EMPTY that holds a kept pair, or FULL that holds a dropped one)
// is a compiler bug: it is reported and the exit code is 1.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Png.h"

#include "attn/Codegen/BlockMap.h"
#include "attn/Transforms/Passes.h"
#include "attnc/Forward.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::attn;
using llvm::errs;
using llvm::outs;

namespace {

/// Problems with at least this many pairs report the progress of the brute force on stderr.
constexpr int64_t kProgressPairs = int64_t(1) << 25;

/// At most this many characters a row and rows in the printed map.
constexpr int64_t kMaxMapChars = 64;

/// The longest side, in tiles, of a block map --png draws.
constexpr int64_t kMaxPngTiles = 8192;

/// The character of the tiles [r0, r1) x [c0, c1): '#' all FULL, '.' all EMPTY, '+' otherwise.
char cellChar(const BlockMap &map, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  bool allFull = true, allEmpty = true;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = c0; c < c1; ++c) {
      allFull &= map.at(r, c) == TileKind::Full;
      allEmpty &= map.at(r, c) == TileKind::Empty;
    }
  return allFull ? '#' : allEmpty ? '.' : '+';
}

void printMap(llvm::raw_ostream &os, const BlockMap &map, llvm::StringRef title) {
  const int64_t factor =
      std::max<int64_t>(1, (std::max(map.rows, map.cols) + kMaxMapChars - 1) / kMaxMapChars);
  os << "  " << title << " (rows: query tiles, columns: key tiles; # FULL, + PARTIAL, . EMPTY)";
  if (factor > 1)
    os << llvm::formatv(",\n  grouped {0} x {0}: a character is {0} x {0} tiles, # if all are "
                        "FULL, . if all are EMPTY, + otherwise",
                        factor);
  os << ":\n";
  for (int64_t r = 0; r < map.rows; r += factor) {
    os << "    ";
    for (int64_t c = 0; c < map.cols; c += factor)
      os << cellChar(map, r, std::min(r + factor, map.rows), c, std::min(c + factor, map.cols));
    os << "\n";
  }
}

/// Draws `map` with one pixel a tile, scaled up so that a small map is about 512 pixels on its
/// long side: EMPTY white, FULL dark blue, PARTIAL light blue.
bool drawMap(const BlockMap &map, const std::string &path, bool compress) {
  if (std::max(map.rows, map.cols) > kMaxPngTiles) {
    errs() << llvm::formatv("attnc: the block map has {0} x {1} tiles, too many to draw (at "
                            "most {2} a side): use a larger --tile\n",
                            map.rows, map.cols, kMaxPngTiles);
    return false;
  }
  const int64_t scale =
      std::max<int64_t>(1, (512 + std::max(map.rows, map.cols) - 1) / std::max(map.rows, map.cols));
  const int64_t width = map.cols * scale, height = map.rows * scale;
  std::vector<uint8_t> rgb(size_t(width) * height * 3);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      static const uint8_t colours[3][3] = {{255, 255, 255}, {31, 58, 147}, {158, 197, 240}};
      const uint8_t *colour = colours[static_cast<int>(map.at(y / scale, x / scale))];
      std::copy(colour, colour + 3, &rgb[(size_t(y) * width + x) * 3]);
    }
  if (llvm::Error error = attnc::writePng(path, uint32_t(width), uint32_t(height), rgb, compress)) {
    errs() << "attnc: " << llvm::toString(std::move(error)) << "\n";
    return false;
  }
  outs() << llvm::formatv("  wrote {0} ({1} x {2} pixels, {3} a tile)\n", path, width, height,
                          scale);
  return true;
}

/// `path` with "-NAME" before its extension: map.png -> map-causal.png.
std::string pathFor(llvm::StringRef path, llvm::StringRef name) {
  llvm::StringRef extension = llvm::sys::path::extension(path);
  return (path.drop_back(extension.size()) + "-" + name + extension).str();
}

/// The query heads `pattern` is explained for: its fixed count, else --heads (at least 1).
int64_t explainedHeads(PatternOp pattern, const attnc::ExplainCommandOptions &o) {
  return pattern.getHeads() ? int64_t(*pattern.getHeads()) : std::max<int64_t>(o.heads, 1);
}

/// The kernel target `pattern` is explained for: sm_90a, bf16, its own head dims or --head-dim.
KernelTarget explainedTarget(PatternOp pattern, const attnc::ExplainCommandOptions &o) {
  const int64_t d = pattern.getHeadDim().value_or(o.headDim),
                dv = pattern.getHeadDimV().value_or(d);
  return KernelTarget{"bf16", d, dv, "sm_90a", /*skipUnsupported=*/true};
}

/// Prints why `pattern` has no kernel for `target`, if it has none; returns whether it printed.
bool printedNoKernel(PatternOp pattern, const KernelTarget &target) {
  std::optional<std::string> reason = unsupportedReason(pattern, target);
  if (reason)
    outs() << "  kernel: none for head dims " << target.headDim << "/" << target.headDimV << ": "
           << *reason << "\n";
  return reason.has_value();
}

/// A linear pattern has no mask and no block map: says which form it is, and what the linear
/// template will run (chunks, state slices, blocks, the decode step) for --seq and --heads.
int explainLinear(PatternOp pattern, const attnc::ExplainCommandOptions &o) {
  auto linear = pattern.getUnique<LinearOp>();
  auto normalize = pattern.getUnique<NormalizeOp>();
  const KernelTarget target = explainedTarget(pattern, o);
  const int64_t d = target.headDim, dv = target.headDimV;
  const int64_t heads = explainedHeads(pattern, o);
  auto decay = pattern.getUnique<DecayOp>();
  const char *decayWhat =
      !decay ? "none"
      : decay.readsKeyDim()
          ? "a gate per key dimension (each row of the state decays by its own gate; "
            "accumulated along each chunk in sub-chunks of 16 rows; a split sums it per segment "
            "and dimension)"
      : decay.readsPosition() ? "a gate per token (its prefix along each chunk from a gate-log "
                                "pass; a split sums it per "
                                "segment)"
                              : "the pattern's, per sequence and head";
  const FeatureMap map = getFeatureMap(linear);
  const int64_t features = getFeatureDim(linear, d), rows = getLinearStateDim(linear, d);
  std::string mapWhat = pattern.getUnique<FeatureOp>() ? "the pattern's, per element" : "identity";
  if (map != FeatureMap::Elementwise)
    mapWhat = llvm::formatv("{0}, of whole rows: {1} features from D {2} (a state of {3} rows)",
                            map == FeatureMap::Taylor2 ? "taylor2 (Based)" : "hedgehog (learned)",
                            features, d, rows)
                  .str();
  outs() << "@" << pattern.getSymName() << "\n";
  outs() << llvm::formatv("  form: linear, {0}; feature map: {1}; decay: {2}; normaliser: {3}\n",
                          linear.getCausal() ? "causal (key s reaches query t for s <= t)"
                                             : "bidirectional (every key reaches every query)",
                          mapWhat, decayWhat, stringifyNormalizerKind(normalize.getKind()));
  outs() << "  mask_class: (none: a linear form is not classified into tiles)\n";
  if (printedNoKernel(pattern, target))
    return 0;
  // The linear template's fixed geometry (linear_sm80.cuh, TileConfig.cpp selectLinearConfig).
  constexpr int64_t kChunk = 64, kSlice = 64;
  const int64_t featureSlices = map == FeatureMap::Elementwise ? 1 : rows / kSlice;
  const int64_t chunks = (o.seqQ + kChunk - 1) / kChunk,
                blocks = o.batch * heads * featureSlices * dv / kSlice;
  outs() << llvm::formatv(
      "  kernel (D {0}, Dv {1}): template linear: chunks of {2} rows (intra-chunk part quadratic "
      "on tensor cores, a {5} x {1} fp32 state carried between chunks{3}), one block of 4 warps "
      "per ({4}-column slice of Dv, {6}head, sequence)\n",
      d, dv, kChunk, normalize.getKind() == NormalizerKind::Sum ? " with its key sum" : "", kSlice,
      rows, featureSlices > 1 ? "64-row slice of the state, " : "");
  attnc::ForwardConfig config;
  config.causal = linear.getCausal();
  config.keySum = normalize.getKind() == NormalizerKind::Sum;
  config.gatePerKeyDim = decay && decay.readsKeyDim();
  config.gatePerToken = decay && decay.readsPosition() && !config.gatePerKeyDim;
  const int splits = map != FeatureMap::Elementwise
                         ? 1
                         : attnc::linearSplitCount(config, blocks, int(o.seqQ), o.smCount);
  std::string why =
      attnc::fixedLinearSplits() > 0
          ? std::string("as ATTNC_LINEAR_SPLITS asks")
          : llvm::formatv("since {0} blocks fill at most half of the {1} block slots of {2} SMs",
                          blocks, 2 * o.smCount, o.smCount)
                .str();
  // The segments launchForward cuts (whole chunks each; the last may be shorter or, at a
  // length just past a multiple, leave fewer segments than asked), and what the state pass
  // reads again: K and V of every segment but the last, beside q, k, v read and o written
  // once (16-bit elements, every head its own k and v).
  const int64_t segmentRows = ((chunks + splits - 1) / splits) * kChunk;
  const int64_t segments = (o.seqQ + segmentRows - 1) / segmentRows;
  const double again = double(o.batch) * heads * (segments - 1) * segmentRows * (d + dv) * 2;
  const double once = double(o.batch) * heads * o.seqQ * (2 * d + 2 * dv) * 2;
  std::string launches =
      !linear.getCausal() ? "one launch in two passes (the state, then the outputs)"
      : splits > 1
          ? llvm::formatv("each sequence cut into {0} segments of {1} rows{7}, {2}: two launches "
                          "(the state at the end of each segment but the last, {3} blocks, then "
                          "the outputs from the decayed states before each segment, {4} blocks); "
                          "the first reads K and V of those segments again ({5:f1} MB, +{6:f0}% "
                          "over reading q, k, v and writing o once), the time per token a split "
                          "costs",
                          segments, segmentRows, why, blocks * (segments - 1), blocks * segments,
                          again / 1e6, 100.0 * again / once,
                          segments == splits
                              ? std::string()
                              : llvm::formatv(" ({0} asked for, in whole chunks)", splits).str())
                .str()
          : "one launch";
  // A pass over every chunk that runs before the launches above.
  auto passFirst = [&](llvm::StringRef pass, llvm::StringRef what) {
    launches = llvm::formatv("a {0} over the {1} (chunk, head, sequence) triples first ({2}), "
                             "then {3}",
                             pass, chunks * o.batch * heads, what, launches)
                   .str();
  };
  if (config.gatePerKeyDim)
    passFirst("gate pass", "the gated Q and K as bf16 and the chunks' gate tables, into a "
                           "workspace the size of Q and K");
  if (map != FeatureMap::Elementwise)
    launches = llvm::formatv(
                   "a feature pass over the {0} (chunk, head, sequence) triples first (phi(q) and "
                   "phi(k), {1} features padded to {2}, into a workspace of {2}/{3} times the "
                   "size of Q and K), then one launch (sequences are not split){4}",
                   chunks * o.batch * heads, features, rows, d,
                   featureSlices > 1 ? ", then a reduce pass summing the slices' float32 partial "
                                       "outputs into O"
                                     : "")
                   .str();
  if (config.gatePerToken)
    passFirst("gate-log pass", "each chunk's prefix of log2 gates, 4 bytes per token and head");
  outs() << llvm::formatv("  problem: Sq {0}, batch {1}, heads {2}: {3} chunks per sequence, {4} "
                          "blocks; {5}\n",
                          o.seqQ, o.batch, heads, chunks, blocks, launches);
  outs() << "  decode: sequences of length 1 run the recurrent step (S <- gamma S + k v^T), which "
            "reads and writes the state once\n";
  return 0;
}

/// ", gated per key dimension" / ", gated per token" / ", decayed" for a linear branch's decay;
/// nothing without one.
std::string decayName(DecayOp decay) {
  if (!decay)
    return "";
  return decay.readsKeyDim()     ? ", gated per key dimension"
         : decay.readsPosition() ? ", gated per token"
                                 : ", decayed";
}

/// A composite: its branches and how it runs (the plan of attn-lower-to-kernel: the branches one
/// by one, the combine in the epilogue branch's kernel or as a pass of its own), with why its
/// branches are not fused into one kernel.
void explainComposite(CompositeOp composite, const attnc::ExplainCommandOptions &o) {
  SmallVector<PatternOp> branches = getBranchPatterns(composite);
  outs() << llvm::formatv("composite '{0}': {1} branches over the same {2}, their outputs "
                          "combined per element\n",
                          composite.getSymName(), branches.size(),
                          composite.getBranchQAttr() ? "v" : "q, k, v");
  int linear = 0;
  for (auto [index, branch] : llvm::enumerate(branches)) {
    std::string what;
    if (std::optional<std::pair<unsigned, unsigned>> own =
            getBranchOwnQK(composite, unsigned(index))) {
      SmallVector<InputOp> inputs(composite.getBody().front().getOps<InputOp>());
      what =
          llvm::formatv("q = {0}, k = {1} (its own, head dim {2}); ", inputs[own->first].getName(),
                        inputs[own->second].getName(), branch.getHeadDim().value_or(0))
              .str();
    }
    if (auto form = branch.getUnique<LinearOp>()) {
      ++linear;
      what += std::string("linear") + (form.getCausal() ? ", causal" : ", bidirectional") +
              decayName(branch.getUnique<DecayOp>()) +
              (branch.getUnique<NormalizeOp>().getKind() == NormalizerKind::Sum ? ", sum normaliser"
                                                                                : "");
    } else {
      what += stringifyNormalizerKind(branch.getUnique<NormalizeOp>().getKind()).str() + ", mask " +
              branch.getMaskClass().value_or("none").str();
    }
    outs() << "  branch " << branch.getSymName() << ": " << what << "\n";
  }
  // A branch without a kernel for the explained head dims leaves the composite without one.
  for (PatternOp branch : branches)
    if (std::optional<std::string> reason = unsupportedReason(branch, explainedTarget(branch, o))) {
      outs() << "  plan: none: branch " << branch.getSymName() << " has no kernel: " << *reason
             << "\n";
      return;
    }
  const int64_t n = int64_t(branches.size());
  const char *why =
      linear == n ? "two D x Dv states per block would not fit the registers (one takes a "
                    "quarter of them)"
      : linear > 0
          ? "its branches run different kernel templates (linear: chunks carrying a state; "
            "softmax: key tiles with an online max), whose registers and shared memory do not "
            "fit one block"
          : "a fused kernel would run one online softmax per branch over the union of their key "
            "tiles, each under its own mask: not built";
  // One branch output of 16-bit elements at the explained size.
  PatternOp first = branches.front();
  const int64_t heads = explainedHeads(first, o);
  const int64_t dv = first.getHeadDimV().value_or(128);
  const double output = double(o.batch) * o.seqQ * heads * dv * 2 / 1e6;
  const std::string size =
      llvm::formatv("at Sq {0}, batch {1}, heads {2}, Dv {3}", o.seqQ, o.batch, heads, dv).str();
  if (std::optional<int64_t> fused = composite.getEpilogueBranch()) {
    // Saved: the combine pass's n reads and write, less the epilogue's n - 1 reads.
    outs() << llvm::formatv(
        "  plan: {0} launches: the other {2} branch(es) each write their own output, then {1} "
        "runs last and its kernel's epilogue applies the combine to its values and theirs "
        "(saves the combine launch and a write and a read of one output: {3:f1} MB {4}); a call "
        "that {1} runs with its decode kernel (few query rows) takes the combine as a pass of "
        "its own\n",
        n, branches[size_t(*fused)].getSymName(), n - 1, 2 * output, size);
  } else {
    outs() << llvm::formatv(
        "  plan: {0} launches (one per branch, each writing its own output), then the combine "
        "as one elementwise pass (reads {0} outputs, writes 1: {1:f1} MB {2}); not in a "
        "branch's epilogue: only the softmax-family templates have that epilogue (the linear "
        "one writes O from several passes)\n",
        n, double(n + 1) * output, size);
  }
  outs() << "  branches not fused into one kernel: " << why << "\n";
}

/// The Hopper kernel's work tiles at the explained size and the order its grid takes them in
/// (launchForward, fwd_sm90.cuh), for a GPU of --sms SMs.
void printWorkOrder(PatternOp pattern, const TilingDescription &tiling, const KernelTarget &target,
                    const ReferenceProblem &p, const attnc::ExplainCommandOptions &o) {
  const int64_t numM = (o.seqQ + tiling.blockM - 1) / tiling.blockM, pairs = p.batch * p.heads;
  const int64_t work = numM * pairs;
  attnc::ForwardConfig config;
  config.headDim = int(target.headDim);
  config.headDimV = int(target.headDimV);
  config.evenWork = hasEvenWorkTiles(pattern); // as codegen's launch description says
  attnc::FwdParams params{};
  params.batch = int(p.batch);
  params.heads = int(p.heads);
  params.kv_heads = int(p.kvHeads);
  params.seqlen_k = int(o.seqK);
  const int group = attnc::sm90WorkGroup(config, params);
  const double bytes = double(attnc::sm90WorkGroupBytes(config, params, group));
  const std::string grid =
      attnc::sm90Persistent() && work > o.smCount
          ? llvm::formatv("a persistent grid of {0} CTAs (one per SM) takes them from a counter",
                          o.smCount)
                .str()
          : llvm::formatv("one CTA each ({0})",
                          work > o.smCount ? "ATTNC_SM90_PERSISTENT=0" : "no more than the SMs")
                .str();
  auto count = [](int64_t n, llvm::StringRef one, llvm::StringRef many) {
    return llvm::formatv("{0} {1}", n, n == 1 ? one : many).str();
  };
  outs() << llvm::formatv(
      "  work ({0} SMs): {1} of {2} rows x {3} = {4}; {5}, q-tile by q-tile (the last first) "
      "over groups of {6}, whose keys and values take {7:f1} MiB{8}\n",
      o.smCount, count(numM, "q-tile", "q-tiles"), tiling.blockM,
      count(pairs, "(head, batch) pair", "(head, batch) pairs"), count(work, "tile", "tiles"), grid,
      count(group, "pair", "pairs"), bytes / double(1 << 20),
      attnc::fixedSm90WorkGroup() ? std::string(" (as ATTNC_SM90_WORK_GROUP asks)")
      : config.evenWork
          ? std::string(" (pair by pair: without a mask every tile takes the same time, and a "
                        "group would only spread the reads over L2)")
          : llvm::formatv(" (at most {0} MiB of L2: a GQA group counts once)",
                          attnc::kSm90WorkGroupBytes >> 20)
                .str());
}

/// Explains one classified pattern; returns the exit code (1 for an error or an unsound map).
int explainPattern(PatternOp pattern, const attnc::ExplainCommandOptions &o,
                   const llvm::StringMap<std::string> &inputFiles,
                   const llvm::StringMap<std::string> &scalarValues, const std::string &pngPath) {
  if (pattern.getUnique<LinearOp>())
    return explainLinear(pattern, o);
  ReferenceProblem p;
  p.batch = o.batch;
  p.heads = o.heads ? o.heads : 1;
  p.kvHeads = p.heads;
  if (pattern.getHeads()) {
    if (o.heads && o.heads != int64_t(*pattern.getHeads())) {
      errs() << llvm::formatv("attnc: pattern '{0}' fixes {1} query heads, --heads is {2}\n",
                              pattern.getSymName(), *pattern.getHeads(), o.heads);
      return 1;
    }
    p.heads = int64_t(*pattern.getHeads());
    p.kvHeads = int64_t(*pattern.getKvHeads());
  }
  if (o.head >= p.heads) {
    errs() << llvm::formatv("attnc: --head {0} is not below the {1} heads of the problem\n", o.head,
                            p.heads);
    return 1;
  }
  p.seqQ = o.seqQ;
  p.seqK = o.seqK;
  if (pattern.getVarlen())
    for (int64_t b = 0; b <= p.batch; ++b) {
      p.cuSeqlensQ.push_back(b * p.seqQ);
      p.cuSeqlensK.push_back(b * p.seqK);
    }
  // Only what the mask reads is needed (the tile functions are derived from it).
  llvm::StringSet<> needed;
  if (auto mask = pattern.getUnique<MaskOp>())
    mask.walk([&](Operation *op) {
      if (auto load = dyn_cast<LoadOp>(op))
        needed.insert(load.getInput());
      else if (auto get = dyn_cast<GetScalarOp>(op))
        needed.insert(get.getScalar());
    });
  if (!attnc::bindInputsAndScalars(pattern, inputFiles, scalarValues, p, &needed))
    return 1;

  const int64_t b = 0, h = o.head;
  FailureOr<BlockMap> claimed = classifyTiles(pattern, p, b, h, o.tileM, o.tileN);
  if (failed(claimed))
    return 1;
  // Every pair, reporting progress on long problems every 10% of the query rows.
  const int64_t sq = p.length(b, false), skv = p.length(b, true);
  int64_t nextDecile = 1;
  FailureOr<BlockMap> exact =
      bruteForceTiles(pattern, p, b, h, o.tileM, o.tileN, [&](int64_t done, int64_t rows) {
        for (; sq * skv >= kProgressPairs && nextDecile < 10 && done * 10 >= nextDecile * rows;
             ++nextDecile)
          errs() << llvm::formatv("attnc explain: @{0}: mask evaluated on {1}0% of the query "
                                  "rows ({2} of {3})\n",
                                  pattern.getSymName(), nextDecile, done, rows);
      });
  if (failed(exact))
    return 1;
  if (exact->outOfBounds) {
    pattern.emitError("the mask reads out of bounds: ") << *exact->outOfBounds;
    return 1;
  }
  const BlockMap &map = *claimed, &truth = *exact;
  std::string unsound = checkSoundness(map, truth);
  // Tiles the analysis left PARTIAL that are EMPTY or FULL (the cost of a sound approximation).
  // Key tiles that cross Skv are never FULL: the kernel needs the bounds check there.
  int64_t partialEmpty = 0, partialFull = 0, raggedFull = 0;
  if (map.rows == truth.rows && map.cols == truth.cols)
    for (int64_t r = 0; r < map.rows; ++r)
      for (int64_t c = 0; c < map.cols; ++c)
        if (map.at(r, c) == TileKind::Partial) {
          partialEmpty += truth.at(r, c) == TileKind::Empty;
          partialFull += truth.at(r, c) == TileKind::Full;
          raggedFull += truth.at(r, c) == TileKind::Full && (c + 1) * o.tileN > o.seqK;
        }
  const double pairs = double(o.seqQ) * double(o.seqK);

  outs() << "@" << pattern.getSymName() << "\n";
  outs() << "  mask_class: " << pattern.getMaskClass().value_or("(none)") << "\n";
  const KernelTarget target = explainedTarget(pattern, o);
  std::optional<TilingDescription> tiling = describeTiling(pattern, target);
  if (tiling)
    outs() << llvm::formatv("  kernel (sm_90a, D {0}, Dv {1}): {2}\n", target.headDim,
                            target.headDimV, tiling->text);
  else
    printedNoKernel(pattern, target);
  outs() << llvm::formatv("  problem: Sq {0}, Skv {1}{2}; batch 0 of {3}, head {4} of {5}; "
                          "tiles {6} x {7}: a map of {8} x {9}\n",
                          o.seqQ, o.seqK, pattern.getVarlen() ? " (varlen)" : "", p.batch, h,
                          p.heads, o.tileM, o.tileN, map.rows, map.cols);
  if (tiling && tiling->hopper)
    printWorkOrder(pattern, *tiling, target, p, o);
  outs() << llvm::formatv("  tiles: EMPTY {0}, FULL {1}, PARTIAL {2}\n", map.count(TileKind::Empty),
                          map.count(TileKind::Full), map.count(TileKind::Partial));
  outs() << llvm::formatv("  density: {0:F4} (pairs inside visited tiles)\n",
                          map.density(o.seqQ, o.seqK));
  outs() << llvm::formatv("  pair density: {0:F4} (pairs the mask keeps)\n",
                          pairs > 0 ? double(exact->keptPairs) / pairs : 0.0);
  outs() << "  classification: ";
  if (!unsound.empty())
    outs() << "UNSOUND: " << unsound << "\n";
  else if (map.tiles == truth.tiles)
    outs() << "exact, sound\n";
  else
    outs() << llvm::formatv("sound, not exact: of the PARTIAL tiles {0} are EMPTY and {1} FULL "
                            "(pair by pair){2}\n",
                            partialEmpty, partialFull,
                            raggedFull ? llvm::formatv("; {0} of the FULL cross Skv, where the "
                                                       "kernel checks bounds",
                                                       raggedFull)
                                             .str()
                                       : "");
  printMap(outs(), map, "block map");
  if (map.tiles != truth.tiles)
    printMap(outs(), truth, "exact map");
  if (!pngPath.empty() && !drawMap(map, pngPath, o.pngCompress))
    return 1;
  if (!unsound.empty()) {
    outs().flush();
    errs() << "attnc: error: the block classification of '" << pattern.getSymName()
           << "' is unsound (a compiler bug): " << unsound << "\n";
    return 1;
  }
  return 0;
}

} // namespace

int attnc::runExplainCommand(const ExplainCommandOptions &o) {
  Assignments given;
  if (!parseAssignments(o.params, o.inputs, o.scalars, given))
    return 1;
  const ParamOverrides &params = given.params;
  const llvm::StringMap<std::string> &inputFiles = given.inputs, &scalarValues = given.scalars;
  for (auto [value, name] : {std::pair<int64_t, const char *>{o.seqQ, "seq"},
                             {o.seqK, "seq-k"},
                             {o.tileM, "tile"},
                             {o.tileN, "tile-n"},
                             {o.batch, "batch"}})
    if (value < 1) {
      errs() << "attnc: --" << name << " must be positive, not " << value << "\n";
      return 1;
    }
  if (o.heads < 0 || o.head < 0) {
    errs() << "attnc: --heads and --head cannot be negative\n";
    return 1;
  }

  std::unique_ptr<LoadedSpec> spec = loadSpec(o.specPath, params);
  if (!spec)
    return 1;
  PassManager pm(&spec->context);
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createAttnClassifyBlocksPass());
  pm.addPass(createCanonicalizerPass()); // fold the tile functions, as the pipeline does
  // The lowering to kernels, for the composites' plans (epilogue_branch); the patterns are
  // explained from their own ops, for D 128 unless they fix theirs.
  AttnLowerToKernelPassOptions lowering;
  lowering.skipUnsupported = true;
  pm.addPass(createAttnLowerToKernelPass(lowering));
  if (failed(pm.run(*spec->module)))
    return 1;

  llvm::SmallVector<PatternOp> patterns;
  llvm::SmallVector<CompositeOp> composites;
  if (o.patternName.empty()) {
    llvm::append_range(patterns, spec->module->getOps<PatternOp>());
    llvm::append_range(composites, spec->module->getOps<CompositeOp>());
  } else if (auto composite = spec->module->lookupSymbol<CompositeOp>(o.patternName)) {
    composites.push_back(composite);
    patterns = getBranchPatterns(composite);
  } else if (PatternOp pattern = selectPattern(*spec->module, o.patternName)) {
    patterns.push_back(pattern);
  } else {
    return 1;
  }
  if (!checkDeclared(patterns, inputFiles, scalarValues))
    return 1;

  for (CompositeOp composite : composites) {
    explainComposite(composite, o);
    outs() << "\n";
  }
  for (auto [i, pattern] : llvm::enumerate(patterns)) {
    if (i)
      outs() << "\n";
    std::string pngPath = o.pngPath;
    if (!pngPath.empty() && patterns.size() > 1)
      pngPath = pathFor(o.pngPath, pattern.getSymName());
    if (int code = explainPattern(pattern, o, inputFiles, scalarValues, pngPath))
      return code;
  }
  return 0;
}
