//===- attn-translate.cpp - Kernel-level attn IR to CUDA C++ ------------------===//
#include "attn/Codegen/CudaEmitter.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::attn::registerToCudaTranslation();
  return mlir::failed(mlir::mlirTranslateMain(argc, argv, "attnc translation driver"));
}
