// RUN: attn-opt %s --split-input-file --attn-classify-blocks --attn-lower-to-kernel --verify-diagnostics

// expected-error @+1 {{normaliser 'sigmoid' has no kernel template yet}}
attn.pattern @sigmoid {
  attn.normalize sigmoid
}


// -----

// expected-error @+1 {{post-normalisation weights have no kernel template yet}}
attn.pattern @weighted {
  attn.weight {
  ^bb0(%b: index, %h: index, %q: index, %k: index, %sq: index, %skv: index):
    %w = arith.constant 0.5 : f32
    attn.yield %w : f32
  }
  attn.normalize softmax
}
