// The runtime's tensor-level API without a GPU: AttentionSpec <-> JSON (a bundle manifest's
// kernel entry), and bindForwardArgs, which checks every tensor against the spec and fills the
// kernel's argument block; plus the C API's argument conversion through attnc_forward.
#include "attnc/Attention.h"
#include "attnc/attnc_c.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

using namespace attnc;

namespace {

AttentionSpec documentSpec() {
  AttentionSpec s;
  s.pattern = "document";
  s.entry = "attnc_document_bf16_d128";
  s.blockMapEntry = "attnc_document_bf16_d128_blockmap";
  s.config = ForwardConfig{128, 128, 128, 64, 8, 2};
  s.scale = 0.08838834764831845;
  s.inputs = {{"doc_q", DType::I32, {"B", "Sq"}}, {"slope", DType::F32, {"H"}}};
  s.scalars = {{"window", 256.0}, {"bias", std::nullopt}};
  return s;
}

// 16-byte aligned fake device addresses: bind never dereferences them.
const void *fake(uintptr_t n) { return reinterpret_cast<const void *>(0x10000 * n); }

struct Problem {
  int64_t b = 2, sq = 77, sk = 131, h = 4, hkv = 2, d = 128;
  ForwardArgs args;
  Problem() {
    args.q = TensorRef::contiguous(fake(1), DType::BF16, {b, sq, h, d});
    args.k = TensorRef::contiguous(fake(2), DType::BF16, {b, sk, hkv, d});
    args.v = TensorRef::contiguous(fake(3), DType::BF16, {b, sk, hkv, d});
    args.o = TensorRef::contiguous(fake(4), DType::BF16, {b, sq, h, d});
    args.inputs = {TensorRef::contiguous(fake(5), DType::I32, {b, sq}),
                   TensorRef::contiguous(fake(6), DType::F32, {h})};
    args.scalars = {std::nullopt, 0.5};
  }
};

std::string bindError(const AttentionSpec &spec, const ForwardArgs &args) {
  FwdParams p;
  Status st = bindForwardArgs(spec, args, p);
  return st.ok() ? "" : st.message();
}

} // namespace

TEST(AttentionSpec, JsonRoundTripsEveryField) {
  AttentionSpec s = documentSpec();
  s.blockMapPerHead = true;
  s.dtype = ElementType::F16;
  s.normalizer = "sigmoid";
  s.varlen = true;
  s.heads = 8;
  s.kvHeads = 2;
  s.stepEntry = "attnc_document_bf16_d128_step";
  s.decodeEntry = "attnc_document_bf16_d128_decode";
  s.mergeEntry = "attnc_document_bf16_d128_merge";
  StatusOr<AttentionSpec> back = AttentionSpec::fromJson(s.toJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->toJson(), s.toJson());
  EXPECT_EQ(back->entry, s.entry);
  EXPECT_EQ(back->stepEntry, s.stepEntry);
  EXPECT_EQ(back->decodeEntry, s.decodeEntry);
  EXPECT_EQ(back->mergeEntry, s.mergeEntry);
  EXPECT_EQ(back->dtype, ElementType::F16);
  EXPECT_EQ(back->config.blockN, 64);
  EXPECT_EQ(back->config.kernelTemplate, KernelTemplate::Sm80);
  EXPECT_DOUBLE_EQ(back->scale, s.scale);
  ASSERT_EQ(back->inputs.size(), 2u);
  EXPECT_EQ(back->inputs[1].dtype, DType::F32);
  EXPECT_EQ(back->inputs[0].shape, (std::vector<std::string>{"B", "Sq"}));
  ASSERT_EQ(back->scalars.size(), 2u);
  EXPECT_EQ(back->scalars[0].defaultValue, 256.0);
  EXPECT_FALSE(back->scalars[1].defaultValue.has_value());
}

