//===- Device.cpp - Devices, memory, modules, launches and timing ---------===//
//
// Thin RAII wrappers over the driver API (see Driver.h). Each Device owns the
// retained primary context of one GPU, the context the CUDA runtime and PyTorch
// use too, so pointers and streams from them work here unchanged. Every call
// first makes that context current on the calling thread (cuCtxSetCurrent is a
// thread-local store), so a Device* can be used from any thread. Device objects
// are created once per ordinal and never destroyed: modules and buffers may be
// released from static destructors, after which a destroyed Device would be a
// dangling one.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include <atomic>
#include <map>
#include <mutex>
#include <type_traits>

using namespace attnc;
using namespace attnc::detail;

static_assert(sizeof(DevicePtr) == sizeof(CUdeviceptr) && std::is_same_v<DevicePtr, CUdeviceptr>,
              "DevicePtr must be CUdeviceptr");

/// The default limit of dynamic shared memory per block; above it the function
/// attribute CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES must be raised
/// before the launch.
static constexpr unsigned kDefaultDynamicSmem = 48 * 1024;

struct Function::State {
  CUfunction fn = nullptr;
  std::string name;
  Device *device = nullptr;
  /// The largest dynamic shared memory size this function was opened up to.
  std::atomic<unsigned> smemLimit{kDefaultDynamicSmem};
};

void *Function::handle() const { return state_ ? state_->fn : nullptr; }
const std::string &Function::name() const {
  static const std::string empty;
  return state_ ? state_->name : empty;
}
Device *Function::device() const { return state_ ? state_->device : nullptr; }

struct Module::Impl {
  Device *device = nullptr;
  CUmodule module = nullptr;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Function::State>> functions;
};

//===----------------------------------------------------------------------===//
// Device
//===----------------------------------------------------------------------===//

StatusOr<int> Device::count() {
  ATTNC_ASSIGN_OR_RETURN(const DriverApi *api, driver());
  int n = 0;
  ATTNC_CU(*api, cuDeviceGetCount, &n);
  return n;
}

StatusOr<Device *> Device::open(int ordinal) {
  ATTNC_ASSIGN_OR_RETURN(const DriverApi *api, driver());
  static std::mutex mutex;
  static std::map<int, Device *> devices;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = devices.find(ordinal); it != devices.end()) {
    ATTNC_TRY(it->second->makeCurrent());
    return it->second;
  }
  ATTNC_ASSIGN_OR_RETURN(int n, count());
  if (n == 0)
    return Status::error("no CUDA device (the driver reports 0 devices)");
  if (ordinal < 0 || ordinal >= n)
    return Status::error("CUDA device " + std::to_string(ordinal) + " does not exist (" +
                         std::to_string(n) + " devices)");

  std::unique_ptr<Device> d(new Device());
  d->ordinal_ = ordinal;
  CUdevice dev = 0;
  ATTNC_CU(*api, cuDeviceGet, &dev, ordinal);
  char name[256] = {};
  ATTNC_CU(*api, cuDeviceGetName, name, sizeof(name) - 1, dev);
  d->name_ = name;
  struct {
    CUdevice_attribute attr;
    int *out;
  } attrs[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &d->ccMajor_},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &d->ccMinor_},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &d->smCount_},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &d->maxSharedOptin_},
  };
  for (auto &a : attrs)
    ATTNC_CU(*api, cuDeviceGetAttribute, a.out, a.attr, dev);
  CUcontext ctx = nullptr;
  ATTNC_CU(*api, cuDevicePrimaryCtxRetain, &ctx, dev);
  d->context_ = ctx;
  ATTNC_TRY(d->makeCurrent());
  Device *result = d.release();
  devices[ordinal] = result;
  return result;
}

StatusOr<Device *> Device::current() {
  ATTNC_ASSIGN_OR_RETURN(const DriverApi *api, driver());
  CUcontext ctx = nullptr;
  CUdevice dev = 0;
  if (api->cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || !ctx ||
      api->cuCtxGetDevice(&dev) != CUDA_SUCCESS)
    return open(0);
  // CUdevice handles are not promised to equal ordinals; map back through
  // cuDeviceGet.
  ATTNC_ASSIGN_OR_RETURN(int n, count());
  for (int i = 0; i < n; ++i) {
    CUdevice candidate = 0;
    if (api->cuDeviceGet(&candidate, i) == CUDA_SUCCESS && candidate == dev)
      return open(i);
  }
  return open(0);
}

