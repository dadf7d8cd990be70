//===- types.cuh - Fixed-width integers, 16-bit floats, limits -------------===//
//
// The scalar vocabulary of the device library. NVRTC finds no system or toolkit header
// (no <cstdint>, no <cuda_bf16.h>), so everything is spelled here: fixed-width integer aliases,
// the two 16-bit storage types `attnc::bf16` and `attnc::half` (bit containers; arithmetic
// happens in fp32) with conversions through `cvt` PTX, float limits, and the two grid-ordering
// instructions of an early-started launch. Only compiler builtins are used (`__int_as_float`,
// `__uint_as_float`), which both NVRTC and nvcc provide.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_TYPES_CUH
#define ATTNC_DEVICE_TYPES_CUH

/// Every device helper of the library is a force-inlined device function.
#define ATTNC_DEVICE __device__ __forceinline__

namespace attnc {

using i8 = signed char;
using u8 = unsigned char;
using i16 = short;
using u16 = unsigned short;
using i32 = int;
using u32 = unsigned int;
using i64 = long long;
using u64 = unsigned long long;

static_assert(sizeof(i16) == 2 && sizeof(i32) == 4 && sizeof(i64) == 8, "fixed-width ints");

/// bfloat16 storage: sign, 8 exponent bits, 7 mantissa bits (the top half of an fp32).
struct bf16 {
  u16 bits;
  static constexpr bool kIsBf16 = true;
};

/// IEEE binary16 storage.
struct half {
  u16 bits;
  static constexpr bool kIsBf16 = false;
};

static_assert(sizeof(bf16) == 2 && sizeof(half) == 2, "16-bit storage types");

/// Type is A when kCond, else B (std::conditional, without the standard library under NVRTC).
template <bool kCond, class A, class B> struct Select { using Type = A; };
template <class A, class B> struct Select<false, A, B> { using Type = B; };

/// The 32-bit shared-window address of a generic pointer into shared memory.
ATTNC_DEVICE u32 smemAddress(const void *ptr) {
  return static_cast<u32>(__cvta_generic_to_shared(ptr));
}

/// +inf and -inf as fp32 (bit patterns 0x7f800000 / 0xff800000).
ATTNC_DEVICE float infinity() { return __int_as_float(0x7f800000); }
ATTNC_DEVICE float negInfinity() { return __int_as_float(0xff800000); }

/// bf16 -> fp32 is exact: the bits become the upper half of the fp32.
ATTNC_DEVICE float toFloat(bf16 x) { return __uint_as_float(u32(x.bits) << 16); }

ATTNC_DEVICE float toFloat(half x) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x.bits));
  return f;
}

/// fp32 -> Elem, round to nearest even.
template <class Elem> ATTNC_DEVICE Elem fromFloat(float x) {
  Elem r;
  if constexpr (Elem::kIsBf16)
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r.bits) : "f"(x));
  else
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r.bits) : "f"(x));
  return r;
}

/// Packs two fp32 into one 32-bit register of two Elem, `lo` in bits 0-15 and `hi` in bits
/// 16-31 (the order of mma fragments: the lower column in the lower half). `cvt.rn.*x2.f32 d,
/// a, b` puts its first source `a` in the upper half.
template <class Elem> ATTNC_DEVICE u32 packFloat2(float lo, float hi) {
  u32 r;
  if constexpr (Elem::kIsBf16)
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  else
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

/// The two Elem of a packed register as floats (lower half first).
template <class Elem> ATTNC_DEVICE void unpackFloat2(u32 x, float &lo, float &hi) {
  Elem a, b;
  a.bits = u16(x & 0xffffu);
  b.bits = u16(x >> 16);
  lo = toFloat(a);
  hi = toFloat(b);
}

/// 4 or 16 bytes of global memory through the read-only path, for data no thread writes while
/// the kernel runs (a composite's other outputs, a block map). Not volatile, so the compiler
/// may hoist these loads.
ATTNC_DEVICE u32 ldGlobalNc4(const void *ptr) {
  u32 r;
  asm("ld.global.nc.b32 %0, [%1];" : "=r"(r) : "l"(ptr));
  return r;
}
ATTNC_DEVICE void ldGlobal16(u32 (&r)[4], const void *ptr) {
  asm("ld.global.nc.v4.b32 {%0, %1, %2, %3}, [%4];"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "l"(ptr));
}

/// Transposes a 4 x 4 block of words over the four threads of a quad (lanes 4g .. 4g + 3;
/// t = lane % 4): on entry w[c] is word c of thread t; on return w[i] is word t of thread i.
/// Two exchanges: the 2 x 2 blocks off the diagonal across lanes t ^ 2, then single words
/// across t ^ 1.
ATTNC_DEVICE void quadTranspose(u32 (&w)[4], int t) {
  const bool hi = t & 2, odd = t & 1;
  // Words c0, c0 + 1 (c0 = 2 * bit 1 of t) stay; the other two go to lane t ^ 2, whose words
  // c0, c0 + 1 arrive.
  const u32 own0 = hi ? w[2] : w[0], own1 = hi ? w[3] : w[1];
  const u32 got0 = __shfl_xor_sync(~0u, hi ? w[0] : w[2], 2);
  const u32 got1 = __shfl_xor_sync(~0u, hi ? w[1] : w[3], 2);
  // Now: own = thread t's, got = thread (t ^ 2)'s words c0, c0 + 1. Lane t ^ 1 (same c0) wants
  // word t ^ 1 of both; word t of threads t ^ 1 and t ^ 3 arrive.
  const u32 mine = odd ? own1 : own0, mine2 = odd ? got1 : got0; // word t of t, of t ^ 2
  const u32 from1 = __shfl_xor_sync(~0u, odd ? own0 : own1, 1);  // word t of t ^ 1
  const u32 from3 = __shfl_xor_sync(~0u, odd ? got0 : got1, 1);  // word t of t ^ 3
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int d = i ^ t; // thread i is t ^ d
    w[i] = d & 2 ? (d & 1 ? from3 : mine2) : (d & 1 ? from1 : mine);
  }
}

/// Programmatic dependent launch (sm_90 and later; no-ops before, and in a grid not launched
/// with LaunchOrder::EarlyStart, which lets it be resident before the kernel ahead of it in the
/// stream has finished). gridDependencyWait() holds the calling thread until that kernel has
/// completed and its writes are visible: an early-started kernel calls it before any global
/// access. gridDependencyRelease() lets the next grid in the stream start launching its blocks
/// now rather than at this grid's end.
ATTNC_DEVICE void gridDependencyWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
ATTNC_DEVICE void gridDependencyRelease() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

} // namespace attnc

#endif // ATTNC_DEVICE_TYPES_CUH
