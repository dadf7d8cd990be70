//===- combine.cuh - The combine kernel of a composite ----------------------===//
//
// A composite (attn.composite) runs each branch into its own output, then this kernel: every
// element of O is the pattern's combine of the same element of each branch's output,
//   O[b, q, h, e] = Hooks::combine(p, b, h, q, {x_1, ..., x_n}),  x_i = part_i[b, q, h, e].
// One block per kCombineRows query rows of one (head, sequence); each thread moves 16 bytes
// (8 columns) of each branch output and of O at a time. The parts are contiguous
// [rows, Hq, Dv] (CombineParams); O takes its own strides, as the forward kernels' O does.
// When the compiler runs the combine in a softmax branch's epilogue instead (the composite's
// epilogue_branch), the forward templates load the other branches' outputs and call
// applyCombine on the values they store; the composite then runs this kernel only for calls that
// branch runs with its decode kernel.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_COMBINE_CUH
#define ATTNC_DEVICE_COMBINE_CUH

#include "attnc/mma_sm80.cuh"
#include "attnc/params.cuh"
#include "attnc/tiles.cuh"
#include "attnc/types.cuh"

namespace attnc {

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

// A branch kernel's epilogue combines in two steps, so that every load of the other branches'
// outputs is in flight before the first combine waits on one: all the loads of the columns a
// thread stores (loadOtherParts for 16-byte groups, the sm90 template's own 4-byte ones), then
// applyCombine on each row's (or group's) columns.

/// The packed words of 8 adjacent columns of every other branch's output at element `offset`
/// (combinePartOffset); this branch's slot (Hooks::kCombineSelf) is left unset.
template <class Hooks, class Elem>
ATTNC_DEVICE void loadOtherParts(const FwdParams &p, i64 offset,
                                 u32 (&w)[Hooks::kCombineBranches][4]) {
#pragma unroll
  for (int i = 0; i < Hooks::kCombineBranches; ++i)
    if (i != Hooks::kCombineSelf)
      ldGlobal16(w[i], static_cast<const Elem *>(p.combine_parts[i]) + offset);
}

/// The composite's combine of kN columns of query row q (one call of Hooks::combine, which
/// evaluates what does not read the outputs once): `y` holds this branch's values and receives
/// the combined ones; `w` the other branches' as packed pairs, word e holding the columns of
/// y[2e] and y[2e + 1] (loadOtherParts).
template <class Hooks, class Elem, int kN>
ATTNC_DEVICE void applyCombine(const FwdParams &p, int b, int h, int q,
                               const u32 (&w)[Hooks::kCombineBranches][kN / 2], float (&y)[kN]) {
  constexpr int kBranches = Hooks::kCombineBranches;
  static_assert(kBranches >= 2 && kBranches <= kMaxBranches, "branch count");
  float x[kBranches][kN];
#pragma unroll
  for (int i = 0; i < kBranches; ++i)
#pragma unroll
    for (int e = 0; e < kN; e += 2) {
      if (i == Hooks::kCombineSelf) {
        x[i][e] = y[e];
        x[i][e + 1] = y[e + 1];
      } else {
        unpackFloat2<Elem>(w[i][e / 2], x[i][e], x[i][e + 1]);
      }
    }
  Hooks::template combine<kN>(p, b, h, q, x, y);
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
    float x[kBranches][8], y[8];
#pragma unroll
    for (int i = 0; i < kBranches; ++i) {
      u32 w[4];
      ldGlobal16(w, static_cast<const Elem *>(c.parts[i]) + offset);
#pragma unroll
      for (int e = 0; e < 4; ++e)
        unpackFloat2<Elem>(w[e], x[i][2 * e], x[i][2 * e + 1]);
    }
    Hooks::template combine<8>(p, b, h, q, x, y);
    u32 out[4];
#pragma unroll
    for (int e = 0; e < 4; ++e)
      out[e] = packFloat2<Elem>(y[2 * e], y[2 * e + 1]);
    stGlobal16(o + q * p.o_row_stride + chunk * 8, out);
  }
}

} // namespace attnc

#endif // ATTNC_DEVICE_COMBINE_CUH
