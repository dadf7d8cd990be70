//===- RuntimeDriverTest.cpp - CUDA driver through dlopen, JIT launches ---===//
//
// Without a GPU (CI) these check that every entry point fails with a clear
// Status instead of crashing. With one (the GPU machine) they JIT tiny kernels,
// launch them, and check what they wrote: plain launches, launches above 48 KiB
// of dynamic shared memory, streams, timers, and the per-device module cache
// behind jitKernel.
//
//===----------------------------------------------------------------------===//

#include "attnc/Runtime.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

using namespace attnc;
namespace fs = std::filesystem;

namespace {

const char *kIotaKernel = R"(
#include "attnc/params.cuh"
extern "C" __global__ void attnc_iota(int *out, int n, int base) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = base + i * i;
}
)";

// Writes every slot of a large dynamic shared buffer, then reads it back
// reversed, so the launch fails unless the dynamic shared memory limit was
// raised.
const char *kSharedKernel = R"(
extern "C" __global__ void attnc_big_smem(int *out, int words) {
  extern __shared__ int buf[];
  for (int i = threadIdx.x; i < words; i += blockDim.x)
    buf[i] = i * 3;
  __syncthreads();
  for (int i = threadIdx.x; i < words; i += blockDim.x)
    out[i] = buf[words - 1 - i];
}
)";

// A slow producer that lets its dependents start at once, and a consumer that waits for it
// before reading: launched with LaunchOrder::EarlyStart, the consumer must still see every
// value the producer wrote.
const char *kOrderedKernels = R"(
#include "attnc/types.cuh"
extern "C" __global__ void attnc_produce(int *data, int n, long long spin) {
  attnc::gridDependencyRelease();
  const long long start = clock64();
  while (clock64() - start < spin) {
  }
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    data[i] = 3 * i + 1;
}
extern "C" __global__ void attnc_consume(const int *data, int *out, int n) {
  attnc::gridDependencyWait();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = data[i] * 2;
}
)";

bool isClearNoGpuMessage(const std::string &m) {
  return m.find("CUDA driver not found (libcuda.so.1)") != std::string::npos ||
         m.find("no CUDA device") != std::string::npos;
}

class RuntimeDriver : public ::testing::Test {
protected:
  void SetUp() override {
    auto device = Device::open();
    if (!device.ok())
      GTEST_SKIP() << "no GPU: " << device.status().message();
    dev = *device;
    std::string pattern = (fs::temp_directory_path() / "attnc-jit-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir = pattern;
    cache = std::make_unique<KernelCache>(CacheConfig{dir});
  }
  void TearDown() override {
    cache.reset();
    if (!dir.empty())
      fs::remove_all(dir);
  }
  JitTarget target() const { return JitTarget{dev, "", cache.get()}; }
  Device *dev = nullptr;
  std::string dir;
  std::unique_ptr<KernelCache> cache;
};

TEST(RuntimeDriverNoGpu, EveryEntryFailsCleanlyWithoutAGpu) {
  auto device = Device::open();
  if (device.ok())
    GTEST_SKIP() << "a GPU is present: " << (*device)->name();
  EXPECT_TRUE(isClearNoGpuMessage(device.status().message())) << device.status().message();
  EXPECT_FALSE(Device::count().ok());
  EXPECT_FALSE(Device::current().ok());
  EXPECT_FALSE(Device::open(3).ok());
  // Asking twice gives the same answer (the failure is remembered, not retried
  // into a crash).
  EXPECT_EQ(Device::open().status().message(), device.status().message());
  KernelCache memoryOnly(CacheConfig{});
  auto kernel = jitKernel(kIotaKernel, "attnc_iota", {}, JitTarget{nullptr, "", &memoryOnly});
  ASSERT_FALSE(kernel.ok());
  EXPECT_TRUE(isClearNoGpuMessage(kernel.status().message())) << kernel.status().message();
}

TEST_F(RuntimeDriver, DescribesTheDevice) {
  EXPECT_FALSE(dev->name().empty());
  EXPECT_GE(dev->ccMajor(), 3);
  EXPECT_GT(dev->smCount(), 0);
  EXPECT_GE(dev->maxSharedPerBlock(), 48 * 1024);
  auto again = Device::open(0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, dev) << "one instance per ordinal";
  auto current = Device::current();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(*current, dev);
  auto missing = Device::open(1000);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos);
}

TEST_F(RuntimeDriver, LaunchesAJitKernelAndReadsItsOutput) {
  auto kernel = jitKernel(kIotaKernel, "attnc_iota", {"-lineinfo"}, target());
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  int n = 1000, base = 7;
  auto out = dev->allocBuffer(n * sizeof(int));
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_TRUE(dev->memset(out->ptr(), 0xff, n * sizeof(int)).ok());
  DevicePtr ptr = out->ptr();
  void *args[] = {&ptr, &n, &base};
  Status launched =
      (*kernel)->launch({static_cast<unsigned>((n + 127) / 128)}, {128}, 0, nullptr, args);
  ASSERT_TRUE(launched.ok()) << launched.message();
  ASSERT_TRUE(dev->synchronize().ok());
  std::vector<int> host(n);
  ASSERT_TRUE(dev->copyToHost(host.data(), ptr, n * sizeof(int)).ok());
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(host[i], base + i * i) << "at " << i;

  // The same request is served from both caches: the very same Kernel object.
  auto again = jitKernel(kIotaKernel, "attnc_iota", {"-lineinfo"}, target());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), kernel->get());
  EXPECT_EQ(cache->stats().misses, 1u);
}

