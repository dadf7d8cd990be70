//===- RuntimeCacheTest.cpp - Memory and disk kernel cache ----------------===//
//
// The cache must never hand out a damaged entry: each test plants one kind of
// bad file (flipped byte, truncation, foreign content, another key's file) and
// checks that it is rejected, recompiled and rewritten. Also: memory hits, disk
// hits across cache objects, concurrent compiles from 8 threads, and the
// environment that picks the directory. Every test uses its own temporary
// directory. Needs NVRTC (skipped without it), not a GPU.
//
//===----------------------------------------------------------------------===//

#include "attnc/Runtime.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace attnc;
namespace fs = std::filesystem;

namespace {

CompileRequest kernelRequest(int variant) {
  CompileRequest r;
  r.source = "#include \"attnc/params.cuh\"\n"
             "extern \"C\" __global__ void cache_test(int *out) { "
             "out[threadIdx.x] = " +
             std::to_string(variant) + " + attnc::kMaxExtraInputs; }\n";
  return r;
}

std::string readAll(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void writeAll(const std::string &path, const std::string &data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

class RuntimeCache : public ::testing::Test {
protected:
  void SetUp() override {
    if (auto v = getNvrtcVersion(); !v.ok())
      GTEST_SKIP() << v.status().message();
    std::string pattern =
        (fs::temp_directory_path() / "attnc-cache-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    if (!dir.empty())
      fs::remove_all(dir);
  }
  /// Compiles `request` with a fresh cache over the same directory (nothing in
  /// memory).
  std::pair<std::string, CacheStats>
  compileFresh(const CompileRequest &request) {
    KernelCache cache({dir});
    auto result = cache.compile(request);
    EXPECT_TRUE(result.ok()) << result.status().message();
    return {result.ok() ? (*result)->cubin : "", cache.stats()};
  }
  /// Damages the file of `request` with `damage`, then expects one rejected
  /// read, a recompile, a rewrite, and a clean disk hit afterwards.
  template <class F> void expectRebuiltAfter(F damage) {
    CompileRequest request = kernelRequest(1);
    auto [original, first] = compileFresh(request);
    ASSERT_EQ(first.misses, 1u);
    KernelCache probe({dir});
    std::string path = probe.pathOf(*probe.keyOf(request));
    ASSERT_TRUE(fs::exists(path));
    damage(path);

    auto [rebuilt, second] = compileFresh(request);
    EXPECT_EQ(second.diskRejected, 1u);
    EXPECT_EQ(second.diskHits, 0u);
    EXPECT_EQ(second.misses, 1u);
    EXPECT_EQ(second.diskWrites, 1u);
    EXPECT_EQ(rebuilt, original);

    auto [reread, third] = compileFresh(request);
    EXPECT_EQ(third.diskHits, 1u);
    EXPECT_EQ(third.diskRejected, 0u);
    EXPECT_EQ(reread, original);
  }
  std::string dir;
};

TEST(RuntimeHash, StreamingSplitsAgreeAndInputsDiffer) {
  std::string text = "the quick brown fox jumps over the lazy dog, twice over";
  Hash128 whole = hash128(text);
  for (size_t split = 0; split <= text.size(); ++split) {
    Hasher h;
    h.bytes(text.data(), split).bytes(text.data() + split, text.size() - split);
    EXPECT_EQ(h.digest(), whole) << "split at " << split;
  }
  EXPECT_NE(hash128(text), hash128(text + '\0'));
  EXPECT_NE(hash128(text), hash128(text, /*seed=*/1));
  EXPECT_NE(Hasher().str("ab").str("c").digest(),
            Hasher().str("a").str("bc").digest());
  EXPECT_EQ(whole.hex().size(), 32u);
}

TEST_F(RuntimeCache, SecondCompileIsAMemoryHit) {
  KernelCache cache({dir});
  auto a = cache.compile(kernelRequest(1));
  auto b = cache.compile(kernelRequest(1));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  CacheStats s = cache.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.memoryHits, 1u);
  EXPECT_EQ(s.diskWrites, 1u);
}

TEST_F(RuntimeCache, KeyCoversOptionsArchAndPtx) {
  KernelCache cache({dir});
  CompileRequest base = kernelRequest(1);
  Hash128 key = *cache.keyOf(base);
  CompileRequest withOption = base, otherArch = base, withPtx = base;
  withOption.options = {"-lineinfo"};
  otherArch.arch = "sm_80";
  withPtx.wantPtx = true;
  EXPECT_NE(*cache.keyOf(withOption), key);
  EXPECT_NE(*cache.keyOf(otherArch), key);
  EXPECT_NE(*cache.keyOf(withPtx), key);
  EXPECT_EQ(*cache.keyOf(kernelRequest(1)), key);
}

TEST_F(RuntimeCache, FreshCacheHitsTheDiskWithIdenticalBytes) {
  CompileRequest request = kernelRequest(2);
  request.options = {"--ptxas-options=-v"};
  request.wantPtx = true;
  KernelCache first({dir});
  auto compiled = first.compile(request);
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();

  KernelCache second({dir});
  auto loaded = second.compile(request);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(second.stats().diskHits, 1u);
  EXPECT_EQ(second.stats().misses, 0u);
  EXPECT_EQ((*loaded)->cubin, (*compiled)->cubin);
  EXPECT_EQ((*loaded)->ptx, (*compiled)->ptx);
  EXPECT_EQ((*loaded)->log, (*compiled)->log);
  EXPECT_FALSE((*loaded)->log.empty());
}

TEST_F(RuntimeCache, FlippedByteIsRebuilt) {
  expectRebuiltAfter([](const std::string &path) {
    std::string data = readAll(path);
    data[data.size() / 2] ^= 0x20;
    writeAll(path, data);
  });
}

TEST_F(RuntimeCache, FlippedHeaderByteIsRebuilt) {
  expectRebuiltAfter([](const std::string &path) {
    std::string data = readAll(path);
    data[33] ^= 0x01; // payload size
    writeAll(path, data);
  });
}

TEST_F(RuntimeCache, TruncatedFileIsRebuilt) {
  expectRebuiltAfter([](const std::string &path) {
    std::string data = readAll(path);
    writeAll(path, data.substr(0, data.size() - 7));
  });
}

TEST_F(RuntimeCache, ForeignFileIsRebuilt) {
  expectRebuiltAfter([](const std::string &path) {
    writeAll(path,
             "this is not a cache entry, but it sits where one should be\n");
  });
}

TEST_F(RuntimeCache, AnotherKeysFileIsRebuilt) {
  // A well-formed entry under the wrong name must not be served either.
  expectRebuiltAfter([this](const std::string &path) {
    KernelCache other({dir + "/other"});
    ASSERT_TRUE(other.compile(kernelRequest(99)).ok());
    fs::copy_file(other.pathOf(*other.keyOf(kernelRequest(99))), path,
                  fs::copy_options::overwrite_existing);
  });
}

TEST_F(RuntimeCache, CompileErrorsAreNotCached) {
  KernelCache cache({dir});
  CompileRequest bad;
  bad.source = "__global__ void k( {";
  EXPECT_FALSE(cache.compile(bad).ok());
  EXPECT_FALSE(cache.compile(bad).ok());
  EXPECT_EQ(cache.stats().misses, 2u);
  EXPECT_EQ(cache.stats().diskWrites, 0u);
}

TEST_F(RuntimeCache, EightThreadsCompileConcurrently) {
  // Threads 0-3 ask for one source, threads 4-7 for one source each: 5 distinct
  // kernels.
  KernelCache cache({dir});
  constexpr int kThreads = 8;
  std::vector<std::shared_ptr<const CompileResult>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto r = cache.compile(kernelRequest(t < 4 ? 100 : 100 + t));
      if (r.ok())
        results[t] = *r;
      else
        errors[t] = r.status().message();
    });
  for (std::thread &t : threads)
    t.join();
  for (int t = 0; t < kThreads; ++t)
    ASSERT_TRUE(results[t]) << "thread " << t << ": " << errors[t];
  for (int t = 1; t < 4; ++t)
    EXPECT_EQ(results[t].get(), results[0].get()) << "one key, one entry";
  for (int t = 4; t < kThreads; ++t)
    EXPECT_NE(results[t]->cubin, results[0]->cubin);
  CacheStats s = cache.stats();
  EXPECT_EQ(s.misses, 5u) << "concurrent requests for one key compile once";
  EXPECT_EQ(s.memoryHits, 3u);
  EXPECT_EQ(s.diskWrites, 5u);

  KernelCache reread({dir});
  for (int t = 0; t < kThreads; ++t) {
    auto r = reread.compile(kernelRequest(t < 4 ? 100 : 100 + t));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->cubin, results[t]->cubin);
  }
  EXPECT_EQ(reread.stats().diskHits, 5u);
}