TEST(AttentionSpec, CarriesTheLinearForm) {
  AttentionSpec s = documentSpec();
  s.config.kernelTemplate = KernelTemplate::Linear;
  s.normalizer = "none";
  s.stepEntry = "attnc_gla_bf16_d128_step";
  s.config.causal = true;
  s.config.gatePerKeyDim = true;
  StatusOr<AttentionSpec> back = AttentionSpec::fromJson(s.toJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->config.causal);
  EXPECT_TRUE(back->config.gatePerKeyDim);
  EXPECT_FALSE(back->config.gatePerToken);
  s.config.gatePerKeyDim = false;
  s.config.gatePerToken = true;
  StatusOr<AttentionSpec> scalar = AttentionSpec::fromJson(s.toJson());
  ASSERT_TRUE(scalar.ok()) << scalar.status().message();
  EXPECT_TRUE(scalar->config.gatePerToken);
  EXPECT_FALSE(scalar->config.gatePerKeyDim);
  s.config.gatePerKeyDim = true;
  s.config.gatePerToken = false;
  EXPECT_FALSE(back->config.keySum);
  EXPECT_EQ(back->stepEntry, s.stepEntry);
  // A manifest from before the gate pass has no such field: no gate pass.
  std::string text = s.toJson();
  const std::string field = "\"linear_gate_per_key_dim\": true,";
  const size_t at = text.find(field);
  ASSERT_NE(at, std::string::npos) << text;
  text.erase(at, field.size());
  back = AttentionSpec::fromJson(text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_FALSE(back->config.gatePerKeyDim);
}

TEST(AttentionSpec, DecodeEntriesComeTogether) {
  AttentionSpec s = documentSpec();
  s.decodeEntry = "attnc_document_bf16_d128_decode";
  StatusOr<AttentionSpec> back = AttentionSpec::fromJson(s.toJson());
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("decode_entry and merge_entry"), std::string::npos);
}

TEST(Forward, UsesTheDecodeKernelForFewQueryRows) {
  ForwardConfig c;
  c.kernelTemplate = KernelTemplate::Sm90;
  FwdParams p{};
  p.heads = 32;
  p.kv_heads = 8;
  p.seqlen_q = 1;
  EXPECT_TRUE(useDecode(c, p));
  p.seqlen_q = 16; // 4 heads x 16 rows = 64 packed rows
  EXPECT_TRUE(useDecode(c, p));
  p.seqlen_q = 17;
  EXPECT_FALSE(useDecode(c, p));
  p.heads = p.kv_heads = 8; // 16 rows per head at most
  p.seqlen_q = 16;
  EXPECT_TRUE(useDecode(c, p));
  p.heads = 64; // 8 x 16 = 128 packed rows: the forward tiles re-read less
  EXPECT_FALSE(useDecode(c, p));
  p.seqlen_q = 0;
  EXPECT_FALSE(useDecode(c, p));
  p.seqlen_q = 1;
  c.kernelTemplate = KernelTemplate::Linear; // linear patterns decode with their step
  EXPECT_FALSE(useDecode(c, p));
}

/// The linear prefill's sequence split (bench/RESULTS.md measured these choices as the best
/// fixed counts on an H200, 132 SMs).
TEST(Forward, SplitsLinearSequencesOnlyWhenBlocksLeaveTheGpuIdle) {
  ForwardConfig c;
  c.kernelTemplate = KernelTemplate::Linear;
  c.causal = true;
  EXPECT_EQ(linearSplitCount(c, 256, 8192, 132), 1);  // B8 H16, two slices: 2 per SM
  EXPECT_EQ(linearSplitCount(c, 128, 16384, 132), 2); // B4: 264 slots / 128 blocks
  EXPECT_EQ(linearSplitCount(c, 64, 32768, 132), 4);  // B2
  EXPECT_EQ(linearSplitCount(c, 32, 1000, 132), 4);   // 16 chunks: at least 4 a segment
  EXPECT_EQ(linearSplitCount(c, 32, 448, 132), 1);    // 7 chunks: too short to split
  EXPECT_EQ(linearSplitCount(c, 133, 65536, 132), 1); // more than half the slots busy
  c.keySum = true;                                    // the sum normaliser's kernel has no split
  EXPECT_EQ(linearSplitCount(c, 64, 32768, 132), 1);
  c.keySum = false;
  c.causal = false; // nor the bidirectional one
  EXPECT_EQ(linearSplitCount(c, 64, 32768, 132), 1);
}

