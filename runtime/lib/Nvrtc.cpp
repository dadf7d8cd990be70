//===- Nvrtc.cpp - CUDA C++ to CUBIN/PTX with NVRTC loaded by dlopen ------===//
//
// libnvrtc is opened at first use rather than linked, so programs built on the
// runtime start on machines without a CUDA toolkit and report a Status instead.
// nvrtc.h is included for its types and prototypes only: each entry point is
// resolved with dlsym into a pointer of the prototype's type, so a signature
// change in a future nvrtc.h fails to compile here instead of misbehaving at
// run time. The device library travels as in-memory headers (NVRTC 13 finds no
// system headers without -I, and the runtime must not need a toolkit at run
// time).
//
//===----------------------------------------------------------------------===//

#include "attnc/Runtime.h"

#include <nvrtc.h>

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <sstream>

using namespace attnc;

namespace {

/// The NVRTC entry points we use, resolved from the dlopen'ed library.
struct NvrtcApi {
  std::string path;
  NvrtcVersion version;
#define ATTNC_NVRTC_FUNCTIONS(X)                                                                   \
  X(nvrtcVersion)                                                                                  \
  X(nvrtcGetErrorString)                                                                           \
  X(nvrtcCreateProgram)                                                                            \
  X(nvrtcDestroyProgram)                                                                           \
  X(nvrtcCompileProgram)                                                                           \
  X(nvrtcGetProgramLogSize)                                                                        \
  X(nvrtcGetProgramLog)                                                                            \
  X(nvrtcGetPTXSize)                                                                               \
  X(nvrtcGetPTX)                                                                                   \
  X(nvrtcGetCUBINSize)                                                                             \
  X(nvrtcGetCUBIN)                                                                                 \
  X(nvrtcAddNameExpression)                                                                        \
  X(nvrtcGetLoweredName)
#define ATTNC_DECLARE(name) decltype(&::name) name = nullptr;
  ATTNC_NVRTC_FUNCTIONS(ATTNC_DECLARE)
#undef ATTNC_DECLARE
};

/// Destroys the program on every return path.
class ProgramGuard {
public:
  ProgramGuard(const NvrtcApi &api, nvrtcProgram prog) : api_(api), prog_(prog) {}
  ~ProgramGuard() { api_.nvrtcDestroyProgram(&prog_); }
  ProgramGuard(const ProgramGuard &) = delete;
  ProgramGuard &operator=(const ProgramGuard &) = delete;

private:
  const NvrtcApi &api_;
  nvrtcProgram prog_;
};

} // namespace

