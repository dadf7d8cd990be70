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
