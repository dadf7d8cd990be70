//===- CApiSupport.h - For C API entry points outside the runtime ---*- C++ -*-===//
//
// attnc_compile lives in the frontend (it needs the compiler); these let it build the
// runtime's attnc_program and report errors through attnc_last_error().
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_CAPISUPPORT_H
#define ATTNC_CAPISUPPORT_H

#include "attnc/Attention.h"
#include "attnc/attnc_c.h"

#include <memory>
#include <string>
#include <vector>

namespace attnc::capi {
/// A new program over `images` (the caller owns it: attnc_program_free).
attnc_program *makeProgram(const std::vector<std::shared_ptr<KernelImage>> &images);
/// Sets attnc_last_error() for this thread and returns 1.
int setError(const std::string &message);
} // namespace attnc::capi

#endif // ATTNC_CAPISUPPORT_H
