// RUN: attn-opt %s --split-input-file --attn-classify-blocks --attn-lower-to-kernel="element-type=f16 head-dim=64" | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-classify-blocks --attn-lower-to-kernel="element-type=f16 head-dim=64 arch=sm_80" | FileCheck %s --check-prefix=SM80
// RUN: not attn-opt %s --split-input-file --attn-classify-blocks --attn-lower-to-kernel="element-type=f32" 2>&1 | FileCheck %s --check-prefix=BADTYPE
// RUN: not attn-opt %s --split-input-file --attn-classify-blocks --attn-lower-to-kernel="head-dim=96" 2>&1 | FileCheck %s --check-prefix=BADDIM

// Head dim 64 with no mask: q-tiles of 192 rows in three consumer warpgroups (16 warps).
// CHECK-LABEL: attn.pattern @full
// CHECK: attn.kernel @full_f16_d64 attributes {
// CHECK-SAME: block_m = 192 : i64
// CHECK-SAME: element_type = f16
// CHECK-SAME: head_dim = 64 : i64
// CHECK-SAME: kernel_template = #attn<template sm90>
// CHECK-SAME: pattern = @full
// CHECK-SAME: scale = 1.250000e-01 : f64
// CHECK-SAME: warps = 16 : i64
// SM80: attn.kernel @full_f16_d64 attributes {
// SM80-SAME: block_n = 64 : i64
// SM80-SAME: kernel_template = #attn<template sm80>
// SM80-SAME: warps = 8 : i64
// CHECK: attn.kv_range
// CHECK: attn.tile_full
// CHECK: attn.tile_empty
// CHECK-NOT: attn.mask
// BADTYPE: unknown element type 'f32' (expected bf16 or f16)
// BADDIM: no kernel configuration for arch sm_90a, bf16, head dims 96/96
attn.pattern @full {
  attn.normalize softmax
}

// -----

// The pattern's scale is carried to the kernel, and so are its hooks.
// CHECK-LABEL: attn.kernel @scaled_f16_d64
// CHECK-SAME: scale = 2.500000e-01 : f64
// CHECK: attn.score_mod
attn.pattern @scaled {
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %t = math.tanh %s : f32
    attn.yield %t : f32
  }
  attn.normalize softmax {scale = 0.25 : f64}
}

// -----

// Temperature divides the scale; the pattern's head dims replace the target's; declarations are
// cloned in slot order.
// CHECK-LABEL: attn.kernel @fixed_f16_d128_dv64
// CHECK-SAME: head_dim = 128 : i64
// CHECK-SAME: head_dim_v = 64 : i64
// CHECK-SAME: scale = 0.17677669529663687 : f64
// CHECK: attn.input "slopes" : f32 ["H"]
// CHECK: attn.scalar "cap"
attn.pattern @fixed attributes {head_dim = 128 : i64, head_dim_v = 64 : i64} {
  attn.input "slopes" : f32 ["H"]
  attn.scalar "cap" {default_value = 30.0 : f64}
  attn.normalize softmax {temperature = 0.5 : f64}
}

// -----

// A float division by a constant becomes a multiplication by its reciprocal in the kernel; the
// pattern (evaluated by the float64 reference) keeps the division. Divisions by a value do not.
// CHECK-LABEL: attn.pattern @capped
// CHECK: arith.divf
// CHECK: attn.kernel @capped_f16_d64
// CHECK: attn.score_mod
// CHECK-DAG: arith.constant 2.000000e-02 : f32
// CHECK-DAG: arith.mulf
// CHECK-NOT: arith.divf
// CHECK: arith.divf %{{.*}}, %arg0
// CHECK: attn.yield
attn.pattern @capped {
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %cap = arith.constant 50.0 : f32
    %x = arith.divf %s, %cap : f32
    %t = math.tanh %x : f32
    %y = arith.divf %t, %s : f32
    attn.yield %y : f32
  }
  attn.normalize softmax
}

// -----

// Constant factors come out of a softmax kernel's score modifier: every use of s is s * C (the
// division by the cap, once a multiplication), so the kernel takes score_in_scale = C; the
// yielded cap * t becomes t with score_out_scale = cap. The pattern keeps its expression.
// CHECK-LABEL: attn.pattern @softcapped
// CHECK: attn.kernel @softcapped_f16_d64 attributes {
// CHECK-SAME: score_in_scale = 0.019999999552965164 : f64, score_out_scale = 5.000000e+01 : f64
// CHECK: attn.score_mod {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32,
// CHECK-NEXT: %[[T:.*]] = math.tanh %[[S]] : f32
// CHECK-NEXT: attn.yield %[[T]] : f32
attn.pattern @softcapped {
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %cap = arith.constant 50.0 : f32
    %x = arith.divf %s, %cap : f32
    %t = math.tanh %x : f32
    %y = arith.mulf %cap, %t : f32
    attn.yield %y : f32
  }
  attn.normalize softmax
}

// -----

// No factor comes out where s has another use, where the factor is negative (the row maximum
// would become the minimum), or under a sigmoid.
// CHECK-LABEL: attn.pattern @kept
// CHECK: attn.kernel @kept_f16_d64 attributes {
// CHECK-SAME: scale = 1.250000e-01 : f64, stages = 2
// CHECK: attn.score_mod
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: arith.mulf
// CHECK: attn.yield
attn.pattern @kept {
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %c = arith.constant 0.5 : f32
    %n = arith.constant -2.0 : f32
    %x = arith.mulf %s, %c : f32
    %z = arith.addf %x, %s : f32
    %y = arith.mulf %z, %n : f32
    attn.yield %y : f32
  }
  attn.normalize softmax
}
// CHECK-LABEL: attn.pattern @gated
// CHECK: attn.kernel @gated_f16_d64 attributes {
// CHECK-SAME: scale = 1.250000e-01 : f64, stages = 2
// CHECK: attn.yield
attn.pattern @gated {
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %c = arith.constant 0.5 : f32
    %x = arith.mulf %s, %c : f32
    %y = arith.mulf %c, %x : f32
    attn.yield %y : f32
  }
  attn.normalize sigmoid
}

// -----

// A composite's plan: its softmax branch applies the combine in its kernel's epilogue.
// CHECK-LABEL: attn.composite @mix branches [@mix_linear, @mix_exact] attributes {epilogue_branch = 1 : i64}
// SM80-LABEL: attn.composite @mix branches [@mix_linear, @mix_exact] attributes {epilogue_branch = 1 : i64}
attn.pattern @mix_linear {
  attn.linear causal
  attn.normalize none
}
attn.pattern @mix_exact {
  attn.normalize softmax
}
attn.composite @mix branches [@mix_linear, @mix_exact] {
  attn.combine {
  ^bb0(%b: index, %h: index, %q: index, %x: f32, %y: f32):
    %s = arith.addf %x, %y : f32
    attn.yield %s : f32
  }
}

// -----

// Two linear branches: no epilogue branch (the linear template has no combine epilogue).
// CHECK-LABEL: attn.composite @twin branches [@twin_a, @twin_b] {
attn.pattern @twin_a {
  attn.linear causal
  attn.normalize none
}
attn.pattern @twin_b {
  attn.linear
  attn.normalize none
}
attn.composite @twin branches [@twin_a, @twin_b] {
  attn.combine {
  ^bb0(%b: index, %h: index, %q: index, %x: f32, %y: f32):
    %s = arith.addf %x, %y : f32
    attn.yield %s : f32
  }
}
