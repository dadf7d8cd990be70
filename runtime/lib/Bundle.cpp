//===- Bundle.cpp - Ahead-of-time kernel bundles -------------------------------===//
#include "attnc/Bundle.h"
#include "attnc/Composite.h"

#include "Files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

using namespace attnc;
using json = nlohmann::json;

static constexpr const char *kFormat = "attnc-bundle";
// 2: FwdParams gained the gate pass's and the row maps' fields (CUBINs of version 1 read the
// argument block of their own layout). 3: a scalar gate per token's gate-log pass (the
// prefill reads the prefixes that pass writes; CUBINs of version 2 compute them themselves).
// 4: FwdParams::work_counter; the Hopper template's grid is persistent (a CUBIN of version 3
// runs one work tile per CTA and would leave tiles undone under the persistent launch).
// 5: FwdParams::work_group, the Hopper template's work order (a runtime of version 4 would pass
// a block without it).
static constexpr int kFormatVersion = 5;

static Status writeFile(const std::string &path, const std::string &bytes) {
  if (!detail::writeFileAtomically(path, bytes))
    return Status::error("cannot write " + path + ": " + std::strerror(errno));
  return Status::success();
}

static StatusOr<std::string> readFile(const std::string &path) {
  std::optional<std::string> bytes = detail::readFile(path);
  if (!bytes)
    return Status::error("cannot read " + path + ": " + std::strerror(errno));
  return std::move(*bytes);
}

Status attnc::writeBundle(const std::string &directory, const std::string &name,
                          const std::string &specFile,
                          const std::vector<std::shared_ptr<KernelImage>> &images) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec || !std::filesystem::is_directory(directory))
    return Status::error("cannot create the directory " + directory +
                         (ec ? ": " + ec.message() : ""));
  json manifest;
  manifest["format"] = kFormat;
  manifest["version"] = kFormatVersion;
  manifest["name"] = name;
  manifest["spec"] = specFile;
  manifest["kernels"] = json::array();
  for (const std::shared_ptr<KernelImage> &image : images) {
    const AttentionSpec &spec = image->spec();
    json entry;
    entry["spec"] = json::parse(spec.toJson());
    entry["source"] = nullptr;
    if (!image->source().empty()) {
      entry["source"] = spec.entry + ".cu";
      ATTNC_TRY(writeFile(directory + "/" + spec.entry + ".cu", image->source()));
    }
    entry["cubins"] = json::object();
    for (const auto &[arch, cubin] : image->cubins()) {
      std::string file = spec.entry + "." + arch + ".cubin";
      entry["cubins"][arch] = {{"file", file}, {"hash", hash128(cubin).hex()}};
      ATTNC_TRY(writeFile(directory + "/" + file, cubin));
    }
    manifest["kernels"].push_back(std::move(entry));
  }
  ATTNC_TRY(writeFile(directory + "/" + name + ".h", bundleHeader(name, images)));
  return writeFile(directory + "/manifest.json", manifest.dump(2) + "\n");
}