std::string Device::arch() const {
  // From 9.0 on, the arch-specific "a" targets unlock wgmma/setmaxnreg (and
  // tcgen05 on 10.0); such a cubin runs only on that exact compute capability,
  // which is what JIT wants.
  return "sm_" + std::to_string(ccMajor_) + std::to_string(ccMinor_) + (ccMajor_ >= 9 ? "a" : "");
}

Status Device::makeCurrent() {
  ATTNC_ASSIGN_OR_RETURN(const DriverApi *api, driver());
  ATTNC_CU(*api, cuCtxSetCurrent, static_cast<CUcontext>(context_));
  return Status::success();
}

/// The driver table, with this device's context current on the calling thread.
#define ATTNC_BIND(apiVar)                                                                         \
  ATTNC_ASSIGN_OR_RETURN(const DriverApi *apiVar, driver());                                       \
  ATTNC_TRY(makeCurrent())

StatusOr<DevicePtr> Device::alloc(size_t bytes) {
  ATTNC_BIND(api);
  CUdeviceptr ptr = 0;
  ATTNC_CU(*api, cuMemAlloc, &ptr, bytes);
  return ptr;
}

Status Device::free(DevicePtr ptr) {
  ATTNC_BIND(api);
  ATTNC_CU(*api, cuMemFree, ptr);
  return Status::success();
}

StatusOr<DevicePtr> Device::allocAsync(size_t bytes, void *stream) {
  ATTNC_BIND(api);
  CUdeviceptr ptr = 0;
  ATTNC_CU(*api, cuMemAllocAsync, &ptr, bytes, static_cast<CUstream>(stream));
  return ptr;
}

Status Device::freeAsync(DevicePtr ptr, void *stream) {
  ATTNC_BIND(api);
  ATTNC_CU(*api, cuMemFreeAsync, ptr, static_cast<CUstream>(stream));
  return Status::success();
}

StatusOr<DevicePtr> StreamScratch::allocate(size_t bytes) {
  ATTNC_ASSIGN_OR_RETURN(DevicePtr ptr, device_.allocAsync(bytes, stream_));
  ptrs_.push_back(ptr);
  return ptr;
}

Status StreamScratch::release(Status st) {
  for (DevicePtr ptr : ptrs_) {
    Status freed = device_.freeAsync(ptr, stream_);
    if (st.ok())
      st = freed;
  }
  ptrs_.clear();
  return st;
}

StatusOr<DeviceBuffer> Device::allocBuffer(size_t bytes) {
  ATTNC_ASSIGN_OR_RETURN(DevicePtr ptr, alloc(bytes));
  return DeviceBuffer(this, ptr, bytes);
}

Status Device::copyToDevice(DevicePtr dst, const void *src, size_t bytes) {
  ATTNC_BIND(api);
  ATTNC_CU(*api, cuMemcpyHtoD, dst, src, bytes);
  return Status::success();
}

Status Device::copyToHost(void *dst, DevicePtr src, size_t bytes) {
  ATTNC_BIND(api);
  ATTNC_CU(*api, cuMemcpyDtoH, dst, src, bytes);
  return Status::success();
}

Status Device::memset(DevicePtr dst, unsigned char value, size_t bytes) {
  ATTNC_BIND(api);
  ATTNC_CU(*api, cuMemsetD8, dst, value, bytes);
  return Status::success();
}

Status Device::memsetAsync(DevicePtr dst, unsigned char value, size_t bytes, void *stream) {
  ATTNC_BIND(api);
  ATTNC_CU(*api, cuMemsetD8Async, dst, value, bytes, static_cast<CUstream>(stream));
  return Status::success();
}

