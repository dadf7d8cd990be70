//===- KernelCache.cpp - Compile results in memory and on disk ------------===//
//
// A cache entry is keyed by a 128-bit hash of everything that can change
// NVRTC's output: source, options, arch, extra headers, the embedded device
// library, the NVRTC version and the cache format version. Lookups go memory,
// then disk, then NVRTC. A disk file is
//
//   offset  size  field
//        0     8  magic "ATTNCKC\0"
//        8     4  format version (kFormatVersion)
//       12     4  header size (48)
//       16    16  key (lo, hi)
//       32     8  payload size
//       40     8  payload checksum (hash of the payload bytes)
//       48     n  payload: cubin, ptx, log, lowered names (length-prefixed)
//
// all integers little-endian. A file whose magic, version, key, size or
// checksum disagrees is counted as rejected and rebuilt, never loaded. Files
// are written to a temporary name and renamed into place, so readers in other
// processes see either the old file or the new one. Concurrent requests for one
// key wait for the first to finish instead of compiling twice.
//
//===----------------------------------------------------------------------===//

#include "attnc/Runtime.h"

#include "Files.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <unistd.h>

using namespace attnc;

namespace {
constexpr uint32_t kFormatVersion = 1;
constexpr char kMagic[8] = {'A', 'T', 'T', 'N', 'C', 'K', 'C', '\0'};
constexpr size_t kHeaderSize = 48;
constexpr uint64_t kKeySeed = 0x6b6579;      // "key"
constexpr uint64_t kChecksumSeed = 0x63686b; // "chk"

/// Appends little-endian integers and length-prefixed strings.
struct Writer {
  std::string out;
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      out.push_back(static_cast<char>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i)
      out.push_back(static_cast<char>(v >> (8 * i)));
  }
  void str(const std::string &s) {
    u64(s.size());
    out += s;
  }
};

/// Reads what Writer wrote; every read is bounds-checked, so a damaged file
/// only fails.
struct Reader {
  std::string_view in;
  size_t pos = 0;
  bool failed = false;
  uint64_t uint(int bytes) {
    if (in.size() - pos < static_cast<size_t>(bytes)) {
      failed = true;
      return 0;
    }
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i)
      v = (v << 8) | static_cast<unsigned char>(in[pos + i]);
    pos += bytes;
    return v;
  }
  std::string str() {
    uint64_t size = uint(8);
    if (failed || in.size() - pos < size) {
      failed = true;
      return "";
    }
    std::string s(in.substr(pos, size));
    pos += size;
    return s;
  }
};
} // namespace

struct KernelCache::Impl {
  CacheConfig config;
  std::mutex mutex;
  std::condition_variable done;
  std::map<Hash128, std::shared_ptr<const CompileResult>> entries;
  std::set<Hash128> inFlight;
  CacheStats stats;
};

CacheConfig CacheConfig::fromEnvironment() {
  auto env = [](const char *name) -> std::string {
    const char *v = std::getenv(name);
    return v ? v : "";
  };
  CacheConfig config;
  if (env("ATTNC_CACHE") == "0")
    return config;
  if (std::string dir = env("ATTNC_CACHE_DIR"); !dir.empty())
    config.directory = dir;
  else if (std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty())
    config.directory = xdg + "/attnc";
  else if (std::string home = env("HOME"); !home.empty())
    config.directory = home + "/.cache/attnc";
  return config;
}

KernelCache::KernelCache(CacheConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
}

KernelCache::~KernelCache() = default;

KernelCache &KernelCache::global() {
  // Never destroyed: threads may still compile while static destructors run.
  static KernelCache *cache = new KernelCache(CacheConfig::fromEnvironment());
  return *cache;
}

StatusOr<Hash128> KernelCache::keyOf(const CompileRequest &request) {
  ATTNC_ASSIGN_OR_RETURN(NvrtcVersion version, getNvrtcVersion());
  Hash128 lib = deviceLibraryHash();
  Hasher h(kKeySeed);
  h.u64(kFormatVersion).u64(version.major).u64(version.minor).u64(lib.lo).u64(lib.hi);
  h.str(request.arch).str(request.name).str(request.source);
  h.u64(request.options.size());
  for (const std::string &o : request.options)
    h.str(o);
  const std::vector<std::string> fromEnvironment = environmentNvrtcOptions();
  h.u64(fromEnvironment.size());
  for (const std::string &o : fromEnvironment)
    h.str(o);
  h.u64(request.extraHeaders.size());
  for (const auto &[name, text] : request.extraHeaders)
    h.str(name).str(text);
  h.u64(request.nameExpressions.size());
  for (const std::string &e : request.nameExpressions)
    h.str(e);
  h.u64(request.wantPtx);
  return h.digest();
}

