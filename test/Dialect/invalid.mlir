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

attn.pattern @temperature_without_normaliser {
  // expected-error @+1 {{a temperature needs a softmax or sigmoid normaliser}}
  attn.normalize none {temperature = 2.0 : f64}
}

// -----

// expected-error @+1 {{needs 'attn.kv_range', 'attn.tile_full' and 'attn.tile_empty' hooks}}
attn.kernel @no_hooks attributes {block_m = 128 : i64, block_n = 64 : i64, element_type = bf16, head_dim = 128 : i64, head_dim_v = 128 : i64, kernel_template = #attn<template sm80>, normalizer = 0 : i32, pattern = @p, scale = 1.0 : f64, stages = 2 : i64, warps = 8 : i64} {
}

// -----

// expected-error @+1 {{element type must be bf16 or f16}}
attn.kernel @f32 attributes {block_m = 128 : i64, block_n = 64 : i64, element_type = f32, head_dim = 128 : i64, head_dim_v = 128 : i64, kernel_template = #attn<template sm80>, normalizer = 0 : i32, pattern = @p, scale = 1.0 : f64, stages = 2 : i64, warps = 8 : i64} {
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
  attn.tile_empty {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %f = arith.constant false
    attn.yield %f : i1
  }
}

// -----

// expected-error @+1 {{block_m must be 16 rows per warp}}
attn.kernel @bad_tile attributes {block_m = 100 : i64, block_n = 64 : i64, element_type = bf16, head_dim = 128 : i64, head_dim_v = 128 : i64, kernel_template = #attn<template sm80>, normalizer = 0 : i32, pattern = @p, scale = 1.0 : f64, stages = 2 : i64, warps = 8 : i64} {
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
  attn.tile_empty {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %f = arith.constant false
    attn.yield %f : i1
  }
}

// -----

// expected-error @+1 {{the sm90 template runs 12 warps on 128 rows or 16 on 192, got block_m = 192 with 12 warps}}
attn.kernel @bad_sm90_tile attributes {block_m = 192 : i64, block_n = 64 : i64, element_type = bf16, head_dim = 128 : i64, head_dim_v = 128 : i64, kernel_template = #attn<template sm90>, normalizer = 0 : i32, pattern = @p, scale = 1.0 : f64, stages = 2 : i64, warps = 12 : i64} {
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
  attn.tile_empty {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %f = arith.constant false
    attn.yield %f : i1
  }
}

// -----

// expected-error @+1 {{head dims must be 64, 128 or 256}}
attn.kernel @bad_dim attributes {block_m = 128 : i64, block_n = 64 : i64, element_type = bf16, head_dim = 96 : i64, head_dim_v = 96 : i64, kernel_template = #attn<template sm80>, normalizer = 0 : i32, pattern = @p, scale = 1.0 : f64, stages = 2 : i64, warps = 8 : i64} {
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
  attn.tile_empty {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %f = arith.constant false
    attn.yield %f : i1
  }
}

// -----

attn.pattern @temperature_zero {
  // expected-error @+1 {{temperature must be positive}}
  attn.normalize softmax {temperature = 0.0 : f64}
}

// -----

attn.pattern @bias_on_softmax {
  // expected-error @+1 {{a bias needs the sigmoid normaliser}}
  attn.normalize softmax {bias = 1.0 : f64}
}

// -----

attn.pattern @bad_input_type {
  // expected-error @+1 {{element type must be i32, f32 or none}}
  attn.input "x" : f16 ["B"]
  attn.normalize softmax
}

// -----

attn.pattern @bad_input_size {
  // expected-error @+1 {{unknown size 'N'}}
  attn.input "x" : i32 ["N"]
  attn.normalize softmax
}

// -----

attn.pattern @bad_input_extent {
  // expected-error @+1 {{dimension sizes must be positive}}
  attn.input "x" : i32 [0]
  attn.normalize softmax
}

// -----

attn.pattern @redeclared {
  attn.input "x" : i32 ["B"]
  // expected-error @+1 {{redeclares 'x'}}
  attn.scalar "x"
  attn.normalize softmax
}

// -----

attn.pattern @undeclared_input {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    // expected-error @+1 {{reads undeclared input 'doc'}}
    %d = attn.load "doc"[%k] : i32
    %c = arith.constant 0 : i32
    %keep = arith.cmpi eq, %d, %c : i32
    attn.yield %keep : i1
  }
  attn.normalize softmax
}