/// The Hopper template's work order interleaves as many (head, batch) pairs as keep their keys
/// and values within kSm90WorkGroupBytes, the query heads of a GQA group counting once.
TEST(Forward, GroupsWorkTilesOfPairsWhoseKeysFitL2) {
  ForwardConfig c;
  c.kernelTemplate = KernelTemplate::Sm90;
  FwdParams p{};
  p.batch = 4;
  p.heads = p.kv_heads = 16;
  p.seqlen_q = p.seqlen_k = 4096;
  EXPECT_EQ(sm90WorkGroup(c, p), 8); // 2 MiB of K and V a head
  c.headDim = c.headDimV = 256;
  EXPECT_EQ(sm90WorkGroup(c, p), 4);
  c.headDim = c.headDimV = 64;
  EXPECT_EQ(sm90WorkGroup(c, p), 16);
  c.headDim = c.headDimV = 128;
  p.heads = 32;
  p.kv_heads = 8; // GQA: four query heads a KV head
  EXPECT_EQ(sm90WorkGroup(c, p), 32);
  EXPECT_EQ(sm90WorkGroupBytes(c, p, 32), 16LL << 20); // 8 KV heads of 2 MiB
  EXPECT_EQ(sm90WorkGroupBytes(c, p, 5), 4LL << 20);   // 5 query heads span 2 KV heads
  p.seqlen_k = 1 << 20; // 512 MiB a KV head: pair by pair, but a GQA group together
  EXPECT_EQ(sm90WorkGroup(c, p), 4);
  p.heads = p.kv_heads = 1;
  p.batch = 1;
  p.seqlen_k = 16;
  EXPECT_EQ(sm90WorkGroup(c, p), 1); // never more than every pair
  p.batch = 8;
  p.heads = p.kv_heads = 16;
  p.seqlen_k = 4096;
  c.evenWork = true; // no mask: every tile takes the same time, pair by pair
  EXPECT_EQ(sm90WorkGroup(c, p), 1);
  p.heads = p.kv_heads = 1; // the environment's group wins, even or not, within every pair
  ::setenv("ATTNC_SM90_WORK_GROUP", "3", 1);
  p.batch = 2;
  EXPECT_EQ(sm90WorkGroup(c, p), 2);
  p.batch = 8;
  EXPECT_EQ(sm90WorkGroup(c, p), 3);
  ::unsetenv("ATTNC_SM90_WORK_GROUP");
}

/// The Hopper kernel's work order visits every (pair, q-tile) once, whatever the group, and
/// inside a group takes the last q-tile of every pair before any pair's next.
TEST(Forward, WorkOrderVisitsEveryTileOnce) {
  for (int pairs : {1, 7, 8, 64})
    for (int numM : {1, 3, 32})
      for (int group : {0, 1, 3, 8, 64}) {
        std::vector<int> seen(size_t(pairs) * numM, 0);
        for (int w = 0; w < pairs * numM; ++w) {
          int pair = -1, m = -1;
          sm90WorkTile(w, numM, pairs, group, pair, m);
          ASSERT_TRUE(pair >= 0 && pair < pairs && m >= 0 && m < numM)
              << "w " << w << " pairs " << pairs << " numM " << numM << " group " << group;
          ++seen[size_t(pair) * numM + m];
        }
        for (int count : seen)
          EXPECT_EQ(count, 1) << "pairs " << pairs << " numM " << numM << " group " << group;
      }
  int pair, m;
  sm90WorkTile(0, 32, 64, 8, pair, m);
  EXPECT_EQ(pair, 0);
  EXPECT_EQ(m, 31);
  sm90WorkTile(7, 32, 64, 8, pair, m); // the last q-tile of the group's eighth pair
  EXPECT_EQ(pair, 7);
  EXPECT_EQ(m, 31);
  sm90WorkTile(8, 32, 64, 8, pair, m); // then the one before of the first
  EXPECT_EQ(pair, 0);
  EXPECT_EQ(m, 30);
  sm90WorkTile(8 * 32, 32, 64, 8, pair, m); // the second group
  EXPECT_EQ(pair, 8);
  EXPECT_EQ(m, 31);
  sm90WorkTile(5, 32, 64, 1, pair, m); // pair by pair
  EXPECT_EQ(pair, 0);
  EXPECT_EQ(m, 26);
}

