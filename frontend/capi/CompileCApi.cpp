//===- CompileCApi.cpp - attnc_compile, the C API's compiler entry ------------===//
//
// The one C entry point that needs the compiler; the rest of the C API is the runtime's
// (runtime/lib/CApi.cpp). Together they make libattnc.so.
//
//===----------------------------------------------------------------------===//
#include "attnc/CApiSupport.h"
#include "attnc/attnc.h"

#include <cstring>
#include <exception>

extern "C" int attnc_compile(const char *specText, const attnc_compile_options *options,
                             attnc_program **out) {
  using namespace attnc;
  try {
    if (!specText || !out)
      return capi::setError("attnc_compile: null argument");
    *out = nullptr;
    CompileOptions o;
    if (options) {
      if (options->struct_size < int32_t(sizeof(attnc_compile_options)))
        return capi::setError("attnc_compile_options.struct_size is " +
                              std::to_string(options->struct_size) + ", expected " +
                              std::to_string(sizeof(attnc_compile_options)));
      if (options->dtype && std::strcmp(options->dtype, "bf16") != 0) {
        if (std::strcmp(options->dtype, "f16") != 0)
          return capi::setError(std::string("attnc_compile: dtype '") + options->dtype +
                                "' (expected bf16 or f16)");
        o.dtype = ElementType::F16;
      }
      if (options->head_dim < 0 || options->head_dim_v < 0)
        return capi::setError("attnc_compile: negative head dim");
      if (options->head_dim)
        o.headDim = options->head_dim;
      o.headDimV = options->head_dim_v;
      if (options->arch)
        o.arch = options->arch;
      if (options->file_name)
        o.fileName = options->file_name;
      if (options->num_params < 0 || (options->num_params > 0 && !options->params))
        return capi::setError("attnc_compile: num_params without params");
      for (int32_t i = 0; i < options->num_params; ++i) {
        const char *item = options->params[i];
        const char *eq = item ? std::strchr(item, '=') : nullptr;
        if (!eq || eq == item)
          return capi::setError(std::string("attnc_compile: param '") + (item ? item : "(null)") +
                                "' is not NAME=VALUE");
        o.params.emplace_back(std::string(item, eq), std::string(eq + 1));
      }
    }
    StatusOr<KernelImages> images = compile(specText, o);
    if (!images.ok())
      return capi::setError(images.status().message());
    *out = capi::makeProgram(*images);
    return 0;
  } catch (const std::exception &e) {
    return capi::setError(std::string("attnc_compile: ") + e.what());
  }
}
