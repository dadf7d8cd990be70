//===- Files.cpp - Whole-file reads and atomic writes ---------------------===//
#include "Files.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

std::optional<std::string> attnc::detail::readFile(const std::string &path) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return std::nullopt;
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    data.append(buf, n);
  bool ok = !std::ferror(f);
  std::fclose(f);
  return ok ? std::optional<std::string>(std::move(data)) : std::nullopt;
}

bool attnc::detail::writeFileAtomically(const std::string &path, const std::string &data) {
  static std::atomic<uint64_t> counter{0};
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return false;
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok &= std::fclose(f) == 0;
  if (ok)
    std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    return false;
  }
  return true;
}
