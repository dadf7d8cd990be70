//===- Jit.cpp - Compile through the cache and load once per device -------===//
//
// jitKernel is the one call most users need: source in, launchable kernel out.
// Compilation goes through a KernelCache (memory, then disk, then NVRTC);
// loading is cached too, per (cubin hash, device), because cuModuleLoadData
// costs far more than a hash lookup and a module per call would leak device
// memory. The loaded modules live until process exit on purpose: kernels are
// few, and unloading them from static destructors races the driver's own
// teardown.
//
//===----------------------------------------------------------------------===//

#include "attnc/Runtime.h"

#include <map>
#include <mutex>
#include <tuple>

using namespace attnc;

namespace {
/// Loaded modules and kernels, shared by every jitKernel call of the process.
struct LoadedKernels {
  std::mutex mutex;
  std::map<std::pair<Hash128, int>, std::shared_ptr<Module>> modules;
  std::map<std::tuple<Hash128, int, std::string>, std::shared_ptr<Kernel>> kernels;
};

LoadedKernels &loaded() {
  static LoadedKernels *state = new LoadedKernels(); // never destroyed, see above
  return *state;
}
} // namespace

/// Loads `kernelName` from `compiled`'s CUBIN on `device` once; later calls for the same
/// (cubin, device, name) return the same Kernel.
static StatusOr<std::shared_ptr<Kernel>> loadCompiled(std::shared_ptr<const CompileResult> compiled,
                                                      const std::string &kernelName, Device *device,
                                                      const std::string &arch) {
  Hash128 cubinHash = hash128(compiled->cubin);
  LoadedKernels &state = loaded();
  // One lock around load + lookup: loads are rare, and this keeps two threads
  // from loading the same module twice.
  std::lock_guard<std::mutex> lock(state.mutex);
  auto kernelKey = std::make_tuple(cubinHash, device->ordinal(), kernelName);
  if (auto it = state.kernels.find(kernelKey); it != state.kernels.end())
    return it->second;

  std::shared_ptr<Module> &module = state.modules[{cubinHash, device->ordinal()}];
  if (!module) {
    StatusOr<Module> m = device->loadModule(compiled->cubin);
    if (!m.ok()) {
      state.modules.erase({cubinHash, device->ordinal()});
      return m.status().withContext("loading " + kernelName + " (" + arch + ") on " +
                                    device->name());
    }
    module = std::make_shared<Module>(std::move(m).value());
  }
  ATTNC_ASSIGN_OR_RETURN(Function fn, module->getFunction(kernelName));
  auto kernel = std::make_shared<Kernel>(module, fn, std::move(compiled));
  state.kernels.emplace(kernelKey, kernel);
  return kernel;
}

StatusOr<std::shared_ptr<Kernel>> attnc::jitKernel(const std::string &source,
                                                   const std::string &kernelName,
                                                   const std::vector<std::string> &options,
                                                   const JitTarget &target) {
  Device *device = target.device;
  if (!device) {
    ATTNC_ASSIGN_OR_RETURN(device, Device::current());
  }
  KernelCache &cache = target.cache ? *target.cache : KernelCache::global();

  CompileRequest request;
  request.source = source;
  request.arch = target.arch.empty() ? device->arch() : target.arch;
  request.options = options;
  ATTNC_ASSIGN_OR_RETURN(std::shared_ptr<const CompileResult> compiled, cache.compile(request));
  if (compiled->cubin.empty())
    return Status::error("jitKernel: no CUBIN for arch " + request.arch +
                         " (use a real sm_XX arch)");
  return loadCompiled(std::move(compiled), kernelName, device, request.arch);
}

StatusOr<std::shared_ptr<Kernel>> attnc::loadKernel(std::string cubin,
                                                    const std::string &kernelName, Device *device) {
  if (!device) {
    ATTNC_ASSIGN_OR_RETURN(device, Device::current());
  }
  if (cubin.empty())
    return Status::error("loadKernel: empty CUBIN for " + kernelName);
  auto compiled = std::make_shared<CompileResult>();
  compiled->cubin = std::move(cubin);
  return loadCompiled(std::move(compiled), kernelName, device, "cubin");
}
