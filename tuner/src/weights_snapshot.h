// A copy of a Module's parameters and buffers, put back when it goes out of scope: the searches
// train the Module and must leave it as they found it, however they end.
#pragma once

#include <vector>

#include <torch/torch.h>

namespace fulgur::detail {

class WeightsSnapshot {
 public:
  explicit WeightsSnapshot(torch::nn::Module& module) {
    torch::NoGradGuard no_grad;
    for (auto& tensor : module.parameters()) saved_.emplace_back(tensor, tensor.detach().clone());
    for (auto& tensor : module.buffers()) saved_.emplace_back(tensor, tensor.detach().clone());
  }
  ~WeightsSnapshot() {
    torch::NoGradGuard no_grad;
    for (auto& [live, copy] : saved_) {
      // A precision plugin may have changed the Module's dtype (64-true, bf16-true): both go back.
      live.set_data(copy);
    }
  }
  WeightsSnapshot(const WeightsSnapshot&) = delete;
  WeightsSnapshot& operator=(const WeightsSnapshot&) = delete;

 private:
  std::vector<std::pair<torch::Tensor, torch::Tensor>> saved_;
};

}  // namespace fulgur::detail