TEST_F(RuntimeDriver, EarlyStartedKernelsWaitForTheirPredecessor) {
  auto produce = jitKernel(kOrderedKernels, "attnc_produce", {}, target());
  ASSERT_TRUE(produce.ok()) << produce.status().message();
  auto consume = jitKernel(kOrderedKernels, "attnc_consume", {}, target());
  ASSERT_TRUE(consume.ok()) << consume.status().message();
  int n = 4096;
  auto data = dev->allocBuffer(n * sizeof(int));
  auto out = dev->allocBuffer(n * sizeof(int));
  ASSERT_TRUE(data.ok() && out.ok());
  auto stream = dev->createStream();
  ASSERT_TRUE(stream.ok()) << stream.status().message();
  DevicePtr dataPtr = data->ptr(), outPtr = out->ptr();
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(dev->memset(dataPtr, 0, n * sizeof(int)).ok());
    ASSERT_TRUE(dev->memset(outPtr, 0xff, n * sizeof(int)).ok());
    long long spin = 200000; // about 0.1 ms: long enough for the consumer to start early
    void *produceArgs[] = {&dataPtr, &n, &spin};
    void *consumeArgs[] = {&dataPtr, &outPtr, &n};
    const Dim3 grid{static_cast<unsigned>((n + 127) / 128)}, block{128};
    ASSERT_TRUE((*produce)->launch(grid, block, 0, stream->handle(), produceArgs).ok());
    Status launched =
        (*consume)->launch(grid, block, 0, stream->handle(), consumeArgs, LaunchOrder::EarlyStart);
    ASSERT_TRUE(launched.ok()) << launched.message();
    ASSERT_TRUE(dev->synchronize(stream->handle()).ok());
    std::vector<int> host(n);
    ASSERT_TRUE(dev->copyToHost(host.data(), outPtr, n * sizeof(int)).ok());
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(host[i], 2 * (3 * i + 1)) << "round " << round << ", at " << i;
  }
}

TEST_F(RuntimeDriver, RaisesTheSharedMemoryLimitAbove48KiB) {
  auto kernel = jitKernel(kSharedKernel, "attnc_big_smem", {}, target());
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  int words = 100 * 1024 / 4; // 100 KiB
  unsigned bytes = words * 4;
  ASSERT_LE(static_cast<int>(bytes), dev->maxSharedPerBlock());
  auto out = dev->allocBuffer(bytes);
  ASSERT_TRUE(out.ok());
  auto stream = dev->createStream();
  ASSERT_TRUE(stream.ok()) << stream.status().message();
  auto timer = dev->createTimer();
  ASSERT_TRUE(timer.ok()) << timer.status().message();
  DevicePtr ptr = out->ptr();
  void *args[] = {&ptr, &words};
  ASSERT_TRUE(timer->start(stream->handle()).ok());
  Status launched = (*kernel)->launch({1}, {256}, bytes, stream->handle(), args);
  ASSERT_TRUE(launched.ok()) << launched.message();
  ASSERT_TRUE(timer->stop(stream->handle()).ok());
  auto ms = timer->elapsedMs();
  ASSERT_TRUE(ms.ok()) << ms.status().message();
  EXPECT_GE(*ms, 0.0f);
  ASSERT_TRUE(dev->synchronize(stream->handle()).ok());
  std::vector<int> host(words);
  ASSERT_TRUE(dev->copyToHost(host.data(), ptr, bytes).ok());
  for (int i = 0; i < words; ++i)
    ASSERT_EQ(host[i], (words - 1 - i) * 3) << "at " << i;
}

TEST_F(RuntimeDriver, ErrorsNameTheCallAndTheKernel) {
  auto missing = jitKernel(kIotaKernel, "no_such_kernel", {}, target());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no_such_kernel"), std::string::npos);
  EXPECT_NE(missing.status().message().find("cuModuleGetFunction"), std::string::npos)
      << missing.status().message();

  auto garbage = dev->loadModule("definitely not a cubin");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("cuModuleLoadData"), std::string::npos);

  // Far more shared memory than any GPU has.
  auto kernel = jitKernel(kSharedKernel, "attnc_big_smem", {}, target());
  ASSERT_TRUE(kernel.ok());
  DevicePtr ptr = 0;
  int words = 0;
  void *args[] = {&ptr, &words};
  Status tooBig = (*kernel)->launch({1}, {32}, 64u << 20, nullptr, args);
  EXPECT_FALSE(tooBig.ok());
  EXPECT_NE(tooBig.message().find("cuFuncSetAttribute"), std::string::npos) << tooBig.message();
}

} // namespace
