#include "fulgur/tensor_dataset.h"

#include <string>

#include <ATen/ATen.h>

#include "fulgur/error.h"

namespace fulgur {

TensorDataset::TensorDataset(std::vector<at::Tensor> tensors) : tensors_(std::move(tensors)) {
  if (tensors_.empty()) throw Error("TensorDataset: give it at least one tensor");
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const at::Tensor& tensor = tensors_[i];
    if (!tensor.defined()) throw Error("TensorDataset: tensor " + std::to_string(i) + " is undefined");
    if (tensor.dim() == 0) {
      throw Error("TensorDataset: tensor " + std::to_string(i) +
                  " is a scalar; each tensor needs a first "
                  "dimension that indexes the samples");
    }
    if (tensor.size(0) != tensors_.front().size(0)) {
      throw Error("TensorDataset: size mismatch between tensors: tensor 0 has " +
                  std::to_string(tensors_.front().size(0)) + " samples, tensor " + std::to_string(i) + " has " +
                  std::to_string(tensor.size(0)));
    }
  }
  size_ = tensors_.front().size(0);
}

Batch TensorDataset::get(int64_t index) {
  if (index < 0 || index >= size_) {
    throw Error("TensorDataset: index " + std::to_string(index) + " is out of range for " + std::to_string(size_) +
                " samples");
  }
  Batch::List row;
  row.reserve(tensors_.size());
  for (const at::Tensor& tensor : tensors_) row.emplace_back(tensor[index]);
  return Batch::list(std::move(row));
}

}  // namespace fulgur