StatusOr<std::vector<std::shared_ptr<KernelImage>>>
attnc::loadBundle(const std::string &directory) {
  const std::string path = directory + "/manifest.json";
  ATTNC_ASSIGN_OR_RETURN(std::string text, readFile(path));
  json manifest = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string &why) { return Status::error(path + ": " + why); };
  if (manifest.is_discarded() || !manifest.is_object())
    return bad("not JSON");
  if (manifest.value("format", "") != kFormat)
    return bad("not an attnc bundle manifest (format is not \"attnc-bundle\")");
  if (!manifest.contains("version") || !manifest["version"].is_number_integer() ||
      manifest["version"].get<int>() != kFormatVersion)
    return bad("bundle format version " + manifest.value("version", json()).dump() +
               "; this runtime reads version " + std::to_string(kFormatVersion));
  std::vector<std::shared_ptr<KernelImage>> images;
  try {
    for (const json &entry : manifest.at("kernels")) {
      ATTNC_ASSIGN_OR_RETURN(AttentionSpec spec, AttentionSpec::fromJson(entry.at("spec").dump()));
      std::string source;
      if (!entry.at("source").is_null()) {
        ATTNC_ASSIGN_OR_RETURN(source,
                               readFile(directory + "/" + entry.at("source").get<std::string>()));
      }
      std::vector<std::pair<std::string, std::string>> cubins;
      for (const auto &[arch, file] : entry.at("cubins").items()) {
        std::string fileName = file.at("file").get<std::string>();
        if (fileName.find('/') != std::string::npos)
          return bad("CUBIN file name '" + fileName + "' leaves the bundle directory");
        ATTNC_ASSIGN_OR_RETURN(std::string cubin, readFile(directory + "/" + fileName));
        if (hash128(cubin).hex() != file.at("hash").get<std::string>())
          return bad(fileName + " does not match its hash in the manifest (damaged or replaced)");
        cubins.emplace_back(arch, std::move(cubin));
      }
      if (source.empty() && cubins.empty())
        return bad("kernel '" + spec.entry + "' has neither source nor CUBIN");
      if (spec.branches.empty()) {
        images.push_back(
            std::make_shared<KernelImage>(std::move(spec), std::move(source), std::move(cubins)));
        continue;
      }
      // A composite: its branches come before it in the manifest.
      std::vector<std::shared_ptr<const KernelImage>> branches;
      for (const std::string &name : spec.branches) {
        auto branch = std::find_if(images.begin(), images.end(), [&](const auto &image) {
          return image->spec().pattern == name && !image->isComposite();
        });
        if (branch == images.end())
          return bad("composite '" + spec.pattern + "' names branch '" + name +
                     "', which no kernel before it is");
        branches.push_back(*branch);
      }
      images.push_back(std::make_shared<KernelImage>(std::move(spec), std::move(source),
                                                     std::move(branches), std::move(cubins)));
    }
  } catch (const json::exception &e) {
    return bad(e.what());
  }
  return images;
}

//===----------------------------------------------------------------------===//
// The C header
//===----------------------------------------------------------------------===//

static std::string cIdentifier(const std::string &name) {
  std::string id;
  for (char c : name)
    id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (id.empty() || std::isdigit(static_cast<unsigned char>(id[0])))
    id = "_" + id;
  return id;
}

