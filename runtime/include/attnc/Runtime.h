//===- Runtime.h - NVRTC JIT, kernel cache, CUDA driver ---------*- C++ -*-===//
//
// The public C++ interface of attnc's runtime: compile CUDA C++ with NVRTC (the
// device library under runtime/device/ is passed as in-memory headers), cache
// the results in memory and on disk, and load and launch them through the CUDA
// driver API. NVRTC and libcuda are both loaded with dlopen, so a program using
// this header starts on machines without a GPU or toolkit and gets a Status
// that says what is missing. No CUDA header is needed to include this file:
// driver handles (streams, functions) travel as opaque pointers. Nothing here
// throws, exits or aborts; every fallible call returns a Status or StatusOr.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_H
#define ATTNC_RUNTIME_H

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnc {

//===----------------------------------------------------------------------===//
// Errors as values
//===----------------------------------------------------------------------===//

/// Success, or failure with a human-readable message.
class [[nodiscard]] Status {
public:
  Status() = default;
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = message.empty() ? "unknown error" : std::move(message);
    return s;
  }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  /// Empty on success.
  const std::string &message() const { return message_; }
  /// A copy of this error with `context: ` in front of the message (success
  /// stays success).
  Status withContext(std::string_view context) const;

private:
  bool failed_ = false;
  std::string message_;
};

/// A value of type T, or the Status that says why there is none.
template <class T> class [[nodiscard]] StatusOr {
public:
  StatusOr(T value) : value_(std::move(value)) {}
  /// `status` must be an error; a success without a value is turned into one.
  StatusOr(Status status) : status_(std::move(status)) {
    if (status_.ok())
      status_ = Status::error("internal error: StatusOr built from a success Status");
  }
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  /// Success when a value is held.
  const Status &status() const { return status_; }
  // Reading the value of an error is a programming error of the caller, as for
  // std::optional.
  T &value() & { return assert(ok()), *value_; }
  const T &value() const & { return assert(ok()), *value_; }
  T &&value() && { return assert(ok()), std::move(*value_); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

private:
  Status status_;
  std::optional<T> value_;
};

#define ATTNC_CONCAT_IMPL(a, b) a##b
#define ATTNC_CONCAT(a, b) ATTNC_CONCAT_IMPL(a, b)
/// Returns the Status of `expr` from the enclosing function when it is an
/// error.
#define ATTNC_TRY(expr)                                                                            \
  do {                                                                                             \
    ::attnc::Status attncTryStatus_ = (expr);                                                      \
    if (!attncTryStatus_.ok())                                                                     \
      return attncTryStatus_;                                                                      \
  } while (false)
/// `ATTNC_ASSIGN_OR_RETURN(auto x, f());` declares x from a StatusOr or returns
/// its error.
#define ATTNC_ASSIGN_OR_RETURN(decl, expr)                                                         \
  ATTNC_ASSIGN_OR_RETURN_IMPL(ATTNC_CONCAT(attncOr_, __LINE__), decl, expr)
#define ATTNC_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr)                                               \
  auto tmp = (expr);                                                                               \
  if (!tmp.ok())                                                                                   \
    return tmp.status();                                                                           \
  decl = std::move(tmp).value()

//===----------------------------------------------------------------------===//
// Hashing
//===----------------------------------------------------------------------===//

/// A 128-bit non-cryptographic hash; strong enough that accidental collisions
/// between cache keys do not happen in practice.
struct Hash128 {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Hash128 &o) const { return lo == o.lo && hi == o.hi; }
  bool operator!=(const Hash128 &o) const { return !(*this == o); }
  bool operator<(const Hash128 &o) const { return hi != o.hi ? hi < o.hi : lo < o.lo; }
  /// 32 lowercase hex digits, `hi` first.
  std::string hex() const;
};

/// Streaming hasher: feeding the same bytes in any split gives the same digest.
class Hasher {
public:
  explicit Hasher(uint64_t seed = 0);
  Hasher &bytes(const void *data, size_t size);
  Hasher &u64(uint64_t value);
  /// Length-prefixed, so ("ab", "c") and ("a", "bc") hash differently.
  Hasher &str(std::string_view s);
  Hash128 digest() const;

private:
  void mixBlock(const unsigned char *block);
  uint64_t h1_, h2_;
  uint64_t total_ = 0;
  unsigned char tail_[16];
  size_t tailSize_ = 0;
};

