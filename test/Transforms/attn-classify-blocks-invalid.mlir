// RUN: attn-opt %s --attn-classify-blocks --verify-diagnostics

// expected-error @+1 {{is partly classified: it has some but not all of kv_range, tile_full and tile_empty}}
attn.pattern @partly {
  attn.normalize softmax
  attn.kv_range {
  ^bb0(%b: index, %h: index, %q0: index, %q1: index, %sq: index, %skv: index):
    %c0 = arith.constant 0 : index
    attn.yield %c0, %skv : index, index
  }
}
