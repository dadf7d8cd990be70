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

/// 2^x for x <= 0 on the FMA pipe, leaving the MUFU unit (16 ops per SM per clock, against 128
/// FMA lanes) to the rest of the softmax and to score modifiers such as softcap's tanh
/// (KERNELS.md §4.6). x is split into the nearest integer j (rounded by adding 1.5 * 2^23, which
/// leaves j in the low mantissa bits) and f in [-0.5, 0.5]; 2^f is a degree-3 polynomial
/// (least-squares fit of the relative error on [-0.5, 0.5], max 1.4e-4 = 2^-12.8, below bf16 and
/// fp16 resolution) and j is added to its exponent. Below -126 (and for -inf) the result is 0,
/// as the MUFU's is: a fully masked row must sum to exactly 0.
ATTNC_DEVICE float exp2Fma(float x) {
  const float shifted = fmaxf(x, -127.f) + 12582912.f;
  const float f = fmaxf(x, -127.f) - (shifted - 12582912.f);
  const float p =
      fmaf(fmaf(fmaf(5.502884297e-2f, f, 2.422587801e-1f), f, 6.932532440e-1f), f, 9.999512537e-1f);
  const float r = __int_as_float(__float_as_int(p) + (__float_as_int(shifted) << 23));
  return x < -126.f ? 0.f : r;
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