Hash128 hash128(std::string_view data, uint64_t seed = 0);

//===----------------------------------------------------------------------===//
// NVRTC
//===----------------------------------------------------------------------===//

/// The device library (runtime/device/attnc/*.cuh) embedded at build time, as
/// (include name, contents) pairs, e.g. ("attnc/params.cuh", "...").
const std::vector<std::pair<std::string, std::string>> &deviceLibraryHeaders();
/// Hash of all embedded headers; part of every cache key.
Hash128 deviceLibraryHash();

struct CompileRequest {
  std::string source;
  /// Name NVRTC uses in diagnostics.
  std::string name = "attnc_kernel.cu";
  /// `sm_XX[a]` gives a CUBIN (and PTX on request); `compute_XX[a]` gives PTX
  /// only.
  std::string arch = "sm_90a";
  /// Appended after `-arch=<arch> --std=c++17 -default-device --minimal`, e.g.
  /// `--ptxas-options=-v`.
  std::vector<std::string> options;
  /// Headers beside the device library, as (include name, contents).
  std::vector<std::pair<std::string, std::string>> extraHeaders;
  /// C++ names (`"kernel<64>"`) whose mangled names are wanted
  /// (nvrtcAddNameExpression).
  std::vector<std::string> nameExpressions;
  bool wantPtx = false;
};

struct CompileResult {
  std::string cubin; ///< ELF bytes; empty for a compute_XX arch.
  std::string ptx;   ///< Only when requested (or for a compute_XX arch).
  std::string log;   ///< NVRTC log, also on success (ptxas -v lines land here).
  /// Mangled names, in the order of CompileRequest::nameExpressions.
  std::vector<std::string> loweredNames;
};

struct NvrtcVersion {
  int major = 0, minor = 0;
};

/// Loads libnvrtc (once) and returns its version.
StatusOr<NvrtcVersion> getNvrtcVersion();
/// The path or soname libnvrtc was loaded from.
StatusOr<std::string> nvrtcLibraryPath();
/// Compiles without any cache. On a compile error the message holds the NVRTC
/// log and the path of a dumped copy of the source ($TMPDIR or /tmp,
/// attnc-<hash>.cu).
StatusOr<CompileResult> compileWithNvrtc(const CompileRequest &request);

/// NVRTC options from $ATTNC_NVRTC_OPTIONS (split at whitespace), appended after a request's
/// own by compileWithNvrtc and part of the kernel cache key: e.g. `-lineinfo` for profiling, or
/// `-DATTNC_SM90_PINGPONG=0` to switch a device-library mechanism off and measure it.
std::vector<std::string> environmentNvrtcOptions();

//===----------------------------------------------------------------------===//
// Kernel cache
//===----------------------------------------------------------------------===//

struct CacheStats {
  uint64_t memoryHits = 0;
  uint64_t diskHits = 0;
  uint64_t misses = 0;       ///< Compiles run (errors included).
  uint64_t diskRejected = 0; ///< Files found corrupt, truncated or foreign.
  uint64_t diskWrites = 0;
  uint64_t diskWriteFailures = 0;
};

struct CacheConfig {
  /// Empty: no disk cache.
  std::string directory;
  /// From ATTNC_CACHE_DIR, else $XDG_CACHE_HOME/attnc, else ~/.cache/attnc; no
  /// directory when ATTNC_CACHE=0.
  static CacheConfig fromEnvironment();
};

/// Compile results in memory and on disk, keyed by a hash of everything that
/// changes the output. Thread-safe; concurrent requests for one key compile
/// once.
class KernelCache {
public:
  explicit KernelCache(CacheConfig config);
  ~KernelCache();
  KernelCache(const KernelCache &) = delete;
  KernelCache &operator=(const KernelCache &) = delete;

  /// The process-wide cache, configured from the environment on first use.
  static KernelCache &global();

