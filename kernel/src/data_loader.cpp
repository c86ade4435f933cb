#include "fulgur/data_loader.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "fulgur/error.h"

namespace fulgur {

TensorDataLoader::TensorDataLoader(torch::Tensor data, torch::Tensor targets,
                                   TensorDataLoaderOptions options)
    : data_(std::move(data)), targets_(std::move(targets)), options_(options) {
  if (!data_.defined() || data_.dim() == 0) {
    throw Error("TensorDataLoader: data must be a tensor whose first dimension is the sample");
  }
  if (targets_.defined() && targets_.size(0) != data_.size(0)) {
    throw Error("TensorDataLoader: data has " + std::to_string(data_.size(0)) + " samples but targets has " +
                std::to_string(targets_.size(0)));
  }
  if (options_.batch_size < 1) {
    throw Error("TensorDataLoader: batch_size must be >= 1, got " + std::to_string(options_.batch_size));
  }
}

void TensorDataLoader::start_epoch(int64_t epoch) {
  position_ = 0;
  if (options_.shuffle) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(options_.seed + static_cast<uint64_t>(epoch));
    order_ = torch::randperm(data_.size(0), generator, torch::dtype(torch::kLong));
    if (data_.device() != order_.device()) order_ = order_.to(data_.device());
  }
}

std::optional<Batch> TensorDataLoader::next() {
  const int64_t total = data_.size(0);
  const int64_t remaining = total - position_;
  if (remaining <= 0 || (options_.drop_last && remaining < options_.batch_size)) return std::nullopt;
  const int64_t length = std::min(options_.batch_size, remaining);
  Batch batch;
  if (order_.defined()) {
    const auto rows = order_.narrow(0, position_, length);
    batch.data = data_.index_select(0, rows);
    if (targets_.defined()) batch.target = targets_.index_select(0, rows);
  } else {
    // Contiguous slices share storage with the dataset: no copy.
    batch.data = data_.narrow(0, position_, length);
    if (targets_.defined()) batch.target = targets_.narrow(0, position_, length);
  }
  position_ += length;
  return batch;
}

int64_t TensorDataLoader::skip(int64_t batches) {
  const int64_t available = *size() - (position_ + options_.batch_size - 1) / options_.batch_size;
  const int64_t skipped = std::max<int64_t>(0, std::min(batches, available));
  position_ = std::min(position_ + skipped * options_.batch_size, data_.size(0));
  return skipped;
}

std::optional<int64_t> TensorDataLoader::size() const {
  const int64_t total = data_.size(0);
  return options_.drop_last ? total / options_.batch_size
                            : (total + options_.batch_size - 1) / options_.batch_size;
}

}  // namespace fulgur
