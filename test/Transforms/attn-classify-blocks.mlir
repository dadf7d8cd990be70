// RUN: attn-opt %s --split-input-file --attn-classify-blocks | FileCheck %s

// A pattern without a mask sees every key, and every in-bounds tile is FULL.
// CHECK-LABEL: attn.pattern @dense
// CHECK: attn.kv_range {
// CHECK-NEXT: ^bb0(%{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %[[SKV:.+]]: index):
// CHECK-NEXT: %[[ZERO:.+]] = arith.constant 0 : index
// CHECK-NEXT: attn.yield %[[ZERO]], %[[SKV]] : index, index
// CHECK: attn.tile_full {
// CHECK: %[[TRUE:.+]] = arith.constant true
// CHECK-NEXT: attn.yield %[[TRUE]] : i1
attn.pattern @dense {
  attn.normalize softmax
}

// -----

// A mask the analysis cannot bound: all keys, no tile FULL (always correct).
// CHECK-LABEL: attn.pattern @masked
// CHECK: attn.tile_full {
// CHECK: %[[FALSE:.+]] = arith.constant false
// CHECK-NEXT: attn.yield %[[FALSE]] : i1
attn.pattern @masked {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %keep = arith.cmpi sge, %q, %k : index
    attn.yield %keep : i1
  }
  attn.normalize softmax
}

// -----

// Already classified patterns are left alone.
// CHECK-LABEL: attn.pattern @done
// CHECK-COUNT-1: attn.kv_range
// CHECK-NOT: attn.kv_range
attn.pattern @done {
  attn.normalize softmax
  attn.kv_range {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %sq: index, %skv: index):
    %c0 = arith.constant 0 : index
    attn.yield %c0, %skv : index, index
  }
  attn.tile_full {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %t = arith.constant false
    attn.yield %t : i1
  }
}
