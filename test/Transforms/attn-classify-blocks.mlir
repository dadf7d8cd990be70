// RUN: attn-opt %s --split-input-file --attn-classify-blocks --canonicalize | FileCheck %s

// A pattern without a mask sees every key, every in-bounds tile is FULL, none is EMPTY.
// CHECK-LABEL: attn.pattern @dense
// CHECK-SAME: mask_class = "full"
// CHECK: attn.kv_range {
// CHECK-NEXT: ^bb0(%{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %[[SKV:.+]]: index):
// CHECK-NEXT: %[[ZERO:.+]] = arith.constant 0 : index
// CHECK-NEXT: attn.yield %[[ZERO]], %[[SKV]] : index, index
// CHECK: attn.tile_full {
// CHECK: %[[TRUE:.+]] = arith.constant true
// CHECK-NEXT: attn.yield %[[TRUE]] : i1
// CHECK: attn.tile_empty {
// CHECK: %[[FALSE:.+]] = arith.constant false
// CHECK-NEXT: attn.yield %[[FALSE]] : i1
attn.pattern @dense {
  attn.normalize softmax
}

// -----

// Causal: rows [q0, q1) see keys [0, q1); a tile is FULL when its last key is at most its
// first row, EMPTY when its first key is past its last row.
// CHECK-LABEL: attn.pattern @causal
// CHECK-SAME: mask_class = "causal"
// CHECK: attn.kv_range {
// CHECK-NEXT: ^bb0(%{{.+}}: index, %{{.+}}: index, %[[Q0:.+]]: index, %[[Q1:.+]]: index, %{{.+}}: index, %[[SKV:.+]]: index):
// CHECK: %[[HI:.+]] = arith.minsi %[[Q1]], %[[SKV]] : index
// CHECK: attn.yield %{{.+}}, %{{.+}} : index, index
// CHECK: attn.tile_full {
// CHECK-NEXT: ^bb0(%{{.+}}: index, %{{.+}}: index, %[[FQ0:.+]]: index, %{{.+}}: index, %{{.+}}: index, %[[FK1:.+]]: index, %{{.+}}: index, %{{.+}}: index):
// CHECK: %[[END:.+]] = arith.minsi %[[FK1]], %{{.+}} : index
// CHECK: %[[LASTK:.+]] = arith.subi %[[END]], %{{.+}} : index
// CHECK: %[[FULL:.+]] = arith.cmpi sge, %[[FQ0]], %[[LASTK]] : index
// CHECK: attn.yield %[[FULL]] : i1
// CHECK: attn.tile_empty {
// CHECK: arith.cmpi
// CHECK: attn.yield
attn.pattern @causal {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %keep = arith.cmpi sge, %q, %k : index
    attn.yield %keep : i1
  }
  attn.normalize softmax
}

// -----

// A mask that reads an input tensor cannot be bounded: all keys, every tile PARTIAL.
// CHECK-LABEL: attn.pattern @document
// CHECK-SAME: mask_class = "general"
// CHECK: attn.tile_full {
// CHECK: %[[NO:.+]] = arith.constant false
// CHECK-NEXT: attn.yield %[[NO]] : i1
// CHECK: attn.tile_empty {
// CHECK: %[[NO2:.+]] = arith.constant false
// CHECK-NEXT: attn.yield %[[NO2]] : i1
attn.pattern @document {
  attn.input "doc" : i32 ["B", "Skv"]
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %dq = attn.load "doc"[%b, %q] : i32
    %dk = attn.load "doc"[%b, %k] : i32
    %keep = arith.cmpi eq, %dq, %dk : i32
    attn.yield %keep : i1
  }
  attn.normalize softmax
}

// -----

// A sliding window of 256 keys with 4 sink keys is recognised, and the kv_range starts at 0
// (the sinks) while tile_empty skips the tiles between the sinks and the window.
// CHECK-LABEL: attn.pattern @sinks_window
// CHECK-SAME: mask_class = "sinks(4)+sliding_window(256)"
attn.pattern @sinks_window {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %c4 = arith.constant 4 : index
    %c256 = arith.constant 256 : index
    %sink = arith.cmpi slt, %k, %c4 : index
    %causal = arith.cmpi sle, %k, %q : index
    %d = arith.subi %q, %k : index
    %near = arith.cmpi slt, %d, %c256 : index
    %window = arith.andi %causal, %near : i1
    %keep = arith.ori %sink, %window : i1
    attn.yield %keep : i1
  }
  attn.normalize softmax
}

// -----

// Block-diagonal chunks of 128 are recognised.
// CHECK-LABEL: attn.pattern @chunks
// CHECK-SAME: mask_class = "block_diagonal(128)"
attn.pattern @chunks {
  attn.mask {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %c128 = arith.constant 128 : index
    %cq = arith.divsi %q, %c128 : index
    %ck = arith.divsi %k, %c128 : index
    %keep = arith.cmpi eq, %cq, %ck : index
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
  attn.tile_empty {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %k0: index, %k1: index, %sq: index, %skv: index):
    %t = arith.constant false
    attn.yield %t : i1
  }
}

