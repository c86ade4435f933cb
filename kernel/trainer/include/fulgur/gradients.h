// The gradients an optimizer is about to step with: what loss-scale unscaling, clipping and
// other gradient plugins change in place (the tensors share the parameters' .grad storage).
#pragma once

#include <vector>

#include <torch/optim/optimizer.h>

namespace fulgur {

/// Every defined gradient of `optimizer`'s parameters, in param-group order.
inline std::vector<torch::Tensor> gradients_of(torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> grads;
  for (auto& group : optimizer.param_groups()) {
    for (auto& parameter : group.params()) {
      if (parameter.grad().defined()) grads.push_back(parameter.mutable_grad());
    }
  }
  return grads;
}

}  // namespace fulgur
