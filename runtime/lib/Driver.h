//===- Driver.h - CUDA driver entry points loaded at run time ---*- C++ -*-===//
//
// Private to the runtime. libcuda.so.1 is opened with dlopen and every entry
// point is fetched through cuGetProcAddress_v2 with an explicit per-function
// CUDA version; cuda.h and cudaTypedefs.h are included for types only. Member
// names are the cuda.h names, so `api.cuMemAlloc(...)` reads like the CUDA
// docs; where cuda.h #defines a name to a versioned symbol (cuMemAlloc ->
// cuMemAlloc_v2) the member and every use of it are renamed alike by the
// preprocessor, which is harmless.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_LIB_DRIVER_H
#define ATTNC_RUNTIME_LIB_DRIVER_H

#include "attnc/Runtime.h"

#include <cuda.h>
#include <cudaTypedefs.h>

namespace attnc::detail {

/// (cuda.h name, CUDA version of the variant we want). The version picks both
/// the variant cuGetProcAddress returns and the cudaTypedefs.h pointer type, so
/// the two always agree. This matters: asked for "cuCtxSynchronize" at version
/// 13000, a CUDA 13 driver returns the variant that takes a CUcontext argument
/// (cuCtxSynchronize_v2), and calling it through the old prototype passes
/// garbage. Each version below is the newest one whose signature we call.
#define ATTNC_DRIVER_FUNCTIONS(X)                                                                  \
  X(cuInit, 2000)                                                                                  \
  X(cuDriverGetVersion, 2020)                                                                      \
  X(cuGetErrorName, 6000)                                                                          \
  X(cuGetErrorString, 6000)                                                                        \
  X(cuDeviceGetCount, 2000)                                                                        \
  X(cuDeviceGet, 2000)                                                                             \
  X(cuDeviceGetAttribute, 2000)                                                                    \
  X(cuDeviceGetName, 2000)                                                                         \
  X(cuDevicePrimaryCtxRetain, 7000)                                                                \
  X(cuCtxSetCurrent, 4000)                                                                         \
  X(cuCtxGetCurrent, 4000)                                                                         \
  X(cuCtxGetDevice, 2000)                                                                          \
  X(cuCtxSynchronize, 2000)                                                                        \
  X(cuModuleLoadData, 2000)                                                                        \
  X(cuModuleGetFunction, 2000)                                                                     \
  X(cuModuleUnload, 2000)                                                                          \
  X(cuFuncSetAttribute, 9000)                                                                      \
  X(cuLaunchKernel, 4000)                                                                          \
  X(cuLaunchKernelEx, 11060)                                                                       \
  X(cuMemAlloc, 3020)                                                                              \
  X(cuMemFree, 3020)                                                                               \
  X(cuMemAllocAsync, 11020)                                                                        \
  X(cuMemFreeAsync, 11020)                                                                         \
  X(cuMemcpyHtoD, 3020)                                                                            \
  X(cuMemcpyDtoH, 3020)                                                                            \
  X(cuMemsetD8, 3020)                                                                              \
  X(cuMemsetD8Async, 3020)                                                                         \
  X(cuStreamCreate, 2000)                                                                          \
  X(cuStreamDestroy, 4000)                                                                         \
  X(cuStreamSynchronize, 2000)                                                                     \
  X(cuEventCreate, 2000)                                                                           \
  X(cuEventRecord, 2000)                                                                           \
  X(cuEventSynchronize, 2000)                                                                      \
  X(cuEventElapsedTime, 2000)                                                                      \
  X(cuEventDestroy, 4000)                                                                          \
  X(cuTensorMapEncodeTiled, 12000)

struct DriverApi {
  int driverVersion = 0; // e.g. 13000
#define ATTNC_DECLARE(name, version) PFN_##name##_v##version name = nullptr;
  ATTNC_DRIVER_FUNCTIONS(ATTNC_DECLARE)
#undef ATTNC_DECLARE
};

/// Loads libcuda and calls cuInit(0), once per process. Errors: "CUDA driver
/// not found (libcuda.so.1): <dlerror>", "no CUDA device (cuInit: ...)", a
/// driver older than CUDA 12.
StatusOr<const DriverApi *> driver();

/// Success for CUDA_SUCCESS, else "<call>: <CUDA_ERROR_NAME>: <description>".
Status check(const DriverApi &api, CUresult result, const char *call);

} // namespace attnc::detail

/// Calls a driver entry point and returns its error from the enclosing
/// function.
#define ATTNC_CU(api, call, ...)                                                                   \
  ATTNC_TRY(::attnc::detail::check((api), (api).call(__VA_ARGS__), #call))

#endif // ATTNC_RUNTIME_LIB_DRIVER_H
