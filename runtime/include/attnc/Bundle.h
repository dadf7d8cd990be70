//===- Bundle.h - Ahead-of-time kernel bundles ------------------------*- C++ -*-===//
//
// A bundle is a directory that runs a spec's kernels without the compiler:
//   manifest.json     format "attnc-bundle" version 3: per kernel its AttentionSpec, its source
//                     file and one CUBIN per arch with the CUBIN's hash
//   <entry>.cu        the generated CUDA source (JIT fallback for archs without a CUBIN)
//   <entry>.<arch>.cubin
//   <name>.h          a C header with one typed launcher per pattern over attnc_c.h
// `attnc compile SPEC --emit=bundle -o DIR` writes one; `loadBundle` (or attnc_bundle_load)
// reads it back, rejecting a manifest of another format or a CUBIN whose hash differs.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_BUNDLE_H
#define ATTNC_BUNDLE_H

#include "attnc/Attention.h"

#include <memory>
#include <string>
#include <vector>

namespace attnc {

/// Writes `images` (each with its source and CUBINs) as the bundle `name` into `directory`
/// (created if missing). `specFile` is recorded in the manifest.
Status writeBundle(const std::string &directory, const std::string &name,
                   const std::string &specFile,
                   const std::vector<std::shared_ptr<KernelImage>> &images);

/// Reads the bundle in `directory`.
StatusOr<std::vector<std::shared_ptr<KernelImage>>> loadBundle(const std::string &directory);

/// The C header of a bundle: `static inline int attnc_<name>_<pattern>(...)` launchers taking
/// one argument per tensor, input and scalar of the pattern.
std::string bundleHeader(const std::string &name,
                         const std::vector<std::shared_ptr<KernelImage>> &images);

} // namespace attnc

#endif // ATTNC_BUNDLE_H
