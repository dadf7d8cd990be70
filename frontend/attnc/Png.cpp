//===- Png.cpp - A minimal PNG encoder ----------------------------------------===//
//
// A chunk is its length (uint32 BE), its type, its data and the CRC-32 of type and data. The
// stored-block fall-back: a zlib header (0x78 0x01), blocks of at most 65535 bytes, each a byte
// with BFINAL in bit 0 and BTYPE = 00, LEN and ~LEN (uint16 LE), the bytes; then the Adler-32
// of the data (uint32 BE).
//
//===----------------------------------------------------------------------===//
#include "Png.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/Compression.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cassert>

using namespace llvm;

namespace {

void appendBE32(std::vector<uint8_t> &out, uint32_t value) {
  uint8_t bytes[4];
  support::endian::write32be(bytes, value);
  out.insert(out.end(), bytes, bytes + 4);
}

void appendChunk(std::vector<uint8_t> &out, const char type[4], ArrayRef<uint8_t> data) {
  appendBE32(out, uint32_t(data.size()));
  size_t typeStart = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  appendBE32(out, crc32(ArrayRef<uint8_t>(out).drop_front(typeStart)));
}

} // namespace

uint32_t attnc::adler32(ArrayRef<uint8_t> data) {
  constexpr uint32_t kMod = 65521;
  uint32_t a = 1, b = 0;
  // 5552 bytes is the most that can be summed before b can overflow 32 bits.
  while (!data.empty()) {
    size_t n = std::min<size_t>(data.size(), 5552);
    for (uint8_t byte : data.take_front(n)) {
      a += byte;
      b += a;
    }
    a %= kMod;
    b %= kMod;
    data = data.drop_front(n);
  }
  return (b << 16) | a;
}

std::vector<uint8_t> attnc::zlibStored(ArrayRef<uint8_t> data) {
  std::vector<uint8_t> out = {0x78, 0x01}; // deflate, 32K window, no dictionary, check bits
  ArrayRef<uint8_t> rest = data;
  do {
    size_t n = std::min<size_t>(rest.size(), 65535);
    bool final = n == rest.size();
    out.push_back(final ? 1 : 0);
    uint8_t lengths[4];
    support::endian::write16le(lengths, uint16_t(n));
    support::endian::write16le(lengths + 2, uint16_t(~n));
    out.insert(out.end(), lengths, lengths + 4);
    out.insert(out.end(), rest.begin(), rest.begin() + n);
    rest = rest.drop_front(n);
  } while (!rest.empty());
  appendBE32(out, adler32(data));
  return out;
}

std::vector<uint8_t> attnc::encodePng(uint32_t width, uint32_t height, ArrayRef<uint8_t> rgb,
                                      bool compress) {
  assert(rgb.size() == size_t(width) * height * 3 && "one RGB triple a pixel");
  std::vector<uint8_t> scanlines;
  scanlines.reserve(size_t(height) * (size_t(width) * 3 + 1));
  for (uint32_t y = 0; y < height; ++y) {
    scanlines.push_back(0); // filter type None
    ArrayRef<uint8_t> row = rgb.slice(size_t(y) * width * 3, size_t(width) * 3);
    scanlines.insert(scanlines.end(), row.begin(), row.end());
  }
  std::vector<uint8_t> stream;
  if (compress && compression::zlib::isAvailable()) {
    SmallVector<uint8_t, 0> compressed;
    compression::zlib::compress(scanlines, compressed, compression::zlib::BestSizeCompression);
    stream.assign(compressed.begin(), compressed.end());
  } else {
    stream = zlibStored(scanlines);
  }

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  appendBE32(ihdr, width);
  appendBE32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0}); // 8 bits, RGB, deflate, filter 0, no interlace
  appendChunk(png, "IHDR", ihdr);
  appendChunk(png, "IDAT", stream);
  appendChunk(png, "IEND", {});
  return png;
}

Error attnc::writePng(StringRef path, uint32_t width, uint32_t height, ArrayRef<uint8_t> rgb,
                      bool compress) {
  std::vector<uint8_t> png = encodePng(width, height, rgb, compress);
  // writeToOutput writes a temporary file and renames it: no half-written output on error.
  return writeToOutput(path, [&](raw_ostream &os) {
    os.write(reinterpret_cast<const char *>(png.data()), png.size());
    return Error::success();
  });
}
