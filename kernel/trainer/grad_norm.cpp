#include "fulgur/grad_norm.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "fulgur/error.h"

namespace fulgur {
namespace {

// Python's str(float(norm_type)), which Lightning puts in the names: 2.0, 1.5, inf.
std::string python_float(double value) {
  if (std::isinf(value)) return "inf";
  if (value == std::floor(value) && std::abs(value) < 1e16) return fmt::format("{:.1f}", value);
  return fmt::format("{}", value);
}

}  // namespace

std::map<std::string, torch::Tensor> grad_norm(const torch::nn::Module& module, double norm_type,
                                               const std::string& group_separator) {
  if (!(norm_type > 0)) {
    throw Error("grad_norm: norm_type must be a positive number or infinity, got " + python_float(norm_type));
  }
  const std::string prefix = "grad_" + python_float(norm_type) + "_norm";
  std::map<std::string, torch::Tensor> norms;
  std::vector<torch::Tensor> each;
  torch::NoGradGuard no_grad;
  for (const auto& item : module.named_parameters()) {
    const auto& grad = item.value().grad();
    if (!grad.defined()) continue;
    auto norm = grad.detach().norm(norm_type);
    each.push_back(norm);
    norms[prefix + group_separator + item.key()] = std::move(norm);
  }
  // The norm of the norms is the norm of all gradients as one vector.
  if (!each.empty()) norms[prefix + "_total"] = torch::stack(each).norm(norm_type);
  return norms;
}

}  // namespace fulgur
