//===- combine.cuh - The combine kernel of a composite ----------------------===//
//
// A composite (attn.composite) runs each branch into its own output, then this kernel: every
// element of O is the pattern's combine of the same element of each branch's output,
//   O[b, q, h, e] = Hooks::combine(p, b, h, q, {x_1, ..., x_n}),  x_i = part_i[b, q, h, e].
// One block per kCombineRows query rows of one (head, sequence); each thread moves 16 bytes
// (8 columns) of each branch output and of O at a time. The parts are contiguous
// [rows, Hq, Dv] (CombineParams); O takes its own strides, as the forward kernels' O does.
// When the compiler runs the combine in a softmax branch's epilogue instead (the composite's
// epilogue_branch), the forward templates call combineWithParts on the values they store; the
// composite then runs this kernel only for calls that branch runs with its decode kernel.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_COMBINE_CUH
#define ATTNC_DEVICE_COMBINE_CUH

#include "attnc/mma_sm80.cuh"
#include "attnc/params.cuh"
#include "attnc/tiles.cuh"
#include "attnc/types.cuh"

namespace attnc {

/// 16 bytes of global memory through the read-only path.
ATTNC_DEVICE void ldGlobal16(u32 (&r)[4], const void *ptr) {
  asm volatile("ld.global.nc.v4.b32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "l"(ptr));
}

/// kN (2 or 8) adjacent 16-bit elements at `ptr` as floats, in one 4- or 16-byte load.
template <class Elem, int kN> ATTNC_DEVICE void loadElemFloats(float (&x)[kN], const Elem *ptr) {
  static_assert(kN == 2 || kN == 8, "one 4- or 16-byte load");
  u32 v[4];
  if constexpr (kN == 8)
    ldGlobal16(v, ptr);
  else
    asm volatile("ld.global.nc.b32 %0, [%1];" : "=r"(v[0]) : "l"(ptr));
#pragma unroll
  for (int e = 0; e < kN / 2; ++e)
    unpackFloat2<Elem>(v[e], x[2 * e], x[2 * e + 1]);
}

/// Element offset of (row, h, col) in a branch output, contiguous [rows, Hq, Dv], where row is
/// query q's row among all of O's (b x seqlen_q dense; the packed row varlen).
ATTNC_DEVICE i64 combinePartOffset(const FwdParams &p, const SequenceView &seq, int b, int h, int q,
                                   int col, int headDimV) {
  const i64 row0 = p.cu_seqlens_q ? i64(seq.qRow0) : i64(b) * p.seqlen_q;
  return ((row0 + q) * p.heads + h) * headDimV + col;
}

/// Whether this launch of a branch kernel applies its composite's combine in the epilogue: the
/// emitter gave it Hooks::combine (kCombineBranches > 0) and CompositeKernel the other
/// branches' outputs (FwdParams::combine_parts).
template <class Hooks> ATTNC_DEVICE bool combineInEpilogue(const FwdParams &p) {
  if constexpr (Hooks::kCombineBranches > 0)
    return p.combine_parts[Hooks::kCombineSelf == 0 ? 1 : 0] != nullptr;
  else
    return false;
}

/// The composite's combine of kN adjacent output columns in a branch kernel's epilogue: `y`
/// holds this branch's values (branch Hooks::kCombineSelf) and receives the combined ones; the
/// other branches' come from FwdParams::combine_parts at element `offset` (combinePartOffset).
template <class Hooks, class Elem, int kN>
ATTNC_DEVICE void combineWithParts(const FwdParams &p, int b, int h, int q, i64 offset,
                                   float (&y)[kN]) {
  constexpr int kBranches = Hooks::kCombineBranches;
  static_assert(kBranches >= 2 && kBranches <= kMaxBranches, "branch count");
  float x[kBranches][kN];
#pragma unroll
  for (int i = 0; i < kBranches; ++i) {
    if (i == Hooks::kCombineSelf) {
#pragma unroll
      for (int e = 0; e < kN; ++e)
        x[i][e] = y[e];
    } else {
      loadElemFloats<Elem, kN>(x[i], static_cast<const Elem *>(p.combine_parts[i]) + offset);
    }
  }
#pragma unroll
  for (int e = 0; e < kN; ++e) {
    float args[kBranches];
#pragma unroll
    for (int i = 0; i < kBranches; ++i)
      args[i] = x[i][e];
    y[e] = Hooks::combine(p, b, h, q, args);
  }
}

template <class Hooks, class Elem, int kHeadDimV, int kBranches>
ATTNC_DEVICE void combineOutputs(const FwdParams &p, const CombineParams &c) {
  static_assert(kHeadDimV % 8 == 0, "Dv is a multiple of 8");
  static_assert(kBranches >= 1 && kBranches <= kMaxBranches, "branch count");
  constexpr int kChunks = kHeadDimV / 8; // 16-byte chunks per row
  const int h = blockIdx.y, b = blockIdx.z;
  const SequenceView seq = sequenceView(p, b, h);
  Elem *o = static_cast<Elem *>(p.o) + seq.oOff + h * p.o_head_stride;
  for (int idx = threadIdx.x; idx < kCombineRows * kChunks; idx += kCombineThreads) {
    const int q = blockIdx.x * kCombineRows + idx / kChunks, chunk = idx % kChunks;
    if (q >= seq.seqlenQ)
      continue;
    const i64 offset = combinePartOffset(p, seq, b, h, q, chunk * 8, kHeadDimV);
    float x[kBranches][8];
#pragma unroll
    for (int i = 0; i < kBranches; ++i)
      loadElemFloats<Elem, 8>(x[i], static_cast<const Elem *>(c.parts[i]) + offset);
    u32 out[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float y[2];
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        float args[kBranches];
#pragma unroll
        for (int i = 0; i < kBranches; ++i)
          args[i] = x[i][2 * e + j];
        y[j] = Hooks::combine(p, b, h, q, args);
      }
      out[e] = packFloat2<Elem>(y[0], y[1]);
    }
    stGlobal16(o + q * p.o_row_stride + chunk * 8, out);
  }
}

} // namespace attnc

#endif // ATTNC_DEVICE_COMBINE_CUH