  StatusOr<std::shared_ptr<const CompileResult>> compile(const CompileRequest &request);
  /// Hash of source, options, arch, headers, NVRTC version and the cache format
  /// version.
  StatusOr<Hash128> keyOf(const CompileRequest &request);
  /// Where the entry for `key` lives on disk; empty without a disk cache.
  std::string pathOf(const Hash128 &key) const;
  CacheStats stats() const;
  /// Forgets the in-memory entries (the disk stays).
  void clearMemory();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

//===----------------------------------------------------------------------===//
// CUDA driver
//===----------------------------------------------------------------------===//

/// A device address (CUdeviceptr).
using DevicePtr = unsigned long long;

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

/// How a launch orders against the stream's previous kernel: Serial waits for it to finish;
/// EarlyStart may begin once it has finished launching its blocks (see Device::launch).
enum class LaunchOrder { Serial, EarlyStart };

class Device;
class Module;

/// A kernel inside a loaded Module; valid while the Module lives.
class Function {
public:
  Function() = default;
  explicit operator bool() const { return state_ != nullptr; }
  /// The CUfunction.
  void *handle() const;
  const std::string &name() const;
  Device *device() const;

private:
  friend class Module;
  friend class Device;
  struct State;
  explicit Function(State *state) : state_(state) {}
  State *state_ = nullptr;
};

/// A loaded CUBIN (RAII: unloaded on destruction).
class Module {
public:
  Module() = default;
  Module(Module &&other) noexcept;
  Module &operator=(Module &&other) noexcept;
  ~Module();
  StatusOr<Function> getFunction(const std::string &name);
  void *handle() const;

private:
  friend class Device;
  struct Impl;
  explicit Module(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Device memory (RAII: freed on destruction).
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  ~DeviceBuffer();
  DevicePtr ptr() const { return ptr_; }
  size_t size() const { return size_; }

private:
  friend class Device;
  DeviceBuffer(Device *device, DevicePtr ptr, size_t size)
      : device_(device), ptr_(ptr), size_(size) {}
  Device *device_ = nullptr;
  DevicePtr ptr_ = 0;
  size_t size_ = 0;
};

/// A CUstream owned by us (RAII). Launches take any CUstream as `void *`.
class Stream {
public:
  Stream() = default;
  Stream(Stream &&other) noexcept;
  Stream &operator=(Stream &&other) noexcept;
  ~Stream();
  void *handle() const { return stream_; }

private:
  friend class Device;
  Stream(Device *device, void *stream) : device_(device), stream_(stream) {}
  Device *device_ = nullptr;
  void *stream_ = nullptr;
};

/// Two CUevents for timing work on a stream (RAII).
class Timer {
public:
  Timer() = default;
  Timer(Timer &&other) noexcept;
  Timer &operator=(Timer &&other) noexcept;
  ~Timer();
  Status start(void *stream = nullptr);
  Status stop(void *stream = nullptr);
  /// Waits for the stop event, then returns the time between the two events.
  StatusOr<float> elapsedMs();

private:
  friend class Device;
  Timer(Device *device, void *start, void *stop) : device_(device), start_(start), stop_(stop) {}
  Device *device_ = nullptr;
  void *start_ = nullptr, *stop_ = nullptr;
};

/// One GPU and its primary context. Instances live for the whole process; every
/// call makes the primary context current on the calling thread first.
class Device {
public:
  /// The same instance for each ordinal. Fails with "CUDA driver not found
  /// (libcuda.so.1): ..." or "no CUDA device ..." where there is none.
  static StatusOr<Device *> open(int ordinal = 0);
  static StatusOr<int> count();
  /// The device whose context is current on this thread, else device 0.
  static StatusOr<Device *> current();

  int ordinal() const { return ordinal_; }
  const std::string &name() const { return name_; }
  int ccMajor() const { return ccMajor_; }
  int ccMinor() const { return ccMinor_; }
  int smCount() const { return smCount_; }
  /// Opt-in limit of dynamic shared memory per block.
  int maxSharedPerBlock() const { return maxSharedOptin_; }
  /// The NVRTC arch that fits this device exactly: sm_90a for 9.0, sm_80
  /// for 8.0.
  std::string arch() const;

