#include "fulgur/torch_data_loader.h"

#include <ATen/ATen.h>

namespace fulgur::detail {

Batch stack_examples(const std::vector<torch::data::Example<>>& examples) {
  std::vector<at::Tensor> data, targets;
  data.reserve(examples.size());
  targets.reserve(examples.size());
  for (const auto& example : examples) {
    data.push_back(example.data);
    targets.push_back(example.target);
  }
  return Batch::list({at::stack(data), at::stack(targets)});
}

Batch stack_examples(const std::vector<torch::data::Example<at::Tensor, torch::data::example::NoTarget>>& examples) {
  std::vector<at::Tensor> data;
  data.reserve(examples.size());
  for (const auto& example : examples) data.push_back(example.data);
  return Batch(at::stack(data));
}

}  // namespace fulgur::detail
