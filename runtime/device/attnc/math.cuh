//===- math.cuh - Hardware (MUFU) transcendentals through inline PTX ------===//
//
// The special-function unit, spelled explicitly so that speed does not depend on
// `--use_fast_math` (KERNELS.md §3): without the flag NVRTC lowers `exp2f` to `ex2.approx` plus
// range fix-ups and `tanhf` to a long software sequence. Each helper is one MUFU instruction.
// Errors measured on H100 (KERNELS.md §10): ex2 ≤ 2.1 ulp, tanh ≤ 1e-5 relative, lg2 ≤ 4e-6
// absolute — far below bf16/fp16 resolution. `.ftz` flushes subnormal results to zero.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_MATH_CUH
#define ATTNC_DEVICE_MATH_CUH

#include "attnc/types.cuh"

namespace attnc {

constexpr float kLog2e = 1.4426950408889634f; // log2(e)
constexpr float kLn2 = 0.6931471805599453f;   // ln(2)

/// 2^x; 2^-inf = +0.
ATTNC_DEVICE float exp2Approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/// log2(x); log2(0) = -inf.
ATTNC_DEVICE float log2Approx(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/// tanh(x); tanh(±inf) = ±1.
ATTNC_DEVICE float tanhApprox(float x) {
  float y;
  asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/// 1/x, about 1 ulp.
ATTNC_DEVICE float rcpApprox(float x) {
  float y;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/// Soft-capping: cap * tanh(x / cap), written as cap * tanh(x * invCap) so that a caller with a
/// constant cap pays one FMUL, one MUFU.TANH and one FMUL.
ATTNC_DEVICE float softcap(float x, float cap, float invCap) {
  return cap * tanhApprox(x * invCap);
}

} // namespace attnc

#endif // ATTNC_DEVICE_MATH_CUH
