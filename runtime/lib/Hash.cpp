//===- Hash.cpp - Status helpers and the 128-bit cache hash ---------------===//
//
// The hash behind every cache key and disk checksum: two 64-bit lanes mixed
// with multiplies and rotations over 16-byte blocks, in the style of
// MurmurHash3's x64 128-bit variant, with a streaming front end so that callers
// can feed fields one at a time. It is not cryptographic; it only has to make
// accidental collisions between kernels vanishingly unlikely and catch
// corrupted cache files. Blocks are read little-endian so that digests (and
// therefore cache file names) are the same on every host.
//
//===----------------------------------------------------------------------===//

#include "attnc/Runtime.h"

#include <algorithm>
#include <cstring>

using namespace attnc;

Status Status::withContext(std::string_view context) const {
  if (ok())
    return *this;
  return Status::error(std::string(context) + ": " + message_);
}

namespace {
constexpr uint64_t kMul1 = 0x87c37b91114253d5ULL;
constexpr uint64_t kMul2 = 0x4cf5ad432745937fULL;
} // namespace

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t load64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

// Final avalanche: every input bit flips each output bit with probability ~1/2.
static uint64_t avalanche(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

Hasher::Hasher(uint64_t seed)
    : h1_(seed ^ 0x9e3779b97f4a7c15ULL), h2_(rotl(seed, 32) ^ 0x6a09e667f3bcc909ULL) {}

void Hasher::mixBlock(const unsigned char *block) {
  uint64_t k1 = load64(block), k2 = load64(block + 8);
  k1 = rotl(k1 * kMul1, 31) * kMul2;
  h1_ = (rotl(h1_ ^ k1, 27) + h2_) * 5 + 0x52dce729;
  k2 = rotl(k2 * kMul2, 33) * kMul1;
  h2_ = (rotl(h2_ ^ k2, 31) + h1_) * 5 + 0x38495ab5;
}

Hasher &Hasher::bytes(const void *data, size_t size) {
  const auto *p = static_cast<const unsigned char *>(data);
  total_ += size;
  if (tailSize_ != 0) {
    size_t take = std::min(size, sizeof(tail_) - tailSize_);
    std::memcpy(tail_ + tailSize_, p, take);
    tailSize_ += take;
    p += take;
    size -= take;
    if (tailSize_ < sizeof(tail_))
      return *this;
    mixBlock(tail_);
    tailSize_ = 0;
  }
  for (; size >= 16; p += 16, size -= 16)
    mixBlock(p);
  std::memcpy(tail_, p, size);
  tailSize_ = size;
  return *this;
}

Hasher &Hasher::u64(uint64_t value) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = static_cast<unsigned char>(value >> (8 * i));
  return bytes(b, sizeof(b));
}

Hasher &Hasher::str(std::string_view s) {
  u64(s.size());
  return bytes(s.data(), s.size());
}

Hash128 Hasher::digest() const {
  // The tail is zero-padded into one more block; the total length is folded in
  // afterwards, so inputs that differ only by trailing zero bytes still differ.
  uint64_t h1 = h1_, h2 = h2_;
  if (tailSize_ != 0) {
    unsigned char block[16] = {};
    std::memcpy(block, tail_, tailSize_);
    uint64_t k1 = rotl(load64(block) * kMul1, 31) * kMul2;
    uint64_t k2 = rotl(load64(block + 8) * kMul2, 33) * kMul1;
    h1 ^= k1;
    h2 ^= k2;
  }
  h1 ^= total_;
  h2 ^= total_;
  h1 += h2;
  h2 += h1;
  h1 = avalanche(h1);
  h2 = avalanche(h2);
  h1 += h2;
  h2 += h1;
  return Hash128{h1, h2};
}

std::string Hash128::hex() const {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = kDigits[(hi >> (4 * i)) & 15];
    out[31 - i] = kDigits[(lo >> (4 * i)) & 15];
  }
  return out;
}

Hash128 attnc::hash128(std::string_view data, uint64_t seed) {
  return Hasher(seed).bytes(data.data(), data.size()).digest();
}
