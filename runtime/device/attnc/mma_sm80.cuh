//===- mma_sm80.cuh - mma.sync, ldmatrix, cp.async and the smem swizzle ----===//
//
// Warp-level tensor-core primitives of the FA2-style path (KERNELS.md §2.1), valid on sm_80 and
// later. Fragment layouts of `mma.sync.m16n8k16.row.col` for lane l, g = l / 4, t = l % 4:
//   A (16x16, 4 regs of 2 x 16-bit): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..),
//     a3 = (g+8, 2t+8..)
//   B (16x8 K x N, 2 regs):           b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g)
//   C (16x8 fp32, 4 regs):            c0,c1 = (g, 2t..2t+1), c2,c3 = (g+8, 2t..2t+1)
// Shared-memory tiles are row-major rows of 16-byte chunks; chunk c of row r sits at physical
// chunk c ^ (r % 8) (rows need at least 8 chunks, i.e. 64 16-bit elements). An 8-row `ldmatrix`
// phase and a 128-byte `cp.async` row then touch 8 distinct 4-bank groups: no bank conflicts.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_MMA_SM80_CUH
#define ATTNC_DEVICE_MMA_SM80_CUH

#include "attnc/types.cuh"

namespace attnc {

/// Byte offset of 16-byte chunk `chunk` of row `row` in a swizzled tile of kChunks chunks per row.
template <int kChunks> ATTNC_DEVICE u32 swizzledOffset(int row, int chunk) {
  static_assert(kChunks % 8 == 0, "the XOR swizzle needs rows of at least 8 chunks");
  return u32(row * kChunks + (chunk ^ (row & 7))) * 16u;
}

/// D += A * B, m16n8k16, Elem x Elem -> fp32.
template <class Elem>
ATTNC_DEVICE void mmaM16n8k16(float (&d)[4], const u32 (&a)[4], u32 b0, u32 b1) {
  if constexpr (Elem::kIsBf16)
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// Four 8x8 16-bit matrices; lanes 8i..8i+7 give the row addresses of matrix i, and r[i] is
/// this lane's fragment of matrix i: (row l/4, columns 2(l%4), 2(l%4)+1).
ATTNC_DEVICE void ldmatrixX4(u32 (&r)[4], u32 addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

/// As ldmatrixX4 but transposed: r[i] holds (rows 2(l%4), 2(l%4)+1, column l/4) of matrix i.
ATTNC_DEVICE void ldmatrixX4Trans(u32 (&r)[4], u32 addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

/// Asynchronous 16-byte global -> shared copy (L2 only). With `valid` false nothing is read and
/// the 16 destination bytes are zero-filled (src-size 0).
ATTNC_DEVICE void cpAsync16(u32 smemAddr, const void *gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smemAddr), "l"(gmem),
               "r"(valid ? 16 : 0)
               : "memory");
}

/// Closes the current group of cp.async copies.
ATTNC_DEVICE void cpAsyncCommit() { asm volatile("cp.async.commit_group;" ::: "memory"); }

/// Waits until at most kPending committed groups of this thread are still in flight.
template <int kPending> ATTNC_DEVICE void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
}

/// Issues cp.async copies of rows [0, kRows) of a row-major global tile (rows `rowStride`
/// elements apart, kChunks 16-byte chunks each) into a swizzled shared tile. Rows at or past
/// `rowsValid` are zero-filled and not read, so no garbage (NaN) from past a sequence's end can
/// reach the MMAs.
template <int kRows, int kChunks, int kThreads, class Elem>
ATTNC_DEVICE void loadTileAsync(u32 smemTile, const Elem *gmem, i64 rowStride, int rowsValid,
                                int tid) {
  static_assert((kRows * kChunks) % kThreads == 0, "tile must split evenly over the threads");
#pragma unroll
  for (int i = 0; i < kRows * kChunks / kThreads; ++i) {
    const int idx = tid + i * kThreads;
    const int row = idx / kChunks, chunk = idx % kChunks;
    const bool valid = row < rowsValid;
    const Elem *src = gmem + (valid ? row * rowStride : 0) + chunk * 8;
    cpAsync16(smemTile + swizzledOffset<kChunks>(row, chunk), src, valid);
  }
}

/// 16-byte shared load and store, global store (4 x 32-bit).
ATTNC_DEVICE void ldShared16(u32 (&r)[4], u32 addr) {
  asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

ATTNC_DEVICE u32 ldShared32(u32 addr) {
  u32 r;
  asm volatile("ld.shared.b32 %0, [%1];" : "=r"(r) : "r"(addr) : "memory");
  return r;
}

ATTNC_DEVICE u16 ldSharedU16(u32 addr) {
  u16 r;
  asm volatile("ld.shared.u16 %0, [%1];" : "=h"(r) : "r"(addr) : "memory");
  return r;
}

ATTNC_DEVICE void stSharedU16(u32 addr, u16 v) {
  asm volatile("st.shared.u16 [%0], %1;" ::"r"(addr), "h"(v) : "memory");
}

ATTNC_DEVICE void stShared16(u32 addr, const u32 (&r)[4]) {
  asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};" ::"r"(addr), "r"(r[0]), "r"(r[1]),
               "r"(r[2]), "r"(r[3])
               : "memory");
}

ATTNC_DEVICE void stShared32(u32 addr, u32 v) {
  asm volatile("st.shared.b32 [%0], %1;" ::"r"(addr), "r"(v) : "memory");
}

ATTNC_DEVICE void stGlobal16(void *ptr, const u32 (&r)[4]) {
  asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(ptr), "r"(r[0]), "r"(r[1]),
               "r"(r[2]), "r"(r[3])
               : "memory");
}

} // namespace attnc

#endif // ATTNC_DEVICE_MMA_SM80_CUH
