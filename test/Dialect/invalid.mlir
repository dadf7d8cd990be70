// RUN: attn-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{needs an 'attn.normalize' op}}
attn.pattern @no_normalizer {
}

// -----

attn.pattern @two_masks {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
  // expected-error @+1 {{may appear only once in 'attn.pattern'}}
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
  attn.normalize softmax
}

// -----

attn.pattern @mask_wrong_args {
  // expected-error @+1 {{expects 6 region arguments}}
  attn.mask {
  ^bb0(%q: index, %k: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
  attn.normalize softmax
}

// -----

attn.pattern @mask_yields_float {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %f = arith.constant 1.0 : f32
    // expected-error @+1 {{must yield ('i1')}}
    attn.yield %f : f32
  }
  attn.normalize softmax
}

// -----

attn.pattern @negative_scale {
  // expected-error @+1 {{scale must be positive}}
  attn.normalize softmax {scale = -1.0 : f64}
}

// -----

attn.pattern @scale_without_normaliser {
  // expected-error @+1 {{a scale needs a softmax or sigmoid normaliser}}
  attn.normalize none {scale = 2.0 : f64}
}

// -----

// expected-error @+1 {{needs 'attn.kv_range' and 'attn.tile_full' hooks}}
attn.kernel @no_hooks attributes {block_m = 128 : i64, block_n = 64 : i64, element_type = bf16, head_dim = 128 : i64, head_dim_v = 128 : i64, kernel_template = #attn<template sm80>, pattern = @p, stages = 2 : i64, warps = 8 : i64} {
}

// -----

// expected-error @+1 {{element type must be bf16 or f16}}
attn.kernel @f32 attributes {block_m = 128 : i64, block_n = 64 : i64, element_type = f32, head_dim = 128 : i64, head_dim_v = 128 : i64, kernel_template = #attn<template sm80>, pattern = @p, stages = 2 : i64, warps = 8 : i64} {
  attn.kv_range {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %sq: index, %skv: index):
    %c0 = arith.constant 0 : index
    attn.yield %c0, %skv : index, index
  }
  attn.tile_full {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
}

// -----

// expected-error @+1 {{block_m must be 16 rows per warp}}
attn.kernel @bad_tile attributes {block_m = 100 : i64, block_n = 64 : i64, element_type = bf16, head_dim = 128 : i64, head_dim_v = 128 : i64, kernel_template = #attn<template sm80>, pattern = @p, stages = 2 : i64, warps = 8 : i64} {
  attn.kv_range {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %sq: index, %skv: index):
    %c0 = arith.constant 0 : index
    attn.yield %c0, %skv : index, index
  }
  attn.tile_full {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
}

// -----

// expected-error @+1 {{head dims must be 64, 128 or 256}}
attn.kernel @bad_dim attributes {block_m = 128 : i64, block_n = 64 : i64, element_type = bf16, head_dim = 96 : i64, head_dim_v = 96 : i64, kernel_template = #attn<template sm80>, pattern = @p, stages = 2 : i64, warps = 8 : i64} {
  attn.kv_range {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %sq: index, %skv: index):
    %c0 = arith.constant 0 : index
    attn.yield %c0, %skv : index, index
  }
  attn.tile_full {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
}
