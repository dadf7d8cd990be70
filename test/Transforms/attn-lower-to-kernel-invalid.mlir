// RUN: attn-opt %s --split-input-file --attn-classify-blocks --attn-lower-to-kernel --verify-diagnostics
// RUN: attn-opt %s --split-input-file --attn-classify-blocks --attn-lower-to-kernel=skip-unsupported | FileCheck %s

// A pattern that fixes a head dim the templates have no tiling for is an error, or left
// unlowered with skip-unsupported.
// CHECK-LABEL: attn.pattern @wide
// CHECK-NOT: attn.kernel
// expected-error @+1 {{no kernel configuration for arch sm_90a, bf16, head dims 320/320}}
attn.pattern @wide attributes {head_dim = 320 : i64, head_dim_v = 320 : i64} {
  attn.normalize softmax
}

// -----

// CHECK-LABEL: attn.pattern @odd_values
// CHECK-NOT: attn.kernel
// expected-error @+1 {{no kernel configuration for arch sm_90a, bf16, head dims 128/96}}
attn.pattern @odd_values attributes {head_dim = 128 : i64, head_dim_v = 96 : i64} {
  attn.normalize sigmoid
}