/// A block map's rows start 16-byte aligned (the forward kernels read a row 16 entries at a
/// load, tiles.cuh), blockMapTileBytes covers every row of every (batch, head), and the row
/// bounds follow them, two ints per query row of ceil(seqlen_q / blockM) * blockM.
TEST(Forward, BlockMapRowsStartOn16Bytes) {
  for (int sk : {1, 96, 97, 2000, 4096, 16385})
    for (int blockN : {64, 96, 128}) {
      FwdParams p{};
      p.batch = 3;
      p.heads = p.block_map_heads = 2;
      p.seqlen_q = 300;
      p.seqlen_k = sk;
      const long long cols = (sk + blockN - 1) / blockN;
      EXPECT_EQ(blockMapRowBytes(sk, blockN) % 16, 0);
      EXPECT_GE(blockMapRowBytes(sk, blockN), cols);
      EXPECT_LT(blockMapRowBytes(sk, blockN), cols + 16);
      for (int m = 0; m < 3; ++m)
        EXPECT_EQ(blockMapIndex(p, 2, 1, m, 0, 128, blockN) % 16, 0) << sk << " " << blockN;
      // The last tile of the last (batch, head) is the map's last row's entry `cols - 1`.
      const long long last = blockMapIndex(p, 2, 1, 2, int(cols - 1), 128, blockN);
      const long long tileBytes = blockMapTileBytes(3, 2, 300, sk, 128, blockN);
      EXPECT_LT(last, tileBytes);
      EXPECT_EQ(tileBytes,
                blockMapIndex(p, 2, 1, 2, 0, 128, blockN) + blockMapRowBytes(sk, blockN));
      EXPECT_EQ(tileBytes % 16, 0);
      // Row 383 (the last of 3 tiles of 128) of the last (batch, head) ends the map.
      EXPECT_EQ(blockMapBoundsIndex(p, 0, 0, 0, 128), 0);
      EXPECT_EQ(tileBytes + 8 * (blockMapBoundsIndex(p, 2, 1, 383, 128) + 1),
                blockMapBytes(3, 2, 300, sk, 128, blockN));
    }
}

TEST(AttentionSpec, CarriesTheKernelTemplate) {
  AttentionSpec s = documentSpec();
  s.config = ForwardConfig{128, 128, 128, 128, 12, 2, KernelTemplate::Sm90};
  std::string text = s.toJson();
  EXPECT_NE(text.find("\"template\": \"sm90\""), std::string::npos) << text;
  StatusOr<AttentionSpec> back = AttentionSpec::fromJson(text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->config.kernelTemplate, KernelTemplate::Sm90);
  // A manifest from before the Hopper template has no "template": its kernels are sm80.
  std::string old = text;
  old.erase(old.find("\"template\": \"sm90\""), std::string("\"template\": \"sm90\",").size());
  StatusOr<AttentionSpec> legacy = AttentionSpec::fromJson(old);
  ASSERT_TRUE(legacy.ok()) << legacy.status().message() << "\n" << old;
  EXPECT_EQ(legacy->config.kernelTemplate, KernelTemplate::Sm80);
  std::string unknown = text;
  unknown.replace(unknown.find("\"sm90\""), 6, "\"sm99\"");
  EXPECT_NE(AttentionSpec::fromJson(unknown).status().message().find("template 'sm99'"),
            std::string::npos);
}

