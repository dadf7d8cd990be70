//===- Driver.cpp - Load libcuda.so.1 and resolve its entry points --------===//
//
// Nothing links against libcuda: a binary linked to the toolkit's stub does not
// even start on a machine without a driver. Instead the driver is opened here
// at first use, and each entry point is asked of cuGetProcAddress_v2 for the
// CUDA version listed in Driver.h, so the variant we get always matches the
// pointer type we call it through. cuGetProcAddress_v2 exists in every driver
// from CUDA 12.0 on, the oldest we accept, so no plain-dlsym fallback is
// needed.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include <dlfcn.h>
#include <string>

using namespace attnc;
using namespace attnc::detail;

namespace {
using GetProcAddressFn = CUresult (*)(const char *, void **, int, cuuint64_t,
                                      CUdriverProcAddressQueryResult *);
using DriverGetVersionFn = CUresult (*)(int *);
} // namespace

static StatusOr<DriverApi> openDriver() {
  void *handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    return Status::error(std::string("CUDA driver not found (libcuda.so.1): ") +
                         (why ? why : "dlopen failed"));
  }
  // The handle is never closed: the function pointers below point into the
  // library.
  auto getProc = reinterpret_cast<GetProcAddressFn>(dlsym(handle, "cuGetProcAddress_v2"));
  auto getVersion = reinterpret_cast<DriverGetVersionFn>(dlsym(handle, "cuDriverGetVersion"));
  DriverApi api;
  if (!getVersion || getVersion(&api.driverVersion) != CUDA_SUCCESS)
    return Status::error("CUDA driver (libcuda.so.1) does not report its version");
  if (api.driverVersion < 12000)
    return Status::error("CUDA driver too old: version " + std::to_string(api.driverVersion) +
                         ", need 12.0 or newer");
  if (!getProc)
    return Status::error("CUDA driver (libcuda.so.1) lacks cuGetProcAddress_v2");

  auto resolve = [&](const char *symbol, int version) -> StatusOr<void *> {
    void *fn = nullptr;
    CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    CUresult rc = getProc(symbol, &fn, version, CU_GET_PROC_ADDRESS_DEFAULT, &found);
    if (rc != CUDA_SUCCESS || found != CU_GET_PROC_ADDRESS_SUCCESS || !fn)
      return Status::error(std::string("CUDA driver (libcuda.so.1) lacks ") + symbol +
                           " for CUDA " + std::to_string(version));
    return fn;
  };
  // #name is the cuda.h base name ("cuMemAlloc"), which is what
  // cuGetProcAddress expects.
#define ATTNC_RESOLVE(name, version)                                                               \
  {                                                                                                \
    ATTNC_ASSIGN_OR_RETURN(void *fn, resolve(#name, version));                                     \
    api.name = reinterpret_cast<decltype(api.name)>(fn);                                           \
  }
  ATTNC_DRIVER_FUNCTIONS(ATTNC_RESOLVE)
#undef ATTNC_RESOLVE

  // cuInit reports a machine with a driver but no usable GPU
  // (CUDA_ERROR_NO_DEVICE).
  if (Status s = check(api, api.cuInit(0), "cuInit"); !s.ok())
    return Status::error("no CUDA device (" + s.message() + ")");
  return api;
}

StatusOr<const DriverApi *> attnc::detail::driver() {
  static const StatusOr<DriverApi> api = openDriver();
  if (!api.ok())
    return api.status();
  return &api.value();
}

Status attnc::detail::check(const DriverApi &api, CUresult result, const char *call) {
  if (result == CUDA_SUCCESS)
    return Status::success();
  const char *name = nullptr, *text = nullptr;
  if (api.cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = "unknown CUresult";
  if (api.cuGetErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = "no description";
  return Status::error(std::string(call) + ": " + name + " (" +
                       std::to_string(static_cast<int>(result)) + "): " + text);
}
