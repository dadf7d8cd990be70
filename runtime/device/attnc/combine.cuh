//===- combine.cuh - The combine kernel of a composite ----------------------===//
//
// A composite (attn.composite) runs each branch into its own output, then this kernel: every
// element of O is the pattern's combine of the same element of each branch's output,
//   O[b, q, h, e] = Hooks::combine(p, b, h, q, {x_1, ..., x_n}),  x_i = part_i[b, q, h, e].
// One block per kCombineRows query rows of one (head, sequence); each thread moves 16 bytes
// (8 columns) of each branch output and of O at a time. The parts are contiguous
// [rows, Hq, Dv] (CombineParams); O takes its own strides, as the forward kernels' O does.
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

template <class Hooks, class Elem, int kHeadDimV, int kBranches>
ATTNC_DEVICE void combineOutputs(const FwdParams &p, const CombineParams &c) {
  static_assert(kHeadDimV % 8 == 0, "Dv is a multiple of 8");
  static_assert(kBranches >= 1 && kBranches <= kMaxBranches, "branch count");
  constexpr int kChunks = kHeadDimV / 8; // 16-byte chunks per row
  const int h = blockIdx.y, b = blockIdx.z;
  const SequenceView seq = sequenceView(p, b, h);
  const i64 row0 = p.cu_seqlens_q ? i64(seq.qRow0) : i64(b) * p.seqlen_q;
  Elem *o = static_cast<Elem *>(p.o) + seq.oOff + h * p.o_head_stride;
  for (int idx = threadIdx.x; idx < kCombineRows * kChunks; idx += kCombineThreads) {
    const int q = blockIdx.x * kCombineRows + idx / kChunks, chunk = idx % kChunks;
    if (q >= seq.seqlenQ)
      continue;
    const i64 offset = ((row0 + q) * p.heads + h) * kHeadDimV + chunk * 8;
    float x[kBranches][8];
#pragma unroll
    for (int i = 0; i < kBranches; ++i) {
      u32 v[4];
      ldGlobal16(v, static_cast<const Elem *>(c.parts[i]) + offset);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        Elem lo, hi;
        lo.bits = u16(v[e] & 0xffffu);
        hi.bits = u16(v[e] >> 16);
        x[i][2 * e] = toFloat(lo);
        x[i][2 * e + 1] = toFloat(hi);
      }
    }
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