StatusOr<Module> Device::loadModule(std::string_view cubin) {
  ATTNC_BIND(api);
  if (cubin.empty())
    return Status::error("cuModuleLoadData: empty image");
  auto impl = std::make_unique<Module::Impl>();
  impl->device = this;
  ATTNC_CU(*api, cuModuleLoadData, &impl->module, cubin.data());
  return Module(std::move(impl));
}

Status Device::launch(const Function &fn, Dim3 grid, Dim3 block, unsigned sharedBytes, void *stream,
                      void **args, LaunchOrder order) {
  if (!fn)
    return Status::error("cuLaunchKernel: null function");
  if (fn.state_->device != this)
    return Status::error("cuLaunchKernel: " + fn.name() + " was loaded on device " +
                         std::to_string(fn.state_->device->ordinal()) + ", not on device " +
                         std::to_string(ordinal_));
  ATTNC_BIND(api);
  Function::State &state = *fn.state_;
  if (sharedBytes > state.smemLimit.load(std::memory_order_relaxed)) {
    ATTNC_CU(*api, cuFuncSetAttribute, state.fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
             static_cast<int>(sharedBytes));
    state.smemLimit.store(sharedBytes, std::memory_order_relaxed);
  }
  if (order == LaunchOrder::EarlyStart && ccMajor_ >= 9) {
    CUlaunchAttribute attr{};
    attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig config{};
    config.gridDimX = grid.x;
    config.gridDimY = grid.y;
    config.gridDimZ = grid.z;
    config.blockDimX = block.x;
    config.blockDimY = block.y;
    config.blockDimZ = block.z;
    config.sharedMemBytes = sharedBytes;
    config.hStream = static_cast<CUstream>(stream);
    config.attrs = &attr;
    config.numAttrs = 1;
    ATTNC_CU(*api, cuLaunchKernelEx, &config, state.fn, args, nullptr);
    return Status::success();
  }
  ATTNC_CU(*api, cuLaunchKernel, state.fn, grid.x, grid.y, grid.z, block.x, block.y, block.z,
           sharedBytes, static_cast<CUstream>(stream), args, nullptr);
  return Status::success();
}

Status Device::synchronize() {
  ATTNC_BIND(api);
  ATTNC_TRY(check(*api, api->cuCtxSynchronize(), "cuCtxSynchronize"));
  return Status::success();
}

Status Device::synchronize(void *stream) {
  ATTNC_BIND(api);
  ATTNC_CU(*api, cuStreamSynchronize, static_cast<CUstream>(stream));
  return Status::success();
}

StatusOr<Stream> Device::createStream() {
  ATTNC_BIND(api);
  CUstream stream = nullptr;
  ATTNC_CU(*api, cuStreamCreate, &stream, CU_STREAM_NON_BLOCKING);
  return Stream(this, stream);
}

StatusOr<Timer> Device::createTimer() {
  ATTNC_BIND(api);
  CUevent start = nullptr, stop = nullptr;
  ATTNC_CU(*api, cuEventCreate, &start, CU_EVENT_DEFAULT);
  if (Status s = check(*api, api->cuEventCreate(&stop, CU_EVENT_DEFAULT), "cuEventCreate");
      !s.ok()) {
    api->cuEventDestroy(start);
    return s;
  }
  return Timer(this, start, stop);
}

//===----------------------------------------------------------------------===//
// RAII handles
//===----------------------------------------------------------------------===//

/// Runs `release` with the owning device's context current; errors while
/// releasing are dropped (a destructor cannot report them, and the resource is
/// gone either way).
template <class F> static void releaseOn(Device *device, F release) {
  StatusOr<const DriverApi *> api = driver();
  if (device && api.ok() && device->makeCurrent().ok())
    release(**api);
}