TEST(AttentionSpec, RejectsDamagedJson) {
  std::string good = documentSpec().toJson();
  EXPECT_FALSE(AttentionSpec::fromJson("not json").ok());
  EXPECT_FALSE(AttentionSpec::fromJson("[1, 2]").ok());
  auto without = [&](const std::string &field) {
    std::string text = good;
    size_t at = text.find("\"" + field + "\"");
    text.replace(at, field.size() + 2, "\"renamed_" + field + "\"");
    return AttentionSpec::fromJson(text);
  };
  for (const char *field : {"entry", "head_dim", "scale", "inputs", "scalars", "normalizer"}) {
    StatusOr<AttentionSpec> s = without(field);
    ASSERT_FALSE(s.ok()) << field;
    EXPECT_NE(s.status().message().find(field), std::string::npos) << s.status().message();
  }
  std::string wrongType = good;
  wrongType.replace(wrongType.find("\"bf16\""), 6, "\"fp8\"");
  EXPECT_NE(AttentionSpec::fromJson(wrongType).status().message().find("fp8"), std::string::npos);
  std::string negative = good;
  negative.replace(negative.find("\"warps\": 8"), 10, "\"warps\": -8");
  EXPECT_FALSE(AttentionSpec::fromJson(negative).ok());
}

TEST(BindForwardArgs, FillsTheArgumentBlock) {
  Problem pr;
  pr.args.q.strides[0] = pr.sq * pr.h * pr.d + 64; // a padded batch stride is fine
  pr.args.scale = 0.25;
  FwdParams p;
  Status st = bindForwardArgs(documentSpec(), pr.args, p);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(p.batch, 2);
  EXPECT_EQ(p.heads, 4);
  EXPECT_EQ(p.kv_heads, 2);
  EXPECT_EQ(p.seqlen_q, 77);
  EXPECT_EQ(p.seqlen_k, 131);
  EXPECT_EQ(p.q_batch_stride, 77 * 4 * 128 + 64);
  EXPECT_EQ(p.q_row_stride, 4 * 128);
  EXPECT_EQ(p.q_head_stride, 128);
  EXPECT_EQ(p.k_row_stride, 2 * 128);
  EXPECT_EQ(p.inputs[0], fake(5));
  EXPECT_EQ(p.inputs[1], fake(6));
  EXPECT_EQ(p.scalars[0], 256.0f); // the default
  EXPECT_EQ(p.scalars[1], 0.5f);
  EXPECT_FLOAT_EQ(p.scale, 0.25f);
  EXPECT_FLOAT_EQ(p.scale_log2, 0.25f * 1.4426950408889634f);
  EXPECT_EQ(p.lse, nullptr);
  EXPECT_EQ(p.block_map_heads, 1);
}

TEST(BindForwardArgs, AcceptsTorchsHeadMajorLayoutAsAStridedView) {
  // q allocated [B, H, S, D] and passed as its [B, S, H, D] transpose (q.transpose(1, 2)).
  Problem pr;
  for (TensorRef *t : {&pr.args.q, &pr.args.o}) {
    t->strides[0] = pr.h * pr.sq * pr.d;
    t->strides[1] = pr.d;
    t->strides[2] = pr.sq * pr.d;
  }
  FwdParams p;
  ASSERT_TRUE(bindForwardArgs(documentSpec(), pr.args, p).ok());
  EXPECT_EQ(p.q_row_stride, 128);
  EXPECT_EQ(p.q_head_stride, 77 * 128);
}

