// RUN: attn-translate --attn-to-cuda %s | FileCheck %s
// RUN: attn-opt %s --attn-pipeline | attn-translate --attn-to-cuda | FileCheck %s --check-prefix=PIPE

// The emitter prints each hook region as straight-line C++ and instantiates the template.
// CHECK: // attnc kernel attnc_win_bf16_d128: pattern @win, bf16, head dims 128/128, tile 128x64, 8 warps, 2 stages, template sm80
// CHECK: struct win_bf16_d128_hooks {
// CHECK: static __device__ __forceinline__ bool mask(const attnc::FwdParams &p, int b, int h, int q, int k, int seqlenQ, int seqlenK) {
// CHECK-NEXT: const int v0 = (q - k);
// CHECK-NEXT: const int v1 = 64;
// CHECK-NEXT: const bool v2 = (v0 < v1);
// CHECK-NEXT: return v2;
// CHECK: static __device__ __forceinline__ float scoreMod(
// CHECK-NEXT: return s;
// CHECK: attnc::fwdSm80<win_bf16_d128_hooks, attnc::bf16, 128, 128, 128, 64, 8, 2>(p);
// PIPE: attnc_win_bf16_d128
attn.pattern @win {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %d = arith.subi %q, %k : index
    %c = arith.constant 64 : index
    %keep = arith.cmpi slt, %d, %c : index
    attn.yield %keep : i1
  }
  attn.normalize softmax
}
attn.kernel @win_bf16_d128 attributes {block_m = 128 : i64, block_n = 64 : i64, element_type = bf16, head_dim = 128 : i64, head_dim_v = 128 : i64, kernel_template = #attn<template sm80>, pattern = @win, stages = 2 : i64, warps = 8 : i64} {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %d = arith.subi %q, %k : index
    %c = arith.constant 64 : index
    %keep = arith.cmpi slt, %d, %c : index
    attn.yield %keep : i1
  }
  attn.kv_range {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %sq: index, %skv: index):
    %c0 = arith.constant 0 : index
    attn.yield %c0, %skv : index, index
  }
  attn.tile_full {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %f = arith.constant false
    attn.yield %f : i1
  }
}
