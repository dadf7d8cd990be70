// RUN: attn-opt %s --split-input-file --attn-classify-blocks --attn-lower-to-kernel --verify-diagnostics

attn.pattern @sigmoid {
  // expected-error @+1 {{normaliser 'sigmoid' has no kernel template yet}}
  attn.normalize sigmoid
}

