// Weights in and out: a module's state_dict (parameters and buffers by dotted name, as Python's
// model.state_dict()), to and from the files Python reads and writes.
//
//   fulgur::save_weights(model, "w.pt");            // torch.load("w.pt") -> dict; .safetensors too
//   auto report = fulgur::load_weights(model, "python_weights.pt",
//                                      fulgur::LoadOptions().strip_prefix("model."));
//
// Formats, chosen by the file's extension: ".safetensors" (the safetensors format), anything else
// a torch.save / LibTorch pickle archive holding a dict of tensors: Python's
// torch.save(model.state_dict()) (an OrderedDict), a plain dict, or a Lightning / fulgur checkpoint
// (its "state_dict" entry is used).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

#include "fulgur/checkpoint.h"
#include "fulgur/options.h"

namespace fulgur {

struct LoadOptions : DeclaredOptions<LoadOptions> {
  static const char* options_name() { return "load_weights"; }
  static std::string options_owner() { return "load_weights"; }
  using Renames = std::vector<std::pair<std::string, std::string>>;

  FULGUR_OPTION(bool, strict, true,
                "Every key must match a parameter or buffer and every parameter or buffer must be given (PyTorch's "
                "strict=True). Off: only the names both have are loaded, the rest reported.");
  FULGUR_OPTION(std::string, strip_prefix, "",
                "Removed from the start of each file key that has it (model. from a wrapper's keys).");
  FULGUR_OPTION(std::string, add_prefix, "", "Added in front of each file key (after strip_prefix).");
  FULGUR_OPTION(Renames, rename, {},
                "Applied last, in order: each key that starts with the first part has it replaced by the second.");

  /// Adds one rename: `LoadOptions().strip_prefix("model.").rename_prefix("encoder.", "hidden.")`.
  LoadOptions& rename_prefix(std::string from, std::string to) {
    rename().emplace_back(std::move(from), std::move(to));
    return *this;
  }

  // The spelling of the last release, kept for one more.
  [[deprecated("write .strict(value)")]] LoadOptions& with_strict(bool value) { return strict(value); }
  [[deprecated("write .strip_prefix(value)")]] LoadOptions& with_strip_prefix(std::string value) {
    return strip_prefix(std::move(value));
  }
  [[deprecated("write .add_prefix(value)")]] LoadOptions& with_add_prefix(std::string value) {
    return add_prefix(std::move(value));
  }
  [[deprecated("write .rename_prefix(from, to)")]] LoadOptions& with_rename(std::string from, std::string to) {
    return rename_prefix(std::move(from), std::move(to));
  }
};

/// What load_state_dict did not match (PyTorch's missing_keys / unexpected_keys).
struct LoadReport {
  std::vector<std::string> missing;     // in the module, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the module
  std::vector<std::string> loaded;
  bool complete() const { return missing.empty() && unexpected.empty(); }
};

/// Parameters and buffers under their dotted names, detached, on the CPU.
StateDict state_dict(const torch::nn::Module& module);

/// Copies `weights` into `module`. A tensor whose shape differs, or whose dtype cannot be
/// converted (a float into an integer buffer), is an error naming it and both shapes / dtypes;
/// under `strict` so is any missing or unexpected key (all of them are listed). `source` names
/// the weights in errors (a path).
LoadReport load_state_dict(torch::nn::Module& module, const StateDict& weights, const LoadOptions& options = {},
                           const std::string& source = "the state_dict");

/// Reads a file's tensors by name (see the formats above). Throws fulgur::Error naming the path.
StateDict read_weights(const std::string& path);
/// Writes `module`'s state_dict to `path` atomically, as .safetensors or a torch.save archive.
void save_weights(const torch::nn::Module& module, const std::string& path);
/// read_weights + load_state_dict.
LoadReport load_weights(torch::nn::Module& module, const std::string& path, const LoadOptions& options = {});

}  // namespace fulgur
