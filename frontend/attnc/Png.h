//===- Png.h - A minimal PNG encoder ---------------------------------*- C++ -*-===//
//
// Writes 8-bit RGB images: the signature, IHDR, one IDAT chunk holding a zlib stream of the
// scanlines (each with filter type 0), IEND. The stream is compressed with LLVM's zlib when it
// is available, else made of stored deflate blocks.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DRIVER_PNG_H
#define ATTNC_DRIVER_PNG_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace attnc {

/// The Adler-32 checksum of `data` (RFC 1950).
uint32_t adler32(llvm::ArrayRef<uint8_t> data);

/// A zlib stream (RFC 1950) of `data` made of stored (uncompressed) deflate blocks.
std::vector<uint8_t> zlibStored(llvm::ArrayRef<uint8_t> data);

/// The bytes of a PNG of `width` x `height` pixels; `rgb` holds 3 bytes a pixel, row-major.
/// `compress` = false forces stored deflate blocks even where zlib is available.
std::vector<uint8_t> encodePng(uint32_t width, uint32_t height, llvm::ArrayRef<uint8_t> rgb,
                               bool compress = true);

/// Encodes and writes a PNG to `path`.
llvm::Error writePng(llvm::StringRef path, uint32_t width, uint32_t height,
                     llvm::ArrayRef<uint8_t> rgb, bool compress = true);

} // namespace attnc

#endif // ATTNC_DRIVER_PNG_H
