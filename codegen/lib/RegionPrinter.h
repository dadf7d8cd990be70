//===- RegionPrinter.h - Print a region of arith/math ops as C++ -----*- C++ -*-===//
#ifndef ATTN_CODEGEN_REGIONPRINTER_H
#define ATTN_CODEGEN_REGIONPRINTER_H

#include "mlir/IR/Region.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::attn {

/// The C++ spelling of a scalar type used in hooks (index -> int, i1 -> bool, f32 -> float).
FailureOr<std::string> getCudaTypeName(Type type);

/// Prints the single block of `region` as C++ statements, one `const T vN = ...;` per op,
/// with the block arguments named `argNames`. Each yielded value is assigned to the matching
/// entry of `resultTargets` ("return" means `return <v>;`). Fails, with a diagnostic on the
/// op, on an op the device library has no spelling for.
LogicalResult printRegionBody(Region &region, llvm::ArrayRef<std::string> argNames,
                              llvm::ArrayRef<std::string> resultTargets, llvm::raw_ostream &os,
                              llvm::StringRef indent);

} // namespace mlir::attn

#endif // ATTN_CODEGEN_REGIONPRINTER_H
