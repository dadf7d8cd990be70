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

/// Prints `region`, of one result, as C++ statements for a loop over the arguments from
/// `firstVarying` on: the ops that read none of those (directly or not) once, then
/// `loopHeader` and a block of the other ops that assigns the result to `resultTarget`
/// (argNames spell the varying arguments with the loop's index).
LogicalResult printRegionBodyHoisted(Region &region, llvm::ArrayRef<std::string> argNames,
                                     unsigned firstVarying, llvm::StringRef loopHeader,
                                     llvm::StringRef resultTarget, llvm::raw_ostream &os,
                                     llvm::StringRef indent);

/// Prints `region`, of one f32 result y, as C++ statements returning log2(y): a yielded exp(x)
/// or exp2(x) becomes x log2(e) or x, without evaluating the exponential (a linear pattern's
/// decay, whose kernels work with log2 gamma), anything else log2f(y).
LogicalResult printRegionBodyLog2(Region &region, llvm::ArrayRef<std::string> argNames,
                                  llvm::raw_ostream &os, llvm::StringRef indent);

} // namespace mlir::attn

#endif // ATTN_CODEGEN_REGIONPRINTER_H