TEST(BindForwardArgs, NamesWhatIsWrong) {
  const AttentionSpec spec = documentSpec();
  auto expect = [&](const char *needle, auto &&mutate) {
    Problem pr;
    mutate(pr.args);
    std::string error = bindError(spec, pr.args);
    EXPECT_NE(error.find(needle), std::string::npos)
        << "wanted '" << needle << "', got '" << error << "'";
  };
  expect("q is missing", [](ForwardArgs &a) { a.q = TensorRef(); });
  expect("k is f16, the kernel was compiled for bf16",
         [](ForwardArgs &a) { a.k.dtype = DType::F16; });
  expect("v has head dim 64", [](ForwardArgs &a) { a.v.shape[3] = 64; });
  expect("q has rank 3", [](ForwardArgs &a) { a.q.rank = 3; });
  expect("contiguous in its last dimension", [](ForwardArgs &a) { a.q.strides[3] = 2; });
  expect("not a non-negative multiple of 8", [](ForwardArgs &a) { a.k.strides[1] = 260; });
  expect("not 16-byte aligned",
         [](ForwardArgs &a) { a.o.data = static_cast<const char *>(fake(4)) + 2; });
  expect("o has shape [2, 76, 4, 128], expected [2, 77, 4, 128]",
         [](ForwardArgs &a) { a.o.shape[1] = 76; });
  expect("v has shape", [](ForwardArgs &a) { a.v.shape[1] = 130; });
  expect("o has stride 0 in dimension 2: outputs would overlap",
         [](ForwardArgs &a) { a.o.strides[2] = 0; });
  expect("must be a positive multiple of k/v heads",
         [](ForwardArgs &a) { a.k.shape[2] = a.v.shape[2] = 3; });
  expect("takes 2 input tensor(s) (doc_q, slope), got 1",
         [](ForwardArgs &a) { a.inputs.pop_back(); });
  expect("input 'doc_q' has shape [2, 76], expected [B=2, Sq=77]",
         [](ForwardArgs &a) { a.inputs[0].shape[1] = 76; });
  expect("input 'slope' is i32, declared f32",
         [](ForwardArgs &a) { a.inputs[1].dtype = DType::I32; });
  expect("input 'doc_q' must be contiguous", [](ForwardArgs &a) { a.inputs[0].strides[0] = 100; });
  expect("scalar 'bias' has no default", [](ForwardArgs &a) { a.scalars = {}; });
  expect("scalar 'window' is not finite", [](ForwardArgs &a) { a.scalars[0] = std::nan(""); });
  expect("3 scalar values for a pattern with 2", [](ForwardArgs &a) { a.scalars.push_back(1.0); });
  expect("the scale is not finite", [](ForwardArgs &a) { a.scale = INFINITY; });
  expect("does not declare varlen",
         [](ForwardArgs &a) { a.cuSeqlensQ = TensorRef::contiguous(fake(9), DType::I32, {3}); });
  expect("lse has shape [2, 77, 4], expected [2, 4, 77]", [](ForwardArgs &a) {
    a.lse = TensorRef::contiguous(fake(7), DType::F32, {2, 77, 4});
  });
}

TEST(BindForwardArgs, LseOnlyForSoftmax) {
  AttentionSpec spec = documentSpec();
  spec.normalizer = "sigmoid";
  Problem pr;
  pr.args.lse = TensorRef::contiguous(fake(7), DType::F32, {2, 4, 77});
  EXPECT_NE(bindError(spec, pr.args).find("needs a softmax pattern"), std::string::npos);
  spec.normalizer = "softmax";
  EXPECT_EQ(bindError(spec, pr.args), "");
}

TEST(BindForwardArgs, LinearStates) {
  AttentionSpec spec;
  spec.pattern = "lightning";
  spec.entry = "attnc_lightning_bf16_d128";
  spec.stepEntry = "attnc_lightning_bf16_d128_step";
  spec.config = ForwardConfig{128, 128, 64, 64, 4, 2, KernelTemplate::Linear};
  spec.normalizer = "none";
  spec.scale = 0.08838834764831845;
  Problem pr;
  pr.args.inputs.clear();
  pr.args.scalars.clear();
  // Queries and keys of one sequence have the same length.
  EXPECT_NE(bindError(spec, pr.args).find("same sequence lengths"), std::string::npos);
  pr.args.k.shape[1] = pr.args.v.shape[1] = pr.sq;
  for (TensorRef *t : {&pr.args.k, &pr.args.v})
    *t = TensorRef::contiguous(t->data, DType::BF16, {pr.b, pr.sq, pr.hkv, pr.d});
  pr.args.stateIn = TensorRef::contiguous(fake(8), DType::F32, {pr.b, pr.h, pr.d, pr.d});
  pr.args.stateOut = pr.args.stateIn; // in place
  FwdParams p;
  Status st = bindForwardArgs(spec, pr.args, p);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(p.state_in, fake(8));
  EXPECT_EQ(static_cast<const void *>(p.state_out), fake(8));
  pr.args.stateOut = TensorRef::contiguous(fake(9), DType::F32, {pr.b, pr.hkv, pr.d, pr.d});
  EXPECT_NE(bindError(spec, pr.args)
                .find("state_out has shape [2, 2, 128, 128], expected "
                      "[2, 4, 128, 128]"),
            std::string::npos);
  pr.args.stateOut = TensorRef::contiguous(fake(9), DType::BF16, {pr.b, pr.h, pr.d, pr.d});
  EXPECT_NE(bindError(spec, pr.args).find("state_out must be a contiguous float32 tensor"),
            std::string::npos);
  // Softmax patterns take no state.
  Problem softmax;
  softmax.args.stateIn = pr.args.stateIn;
  EXPECT_NE(bindError(documentSpec(), softmax.args).find("a state belongs to linear patterns"),
            std::string::npos);
}

