// grad_norm: Lightning's lightning.pytorch.utilities.grad_norm. The p-norm of each parameter's
// gradient and of all of them together, named as Lightning names them, for logging:
//
//   void on_before_optimizer_step(torch::optim::Optimizer&) override {
//     log_dict(fulgur::grad_norm(*this, 2.0));   // grad_2.0_norm/fc.weight, ..., grad_2.0_norm_total
//   }
//
// The norms are tensors on the gradients' device: nothing is read on the host unless a logger
// receives them (Lightning builds the total from Python floats, which syncs every step).
#pragma once

#include <map>
#include <string>

#include <torch/nn/module.h>

namespace fulgur {

/// Parameters without a gradient are left out (and, with none, so is the total). `norm_type`
/// must be positive (infinity: the largest absolute value). Throws fulgur::Error otherwise.
std::map<std::string, torch::Tensor> grad_norm(const torch::nn::Module& module, double norm_type,
                                               const std::string& group_separator = "/");

}  // namespace fulgur