std::string attnc::bundleHeader(const std::string &name,
                                const std::vector<std::shared_ptr<KernelImage>> &images) {
  const std::string id = cIdentifier(name);
  std::string guard = "ATTNC_BUNDLE_" + id + "_H";
  for (char &c : guard)
    c = char(std::toupper(static_cast<unsigned char>(c)));
  std::ostringstream os;
  os << "/* Generated by attnc compile --emit=bundle: the launchers of bundle '" << name
     << "'. Do not edit. */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#include \"attnc/attnc_c.h\"\n#include <math.h>\n#include <string.h>\n\n"
     << "/* Loads the bundle from `directory` (the folder of manifest.json). */\n"
     << "static inline int attnc_" << id
     << "_load(const char *directory, attnc_program **bundle) {\n"
     << "  return attnc_bundle_load(directory, bundle);\n}\n";
  for (const std::shared_ptr<KernelImage> &image : images) {
    const AttentionSpec &s = image->spec();
    const std::string fn = "attnc_" + id + "_" + cIdentifier(s.pattern);
    const char *seq = s.varlen ? "total" : "B, S";
    os << "\n/* Pattern '" << s.pattern << "': " << (s.dtype == ElementType::BF16 ? "bf16" : "f16")
       << ", D " << s.config.headDim << ", Dv " << s.config.headDimV << ", " << s.normalizer
       << (s.varlen ? ", varlen" : "") << ".\n"
       << " *   q [" << seq << "q, Hq, " << s.config.headDim << "], k [" << seq << "kv, Hkv, "
       << s.config.headDim << "], v [" << seq << "kv, Hkv, " << s.config.headDimV << "], o [" << seq
       << "q, Hq, " << s.config.headDimV << "]";
    // The state a call carries: a linear pattern's, or a composite's one linear branch's.
    const AttentionSpec *stateful = s.stepEntry.empty() ? nullptr : &s;
    if (!s.branches.empty()) {
      std::vector<const AttentionSpec *> branches;
      for (const std::string &branch : s.branches)
        for (const std::shared_ptr<KernelImage> &other : images)
          if (other->spec().pattern == branch)
            branches.push_back(&other->spec());
      const int index = statefulBranch(branches);
      stateful = index < 0 ? nullptr : branches[size_t(index)];
    }
    const bool linear = stateful != nullptr, keySum = linear && stateful->config.keySum;
    if (s.normalizer == "softmax")
      os << "; lse float32 (NULL: not written)";
    if (linear)
      os << ";\n *   state_in, state_out float32 [B, Hq, " << stateful->config.stateDim() << ", "
         << s.config.headDimV << "] (NULL: zero / not written; may be the same; length-1 "
         << "sequences run the decode step"
         << (s.branches.empty()
                 ? ")"
                 : "; branch '" + stateful->pattern +
                       "' carries it and reads the last Sq rows of its k and of v: a "
                       "decode call passes the KV cache)");
    if (keySum)
      os << ";\n *   key_sum_in, key_sum_out float32 [B, Hq, " << stateful->config.stateDim()
         << "] (NULL: zero / not written; two different tensors)";
    os << ".\n";
    for (const AttentionSpec::Input &in : s.inputs) {
      os << " *   input " << in.name << ": " << dtypeName(in.dtype) << "[";
      for (size_t i = 0; i < in.shape.size(); ++i)
        os << (i ? ", " : "") << in.shape[i];
      os << "]\n";
    }
    for (const AttentionSpec::Scalar &sc : s.scalars) {
      os << " *   scalar " << sc.name;
      if (sc.defaultValue)
        os << " (NAN: the default " << *sc.defaultValue << ")";
      os << "\n";
    }
    os << " * Returns 0 on success, else nonzero with attnc_last_error() set. */\n"
       << "static inline int " << fn << "(const attnc_program *bundle, const attnc_tensor *q, "
       << "const attnc_tensor *k,\n    const attnc_tensor *v, const attnc_tensor *o";
    if (s.normalizer == "softmax")
      os << ", const attnc_tensor *lse";
    if (linear)
      os << ",\n    const attnc_tensor *state_in, const attnc_tensor *state_out";
    if (keySum)
      os << ",\n    const attnc_tensor *key_sum_in, const attnc_tensor *key_sum_out";
    if (s.varlen)
      os << ",\n    const attnc_tensor *cu_seqlens_q, const attnc_tensor *cu_seqlens_k, "
            "int32_t max_seqlen_q, int32_t max_seqlen_k";
    for (const AttentionSpec::Input &in : s.inputs)
      os << ",\n    const attnc_tensor *input_" << cIdentifier(in.name);
    for (const AttentionSpec::Scalar &sc : s.scalars)
      os << ",\n    double scalar_" << cIdentifier(sc.name);
    os << ", void *stream) {\n"
       << "  attnc_kernel *kernel = attnc_program_find(bundle, \"" << s.pattern << "\");\n"
       << "  attnc_forward_args args;\n"
       << "  if (!kernel)\n    return 1;\n"
       << "  memset(&args, 0, sizeof args);\n"
       << "  args.struct_size = (int32_t)sizeof args;\n"
       << "  args.q = *q;\n  args.k = *k;\n  args.v = *v;\n  args.o = *o;\n";
    if (s.normalizer == "softmax")
      os << "  if (lse)\n    args.lse = *lse;\n";
    if (linear)
      os << "  if (state_in)\n    args.state_in = *state_in;\n"
         << "  if (state_out)\n    args.state_out = *state_out;\n";
    if (keySum)
      os << "  if (key_sum_in)\n    args.key_sum_in = *key_sum_in;\n"
         << "  if (key_sum_out)\n    args.key_sum_out = *key_sum_out;\n";
    if (s.varlen)
      os << "  args.cu_seqlens_q = *cu_seqlens_q;\n  args.cu_seqlens_k = *cu_seqlens_k;\n"
         << "  args.max_seqlen_q = max_seqlen_q;\n  args.max_seqlen_k = max_seqlen_k;\n";
    if (!s.inputs.empty()) {
      os << "  attnc_tensor inputs[" << s.inputs.size() << "];\n";
      for (size_t i = 0; i < s.inputs.size(); ++i)
        os << "  inputs[" << i << "] = *input_" << cIdentifier(s.inputs[i].name) << ";\n";
      os << "  args.inputs = inputs;\n  args.num_inputs = " << s.inputs.size() << ";\n";
    }
    if (!s.scalars.empty()) {
      os << "  double scalars[" << s.scalars.size() << "];\n";
      for (size_t i = 0; i < s.scalars.size(); ++i)
        os << "  scalars[" << i << "] = scalar_" << cIdentifier(s.scalars[i].name) << ";\n";
      os << "  args.scalars = scalars;\n  args.num_scalars = " << s.scalars.size() << ";\n";
    }
    os << "  return attnc_forward(kernel, &args, stream);\n}\n";
  }
  os << "\n#endif /* " << guard << " */\n";
  return os.str();
}
