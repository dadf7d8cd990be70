//===- attn-opt.cpp - The attnc optimizer driver ------------------------------===//
//
// MlirOptMain over the attn dialect (and the arith/math dialects its regions use) with every
// attnc pass and the `attn-pipeline` pipeline registered.
//
//===----------------------------------------------------------------------===//
#include "attn/Dialect/AttnOps.h"
#include "attn/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialects(registry);
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::attn::registerAttnPassesAndPipelines();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "attnc optimizer driver\n", registry));
}
