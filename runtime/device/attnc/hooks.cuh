//===- hooks.cuh - Functions that generated hook bodies call ---------------===//
//
// codegen/ prints mask, score-modifier and tile-classification regions as C++ expressions;
// each arith/math op that is not a plain operator maps onto one function here (RegionPrinter.cpp
// keeps the table). Integer helpers are branch-free; transcendentals use the MUFU approximations
// of math.cuh, whose error is far below the bf16/fp16 resolution of the inputs.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_HOOKS_CUH
#define ATTNC_DEVICE_HOOKS_CUH

#include "attnc/math.cuh"
#include "attnc/params.cuh"
#include "attnc/types.cuh"

namespace attnc {

ATTNC_DEVICE float quietNaN() { return __int_as_float(0x7fffffff); }

ATTNC_DEVICE int imin(int a, int b) { return a < b ? a : b; }
ATTNC_DEVICE int imax(int a, int b) { return a > b ? a : b; }
ATTNC_DEVICE int iabs(int a) { return a < 0 ? -a : a; }
/// floor(a / b) for b != 0 (C's `/` truncates toward zero).
ATTNC_DEVICE int floorDiv(int a, int b) {
  int q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

ATTNC_DEVICE float fastTanh(float x) { return tanhApprox(x); }
ATTNC_DEVICE float fastExp2(float x) { return exp2Approx(x); }
/// e^x = 2^(x log2 e)
ATTNC_DEVICE float fastExp(float x) { return exp2Approx(x * kLog2e); }
/// ln x = log2(x) ln 2
ATTNC_DEVICE float fastLog(float x) { return log2Approx(x) * kLn2; }
ATTNC_DEVICE float fastLog2(float x) { return log2Approx(x); }

/// i clamped into [0, n): reads of extra inputs never leave the tensor.
ATTNC_DEVICE int clampIndex(int i, int n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }
/// Element `index` of an extra input tensor (read-only path).
template <class T> ATTNC_DEVICE T loadInput(const void *base, long long index) {
  return __ldg(static_cast<const T *>(base) + index);
}

} // namespace attnc

#endif // ATTNC_DEVICE_HOOKS_CUH
