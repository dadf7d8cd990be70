//===- CompileApiTest.cpp - attnc::compile's images of a composite ----------===//
//
// attnc::compile (no GPU needed) returns, beside each branch pattern's kernel, one image per
// composite: its combine kernel over its branches' images, with a spec that names them.
//
//===----------------------------------------------------------------------===//
#include "attnc/attnc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace {

const char *kSpec = R"(
attention hybrid {
  input mix: float[H]
  branch global { linear { decay 0.9; causal } }
  branch local { mask k <= q && q - k < 16 }
  combine mix[h] * global + (1.0 - mix[h]) * local
}
)";

TEST(CompileApi, ReturnsAnImagePerCompositeOverItsBranches) {
  attnc::CompileOptions options;
  options.headDim = 64;
  options.headDimV = 64;
  options.arch = "sm_90a";
  attnc::StatusOr<attnc::KernelImages> images = attnc::compile(kSpec, options);
  ASSERT_TRUE(images.ok()) << images.status().message();
  auto named = [&](const std::string &pattern) {
    auto it = std::find_if(images->begin(), images->end(),
                           [&](const auto &image) { return image->spec().pattern == pattern; });
    return it == images->end() ? nullptr : *it;
  };
  ASSERT_TRUE(named("hybrid_global"));
  ASSERT_TRUE(named("hybrid_local"));
  std::shared_ptr<attnc::KernelImage> composite = named("hybrid");
  ASSERT_TRUE(composite);
  EXPECT_TRUE(composite->isComposite());
  EXPECT_FALSE(named("hybrid_local")->isComposite());
  const attnc::AttentionSpec &spec = composite->spec();
  EXPECT_EQ(spec.entry, "attnc_hybrid_bf16_d64_combine");
  EXPECT_EQ(spec.branches, (std::vector<std::string>{"hybrid_global", "hybrid_local"}));
  EXPECT_EQ(spec.normalizer, "composite");
  EXPECT_TRUE(spec.stepEntry.empty());
  EXPECT_TRUE(spec.decodeEntry.empty());
  ASSERT_EQ(spec.inputs.size(), 1u);
  EXPECT_EQ(spec.inputs[0].name, "mix");
  EXPECT_NE(composite->source().find("attnc_hybrid_bf16_d64_combine("), std::string::npos);
  // The spec's JSON carries the branches.
  attnc::StatusOr<attnc::AttentionSpec> back = attnc::AttentionSpec::fromJson(spec.toJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->branches, spec.branches);
  // A composite is no single kernel: load() says what to call instead (before any GPU work).
  attnc::StatusOr<std::shared_ptr<attnc::AttentionKernel>> loaded = composite->load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("is a composite"), std::string::npos);
}

/// Only an unmasked pattern on unpacked sequences has even work tiles (its Sm90 grid then takes
/// them pair by pair); a mask or packed sequences make them uneven, and the spec's JSON keeps it.
TEST(CompileApi, MarksEvenWorkOnlyWithoutAMask) {
  attnc::CompileOptions options;
  options.arch = "sm_90a";
  attnc::StatusOr<attnc::KernelImages> images = attnc::compile(R"(
attention dense { normalize softmax }
attention lower { mask k <= q }
attention packed { varlen }
)",
                                                               options);
  ASSERT_TRUE(images.ok()) << images.status().message();
  std::map<std::string, bool> even;
  for (const auto &image : *images) {
    even[image->spec().pattern] = image->spec().config.evenWork;
    attnc::StatusOr<attnc::AttentionSpec> back =
        attnc::AttentionSpec::fromJson(image->spec().toJson());
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->config.evenWork, image->spec().config.evenWork);
  }
  EXPECT_EQ(even,
            (std::map<std::string, bool>{{"dense", true}, {"lower", false}, {"packed", false}}));
}

} // namespace
