//===- RuntimeNvrtcTest.cpp - NVRTC through dlopen, embedded headers ------===//
//
// Compile-only checks (no GPU needed): the embedded device library is visible
// to NVRTC, a real arch yields an ELF cubin and a ptxas log, PTX and lowered
// names come back on request, and a compile error returns the log plus a dumped
// copy of the source. Skipped only where libnvrtc cannot be loaded at all.
//
//===----------------------------------------------------------------------===//

#include "attnc/Runtime.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

using namespace attnc;

namespace {

#define SKIP_WITHOUT_NVRTC()                                                   \
  do {                                                                         \
    if (auto v = getNvrtcVersion(); !v.ok())                                   \
      GTEST_SKIP() << v.status().message();                                    \
  } while (false)

const char *kParamsKernel = R"(
#include "attnc/params.cuh"
extern "C" __global__ void attnc_test_fill(attnc::FwdParams p, int *out) {
  out[threadIdx.x] = p.batch + p.heads * (int)threadIdx.x;
}
)";

TEST(RuntimeNvrtc, EmbedsTheDeviceLibrary) {
  bool found = false;
  for (const auto &[name, text] : deviceLibraryHeaders())
    if (name == "attnc/params.cuh") {
      found = true;
      EXPECT_NE(text.find("struct FwdParams"), std::string::npos);
    }
  EXPECT_TRUE(found) << "attnc/params.cuh is not embedded";
}

TEST(RuntimeNvrtc, LoadsFromTheToolkitWithoutLibraryPath) {
  SKIP_WITHOUT_NVRTC();
  auto version = getNvrtcVersion();
  EXPECT_GE(version->major, 12);
  auto path = nvrtcLibraryPath();
  ASSERT_TRUE(path.ok());
  EXPECT_NE(path->find("libnvrtc"), std::string::npos);
}

TEST(RuntimeNvrtc, CompilesACubinWithTheEmbeddedHeaders) {
  SKIP_WITHOUT_NVRTC();
  CompileRequest request;
  request.source = kParamsKernel;
  request.options = {"--ptxas-options=-v"};
  auto result = compileWithNvrtc(request);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_GE(result->cubin.size(), 4u);
  EXPECT_EQ(result->cubin.substr(0, 4), std::string("\x7f"
                                                    "ELF"));
  // ptxas -v reports registers in the log even on success.
  EXPECT_NE(result->log.find("registers"), std::string::npos) << result->log;
  EXPECT_TRUE(result->ptx.empty()) << "PTX was not requested";
}

TEST(RuntimeNvrtc, ReturnsPtxAndLoweredNamesOnRequest) {
  SKIP_WITHOUT_NVRTC();
  CompileRequest request;
  request.source = "template <int N> __global__ void scaleBy(float *x) { "
                   "x[threadIdx.x] *= N; }\n";
  request.nameExpressions = {"scaleBy<3>"};
  request.wantPtx = true;
  auto result = compileWithNvrtc(request);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_FALSE(result->cubin.empty());
  EXPECT_NE(result->ptx.find(".target sm_90a"), std::string::npos);
  ASSERT_EQ(result->loweredNames.size(), 1u);
  EXPECT_NE(result->loweredNames[0].find("scaleBy"), std::string::npos);
  EXPECT_NE(result->ptx.find(result->loweredNames[0]), std::string::npos);
}

TEST(RuntimeNvrtc, VirtualArchGivesPtxOnly) {
  SKIP_WITHOUT_NVRTC();
  CompileRequest request;
  request.source = kParamsKernel;
  request.arch = "compute_90a";
  auto result = compileWithNvrtc(request);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->cubin.empty());
  EXPECT_NE(result->ptx.find("attnc_test_fill"), std::string::npos);
}

TEST(RuntimeNvrtc, ExtraHeadersAreVisible) {
  SKIP_WITHOUT_NVRTC();
  CompileRequest request;
  request.source = "#include \"gen/consts.cuh\"\n"
                   "extern \"C\" __global__ void k(int *o) { *o = kAnswer; }\n";
  request.extraHeaders = {{"gen/consts.cuh", "constexpr int kAnswer = 42;\n"}};
  auto result = compileWithNvrtc(request);
  EXPECT_TRUE(result.ok()) << result.status().message();
}

TEST(RuntimeNvrtc, CompileErrorCarriesLogAndDumpedSource) {
  SKIP_WITHOUT_NVRTC();
  CompileRequest request;
  request.name = "broken.cu";
  request.source = "extern \"C\" __global__ void broken(int *o) { *o = "
                   "undeclared_thing; }\n";
  auto result = compileWithNvrtc(request);
  ASSERT_FALSE(result.ok());
  const std::string &message = result.status().message();
  EXPECT_NE(message.find("undeclared_thing"), std::string::npos)
      << message; // the log
  EXPECT_NE(message.find("broken.cu"), std::string::npos) << message;
  std::smatch match;
  ASSERT_TRUE(
      std::regex_search(message, match, std::regex("source: (\\S+\\.cu)")))
      << message;
  std::ifstream dumped(match[1].str());
  ASSERT_TRUE(dumped.good()) << "no dumped source at " << match[1];
  std::stringstream contents;
  contents << dumped.rdbuf();
  EXPECT_EQ(contents.str(), request.source);
}

TEST(RuntimeNvrtc, BadOptionIsAnErrorNotACrash) {
  SKIP_WITHOUT_NVRTC();
  CompileRequest request;
  request.source = kParamsKernel;
  request.options = {"--no-such-option"};
  auto result = compileWithNvrtc(request);
  EXPECT_FALSE(result.ok());
}

} // namespace
