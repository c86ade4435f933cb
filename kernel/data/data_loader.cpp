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
  order_ = torch::Tensor();
  const int64_t total = data_.size(0);
  if (options_.shuffle) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(options_.seed + static_cast<uint64_t>(epoch));
    order_ = torch::randperm(total, generator, torch::dtype(torch::kLong));
  }
  if (world_size_ > 1) {
    // Every process draws the same order (same seed and epoch) and takes its own stride of it.
    if (!order_.defined()) order_ = torch::arange(total, torch::dtype(torch::kLong));
    const int64_t padded = (total + world_size_ - 1) / world_size_ * world_size_;
    if (padded > total) order_ = torch::cat({order_, order_.narrow(0, 0, padded - total)});
    order_ = order_.slice(0, rank_, padded, world_size_).contiguous();
  }
  if (order_.defined() && data_.device() != order_.device()) order_ = order_.to(data_.device());
}

void TensorDataLoader::shard(int64_t rank, int64_t world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw Error("TensorDataLoader::shard: rank " + std::to_string(rank) + " of world size " + std::to_string(world_size));
  }
  if (world_size > data_.size(0)) {
    throw Error("TensorDataLoader: " + std::to_string(data_.size(0)) + " samples cannot be shared by " +
                std::to_string(world_size) + " processes");
  }
  rank_ = rank;
  world_size_ = world_size;
}

int64_t TensorDataLoader::epoch_samples() const {
  const int64_t total = data_.size(0);
  return world_size_ > 1 ? (total + world_size_ - 1) / world_size_ : total;
}

std::optional<Batch> TensorDataLoader::next() {
  const int64_t total = epoch_samples();
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
  position_ = std::min(position_ + skipped * options_.batch_size, epoch_samples());
  return skipped;
}

std::optional<int64_t> TensorDataLoader::size() const {
  const int64_t total = epoch_samples();
  return options_.drop_last ? total / options_.batch_size
                            : (total + options_.batch_size - 1) / options_.batch_size;
}

}  // namespace fulgur
