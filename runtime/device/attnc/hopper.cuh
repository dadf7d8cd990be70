//===- hopper.cuh - TMA, mbarriers, wgmma descriptors and ordering (sm_90a) -===//
//
// The Hopper machinery of fwd_sm90.cuh (KERNELS.md §2.2-2.9), each a line or two of PTX:
// - mbarriers: init, arrive, arrive with an expected transaction byte count, wait on a phase
//   parity (a fresh barrier counts parity 1 as complete, so a producer's first lap waits on 1);
// - TMA: a 4-D tiled load into shared memory that completes on an mbarrier, tensor-map
//   prefetch;
// - wgmma: 64-bit shared-memory matrix descriptors for 128B-swizzled tiles, fence / commit /
//   wait, and the operand fence that keeps the compiler from moving accumulator accesses across
//   an asynchronous product;
// - warpgroup roles: setmaxnreg, named barriers.
// Swizzled tiles (128B mode) are stored as column blocks of 64 16-bit elements: a block of R
// rows is R x 128 bytes, row r's 16-byte chunk c at r*128 + ((c ^ (r % 8)) * 16), starting on a
// 1024-byte boundary. TMA's SWIZZLE_128B writes exactly this and the descriptors read it.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DEVICE_HOPPER_CUH
#define ATTNC_DEVICE_HOPPER_CUH

#include "attnc/params.cuh"
#include "attnc/types.cuh"

namespace attnc {

// threadIdx.x read where it is used: ptxas cannot hoist a volatile read out of a loop, so a
// value derived from it is recomputed there instead of held live across the loop (where a
// full register file spills it).
ATTNC_DEVICE int threadIndexHere() {
  int v;
  asm volatile("mov.u32 %0, %%tid.x;" : "=r"(v));
  return v;
}

//===--- mbarriers -------------------------------------------------------===//

ATTNC_DEVICE void mbarInit(u32 bar, u32 count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}

/// Makes barrier initialisation visible to the async proxy (TMA); a CTA barrier must follow.
ATTNC_DEVICE void fenceBarrierInit() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

ATTNC_DEVICE void mbarArrive(u32 bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}

/// Arrives and adds `bytes` to the transaction count the phase waits for.
ATTNC_DEVICE void mbarArriveExpectTx(u32 bar, u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
}

/// Blocks until the phase of parity `parity` has completed.
ATTNC_DEVICE void mbarWait(u32 bar, u32 parity) {
  asm volatile("{\n"
               ".reg .pred done;\n"
               "WAIT:\n"
               "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
               "@!done bra WAIT;\n"
               "}\n" ::"r"(bar),
               "r"(parity)
               : "memory");
}

//===--- TMA ---------------------------------------------------------------===//

ATTNC_DEVICE void tmaPrefetch(const TmaMap &map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<u64>(&map)) : "memory");
}

/// Copies the box at coordinates (c0 innermost, ..., c3) of `map` into shared memory at `dst`;
/// completion adds the box's bytes to `bar`'s transaction count. Parts of the box outside the
/// tensor are zero-filled (and still counted).
ATTNC_DEVICE void tmaLoad4d(u32 dst, const TmaMap &map, u32 bar, int c0, int c1, int c2, int c3) {
  asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes"
               " [%0], [%1, {%2, %3, %4, %5}], [%6];" ::"r"(dst),
               "l"(reinterpret_cast<u64>(&map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
               : "memory");
}

/// Loads a kRows x kCols tile of 16-bit elements starting at (row, head, batch) of `map` as
/// kCols / 64 boxes of 64 columns, one 128B-swizzled column block of kRows * 128 bytes each,
/// and arms `bar` with the tile's byte count (the producer's one arrival).
template <int kRows, int kCols>
ATTNC_DEVICE void tmaLoadTile(u32 dst, const TmaMap &map, u32 bar, int row, int head, int batch) {
  mbarArriveExpectTx(bar, kRows * kCols * 2);
#pragma unroll
  for (int c = 0; c < kCols / 64; ++c)
    tmaLoad4d(dst + c * kRows * 128, map, bar, 64 * c, row, head, batch);
}

//===--- wgmma ------------------------------------------------------------===//

/// Descriptor of a 128B-swizzled shared-memory operand starting at `addr`: `lbo` is the byte
/// distance between 64-element column blocks along MN for MN-major operands (unused K-major),
/// stride byte offset 1024 (eight 128-byte rows), swizzle mode 1 (128B).
ATTNC_DEVICE u64 smemDescriptor(u32 addr, u32 lbo) {
  return u64((addr & 0x3FFFF) >> 4) | (u64(lbo >> 4) << 16) | (u64(1024 >> 4) << 32) |
         (u64(1) << 62);
}

/// Orders this thread's earlier register writes before the next wgmma reads them.
ATTNC_DEVICE void wgmmaFence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
ATTNC_DEVICE void wgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
/// Waits until at most kPending committed groups are still running.
template <int kPending> ATTNC_DEVICE void wgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}

/// Pins accumulator registers in place: the compiler may not move their reads or writes across
/// this point (around asynchronous wgmma batches).
template <int kTiles> ATTNC_DEVICE void fenceOperands(float (&d)[kTiles][4]) {
#pragma unroll
  for (int j = 0; j < kTiles; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      asm volatile("" : "+f"(d[j][e])::"memory");
}

template <int kTiles> ATTNC_DEVICE void fenceOperands(u32 (&a)[kTiles][4]) {
#pragma unroll
  for (int j = 0; j < kTiles; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      asm volatile("" : "+r"(a[j][e])::"memory");
}

//===--- warpgroup roles ----------------------------------------------------===//

/// Gives registers back (producer) or takes them (consumers); the whole warpgroup executes it.
template <int kRegs> ATTNC_DEVICE void setMaxRegistersDec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kRegs));
}
template <int kRegs> ATTNC_DEVICE void setMaxRegistersInc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kRegs));
}

/// Named barriers (id 0 is __syncthreads'); `threads` is a multiple of 32.
ATTNC_DEVICE void namedBarrierSync(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}
ATTNC_DEVICE void namedBarrierArrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

} // namespace attnc

#endif // ATTNC_DEVICE_HOPPER_CUH
