// Weights in and out: a module's state_dict (parameters and buffers by dotted name, as Python's
// model.state_dict()), to and from the files Python reads and writes.
//
//   fulgur::save_weights(model, "w.pt");            // torch.load("w.pt") -> dict; .safetensors too
//   auto report = fulgur::load_weights(model, "python_weights.pt",
//                                      fulgur::LoadOptions().with_strip_prefix("model."));
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

namespace fulgur {

struct LoadOptions {
  /// Every key must match a parameter or buffer and every parameter or buffer must be given
  /// (PyTorch's strict=True). Off: only the names both have are loaded, the rest reported.
  bool strict = true;
  /// Removed from the start of each file key that has it ("model." from a wrapper's keys).
  std::string strip_prefix;
  /// Added in front of each file key (after strip_prefix).
  std::string add_prefix;
  /// Applied last, in order: each key that starts with `first` has that part replaced by `second`.
  std::vector<std::pair<std::string, std::string>> rename;

  LoadOptions& with_strict(bool value) { strict = value; return *this; }
  LoadOptions& with_strip_prefix(std::string value) { strip_prefix = std::move(value); return *this; }
  LoadOptions& with_add_prefix(std::string value) { add_prefix = std::move(value); return *this; }
  LoadOptions& with_rename(std::string from, std::string to) {
    rename.emplace_back(std::move(from), std::move(to));
    return *this;
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
