//===- Files.h - Whole-file reads and atomic writes -------------*- C++ -*-===//
//
// Private to the runtime: the kernel cache's disk entries and AOT bundles.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_LIB_FILES_H
#define ATTNC_RUNTIME_LIB_FILES_H

#include <optional>
#include <string>

namespace attnc::detail {

/// The bytes of `path`, or nullopt (errno says why) when it cannot be read.
std::optional<std::string> readFile(const std::string &path);

/// Writes `data` to a unique temporary name in the same directory (created with its parents
/// if missing), then renames it over `path`, so a crash or a concurrent writer never leaves a
/// half-written file under the final name. False on failure.
bool writeFileAtomically(const std::string &path, const std::string &data);

} // namespace attnc::detail

#endif // ATTNC_RUNTIME_LIB_FILES_H
