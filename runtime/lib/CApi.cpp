//===- CApi.cpp - The C API over the runtime ----------------------------------===//
//
// Every entry point catches what could escape (allocation failures, JSON errors) and turns it
// into a nonzero return with attnc_last_error() set, so no C++ exception crosses the C
// boundary. attnc_compile lives in the frontend (it needs the compiler) and builds its program
// with attnc::capi::makeProgram.
//
//===----------------------------------------------------------------------===//
#include "attnc/CApiSupport.h"

#include "attnc/Bundle.h"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>

using namespace attnc;

struct attnc_kernel {
  std::shared_ptr<KernelImage> image;
  std::string json;
};

struct attnc_program {
  std::vector<std::unique_ptr<attnc_kernel>> kernels;
};

struct attnc_block_map {
  BlockMap map;
};

namespace {
thread_local std::string lastError;

int fail(const std::string &message) {
  lastError = message.empty() ? "unknown error" : message;
  return 1;
}

int fromStatus(const Status &status) { return status.ok() ? 0 : fail(status.message()); }

/// Runs `body`, mapping exceptions to errors.
template <class F> int guarded(const char *function, F &&body) {
  try {
    return body();
  } catch (const std::exception &e) {
    return fail(std::string(function) + ": " + e.what());
  } catch (...) {
    return fail(std::string(function) + ": unknown exception");
  }
}

StatusOr<TensorRef> toTensor(const attnc_tensor &t, const char *name) {
  TensorRef r;
  if (t.rank == 0)
    return r;
  if (t.rank < 0 || t.rank > 4)
    return Status::error(std::string(name) + ": rank " + std::to_string(t.rank) +
                         " (expected 1 to 4)");
  if (t.dtype < ATTNC_BF16 || t.dtype > ATTNC_I32)
    return Status::error(std::string(name) + ": unknown dtype " + std::to_string(t.dtype));
  r.data = t.data;
  r.dtype = static_cast<DType>(t.dtype);
  r.rank = t.rank;
  for (int i = 0; i < t.rank; ++i) {
    if (t.shape[i] < 0)
      return Status::error(std::string(name) + ": negative extent");
    r.shape[i] = t.shape[i];
    r.strides[i] = t.strides[i];
  }
  return r;
}

StatusOr<ForwardArgs> toArgs(const attnc_forward_args *a) {
  if (!a)
    return Status::error("no forward arguments");
  // Version 1 ended before the states.
  constexpr size_t kVersion1Size = offsetof(attnc_forward_args, state_in);
  if (a->struct_size < int32_t(kVersion1Size))
    return Status::error("attnc_forward_args.struct_size is " + std::to_string(a->struct_size) +
                         ", expected " + std::to_string(sizeof(attnc_forward_args)) +
                         " (set it to sizeof(attnc_forward_args))");
  ForwardArgs f;
  ATTNC_ASSIGN_OR_RETURN(f.q, toTensor(a->q, "q"));
  ATTNC_ASSIGN_OR_RETURN(f.k, toTensor(a->k, "k"));
  ATTNC_ASSIGN_OR_RETURN(f.v, toTensor(a->v, "v"));
  ATTNC_ASSIGN_OR_RETURN(f.o, toTensor(a->o, "o"));
  ATTNC_ASSIGN_OR_RETURN(f.lse, toTensor(a->lse, "lse"));
  ATTNC_ASSIGN_OR_RETURN(f.cuSeqlensQ, toTensor(a->cu_seqlens_q, "cu_seqlens_q"));
  ATTNC_ASSIGN_OR_RETURN(f.cuSeqlensK, toTensor(a->cu_seqlens_k, "cu_seqlens_k"));
  f.maxSeqlenQ = a->max_seqlen_q;
  f.maxSeqlenK = a->max_seqlen_k;
  if (a->num_inputs < 0 || (a->num_inputs > 0 && !a->inputs))
    return Status::error("num_inputs without inputs");
  for (int32_t i = 0; i < a->num_inputs; ++i) {
    ATTNC_ASSIGN_OR_RETURN(TensorRef t, toTensor(a->inputs[i], "input"));
    f.inputs.push_back(t);
  }
  if (a->num_scalars < 0 || (a->num_scalars > 0 && !a->scalars))
    return Status::error("num_scalars without scalars");
  for (int32_t i = 0; i < a->num_scalars; ++i)
    f.scalars.push_back(std::isnan(a->scalars[i]) ? std::nullopt
                                                  : std::optional<double>(a->scalars[i]));
  if (a->scale != 0)
    f.scale = a->scale;
  if (a->struct_size >= int32_t(sizeof(attnc_forward_args))) {
    ATTNC_ASSIGN_OR_RETURN(f.stateIn, toTensor(a->state_in, "state_in"));
    ATTNC_ASSIGN_OR_RETURN(f.stateOut, toTensor(a->state_out, "state_out"));
    ATTNC_ASSIGN_OR_RETURN(f.keySumIn, toTensor(a->key_sum_in, "key_sum_in"));
    ATTNC_ASSIGN_OR_RETURN(f.keySumOut, toTensor(a->key_sum_out, "key_sum_out"));
  }
  return f;
}

StatusOr<std::shared_ptr<AttentionKernel>> loaded(attnc_kernel *kernel) {
  if (!kernel)
    return Status::error("null kernel");
  return kernel->image->load();
}

/// Loads `kernel`: a pattern's kernel, or a composite's branches and combine.
Status load(attnc_kernel *kernel) {
  if (kernel && kernel->image->isComposite())
    return kernel->image->loadComposite().status();
  return loaded(kernel).status();
}

/// Converts `args`, loads `kernel` and calls `body(kernel, args)`, mapping every failure to a
/// nonzero return.
template <class F>
int withLoaded(const char *function, attnc_kernel *kernel, const attnc_forward_args *args,
               F &&body) {
  return guarded(function, [&] {
    StatusOr<ForwardArgs> f = toArgs(args);
    if (!f.ok())
      return fromStatus(f.status());
    StatusOr<std::shared_ptr<AttentionKernel>> k = loaded(kernel);
    if (!k.ok())
      return fromStatus(k.status());
    return fromStatus(body(**k, *f));
  });
}
} // namespace

