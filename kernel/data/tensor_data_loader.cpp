#include "fulgur/tensor_data_loader.h"

#include <ATen/ATen.h>

#include "fulgur/error.h"
#include "sample_order.h"

namespace fulgur {

TensorDataLoader::TensorDataLoader(at::Tensor data, at::Tensor targets, TensorDataLoaderOptions options)
    : data_(std::move(data)), targets_(std::move(targets)), options_(options) {
  if (!data_.defined() || data_.dim() == 0) {
    throw Error("TensorDataLoader: data must be a tensor whose first dimension is the sample");
  }
  if (data_.size(0) == 0) throw Error("TensorDataLoader: the data has no samples (its first dimension is 0)");
  if (targets_.defined() && (targets_.dim() == 0 || targets_.size(0) != data_.size(0))) {
    throw Error("TensorDataLoader: data has " + std::to_string(data_.size(0)) + " samples but targets has " +
                (targets_.dim() == 0 ? std::string("none (a scalar)") : std::to_string(targets_.size(0))));
  }
  if (options_.batch_size() < 1) {
    throw Error("TensorDataLoader: batch_size must be >= 1, got " + std::to_string(options_.batch_size()));
  }
}

void TensorDataLoader::start_epoch(int64_t epoch) {
  position_ = 0;
  order_ = detail::epoch_order(data_.size(0), options_.shuffle(), options_.seed(), epoch, rank_, world_size_);
  if (order_.defined() && data_.device() != order_.device()) order_ = order_.to(data_.device());
}

void TensorDataLoader::shard(int64_t rank, int64_t world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw Error("TensorDataLoader::shard: rank " + std::to_string(rank) + " of world size " +
                std::to_string(world_size));
  }
  if (world_size > data_.size(0)) {
    throw Error("TensorDataLoader: " + std::to_string(data_.size(0)) + " samples cannot be shared by " +
                std::to_string(world_size) + " processes");
  }
  rank_ = rank;
  world_size_ = world_size;
}

int64_t TensorDataLoader::epoch_samples() const { return detail::samples_per_process(data_.size(0), world_size_); }

std::optional<Batch> TensorDataLoader::next() {
  const int64_t total = epoch_samples();
  const int64_t remaining = total - position_;
  if (remaining <= 0 || (options_.drop_last() && remaining < options_.batch_size())) return std::nullopt;
  const int64_t length = std::min(options_.batch_size(), remaining);
  at::Tensor data, target;
  if (order_.defined()) {
    const auto rows = order_.narrow(0, position_, length);
    data = data_.index_select(0, rows);
    if (targets_.defined()) target = targets_.index_select(0, rows);
  } else {
    // Contiguous slices share storage with the dataset: no copy.
    data = data_.narrow(0, position_, length);
    if (targets_.defined()) target = targets_.narrow(0, position_, length);
  }
  position_ += length;
  if (!targets_.defined()) return Batch(std::move(data));
  Batch::List pair;  // built in place: an initializer list would copy both tensors
  pair.reserve(2);
  pair.emplace_back(std::move(data));
  pair.emplace_back(std::move(target));
  return Batch::list(std::move(pair));
}

int64_t TensorDataLoader::skip(int64_t batches) {
  const int64_t available = *size() - (position_ + options_.batch_size() - 1) / options_.batch_size();
  const int64_t skipped = std::max<int64_t>(0, std::min(batches, available));
  position_ = std::min(position_ + skipped * options_.batch_size(), epoch_samples());
  return skipped;
}

std::optional<int64_t> TensorDataLoader::size() const {
  return detail::batches_in(epoch_samples(), options_.batch_size(), options_.drop_last());
}

}  // namespace fulgur
