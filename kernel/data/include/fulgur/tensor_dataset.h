// fulgur::TensorDataset: PyTorch's TensorDataset. Sample i is the list of every tensor's row i.
//
//   auto data = std::make_shared<fulgur::TensorDataset>(features, labels);    // any number of tensors
//   fulgur::DatasetLoader loader(data, fulgur::DatasetLoaderOptions().batch_size(32));
//   // in a step: auto [x, y] = batch.unpack<2>();
//
// The tensors must agree on their first dimension; a mismatch is an error naming both sizes.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "fulgur/dataset.h"

namespace fulgur {

class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(std::vector<at::Tensor> tensors);
  /// `TensorDataset(x, y)`, `TensorDataset(x1, x2, y)`: as PyTorch's TensorDataset(*tensors).
  template <typename... Tensors>
  explicit TensorDataset(const at::Tensor& first, const Tensors&... rest)
      : TensorDataset(std::vector<at::Tensor>{first, rest...}) {}

  /// The list [t[index] for t in tensors] (a list of one for a single tensor, as PyTorch's tuple).
  Batch get(int64_t index) override;
  int64_t size() const override { return size_; }
  const std::vector<at::Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<at::Tensor> tensors_;
  int64_t size_ = 0;
};

}  // namespace fulgur
