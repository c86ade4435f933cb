#include "static_batch.h"

#include <ATen/ATen.h>

namespace fulgur::plugins::cuda_graph {
namespace {

std::string describe_leaf(const Batch& node) {
  switch (node.kind()) {
    case Batch::Kind::Int:
      return "the number " + std::to_string(node.to_int());
    case Batch::Kind::Double:
      return "the number " + std::to_string(node.to_double());
    case Batch::Kind::Bool:
      return node.to_bool() ? "true" : "false";
    case Batch::Kind::String:
      return "the string '" + node.str() + "'";
    default:
      return node.describe();
  }
}

bool same_leaf(const Batch& a, const Batch& b) {
  switch (a.kind()) {
    case Batch::Kind::None:
      return true;
    case Batch::Kind::Int:
      return a.to_int() == b.to_int();
    case Batch::Kind::Double:
      return a.to_double() == b.to_double();
    case Batch::Kind::Bool:
      return a.to_bool() == b.to_bool();
    case Batch::Kind::String:
      return a.str() == b.str();
    default:
      return false;
  }
}

// Whether `batch` has the captured node's structure, tensor shapes, dtypes and devices and
// non-tensor values: the check every replayed step makes, without building any text.
bool same_layout(const Batch& captured, const Batch& batch) {
  if (captured.kind() != batch.kind()) return false;
  switch (captured.kind()) {
    case Batch::Kind::Tensor: {
      const at::Tensor& a = captured.tensor();
      const at::Tensor& b = batch.tensor();
      return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && a.device() == b.device();
    }
    case Batch::Kind::List: {
      if (captured.size() != batch.size()) return false;
      for (std::size_t i = 0; i < captured.size(); ++i) {
        if (!same_layout(captured.at(i), batch.at(i))) return false;
      }
      return true;
    }
    case Batch::Kind::Dict: {
      const auto& a = captured.entries();
      const auto& b = batch.entries();
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].first != b[i].first || !same_layout(a[i].second, b[i].second)) return false;
      }
      return true;
    }
    default:
      return same_leaf(captured, batch);
  }
}

// Copies each tensor of `source` into the one at the same place in `target` (same layout).
void copy_tensors(const Batch& target, const Batch& source) {
  switch (target.kind()) {
    case Batch::Kind::Tensor:
      // Same device as the capture, so the copy is queued, never waited for.
      target.tensor().copy_(source.tensor(), /*non_blocking=*/true);
      return;
    case Batch::Kind::List:
      for (std::size_t i = 0; i < target.size(); ++i) copy_tensors(target.at(i), source.at(i));
      return;
    case Batch::Kind::Dict:
      for (std::size_t i = 0; i < target.size(); ++i)
        copy_tensors(target.entries()[i].second, source.entries()[i].second);
      return;
    default:
      return;
  }
}

// The first difference between the captured node and a new one, at `path`, for the message
// when same_layout() says there is one.
std::string first_difference(const Batch& captured, const Batch& batch, const std::string& path) {
  const auto differs = [&](const std::string& now, const std::string& then) {
    return path + " is " + now + ", the captured one " + then;
  };
  if (captured.kind() != batch.kind()) return differs(batch.describe(), captured.describe());
  switch (captured.kind()) {
    case Batch::Kind::Tensor: {
      const at::Tensor& a = captured.tensor();
      const at::Tensor& b = batch.tensor();
      if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type() || a.device() != b.device()) {
        return differs(describe_tensor(b) + " on " + b.device().str(), describe_tensor(a) + " on " + a.device().str());
      }
      return {};
    }
    case Batch::Kind::List: {
      if (captured.size() != batch.size()) {
        return differs("a list of " + std::to_string(batch.size()), "a list of " + std::to_string(captured.size()));
      }
      for (std::size_t i = 0; i < captured.size(); ++i) {
        auto found = first_difference(captured.at(i), batch.at(i), path + "[" + std::to_string(i) + "]");
        if (!found.empty()) return found;
      }
      return {};
    }
    case Batch::Kind::Dict: {
      if (captured.keys() != batch.keys()) return differs(batch.describe(), captured.describe());
      for (const auto& [key, value] : captured.entries()) {
        auto found = first_difference(value, batch.at(key), path + "[\"" + key + "\"]");
        if (!found.empty()) return found;
      }
      return {};
    }
    default:
      return same_leaf(captured, batch) ? std::string{} : differs(describe_leaf(batch), describe_leaf(captured));
  }
}

std::string first_off(const Batch& node, c10::DeviceType type, const std::string& path) {
  switch (node.kind()) {
    case Batch::Kind::Tensor:
      return node.tensor().device().type() == type ? std::string{} : path + " on " + node.tensor().device().str();
    case Batch::Kind::List:
      for (std::size_t i = 0; i < node.size(); ++i) {
        auto found = first_off(node.at(i), type, path + "[" + std::to_string(i) + "]");
        if (!found.empty()) return found;
      }
      return {};
    case Batch::Kind::Dict:
      for (const auto& [key, value] : node.entries()) {
        auto found = first_off(value, type, path + "[\"" + key + "\"]");
        if (!found.empty()) return found;
      }
      return {};
    default:
      return {};
  }
}

}  // namespace

std::string first_tensor_off(const Batch& batch, c10::DeviceType type) { return first_off(batch, type, "batch"); }

StaticBatch::StaticBatch(const Batch& first)
    : inputs_(first.map_tensors([](const at::Tensor& tensor) { return tensor.detach().clone(); })) {}

std::string StaticBatch::mismatch(const Batch& batch) const {
  return same_layout(inputs_, batch) ? std::string{} : first_difference(inputs_, batch, "batch");
}

void StaticBatch::copy_from(const Batch& batch) { copy_tensors(inputs_, batch); }

}  // namespace fulgur::plugins::cuda_graph