Module::Module(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Module::Module(Module &&other) noexcept = default;
Module &Module::operator=(Module &&other) noexcept {
  if (this != &other) {
    Module dying(std::move(*this));
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Module::~Module() {
  if (impl_ && impl_->module)
    releaseOn(impl_->device, [&](const DriverApi &api) { api.cuModuleUnload(impl_->module); });
}
void *Module::handle() const { return impl_ ? impl_->module : nullptr; }

StatusOr<Function> Module::getFunction(const std::string &name) {
  if (!impl_)
    return Status::error("cuModuleGetFunction: empty module");
  ATTNC_ASSIGN_OR_RETURN(const DriverApi *api, driver());
  ATTNC_TRY(impl_->device->makeCurrent());
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::unique_ptr<Function::State> &slot = impl_->functions[name];
  if (!slot) {
    CUfunction fn = nullptr;
    if (Status s = check(*api, api->cuModuleGetFunction(&fn, impl_->module, name.c_str()),
                         "cuModuleGetFunction");
        !s.ok()) {
      impl_->functions.erase(name);
      return s.withContext("kernel '" + name + "'");
    }
    slot = std::make_unique<Function::State>();
    slot->fn = fn;
    slot->name = name;
    slot->device = impl_->device;
  }
  return Function(slot.get());
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&o) noexcept
    : device_(std::exchange(o.device_, nullptr)), ptr_(std::exchange(o.ptr_, 0)),
      size_(std::exchange(o.size_, 0)) {}
DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&o) noexcept {
  if (this != &o) {
    DeviceBuffer dying(std::move(*this));
    device_ = std::exchange(o.device_, nullptr);
    ptr_ = std::exchange(o.ptr_, 0);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}
DeviceBuffer::~DeviceBuffer() {
  if (ptr_)
    releaseOn(device_, [&](const DriverApi &api) { api.cuMemFree(ptr_); });
}

Stream::Stream(Stream &&o) noexcept
    : device_(std::exchange(o.device_, nullptr)), stream_(std::exchange(o.stream_, nullptr)) {}
Stream &Stream::operator=(Stream &&o) noexcept {
  if (this != &o) {
    Stream dying(std::move(*this));
    device_ = std::exchange(o.device_, nullptr);
    stream_ = std::exchange(o.stream_, nullptr);
  }
  return *this;
}
Stream::~Stream() {
  if (stream_)
    releaseOn(device_,
              [&](const DriverApi &api) { api.cuStreamDestroy(static_cast<CUstream>(stream_)); });
}

Timer::Timer(Timer &&o) noexcept
    : device_(std::exchange(o.device_, nullptr)), start_(std::exchange(o.start_, nullptr)),
      stop_(std::exchange(o.stop_, nullptr)) {}
Timer &Timer::operator=(Timer &&o) noexcept {
  if (this != &o) {
    Timer dying(std::move(*this));
    device_ = std::exchange(o.device_, nullptr);
    start_ = std::exchange(o.start_, nullptr);
    stop_ = std::exchange(o.stop_, nullptr);
  }
  return *this;
}
Timer::~Timer() {
  if (start_ || stop_)
    releaseOn(device_, [&](const DriverApi &api) {
      api.cuEventDestroy(static_cast<CUevent>(start_));
      api.cuEventDestroy(static_cast<CUevent>(stop_));
    });
}

Status Timer::start(void *stream) {
  if (!device_)
    return Status::error("cuEventRecord: empty timer");
  ATTNC_ASSIGN_OR_RETURN(const DriverApi *api, driver());
  ATTNC_TRY(device_->makeCurrent());
  ATTNC_CU(*api, cuEventRecord, static_cast<CUevent>(start_), static_cast<CUstream>(stream));
  return Status::success();
}

Status Timer::stop(void *stream) {
  if (!device_)
    return Status::error("cuEventRecord: empty timer");
  ATTNC_ASSIGN_OR_RETURN(const DriverApi *api, driver());
  ATTNC_TRY(device_->makeCurrent());
  ATTNC_CU(*api, cuEventRecord, static_cast<CUevent>(stop_), static_cast<CUstream>(stream));
  return Status::success();
}

StatusOr<float> Timer::elapsedMs() {
  if (!device_)
    return Status::error("cuEventElapsedTime: empty timer");
  ATTNC_ASSIGN_OR_RETURN(const DriverApi *api, driver());
  ATTNC_TRY(device_->makeCurrent());
  ATTNC_CU(*api, cuEventSynchronize, static_cast<CUevent>(stop_));
  float ms = 0;
  ATTNC_CU(*api, cuEventElapsedTime, &ms, static_cast<CUevent>(start_),
           static_cast<CUevent>(stop_));
  return ms;
}