attnc_program *attnc::capi::makeProgram(const std::vector<std::shared_ptr<KernelImage>> &images) {
  auto program = std::make_unique<attnc_program>();
  for (const std::shared_ptr<KernelImage> &image : images)
    program->kernels.push_back(
        std::make_unique<attnc_kernel>(attnc_kernel{image, image->spec().toJson()}));
  return program.release();
}

int attnc::capi::setError(const std::string &message) { return fail(message); }

extern "C" {

int attnc_c_api_version(void) { return ATTNC_C_API_VERSION; }

const char *attnc_version(void) { return ATTNC_VERSION_STRING; }

const char *attnc_last_error(void) { return lastError.c_str(); }

int attnc_bundle_load(const char *directory, attnc_program **out) {
  return guarded("attnc_bundle_load", [&] {
    if (!directory || !out)
      return fail("attnc_bundle_load: null argument");
    *out = nullptr;
    StatusOr<std::vector<std::shared_ptr<KernelImage>>> images = loadBundle(directory);
    if (!images.ok())
      return fromStatus(images.status());
    *out = capi::makeProgram(*images);
    return 0;
  });
}

void attnc_program_free(attnc_program *program) { delete program; }

int32_t attnc_program_size(const attnc_program *program) {
  return program ? int32_t(program->kernels.size()) : 0;
}

attnc_kernel *attnc_program_kernel(const attnc_program *program, int32_t index) {
  if (!program || index < 0 || size_t(index) >= program->kernels.size()) {
    fail("attnc_program_kernel: index " + std::to_string(index) + " out of range");
    return nullptr;
  }
  return program->kernels[size_t(index)].get();
}

attnc_kernel *attnc_program_find(const attnc_program *program, const char *pattern) {
  if (!program || !pattern) {
    fail("attnc_program_find: null argument");
    return nullptr;
  }
  std::string names;
  for (const auto &kernel : program->kernels) {
    if (kernel->image->spec().pattern == pattern)
      return kernel.get();
    names += (names.empty() ? "" : ", ") + kernel->image->spec().pattern;
  }
  fail(std::string("no pattern '") + pattern + "' (the program has " +
       (names.empty() ? "none" : names) + ")");
  return nullptr;
}

const char *attnc_kernel_spec_json(const attnc_kernel *kernel) {
  return kernel ? kernel->json.c_str() : "";
}

const char *attnc_kernel_source(const attnc_kernel *kernel) {
  return kernel ? kernel->image->source().c_str() : "";
}

int attnc_kernel_load(attnc_kernel *kernel) {
  return guarded("attnc_kernel_load", [&] { return fromStatus(load(kernel)); });
}

int attnc_forward(attnc_kernel *kernel, const attnc_forward_args *args, void *stream) {
  return attnc_forward_with_map(kernel, args, nullptr, stream);
}

int attnc_kernel_needs_block_map(attnc_kernel *kernel) {
  return kernel && !kernel->image->spec().blockMapEntry.empty();
}

int attnc_block_map_build(attnc_kernel *kernel, const attnc_forward_args *args, void *stream,
                          attnc_block_map **out) {
  if (!out)
    return fail("attnc_block_map_build: null output");
  *out = nullptr;
  return withLoaded("attnc_block_map_build", kernel, args,
                    [&](const AttentionKernel &k, const ForwardArgs &f) {
                      StatusOr<BlockMap> map = k.buildBlockMap(f, stream);
                      if (!map.ok())
                        return map.status();
                      *out = new attnc_block_map{std::move(map).value()};
                      return Status::success();
                    });
}

int attnc_forward_with_map(attnc_kernel *kernel, const attnc_forward_args *args,
                           const attnc_block_map *map, void *stream) {
  if (kernel && kernel->image->isComposite())
    return guarded("attnc_forward", [&] {
      StatusOr<ForwardArgs> f = toArgs(args);
      if (!f.ok())
        return fromStatus(f.status());
      return fromStatus(kernel->image->forward(*f, stream, map ? &map->map : nullptr));
    });
  return withLoaded("attnc_forward", kernel, args,
                    [&](const AttentionKernel &k, const ForwardArgs &f) {
                      return k.forward(f, stream, map ? &map->map : nullptr);
                    });
}

void attnc_block_map_free(attnc_block_map *map) { delete map; }

static StatusOr<Device *> currentDevice() { return Device::current(); }

int attnc_device_alloc(size_t bytes, uint64_t *ptr) {
  return guarded("attnc_device_alloc", [&] {
    StatusOr<Device *> device = currentDevice();
    if (!device.ok())
      return fromStatus(device.status());
    StatusOr<DevicePtr> p = (*device)->alloc(bytes ? bytes : 1);
    if (!p.ok())
      return fromStatus(p.status());
    *ptr = *p;
    return 0;
  });
}

int attnc_device_free(uint64_t ptr) {
  StatusOr<Device *> device = currentDevice();
  return device.ok() ? fromStatus((*device)->free(ptr)) : fromStatus(device.status());
}

int attnc_copy_to_device(uint64_t dst, const void *src, size_t bytes) {
  StatusOr<Device *> device = currentDevice();
  return device.ok() ? fromStatus((*device)->copyToDevice(dst, src, bytes))
                     : fromStatus(device.status());
}

int attnc_copy_to_host(void *dst, uint64_t src, size_t bytes) {
  StatusOr<Device *> device = currentDevice();
  return device.ok() ? fromStatus((*device)->copyToHost(dst, src, bytes))
                     : fromStatus(device.status());
}

int attnc_synchronize(void) {
  StatusOr<Device *> device = currentDevice();
  return device.ok() ? fromStatus((*device)->synchronize()) : fromStatus(device.status());
}

int attnc_device_info(char *name, size_t nameSize, int *ccMajor, int *ccMinor) {
  StatusOr<Device *> device = currentDevice();
  if (!device.ok())
    return fromStatus(device.status());
  if (name && nameSize) {
    std::strncpy(name, (*device)->name().c_str(), nameSize - 1);
    name[nameSize - 1] = '\0';
  }
  if (ccMajor)
    *ccMajor = (*device)->ccMajor();
  if (ccMinor)
    *ccMinor = (*device)->ccMinor();
  return 0;
}

int attnc_cache_stats_get(attnc_cache_stats *stats) {
  if (!stats)
    return fail("attnc_cache_stats_get: null argument");
  CacheStats s = KernelCache::global().stats();
  stats->memory_hits = s.memoryHits;
  stats->disk_hits = s.diskHits;
  stats->misses = s.misses;
  stats->disk_rejected = s.diskRejected;
  stats->disk_writes = s.diskWrites;
  stats->disk_write_failures = s.diskWriteFailures;
  stats->program_hits = ProgramCache::global().hits();
  return 0;
}

void attnc_cache_clear_memory(void) {
  KernelCache::global().clearMemory();
  ProgramCache::global().clear();
}

} // extern "C"