TEST(BindForwardArgs, Varlen) {
  AttentionSpec spec = documentSpec();
  spec.varlen = true;
  spec.inputs.clear();
  spec.scalars.clear();
  ForwardArgs a;
  a.q = TensorRef::contiguous(fake(1), DType::BF16, {300, 4, 128});
  a.k = TensorRef::contiguous(fake(2), DType::BF16, {500, 2, 128});
  a.v = TensorRef::contiguous(fake(3), DType::BF16, {500, 2, 128});
  a.o = TensorRef::contiguous(fake(4), DType::BF16, {300, 4, 128});
  a.lse = TensorRef::contiguous(fake(5), DType::F32, {4, 300});
  a.cuSeqlensQ = TensorRef::contiguous(fake(6), DType::I32, {4});
  a.cuSeqlensK = TensorRef::contiguous(fake(7), DType::I32, {4});
  a.maxSeqlenQ = 200;
  a.maxSeqlenK = 250;
  FwdParams p;
  Status st = bindForwardArgs(spec, a, p);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(p.batch, 3);
  EXPECT_EQ(p.seqlen_q, 200);
  EXPECT_EQ(p.seqlen_k, 250);
  EXPECT_EQ(p.q_batch_stride, 0);
  EXPECT_EQ(p.q_row_stride, 512);
  EXPECT_EQ(p.cu_seqlens_q, static_cast<const int *>(fake(6)));
  EXPECT_EQ(p.total_q, a.q.shape[0]); // the packed row counts the TMA maps need
  EXPECT_EQ(p.total_k, a.k.shape[0]);

  ForwardArgs missing = a;
  missing.cuSeqlensK = TensorRef();
  EXPECT_NE(bindError(spec, missing).find("cu_seqlens_k must be a contiguous int32"),
            std::string::npos);
  ForwardArgs tooLong = a;
  tooLong.maxSeqlenQ = 301;
  EXPECT_NE(bindError(spec, tooLong).find("max_seqlen_q/k"), std::string::npos);
  ForwardArgs dense = a;
  dense.q = TensorRef::contiguous(fake(1), DType::BF16, {1, 300, 4, 128});
  EXPECT_NE(bindError(spec, dense).find("([total, heads, head_dim], varlen)"), std::string::npos);
}

TEST(CApi, RejectsBadArgumentsBeforeTouchingTheGpu) {
  EXPECT_EQ(attnc_c_api_version(), ATTNC_C_API_VERSION);
  attnc_forward_args args{};
  args.struct_size = 4; // an older, smaller struct
  EXPECT_NE(attnc_forward(nullptr, &args, nullptr), 0);
  EXPECT_NE(std::string(attnc_last_error()).find("struct_size"), std::string::npos);
  args.struct_size = sizeof args;
  args.q.rank = 5;
  EXPECT_NE(attnc_forward(nullptr, &args, nullptr), 0);
  EXPECT_NE(std::string(attnc_last_error()).find("q: rank 5"), std::string::npos);
  args.q.rank = 0;
  EXPECT_NE(attnc_forward(nullptr, &args, nullptr), 0);
  EXPECT_NE(std::string(attnc_last_error()).find("null kernel"), std::string::npos);
  attnc_program *program = nullptr;
  EXPECT_NE(attnc_bundle_load("/nonexistent/bundle", &program), 0);
  EXPECT_EQ(program, nullptr);
  EXPECT_NE(std::string(attnc_last_error()).find("cannot read /nonexistent/bundle/manifest.json"),
            std::string::npos);
  EXPECT_EQ(attnc_program_find(nullptr, "x"), nullptr);
  attnc_program_free(nullptr);
  attnc_block_map_free(nullptr);
}