// -----

attn.pattern @wrong_rank {
  attn.input "doc" : i32 ["B", "Skv"]
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    // expected-error @+1 {{input 'doc' has 2 dimensions, indexed with 1}}
    %d = attn.load "doc"[%k] : i32
    %c = arith.constant 0 : i32
    %keep = arith.cmpi eq, %d, %c : i32
    attn.yield %keep : i1
  }
  attn.normalize softmax
}

// -----

attn.pattern @wrong_load_type {
  attn.input "slopes" : f32 ["H"]
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    // expected-error @+1 {{input 'slopes' holds 'f32', the load yields 'i32'}}
    %m = attn.load "slopes"[%h] : i32
    attn.yield %s : f32
  }
  attn.normalize softmax
}

// -----

attn.pattern @undeclared_scalar {
  attn.score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    // expected-error @+1 {{reads undeclared scalar 't'}}
    %t = attn.get_scalar "t" : f32
    attn.yield %t : f32
  }
  attn.normalize softmax
}

// -----

attn.pattern @weight_types {
  // expected-error @+1 {{'attn.weight' op expects 6 region arguments}}
  attn.weight {
  ^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    attn.yield %s : f32
  }
  attn.normalize softmax
}

// -----

// expected-error @+1 {{heads (6) must be a multiple of kv_heads (4)}}
attn.pattern @bad_heads attributes {heads = 6 : i64, kv_heads = 4 : i64} {
  attn.normalize softmax
}

// -----

// expected-error @+1 {{kv_heads needs heads}}
attn.pattern @kv_only attributes {kv_heads = 4 : i64} {
  attn.normalize softmax
}

// -----

attn.pattern @decay_without_causal {
  attn.linear
  // expected-error @+1 {{needs a causal linear pattern}}
  attn.decay {
  ^bb0(%b: index, %h: index, %t: index, %d: index):
    %g = arith.constant 0.9 : f32
    attn.yield %g : f32
  }
  attn.normalize none
}

// -----

attn.pattern @linear_softmax {
  attn.linear causal
  // expected-error @+1 {{a linear pattern normalises with 'none' or 'sum'}}
  attn.normalize softmax
}

// -----

attn.pattern @sum_without_linear {
  // expected-error @+1 {{'sum' normalises linear patterns only}}
  attn.normalize sum
}

// -----

attn.pattern @feature_without_linear {
  // expected-error @+1 {{needs 'attn.linear' in the pattern}}
  attn.feature {
  ^bb0(%x: f32):
    attn.yield %x : f32
  }
  attn.normalize none
}

// -----

attn.pattern @linear_with_mask {
  attn.linear causal
  // expected-error @+1 {{is not a part of a linear pattern}}
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
  attn.normalize none
}

// -----

attn.pattern @p {
  attn.linear causal
  attn.normalize none
}
// expected-error @+1 {{the linear template runs 4 warps on chunks of 64 rows}}
attn.kernel @k attributes {block_m = 128 : i64, block_n = 64 : i64, element_type = bf16,
    head_dim = 64 : i64, head_dim_v = 64 : i64, kernel_template = #attn<template linear>,
    normalizer = 2 : i32, pattern = @p, scale = 1.0 : f64, stages = 2 : i64, warps = 8 : i64} {
  attn.linear causal
}

// -----

attn.pattern @p {
  attn.normalize softmax
}
// expected-error @+1 {{the linear template goes with 'attn.linear', and only with it}}
attn.kernel @k attributes {block_m = 64 : i64, block_n = 64 : i64, element_type = bf16,
    head_dim = 64 : i64, head_dim_v = 64 : i64, kernel_template = #attn<template linear>,
    normalizer = 2 : i32, pattern = @p, scale = 1.0 : f64, stages = 2 : i64, warps = 4 : i64} {
}

// -----

attn.pattern @a {
  attn.normalize softmax
}
// expected-error @+1 {{needs two to 4 branches, has 1}}
attn.composite @c branches [@a] {
  attn.combine {
  ^bb0(%b: index, %h: index, %q: index, %x: f32):
    attn.yield %x : f32
  }
}

// -----

