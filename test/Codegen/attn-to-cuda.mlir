// RUN: attn-translate --attn-to-cuda %s | FileCheck %s
// RUN: attn-opt %s --attn-pipeline | attn-translate --attn-to-cuda | FileCheck %s --check-prefix=PIPE

// The emitter prints each hook region as straight-line C++ and instantiates the template;
// inputs and scalars read the argument block by slot.
// CHECK: // attnc kernel attnc_win_bf16_d128: pattern @win, bf16, head dims 128/128, tile 128x64, 8 warps, 2 stages, template sm80
// CHECK: struct win_bf16_d128_hooks {
// CHECK: static constexpr bool kHasTileEmpty = true;
// CHECK: static __device__ __forceinline__ bool tileEmpty(const attnc::FwdParams &p, int b, int h, int q0, int q1, int k0, int k1, int seqlenQ, int seqlenK) {
// CHECK-NEXT: const int v0 = (k1 - q0);
// CHECK: static __device__ __forceinline__ bool mask(const attnc::FwdParams &p, int b, int h, int q, int k, int seqlenQ, int seqlenK) {
// CHECK-NEXT: const int v0 = (q - k);
// CHECK-NEXT: const int v1 = 64;
// CHECK-NEXT: const bool v2 = (v0 < v1);
// CHECK-NEXT: return v2;
// CHECK: static __device__ __forceinline__ float scoreMod(
// CHECK-NEXT: const float v0 = attnc::loadInput<float>(p.inputs[1], ((long long)attnc::clampIndex(b, p.batch) * p.heads + attnc::clampIndex(h, p.heads)));
// CHECK-NEXT: const float v1 = p.scalars[0];
// CHECK-NEXT: const float v2 = (v0 * v1);
// CHECK-NEXT: const float v3 = (s + v2);
// CHECK-NEXT: return v3;
// CHECK: attnc::fwdSm80<win_bf16_d128_hooks, attnc::bf16, 128, 128, 128, 64, 8, 2>(p);
// PIPE: attnc_win_bf16_d128
// PIPE: static constexpr bool kHasTileEmpty = true;
attn.pattern @win {
  attn.input "unused" : i32 ["B"]
  attn.input "bias" : f32 ["B", "H"]
  attn.scalar "gain" {default_value = 2.0 : f64}
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %d = arith.subi %q, %k : index
    %c = arith.constant 64 : index
    %keep = arith.cmpi slt, %d, %c : index
    attn.yield %keep : i1
  }
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %x = attn.load "bias"[%b, %h] : f32
    %g = attn.get_scalar "gain" : f32
    %y = arith.mulf %x, %g : f32
    %t = arith.addf %s, %y : f32
    attn.yield %t : f32
  }
  attn.normalize softmax
}
attn.kernel @win_bf16_d128 attributes {block_m = 128 : i64, block_n = 64 : i64, element_type = bf16, head_dim = 128 : i64, head_dim_v = 128 : i64, kernel_template = #attn<template sm80>, normalizer = 0 : i32, pattern = @win, scale = 0.088388347648318433 : f64, stages = 2 : i64, warps = 8 : i64} {
  attn.input "unused" : i32 ["B"]
  attn.input "bias" : f32 ["B", "H"]
  attn.scalar "gain" {default_value = 2.0 : f64}
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %d = arith.subi %q, %k : index
    %c = arith.constant 64 : index
    %keep = arith.cmpi slt, %d, %c : index
    attn.yield %keep : i1
  }
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %x = attn.load "bias"[%b, %h] : f32
    %g = attn.get_scalar "gain" : f32
    %y = arith.mulf %x, %g : f32
    %t = arith.addf %s, %y : f32
    attn.yield %t : f32
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
  attn.tile_empty {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %d = arith.subi %k1, %q0 : index
    %c = arith.constant 200 : index
    %e = arith.cmpi sgt, %d, %c : index
    attn.yield %e : i1
  }
}
