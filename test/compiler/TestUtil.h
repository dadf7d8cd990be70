//===- TestUtil.h - Compile spec text in compiler tests --------------*- C++ -*-===//
#ifndef ATTNC_TEST_COMPILER_TESTUTIL_H
#define ATTNC_TEST_COMPILER_TESTUTIL_H

#include "attn/Frontend/Compiler.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/MemoryBuffer.h"

#include <random>
#include <string>
#include <vector>

namespace attnc::test {

/// A spec compiled to classified pattern-level IR (errors fail the calling test).
struct Compiled {
  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  mlir::attn::PatternOp pattern(llvm::StringRef name = "") {
    for (auto p : module->getOps<mlir::attn::PatternOp>())
      if (name.empty() || p.getSymName() == name)
        return p;
    return nullptr;
  }
};

inline std::unique_ptr<Compiled> compile(const std::string &text,
                                         const ParamOverrides &overrides = {}) {
  auto c = std::make_unique<Compiled>();
  c->context.disableMultithreading();
  loadAttnDialects(c->context);
  c->sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "test.attn"),
                                  llvm::SMLoc());
  mlir::SourceMgrDiagnosticHandler handler(c->sourceMgr, &c->context);
  c->module = parsePatterns(c->context, c->sourceMgr, overrides);
  if (!c->module)
    return nullptr;
  mlir::PassManager pm(&c->context);
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::attn::createAttnClassifyBlocksPass());
  pm.addPass(mlir::createCanonicalizerPass());
  if (mlir::failed(pm.run(*c->module)))
    return nullptr;
  return c;
}

inline std::vector<double> randomVector(size_t n, std::mt19937 &rng) {
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<double> v(n);
  for (double &x : v)
    x = dist(rng);
  return v;
}

} // namespace attnc::test

#endif // ATTNC_TEST_COMPILER_TESTUTIL_H