  /// Makes the primary context current on the calling thread.
  Status makeCurrent();
  StatusOr<DevicePtr> alloc(size_t bytes);
  Status free(DevicePtr ptr);
  /// Stream-ordered allocation from the device's default memory pool: usable by work queued
  /// on `stream` after this call, and cheap once the pool has grown.
  StatusOr<DevicePtr> allocAsync(size_t bytes, void *stream);
  Status freeAsync(DevicePtr ptr, void *stream);
  StatusOr<DeviceBuffer> allocBuffer(size_t bytes);
  Status copyToDevice(DevicePtr dst, const void *src, size_t bytes);
  Status copyToHost(void *dst, DevicePtr src, size_t bytes);
  Status memset(DevicePtr dst, unsigned char value, size_t bytes);
  Status memsetAsync(DevicePtr dst, unsigned char value, size_t bytes, void *stream);

  StatusOr<Module> loadModule(std::string_view cubin);
  /// Launches on `stream` (a CUstream; null = the legacy default stream).
  /// Raises the function's dynamic shared memory limit first when sharedBytes
  /// exceeds 48 KiB. LaunchOrder::EarlyStart lets the grid start before the
  /// stream's previous kernel has finished (programmatic dependent launch, on
  /// sm_90 and later; elsewhere it is a plain launch): only for kernels that
  /// wait for their predecessor (griddepcontrol.wait) before touching memory.
  Status launch(const Function &fn, Dim3 grid, Dim3 block, unsigned sharedBytes, void *stream,
                void **args, LaunchOrder order = LaunchOrder::Serial);
  Status synchronize();
  Status synchronize(void *stream);
  StatusOr<Stream> createStream();
  StatusOr<Timer> createTimer();

private:
  Device() = default;
  int ordinal_ = 0;
  void *context_ = nullptr;
  std::string name_;
  int ccMajor_ = 0, ccMinor_ = 0, smCount_ = 0, maxSharedOptin_ = 0;
};

/// Stream-ordered scratch memory for one sequence of launches on `stream` (workspaces, block
/// maps, temporaries): `release(st)` frees every allocation on the stream and returns `st`, or
/// the first free's error when `st` is a success. The destructor releases what is left.
class StreamScratch {
public:
  StreamScratch(Device &device, void *stream) : device_(device), stream_(stream) {}
  StreamScratch(const StreamScratch &) = delete;
  StreamScratch &operator=(const StreamScratch &) = delete;
  ~StreamScratch() { (void)release(Status::success()); }

  StatusOr<DevicePtr> allocate(size_t bytes);
  Status release(Status st);

private:
  Device &device_;
  void *stream_;
  std::vector<DevicePtr> ptrs_;
};

//===----------------------------------------------------------------------===//
// JIT: compile (cached) + load (cached)
//===----------------------------------------------------------------------===//

/// A compiled and loaded kernel.
class Kernel {
public:
  Kernel(std::shared_ptr<Module> module, Function fn, std::shared_ptr<const CompileResult> compiled)
      : module_(std::move(module)), fn_(fn), compiled_(std::move(compiled)) {}
  const Function &function() const { return fn_; }
  Device &device() const { return *fn_.device(); }
  const CompileResult &compiled() const { return *compiled_; }
  Status launch(Dim3 grid, Dim3 block, unsigned sharedBytes, void *stream, void **args,
                LaunchOrder order = LaunchOrder::Serial) const {
    return device().launch(fn_, grid, block, sharedBytes, stream, args, order);
  }

private:
  std::shared_ptr<Module> module_;
  Function fn_;
  std::shared_ptr<const CompileResult> compiled_;
};

struct JitTarget {
  Device *device = nullptr;     ///< Null: Device::current().
  std::string arch;             ///< Empty: device->arch().
  KernelCache *cache = nullptr; ///< Null: KernelCache::global().
};

/// Compiles `source` through the cache, loads it on the target device and
/// returns the kernel `kernelName` (an extern "C" name).
/// Loaded modules are shared per (cubin hash, device), so a second call with
/// the same source costs two hash lookups.
StatusOr<std::shared_ptr<Kernel>> jitKernel(const std::string &source,
                                            const std::string &kernelName,
                                            const std::vector<std::string> &options = {},
                                            const JitTarget &target = {});

/// Loads the kernel `kernelName` from a CUBIN (an AOT bundle's) on `device` (null: current),
/// sharing jitKernel's per-(cubin, device) module table.
StatusOr<std::shared_ptr<Kernel>> loadKernel(std::string cubin, const std::string &kernelName,
                                             Device *device = nullptr);

} // namespace attnc

#endif // ATTNC_RUNTIME_H
