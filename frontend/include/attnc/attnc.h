//===- attnc.h - The public C++ interface of attnc -------------------*- C++ -*-===//
//
// One header for programs that embed attnc:
//
//   #include "attnc/attnc.h"
//   auto images = attnc::compile(R"(attention causal { mask k <= q })");   // or a dsl::Spec
//   if (!images.ok()) { puts(images.status().message().c_str()); ... }    // file:line:col
//   attnc::ForwardArgs args;
//   args.q = attnc::TensorRef::contiguous(q, attnc::DType::BF16, {B, S, H, 128}); ...
//   attnc::Status st = (*images)[0]->forward(args, stream);               // JIT on first use
//
// compile() runs the frontend and passes on the CPU and returns one KernelImage per pattern;
// each is JIT-compiled (NVRTC, through the kernel cache) and loaded on first use. A repeated
// compile of the same text and options is answered from an in-process cache. Everything
// else (tensors, launching, bundles, the runtime) comes with Attention.h, Bundle.h and
// Runtime.h, included here. Nothing throws; errors are Status values.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_ATTNC_H
#define ATTNC_ATTNC_H

#include "attnc/Attention.h"
#include "attnc/Bundle.h"
#include "attnc/Composite.h"
#include "attnc/Runtime.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnc {
namespace dsl {
class Spec;
} // namespace dsl

struct CompileOptions {
  ElementType dtype = ElementType::BF16;
  /// Head dims for patterns that do not fix them (`head_dim D, Dv`); 0 for headDimV: = headDim.
  int headDim = 128, headDimV = 0;
  /// Target of the kernels; empty: the current device's arch, or sm_90a without a device.
  std::string arch;
  /// Values of the spec's compile-time params, by name ("window", "1024").
  std::vector<std::pair<std::string, std::string>> params;
  /// The name diagnostics use for the text.
  std::string fileName = "<spec>";
};

using KernelImages = std::vector<std::shared_ptr<KernelImage>>;

/// Compiles every pattern of a .attn spec. A bad spec gives an error whose message holds the
/// diagnostics (`file:line:col: error: ...` with the source line and caret).
StatusOr<KernelImages> compile(std::string_view specText, const CompileOptions &options = {});
/// Compiles a spec built in C++ (attn/Frontend/Builder.h).
StatusOr<KernelImages> compile(const dsl::Spec &spec, const CompileOptions &options = {});

} // namespace attnc

#endif // ATTNC_ATTNC_H
