//===- Npy.h - Read and write NumPy .npy files -----------------------*- C++ -*-===//
//
// The .npy format (format versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", a version, the
// header length, a Python dict literal with 'descr', 'fortran_order' and 'shape', then the
// elements in C order. Reading accepts the numeric dtypes f2 f4 f8, i1 i2 i4 i8, u1 u2 u4 u8
// and b1 in either byte order and converts every element to double; Fortran order, structured
// dtypes and anything malformed are errors (never crashes). Writing produces float32 ('<f4')
// in version 1.0 (2.0 when the header needs it).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DRIVER_NPY_H
#define ATTNC_DRIVER_NPY_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc {

struct NpyArray {
  std::string descr;          // as written in the header, e.g. "<f4"
  std::vector<int64_t> shape; // empty for a 0-d array
  std::vector<double> values; // every element, C order
  /// True for the integer and bool dtypes.
  bool isInteger = false;
};

/// "[2, 3, 4]".
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// Parses the contents of a .npy file; `name` prefixes the error messages.
llvm::Expected<NpyArray> parseNpy(llvm::ArrayRef<uint8_t> bytes, llvm::StringRef name);

/// Reads and parses the .npy file at `path`.
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);

/// The bytes of a '<f4' .npy file holding `values` (rounded to float) with `shape`.
std::vector<uint8_t> encodeNpyFloat32(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<double> values);

/// Writes `values` with `shape` as '<f4' to `path` ("-" for stdout).
llvm::Error writeNpyFloat32(llvm::StringRef path, llvm::ArrayRef<int64_t> shape,
                            llvm::ArrayRef<double> values);

} // namespace attnc

#endif // ATTNC_DRIVER_NPY_H
