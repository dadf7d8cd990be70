// attnc-embed-example: a C++ program that embeds attnc (attnc/attnc.h).
//
// It compiles a sliding-window pattern twice, from text and from the C++ builder, prints what
// the runtime needs to launch it, and on a GPU runs it on random bf16 tensors and compares it
// with a float64 loop. Without a GPU it stops after compiling (exit 0).
#include "attn/Frontend/Builder.h"
#include "attnc/attnc.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

int main() {
  using namespace attnc;
  const char *text = "attention local {\n"
                     "  param window: int = 64\n"
                     "  mask k <= q && q - k < window\n"
                     "}\n";
  CompileOptions options;
  options.fileName = "local.attn";
  options.params = {{"window", "100"}};
  StatusOr<KernelImages> images = compile(text, options);
  if (!images.ok()) {
    std::fprintf(stderr, "%s\n", images.status().message().c_str());
    return 1;
  }
  // The same pattern from the builder: the same kernel.
  dsl::Spec spec;
  dsl::Pattern &local = spec.pattern("local");
  dsl::Expr window = local.param("window", 100);
  local.mask(dsl::k <= dsl::q && dsl::q - dsl::k < window);
  StatusOr<KernelImages> built = compile(spec);
  if (!built.ok()) {
    std::fprintf(stderr, "%s\n", built.status().message().c_str());
    return 1;
  }
  const KernelImage &image = *(*images)[0];
  std::printf("kernel %s (%zu bytes of CUDA); the builder's is %s\n", image.spec().entry.c_str(),
              image.source().size(),
              (*built)[0]->source() == image.source() ? "identical" : "different");

  StatusOr<Device *> device = Device::current();
  if (!device.ok()) {
    std::printf("no GPU (%s): launch skipped\n", device.status().message().c_str());
    return 0;
  }
  const int64_t B = 1, S = 200, H = 2, D = 128;
  const size_t n = size_t(B * S * H * D);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<uint16_t> host[3];
  std::vector<double> values[3];
  for (int t = 0; t < 3; ++t)
    for (size_t i = 0; i < n; ++i) {
      host[t].push_back(floatToBits(dist(rng), ElementType::BF16));
      values[t].push_back(bitsToFloat(host[t].back(), ElementType::BF16));
    }
  DeviceBuffer buffers[4];
  for (int t = 0; t < 4; ++t) {
    StatusOr<DeviceBuffer> b = (*device)->allocBuffer(n * 2);
    if (!b.ok() || (t < 3 && !(*device)->copyToDevice(b->ptr(), host[t].data(), n * 2).ok())) {
      std::fprintf(stderr, "device memory: %s\n", b.status().message().c_str());
      return 1;
    }
    buffers[t] = std::move(*b);
  }
  auto view = [&](int t) {
    return TensorRef::contiguous(reinterpret_cast<const void *>(buffers[t].ptr()), DType::BF16,
                                 {B, S, H, D});
  };
  ForwardArgs args;
  args.q = view(0);
  args.k = view(1);
  args.v = view(2);
  args.o = view(3);
  Status st = image.forward(args); // JIT-compiles on first use, default stream
  std::vector<uint16_t> out(n);
  if (st.ok())
    st = (*device)->synchronize();
  if (st.ok())
    st = (*device)->copyToHost(out.data(), buffers[3].ptr(), n * 2);
  if (!st.ok()) {
    std::fprintf(stderr, "forward: %s\n", st.message().c_str());
    return 1;
  }
  double err = 0, norm = 0;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < S; ++i) {
      std::vector<double> p(S, 0);
      double top = -INFINITY, sum = 0;
      for (int64_t j = std::max<int64_t>(0, i - 99); j <= i; ++j) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d)
          s += values[0][(i * H + h) * D + d] * values[1][(j * H + h) * D + d];
        p[j] = s / std::sqrt(double(D));
        top = std::max(top, p[j]);
      }
      for (int64_t j = std::max<int64_t>(0, i - 99); j <= i; ++j)
        sum += p[j] = std::exp(p[j] - top);
      for (int64_t d = 0; d < D; ++d) {
        double ref = 0;
        for (int64_t j = std::max<int64_t>(0, i - 99); j <= i; ++j)
          ref += p[j] / sum * values[2][(j * H + h) * D + d];
        double got = bitsToFloat(out[(i * H + h) * D + d], ElementType::BF16);
        err += (got - ref) * (got - ref);
        norm += ref * ref;
      }
    }
  std::printf("window 100, S %lld, bf16: |O - ref| / |ref| = %.3e\n", (long long)S,
              std::sqrt(err / norm));
  return std::sqrt(err / norm) < 1e-2 ? 0 : 1;
}
