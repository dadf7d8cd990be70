// RUN: attn-opt %s --split-input-file | attn-opt --split-input-file | FileCheck %s

// CHECK-LABEL: attn.pattern @full
// CHECK: attn.normalize softmax
// CHECK-NOT: attn.mask
attn.pattern @full {
  attn.normalize softmax
}

// -----

// CHECK-LABEL: attn.pattern @causal_scaled
// CHECK: attn.mask {
// CHECK: ^bb0(%[[B:.+]]: index, %[[H:.+]]: index, %[[Q:.+]]: index, %[[K:.+]]: index, %{{.+}}: index, %{{.+}}: index):
// CHECK: %[[KEEP:.+]] = arith.cmpi sge, %[[Q]], %[[K]] : index
// CHECK: attn.yield %[[KEEP]] : i1
// CHECK: attn.score_mod {
// CHECK: math.tanh
// CHECK: attn.normalize softmax {scale = 1.250000e-01 : f64}
attn.pattern @causal_scaled {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %keep = arith.cmpi sge, %q, %k : index
    attn.yield %keep : i1
  }
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %t = math.tanh %s : f32
    attn.yield %t : f32
  }
  attn.normalize softmax {scale = 0.125 : f64}
}

// -----

// Declarations, loads, scalars, weights, the tile functions and the shape attributes.
// CHECK-LABEL: attn.pattern @everything
// CHECK-SAME: block_map
// CHECK-SAME: head_dim = 128 : i64, head_dim_v = 64 : i64, heads = 8 : i64, kv_heads = 2 : i64, lse
// CHECK-SAME: mask_class = "general"
// CHECK-SAME: params = {window = 64 : i64}
// CHECK-SAME: varlen
// CHECK: attn.input "doc" : i32 ["B", "Skv"]
// CHECK: attn.input "table" : f32 ["H", 32]
// CHECK: attn.scalar "gain" {default_value = 1.500000e+00 : f64}
// CHECK: %{{.+}} = attn.load "doc"[%{{.+}}, %{{.+}}] : i32
// CHECK: %{{.+}} = attn.get_scalar "gain" : f32
// CHECK: attn.weight {
// CHECK: attn.normalize sigmoid {bias = -2.000000e+00 : f64, temperature = 5.000000e-01 : f64}
// CHECK: attn.tile_empty {
attn.pattern @everything attributes {block_map, head_dim = 128 : i64, head_dim_v = 64 : i64, heads = 8 : i64, kv_heads = 2 : i64, lse, mask_class = "general", params = {window = 64 : i64}, varlen} {
  attn.input "doc" : i32 ["B", "Skv"]
  attn.input "table" : f32 ["H", 32]
  attn.scalar "gain" {default_value = 1.5 : f64}
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %dq = attn.load "doc"[%b, %q] : i32
    %dk = attn.load "doc"[%b, %k] : i32
    %same = arith.cmpi eq, %dq, %dk : i32
    attn.yield %same : i1
  }
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %g = attn.get_scalar "gain" : f32
    %c3 = arith.constant 3 : index
    %t = attn.load "table"[%h, %c3] : f32
    %x = arith.mulf %s, %g : f32
    %y = arith.addf %x, %t : f32
    attn.yield %y : f32
  }
  attn.weight {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %w = arith.constant 0.5 : f32
    attn.yield %w : f32
  }
  attn.normalize sigmoid {bias = -2.0 : f64, temperature = 0.5 : f64}
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
    %f = arith.constant false
    attn.yield %f : i1
  }
}

// -----

// A linear pattern and its kernel: the form, feature map and decay instead of mask and tiles.
// CHECK-LABEL: attn.pattern @retention
// CHECK: attn.linear causal
// CHECK: attn.feature {
// CHECK: attn.decay {
// CHECK: attn.normalize none
// CHECK-LABEL: attn.kernel @retention_bf16_d64
// CHECK-SAME: kernel_template = #attn<template linear>
// CHECK: attn.linear causal
attn.pattern @retention {
  attn.linear causal
  attn.feature {
  ^bb0(%x: f32):
    %zero = arith.constant 0.0 : f32
    %r = arith.maximumf %x, %zero : f32
    attn.yield %r : f32
  }
  attn.decay {
  ^bb0(%b: index, %h: index, %t: index, %d: index):
    %g = arith.constant 0.9 : f32
    attn.yield %g : f32
  }
  attn.normalize none
}
attn.kernel @retention_bf16_d64 attributes {block_m = 64 : i64, block_n = 64 : i64,
    element_type = bf16, head_dim = 64 : i64, head_dim_v = 64 : i64,
    kernel_template = #attn<template linear>, normalizer = 2 : i32, pattern = @retention,
    scale = 1.250000e-01 : f64, stages = 2 : i64, warps = 4 : i64} {
  attn.linear causal
  attn.decay {
  ^bb0(%b: index, %h: index, %t: index, %d: index):
    %g = arith.constant 0.9 : f32
    attn.yield %g : f32
  }
}

// -----

// CHECK-LABEL: attn.composite @mixed branches [@mixed_linear, @mixed_exact] {
// CHECK: attn.input "mix" : f32 ["H"]
// CHECK: attn.combine {
// CHECK: ^bb0(%{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: f32, %{{.+}}: f32):
attn.pattern @mixed_linear {
  attn.input "mix" : f32 ["H"]
  attn.linear causal
  attn.normalize none
}
attn.pattern @mixed_exact {
  attn.input "mix" : f32 ["H"]
  attn.normalize softmax
}
attn.composite @mixed branches [@mixed_linear, @mixed_exact] {
  attn.input "mix" : f32 ["H"]
  attn.combine {
  ^bb0(%b: index, %h: index, %q: index, %x: f32, %y: f32):
    %m = attn.load "mix"[%h] : f32
    %a = arith.mulf %m, %x : f32
    %s = arith.addf %a, %y : f32
    attn.yield %s : f32
  }
}