TEST_F(RuntimeCache, NoDirectoryMeansMemoryOnly) {
  KernelCache cache(CacheConfig{});
  EXPECT_EQ(cache.pathOf(Hash128{1, 2}), "");
  ASSERT_TRUE(cache.compile(kernelRequest(3)).ok());
  ASSERT_TRUE(cache.compile(kernelRequest(3)).ok());
  EXPECT_EQ(cache.stats().memoryHits, 1u);
  EXPECT_EQ(cache.stats().diskWrites, 0u);
}

/// Sets an environment variable for one scope and restores it afterwards.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name))
      old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

private:
  const char *name_;
  std::optional<std::string> old_;
};

TEST(RuntimeCacheConfig, EnvironmentPicksTheDirectory) {
  ScopedEnv cache("ATTNC_CACHE", nullptr),
      dir("ATTNC_CACHE_DIR", "/x/attnc-dir"), xdg("XDG_CACHE_HOME", "/x/xdg"),
      home("HOME", "/x/home");
  EXPECT_EQ(CacheConfig::fromEnvironment().directory, "/x/attnc-dir");
  {
    ScopedEnv noDir("ATTNC_CACHE_DIR", nullptr);
    EXPECT_EQ(CacheConfig::fromEnvironment().directory, "/x/xdg/attnc");
    ScopedEnv noXdg("XDG_CACHE_HOME", nullptr);
    EXPECT_EQ(CacheConfig::fromEnvironment().directory, "/x/home/.cache/attnc");
  }
  ScopedEnv off("ATTNC_CACHE", "0");
  EXPECT_EQ(CacheConfig::fromEnvironment().directory, "");
}

} // namespace