std::string KernelCache::pathOf(const Hash128 &key) const {
  if (impl_->config.directory.empty())
    return "";
  return impl_->config.directory + "/" + key.hex() + ".attnc";
}

CacheStats KernelCache::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->stats;
}

void KernelCache::clearMemory() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->entries.clear();
}

static std::string serialize(const Hash128 &key, const CompileResult &r) {
  Writer payload;
  payload.str(r.cubin);
  payload.str(r.ptx);
  payload.str(r.log);
  payload.u64(r.loweredNames.size());
  for (const std::string &n : r.loweredNames)
    payload.str(n);
  Writer file;
  file.out.append(kMagic, sizeof(kMagic));
  file.u32(kFormatVersion);
  file.u32(kHeaderSize);
  file.u64(key.lo);
  file.u64(key.hi);
  file.u64(payload.out.size());
  file.u64(hash128(payload.out, kChecksumSeed).lo);
  return file.out + payload.out;
}

/// Parses a whole cache file; nullopt when anything disagrees with what `key`
/// expects.
static std::optional<CompileResult> deserialize(std::string_view data, const Hash128 &key) {
  if (data.size() < kHeaderSize ||
      data.compare(0, sizeof(kMagic), std::string_view(kMagic, 8)) != 0)
    return std::nullopt;
  Reader header{data.substr(0, kHeaderSize), sizeof(kMagic)};
  if (header.uint(4) != kFormatVersion || header.uint(4) != kHeaderSize ||
      header.uint(8) != key.lo || header.uint(8) != key.hi)
    return std::nullopt;
  uint64_t size = header.uint(8), checksum = header.uint(8);
  std::string_view payload = data.substr(kHeaderSize);
  if (header.failed || payload.size() != size || hash128(payload, kChecksumSeed).lo != checksum)
    return std::nullopt;
  Reader r{payload};
  CompileResult result;
  result.cubin = r.str();
  result.ptx = r.str();
  result.log = r.str();
  uint64_t names = r.uint(8);
  for (uint64_t i = 0; i < names && !r.failed; ++i)
    result.loweredNames.push_back(r.str());
  if (r.failed || r.pos != payload.size())
    return std::nullopt;
  return result;
}

StatusOr<std::shared_ptr<const CompileResult>> KernelCache::compile(const CompileRequest &request) {
  ATTNC_ASSIGN_OR_RETURN(Hash128 key, keyOf(request));
  Impl &impl = *impl_;
  {
    std::unique_lock<std::mutex> lock(impl.mutex);
    for (;;) {
      if (auto it = impl.entries.find(key); it != impl.entries.end()) {
        ++impl.stats.memoryHits;
        return it->second;
      }
      if (!impl.inFlight.count(key))
        break;
      // Another thread is producing this key; it either fills `entries` or
      // fails, and in the second case this thread tries itself.
      impl.done.wait(lock);
    }
    impl.inFlight.insert(key);
  }

  // Disk and NVRTC work happen outside the lock, so different keys proceed in
  // parallel.
  std::string path = pathOf(key);
  std::shared_ptr<const CompileResult> result;
  bool fromDisk = false, rejected = false, wrote = false, writeFailed = false;
  if (!path.empty()) {
    if (std::optional<std::string> data = detail::readFile(path)) {
      if (std::optional<CompileResult> parsed = deserialize(*data, key)) {
        result = std::make_shared<const CompileResult>(std::move(*parsed));
        fromDisk = true;
      } else {
        rejected = true;
      }
    }
  }
  Status status;
  if (!result) {
    StatusOr<CompileResult> compiled = compileWithNvrtc(request);
    if (compiled.ok()) {
      result = std::make_shared<const CompileResult>(std::move(compiled).value());
      if (!path.empty())
        (detail::writeFileAtomically(path, serialize(key, *result)) ? wrote : writeFailed) = true;
    } else {
      status = compiled.status();
    }
  }

  std::lock_guard<std::mutex> lock(impl.mutex);
  impl.inFlight.erase(key);
  ++(fromDisk ? impl.stats.diskHits : impl.stats.misses);
  impl.stats.diskRejected += rejected;
  impl.stats.diskWrites += wrote;
  impl.stats.diskWriteFailures += writeFailed;
  if (result)
    impl.entries.emplace(key, result);
  impl.done.notify_all();
  if (!result)
    return status;
  return result;
}
