//===- Inputs.cpp - Input tensors and scalars given on the command line -------===//
//
// `--input NAME=FILE.npy` and `--scalar NAME=VALUE` of attnc ref and attnc explain: a pattern's
// `attn.input` declarations are resolved for the problem's sizes (B, H, Hkv, Sq, Skv) and each
// file must have exactly that shape; `attn.scalar`s without a value take their defaults.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Npy.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using llvm::errs;

/// The names of `map`, sorted (StringMap iterates in no particular order).
static std::vector<std::string> sortedKeys(const llvm::StringMap<std::string> &map) {
  std::vector<std::string> keys;
  for (const auto &entry : map)
    keys.push_back(entry.getKey().str());
  llvm::sort(keys);
  return keys;
}

bool attnc::checkDeclared(llvm::ArrayRef<attn::PatternOp> patterns,
                          const llvm::StringMap<std::string> &inputs,
                          const llvm::StringMap<std::string> &scalars) {
  std::vector<std::string> inputNames, scalarNames;
  for (attn::PatternOp pattern : patterns)
    for (Operation &op : pattern.getBody().front()) {
      if (auto input = dyn_cast<attn::InputOp>(op))
        inputNames.push_back(input.getName().str());
      else if (auto scalar = dyn_cast<attn::ScalarOp>(op))
        scalarNames.push_back(scalar.getName().str());
    }
  for (std::vector<std::string> *names : {&inputNames, &scalarNames}) {
    llvm::sort(*names);
    names->erase(std::unique(names->begin(), names->end()), names->end());
  }
  auto check = [](const llvm::StringMap<std::string> &given, llvm::ArrayRef<std::string> declared,
                  llvm::StringRef what) {
    for (const std::string &name : sortedKeys(given))
      if (!llvm::is_contained(declared, name)) {
        errs() << "attnc: --" << what << " " << name << ": no pattern declares " << what << " '"
               << name << "' (";
        if (declared.empty())
          errs() << "none is declared";
        else
          errs() << "declared: " << llvm::join(declared, ", ");
        errs() << ")\n";
        return false;
      }
    return true;
  };
  return check(inputs, inputNames, "input") && check(scalars, scalarNames, "scalar");
}

/// "[B, Skv] = [2, 300]" for a declaration with problem sizes, "[16]" without.
static std::string describeShape(attn::InputOp input, llvm::ArrayRef<int64_t> resolved) {
  std::string text = "[";
  bool symbolic = false;
  for (auto [i, dim] : llvm::enumerate(input.getShape())) {
    if (i)
      text += ", ";
    if (auto name = dyn_cast<StringAttr>(dim)) {
      text += name.getValue().str();
      symbolic = true;
    } else {
      text += std::to_string(cast<IntegerAttr>(dim).getInt());
    }
  }
  text += "]";
  return symbolic ? text + " = " + attnc::formatShape(resolved) : text;
}

bool attnc::bindInputsAndScalars(attn::PatternOp pattern,
                                 const llvm::StringMap<std::string> &inputFiles,
                                 const llvm::StringMap<std::string> &scalarValues,
                                 attn::ReferenceProblem &problem, const llvm::StringSet<> *needed) {
  auto isNeeded = [&](llvm::StringRef name) { return !needed || needed->contains(name); };
  for (Operation &op : pattern.getBody().front()) {
    if (auto input = dyn_cast<attn::InputOp>(op)) {
      llvm::StringRef name = input.getName();
      std::vector<int64_t> shape = attn::resolveInputShape(input, problem);
      auto file = inputFiles.find(name);
      if (file == inputFiles.end() && !isNeeded(name))
        continue;
      if (file == inputFiles.end()) {
        errs() << "attnc: pattern '" << pattern.getSymName() << "' reads input '" << name << "' "
               << describeShape(input, shape) << ": give it with --input " << name << "=FILE.npy\n";
        return false;
      }
      llvm::Expected<NpyArray> array = readNpy(file->second);
      if (!array) {
        errs() << "attnc: " << llvm::toString(array.takeError()) << "\n";
        return false;
      }
      if (array->shape != shape) {
        int64_t count = 1;
        for (int64_t extent : shape)
          count *= extent;
        errs() << "attnc: " << file->second << ": input '" << name << "' must have shape "
               << describeShape(input, shape) << " (" << count << " elements); the file has shape "
               << formatShape(array->shape) << " (" << array->values.size() << " elements)\n";
        return false;
      }
      if (input.getElementType().isInteger(32))
        for (auto [i, value] : llvm::enumerate(array->values))
          if (!(value == std::floor(value) && std::fabs(value) <= 2147483647.0)) {
            errs() << "attnc: " << file->second << ": input '" << name << "' is int, but element "
                   << i << " is " << llvm::format("%g", value) << " (not a 32-bit integer)\n";
            return false;
          }
      problem.inputs[name] = std::move(array->values);
    } else if (auto scalar = dyn_cast<attn::ScalarOp>(op)) {
      llvm::StringRef name = scalar.getName();
      auto text = scalarValues.find(name);
      if (text == scalarValues.end()) {
        if (scalar.getDefaultValueAttr() || !isNeeded(name))
          continue;
        errs() << "attnc: pattern '" << pattern.getSymName() << "' reads scalar '" << name
               << "', which has no default: give it with --scalar " << name << "=VALUE\n";
        return false;
      }
      double value = 0;
      if (llvm::StringRef(text->second).trim().getAsDouble(value)) {
        errs() << "attnc: --scalar " << name << "=" << text->second << ": not a number\n";
        return false;
      }
      problem.scalars[name] = value;
    }
  }
  return true;
}