static std::string envOr(const char *name, const std::string &fallback = "") {
  const char *v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

/// The libraries to try, in order: an explicit path, the sonames on the
/// loader's search path, then the usual toolkit locations, so that no
/// LD_LIBRARY_PATH is needed on a stock install.
static std::vector<std::string> nvrtcCandidates() {
  std::vector<std::string> c;
  if (std::string p = envOr("ATTNC_NVRTC"); !p.empty())
    c.push_back(p);
  c.push_back("libnvrtc.so.13");
  c.push_back("libnvrtc.so");
  if (std::string home = envOr("CUDA_HOME"); !home.empty())
    c.push_back(home + "/lib64/libnvrtc.so.13");
  c.push_back("/usr/local/cuda/lib64/libnvrtc.so.13");
  return c;
}

static StatusOr<NvrtcApi> openNvrtc() {
  std::string tried;
  void *handle = nullptr;
  NvrtcApi api;
  for (const std::string &candidate : nvrtcCandidates()) {
    handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      api.path = candidate;
      break;
    }
    const char *why = dlerror();
    tried += "\n  " + candidate + ": " + (why ? why : "not found");
  }
  if (!handle)
    return Status::error("NVRTC not found (set ATTNC_NVRTC to libnvrtc.so's path); tried:" + tried);
#define ATTNC_RESOLVE(name)                                                                        \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(handle, #name));                           \
  if (!api.name)                                                                                   \
    return Status::error("NVRTC at " + api.path + " lacks " #name);
  ATTNC_NVRTC_FUNCTIONS(ATTNC_RESOLVE)
#undef ATTNC_RESOLVE
  // The handle stays open for the life of the process: cached function pointers
  // point into it.
  if (api.nvrtcVersion(&api.version.major, &api.version.minor) != NVRTC_SUCCESS)
    return Status::error("nvrtcVersion failed for " + api.path);
  // NVRTC opens libnvrtc-builtins.so.<major>.<minor> by soname when it
  // compiles. Found by a full path outside the loader's search path, it would
  // fail there ("failed to open libnvrtc-builtins"), so open the builtins
  // beside it now: the loader then matches NVRTC's later request by soname
  // against the already loaded copy.
  if (size_t slash = api.path.rfind('/'); slash != std::string::npos) {
    std::string builtins = api.path.substr(0, slash) + "/libnvrtc-builtins.so." +
                           std::to_string(api.version.major) + "." +
                           std::to_string(api.version.minor);
    if (!dlopen(builtins.c_str(), RTLD_NOW | RTLD_LOCAL))
      (void)dlerror(); // not fatal: the search path may still find them
  }
  return api;
}

static StatusOr<const NvrtcApi *> nvrtc() {
  // Function-local static: loaded once, thread-safe, and a failure is
  // remembered.
  static const StatusOr<NvrtcApi> api = openNvrtc();
  if (!api.ok())
    return api.status();
  return &api.value();
}

StatusOr<NvrtcVersion> attnc::getNvrtcVersion() {
  ATTNC_ASSIGN_OR_RETURN(const NvrtcApi *api, nvrtc());
  return api->version;
}

StatusOr<std::string> attnc::nvrtcLibraryPath() {
  ATTNC_ASSIGN_OR_RETURN(const NvrtcApi *api, nvrtc());
  return api->path;
}

Hash128 attnc::deviceLibraryHash() {
  static const Hash128 hash = [] {
    Hasher h(/*seed=*/0x64657669); // "devi"
    for (const auto &[name, text] : deviceLibraryHeaders())
      h.str(name).str(text);
    return h.digest();
  }();
  return hash;
}

/// Writes `source` to $TMPDIR (or /tmp) as attnc-<hash>.cu, so a failing kernel
/// can be inspected and recompiled by hand. Returns the path, or why it could
/// not be written.
static std::string dumpSource(const std::string &source) {
  std::string path =
      envOr("TMPDIR", "/tmp") + "/attnc-" + hash128(source).hex().substr(0, 16) + ".cu";
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return "(could not write " + path + ")";
  bool ok = std::fwrite(source.data(), 1, source.size(), f) == source.size();
  ok &= std::fclose(f) == 0;
  return ok ? path : "(could not write " + path + ")";
}

static std::string programLog(const NvrtcApi &api, nvrtcProgram prog) {
  size_t size = 0;
  if (api.nvrtcGetProgramLogSize(prog, &size) != NVRTC_SUCCESS || size <= 1)
    return "";
  std::string log(size, '\0');
  if (api.nvrtcGetProgramLog(prog, log.data()) != NVRTC_SUCCESS)
    return "";
  log.resize(size - 1); // drop the terminating NUL
  return log;
}

std::vector<std::string> attnc::environmentNvrtcOptions() {
  std::vector<std::string> options;
  std::istringstream words(envOr("ATTNC_NVRTC_OPTIONS"));
  for (std::string word; words >> word;)
    options.push_back(word);
  return options;
}

StatusOr<CompileResult> attnc::compileWithNvrtc(const CompileRequest &request) {
  ATTNC_ASSIGN_OR_RETURN(const NvrtcApi *apiPtr, nvrtc());
  const NvrtcApi &api = *apiPtr;
  auto fail = [&](const char *call, nvrtcResult rc) {
    return Status::error(std::string(call) + " failed for " + request.name + ": " +
                         api.nvrtcGetErrorString(rc));
  };

  std::vector<const char *> headerTexts, headerNames;
  for (const auto *list : {&deviceLibraryHeaders(), &request.extraHeaders})
    for (const auto &[name, text] : *list) {
      headerNames.push_back(name.c_str());
      headerTexts.push_back(text.c_str());
    }

  nvrtcProgram prog = nullptr;
  if (nvrtcResult rc = api.nvrtcCreateProgram(&prog, request.source.c_str(), request.name.c_str(),
                                              static_cast<int>(headerTexts.size()),
                                              headerTexts.data(), headerNames.data());
      rc != NVRTC_SUCCESS)
    return fail("nvrtcCreateProgram", rc);
  ProgramGuard guard(api, prog);

  for (const std::string &expr : request.nameExpressions)
    if (nvrtcResult rc = api.nvrtcAddNameExpression(prog, expr.c_str()); rc != NVRTC_SUCCESS)
      return fail("nvrtcAddNameExpression", rc);

  std::string archOption = "-arch=" + request.arch;
  // --minimal leaves out texture/surface types and device-runtime declarations, which the
  // device library never uses; it shortens every compile.
  std::vector<const char *> options = {archOption.c_str(), "--std=c++17", "-default-device",
                                       "--minimal"};
  for (const std::string &o : request.options)
    options.push_back(o.c_str());
  const std::vector<std::string> fromEnvironment = environmentNvrtcOptions();
  for (const std::string &o : fromEnvironment)
    options.push_back(o.c_str());

  nvrtcResult rc = api.nvrtcCompileProgram(prog, static_cast<int>(options.size()), options.data());
  CompileResult result;
  result.log = programLog(api, prog);
  if (rc != NVRTC_SUCCESS) {
    std::string message = "NVRTC could not compile " + request.name + " for " + request.arch +
                          " (" + api.nvrtcGetErrorString(rc) +
                          "); source: " + dumpSource(request.source);
    if (!result.log.empty())
      message += "\n" + result.log;
    return Status::error(message);
  }

  // A real architecture (sm_XX) makes NVRTC run ptxas, so the CUBIN is ready to
  // load without the driver's JIT; a virtual one (compute_XX) leaves only PTX.
  bool real = request.arch.rfind("sm_", 0) == 0;
  if (real) {
    size_t size = 0;
    if ((rc = api.nvrtcGetCUBINSize(prog, &size)) != NVRTC_SUCCESS)
      return fail("nvrtcGetCUBINSize", rc);
    result.cubin.resize(size);
    if ((rc = api.nvrtcGetCUBIN(prog, result.cubin.data())) != NVRTC_SUCCESS)
      return fail("nvrtcGetCUBIN", rc);
  }
  if (request.wantPtx || !real) {
    size_t size = 0;
    if ((rc = api.nvrtcGetPTXSize(prog, &size)) != NVRTC_SUCCESS)
      return fail("nvrtcGetPTXSize", rc);
    result.ptx.resize(size);
    if ((rc = api.nvrtcGetPTX(prog, result.ptx.data())) != NVRTC_SUCCESS)
      return fail("nvrtcGetPTX", rc);
    if (!result.ptx.empty() && result.ptx.back() == '\0')
      result.ptx.pop_back();
  }
  for (const std::string &expr : request.nameExpressions) {
    const char *lowered = nullptr;
    if ((rc = api.nvrtcGetLoweredName(prog, expr.c_str(), &lowered)) != NVRTC_SUCCESS)
      return fail("nvrtcGetLoweredName", rc);
    result.loweredNames.push_back(lowered ? lowered : "");
  }
  return result;
}
