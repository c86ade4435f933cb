// The adapter for LibTorch's own data loaders (torch::data::make_data_loader).
//
//   auto loader = fulgur::wrap(torch::data::make_data_loader(dataset, options));      // length unknown
//   auto loader = fulgur::wrap_dataset(dataset, torch::data::DataLoaderOptions(64).workers(2));
//
// Batches of Example<> become the list [data, target]; Example<Tensor, NoTarget> (TensorDataset)
// the data tensor; a std::vector of examples is stacked. A pass left unfinished (the sanity
// check, a batch limit) is read to its end before the next begins: LibTorch refuses a new
// iterator while workers still hold batches of the old one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/data/dataloader.h>
#include <torch/data/example.h>
#include <torch/data/samplers/random.h>

#include "fulgur/data_loader.h"

namespace fulgur {

namespace detail {
/// Stacks a std::vector of LibTorch examples into one batch.
Batch stack_examples(const std::vector<torch::data::Example<>>& examples);
Batch stack_examples(const std::vector<torch::data::Example<at::Tensor, torch::data::example::NoTarget>>& examples);
}  // namespace detail

template <typename TorchLoader>
class TorchDataLoader : public DataLoader {
 public:
  /// `batches`: batches in one pass, when the caller knows it (wrap_dataset works it out).
  explicit TorchDataLoader(std::unique_ptr<TorchLoader> loader, std::optional<int64_t> batches = std::nullopt)
      : loader_(std::move(loader)), batches_(batches) {}

  void start_epoch(int64_t /*epoch*/) override {
    // LibTorch's samplers draw from the global generator, which the Trainer seeds per run.
    if (iterator_) {
      while (*iterator_ != loader_->end()) ++*iterator_;  // finish the abandoned pass
      iterator_.reset();
    }
    iterator_.emplace(loader_->begin());
  }

  std::optional<Batch> next() override {
    if (!iterator_ || *iterator_ == loader_->end()) return std::nullopt;
    Batch batch = to_batch(**iterator_);
    ++*iterator_;
    return batch;
  }

  std::optional<int64_t> size() const override { return batches_; }

 private:
  using RawBatch = typename TorchLoader::BatchType;

  static Batch to_batch(RawBatch& raw) {
    if constexpr (std::is_convertible_v<RawBatch&, Batch>) {
      return Batch(raw);
    } else {
      return detail::stack_examples(raw);
    }
  }

  std::unique_ptr<TorchLoader> loader_;
  std::optional<int64_t> batches_;
  std::optional<decltype(std::declval<TorchLoader&>().begin())> iterator_;
};

/// `trainer.fit(model, *fulgur::wrap(torch::data::make_data_loader(...)))`.
template <typename TorchLoader>
std::unique_ptr<DataLoader> wrap(std::unique_ptr<TorchLoader> loader, std::optional<int64_t> batches = std::nullopt) {
  return std::make_unique<TorchDataLoader<TorchLoader>>(std::move(loader), batches);
}

/// make_data_loader(dataset, options) with a Sampler (RandomSampler by default, as LibTorch's),
/// wrapped with its length known from the dataset's size, so that fraction limits, progress
/// totals and estimated_stepping_batches work.
template <typename Sampler = torch::data::samplers::RandomSampler, typename TorchDataset>
std::unique_ptr<DataLoader> wrap_dataset(TorchDataset dataset, torch::data::DataLoaderOptions options) {
  const auto samples = dataset.size();
  std::optional<int64_t> batches;
  if (samples) {
    const auto n = static_cast<int64_t>(*samples);
    const auto b = static_cast<int64_t>(options.batch_size());
    batches = options.drop_last() ? n / b : (n + b - 1) / b;
  }
  return wrap(torch::data::make_data_loader<Sampler>(std::move(dataset), std::move(options)), batches);
}

}  // namespace fulgur
