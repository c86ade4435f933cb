#include "fulgur/state_dict.h"

#include <algorithm>
#include <map>
#include <set>

#include <torch/torch.h>

#include "checkpoint_archive.h"
#include "fulgur/atomic_write.h"
#include "fulgur/error.h"
#include "regular_file.h"
#include "safetensors.h"

namespace fulgur {
namespace {

bool is_safetensors(const std::string& path) {
  const std::string suffix = ".safetensors";
  return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string renamed(std::string key, const LoadOptions& options) {
  if (!options.strip_prefix().empty() && key.rfind(options.strip_prefix(), 0) == 0)
    key = key.substr(options.strip_prefix().size());
  key = options.add_prefix() + key;
  for (const auto& [from, to] : options.rename()) {
    if (!from.empty() && key.rfind(from, 0) == 0) key = to + key.substr(from.size());
  }
  return key;
}

std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "'" : ", '") + name + "'";
  return out;
}

}  // namespace

StateDict state_dict(const torch::nn::Module& module) {
  StateDict weights = make_state_dict();
  for (const auto& item : module.named_parameters()) weights.insert(item.key(), item.value().detach().cpu());
  for (const auto& item : module.named_buffers()) weights.insert(item.key(), item.value().detach().cpu());
  return weights;
}

LoadReport load_state_dict(torch::nn::Module& module, const StateDict& weights, const LoadOptions& options,
                           const std::string& source) {
  std::map<std::string, torch::Tensor> given;
  for (const auto& entry : weights) {
    if (!entry.key().isString()) throw Error(source + " has a key that is a " + entry.key().tagKind() + ", not a name");
    const std::string name = renamed(entry.key().toStringRef(), options);
    if (!entry.value().isTensor()) {
      throw Error(source + ": entry '" + entry.key().toStringRef() + "' is a " + entry.value().tagKind() +
                  ", not a tensor");
    }
    given[name] = entry.value().toTensor();
  }
  // In the module's order, so errors name its first layer first.
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  std::set<std::string> target_names;
  for (auto& item : module.named_parameters()) targets.emplace_back(item.key(), item.value());
  for (auto& item : module.named_buffers()) targets.emplace_back(item.key(), item.value());
  for (const auto& [name, target] : targets) target_names.insert(name);

  LoadReport report;
  for (const auto& [name, target] : targets) {
    if (!given.count(name)) report.missing.push_back(name);
  }
  for (const auto& [name, tensor] : given) {
    if (!target_names.count(name)) report.unexpected.push_back(name);
  }
  if (options.strict() && !report.complete()) {
    std::string what;
    if (!report.missing.empty()) what += "missing (in the model, not in the file): " + listed(report.missing);
    if (!report.unexpected.empty()) {
      what += std::string(what.empty() ? "" : "; ") +
              "unexpected (in the file, not in the model): " + listed(report.unexpected);
    }
    throw Error(source + " does not match the model: " + what);
  }
  // Every check before the first copy: a failed load leaves the module as it was.
  for (const auto& [name, target] : targets) {
    const auto found = given.find(name);
    if (found == given.end()) continue;
    const auto& tensor = found->second;
    if (tensor.sizes() != target.sizes()) {
      throw Error(source + " does not match the model: '" + name + "' has shape " + c10::str(tensor.sizes()) + " in " +
                  "the file but " + c10::str(target.sizes()) + " in the model");
    }
    const bool both_float = tensor.is_floating_point() && target.is_floating_point();
    if (tensor.scalar_type() != target.scalar_type() && !both_float) {
      throw Error(source + ": '" + name + "' is " + c10::toString(tensor.scalar_type()) + " in the file but " +
                  c10::toString(target.scalar_type()) + " in the model; only floating-point types convert");
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    const auto found = given.find(name);
    if (found == given.end()) continue;
    target.copy_(found->second);
    report.loaded.push_back(name);
  }
  return report;
}

StateDict read_weights(const std::string& path) {
  if (is_safetensors(path)) return detail::read_safetensors(detail::read_regular_file(path, "weights file"), path);
  const c10::IValue value = detail::read_pickle_archive(path, "weights file");
  if (!value.isGenericDict()) {
    throw Error("weights file '" + path + "' holds a " + value.tagKind() +
                ", not a dictionary of tensors (a state_dict)");
  }
  auto dict = value.toGenericDict();
  // A Lightning or fulgur checkpoint: its weights are under "state_dict".
  if (dict.contains("state_dict") && dict.at("state_dict").isGenericDict())
    return dict.at("state_dict").toGenericDict();
  return dict;
}

void save_weights(const torch::nn::Module& module, const std::string& path) {
  const StateDict weights = state_dict(module);
  if (is_safetensors(path)) {
    write_file_atomically(path, detail::write_safetensors(weights), "weights file");
    return;
  }
  const std::vector<char> bytes = detail::write_pickle_archive(c10::IValue(weights));
  write_file_atomically(path, std::string_view(bytes.data(), bytes.size()), "weights file");
}

LoadReport load_weights(torch::nn::Module& module, const std::string& path, const LoadOptions& options) {
  return load_state_dict(module, read_weights(path), options, "weights file '" + path + "'");
}

}  // namespace fulgur