attn.pattern @a {
  attn.normalize softmax
}
// expected-error @+1 {{branch '@nope' is not an attn.pattern of the module}}
attn.composite @c branches [@a, @nope] {
  attn.combine {
  ^bb0(%b: index, %h: index, %q: index, %x: f32, %y: f32):
    attn.yield %x : f32
  }
}

// -----

attn.pattern @a {
  attn.input "g" : f32 ["H"]
  attn.normalize softmax
}
attn.pattern @b {
  attn.normalize softmax
}
// expected-error @+1 {{branch '@a' must declare the composite's inputs and scalars, in the same order}}
attn.composite @c branches [@a, @b] {
  attn.combine {
  ^bb0(%b: index, %h: index, %q: index, %x: f32, %y: f32):
    attn.yield %x : f32
  }
}

// -----

attn.pattern @a {
  attn.normalize softmax
}
attn.pattern @b {
  attn.normalize softmax
}
attn.composite @c branches [@a, @b] {
  // expected-error @+1 {{expects 5 region arguments}}
  attn.combine {
  ^bb0(%b: index, %h: index, %q: index, %x: f32):
    attn.yield %x : f32
  }
}

// -----

attn.pattern @a {
  attn.normalize softmax
}
attn.pattern @b {
  attn.normalize softmax
}
// expected-error @+1 {{needs an 'attn.combine' op}}
attn.composite @c branches [@a, @b] {
}

// -----

attn.pattern @p {
  // expected-error @+1 {{feature_map must be "taylor2" or "hedgehog", got "cubic"}}
  attn.linear causal {feature_map = "cubic"}
  attn.normalize none
}

// -----

attn.pattern @p {
  // expected-error @+1 {{feature_weights goes with the "hedgehog" map, and only with it}}
  attn.linear causal {feature_map = "taylor2", feature_weights = "w"}
  attn.normalize none
}

// -----

attn.pattern @p {
  // expected-error @+1 {{feature_weights names no input: 'w'}}
  attn.linear causal {feature_map = "hedgehog", feature_weights = "w"}
  attn.normalize none
}

// -----

attn.pattern @p {
  attn.linear causal {feature_map = "taylor2"}
  // expected-error @+1 {{cannot go with a feature_map (one map per pattern)}}
  attn.feature {
  ^bb0(%x: f32):
    attn.yield %x : f32
  }
  attn.normalize none
}

// -----

attn.pattern @p {
  attn.linear causal {feature_map = "taylor2"}
  attn.normalize none
}
// expected-error @+1 {{its feature_map gives 561 features at head dim 32; at most 256 are supported}}
attn.kernel @k attributes {block_m = 64 : i64, block_n = 64 : i64, element_type = bf16,
    head_dim = 32 : i64, head_dim_v = 64 : i64, kernel_template = #attn<template linear>,
    normalizer = 2 : i32, pattern = @p, scale = 1.0 : f64, stages = 2 : i64, warps = 4 : i64} {
  attn.linear causal {feature_map = "taylor2"}
}

// -----

attn.pattern @p {
  // expected-error @+1 {{feature_weights goes with the "hedgehog" map, and only with it}}
  attn.linear causal {feature_weights = "w"}
  attn.normalize none
}

// -----

attn.pattern @p {
  // expected-error @+1 {{holds a hedgehog map's weights: it must be float[H, D, M] with M a number}}
  attn.input "w" : f32 ["H", "D", 0]
  attn.linear causal {feature_map = "hedgehog", feature_weights = "w"}
  attn.normalize none
}

// -----

attn.pattern @a {
  attn.normalize softmax
}
attn.pattern @b {
  attn.normalize softmax
}
// expected-error @+1 {{epilogue_branch 2 names no branch}}
attn.composite @c branches [@a, @b] attributes {epilogue_branch = 2 : i64} {
  attn.combine {
  ^bb0(%b: index, %h: index, %q: index, %x: f32, %y: f32):
    attn.yield %x : f32
  }
}

// -----

attn.pattern @a {
  attn.linear causal
  attn.normalize none
}
attn.pattern @b {
  attn.normalize softmax
}
// expected-error @+1 {{epilogue_branch '@a' is linear; only a softmax-family branch applies the combine}}
attn.composite @c branches [@a, @b] attributes {epilogue_branch = 0 : i64} {
  attn.combine {
  ^bb0(%b: index, %h: index, %q: index, %x: f32, %y: f32):
    attn.yield %x : f32
  }
}
