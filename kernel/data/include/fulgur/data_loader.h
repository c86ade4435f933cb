// What the Trainer iterates: a source of batches, one pass per epoch.
//
// TensorDataLoader serves in-memory tensors with a seeded shuffle (the same seed and epoch
// always give the same order, whatever else consumed random numbers). Any LibTorch data loader
// (torch::data::make_data_loader) plugs in through fulgur::wrap(loader).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <torch/data/dataloader.h>
#include <torch/data/example.h>

#include "fulgur/error.h"
#include "fulgur/hook_contexts.h"

namespace fulgur {

class DataLoader {
 public:
  virtual ~DataLoader() = default;
  /// Begins a pass over the data. `epoch` lets a shuffling loader draw a new, reproducible order.
  virtual void start_epoch(int64_t epoch) = 0;
  /// The next batch of the pass, or nothing at its end.
  virtual std::optional<Batch> next() = 0;
  /// Batches in one pass, when the loader knows it.
  virtual std::optional<int64_t> size() const = 0;
  /// Skips the next `batches` batches of the pass (resuming mid-epoch); returns how many were
  /// skipped. The default draws and drops them.
  virtual int64_t skip(int64_t batches) {
    int64_t skipped = 0;
    while (skipped < batches && next()) ++skipped;
    return skipped;
  }
  /// Makes this loader yield only process `rank`'s share of each epoch, as PyTorch's
  /// DistributedSampler: the epoch's order padded to a multiple of `world_size` by repeating its
  /// start, then every world_size-th sample from `rank` on. The distributed strategy calls it
  /// (Trainer option use_distributed_sampler); a loader that cannot shard says so.
  virtual void shard(int64_t /*rank*/, int64_t /*world_size*/) {
    throw Error("this data loader cannot give each process its share of the data; shard the dataset yourself "
                "(e.g. LibTorch's DistributedRandomSampler) and set the Trainer option use_distributed_sampler=false");
  }
};

struct TensorDataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;
  /// The order of epoch e is a permutation drawn from a generator seeded with seed + e.
  uint64_t seed = 0;
};

/// Batches of rows of `data` and `targets` (first dimension is the sample).
class TensorDataLoader : public DataLoader {
 public:
  TensorDataLoader(torch::Tensor data, torch::Tensor targets, TensorDataLoaderOptions options = {});

  void start_epoch(int64_t epoch) override;
  std::optional<Batch> next() override;
  std::optional<int64_t> size() const override;
  int64_t skip(int64_t batches) override;
  void shard(int64_t rank, int64_t world_size) override;

  int64_t num_samples() const { return data_.size(0); }

 private:
  /// Samples one epoch yields in this process.
  int64_t epoch_samples() const;

  torch::Tensor data_;
  torch::Tensor targets_;
  TensorDataLoaderOptions options_;
  torch::Tensor order_;  // the epoch's sample indices; undefined when in order and unsharded
  int64_t position_ = 0;
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
};

/// Adapts a LibTorch data loader whose batches are Example<> or std::vector<Example<>>
/// (the latter are stacked). Its length is unknown to fulgur; limits given as counts still work.
template <typename TorchLoader>
class TorchDataLoader : public DataLoader {
 public:
  explicit TorchDataLoader(std::unique_ptr<TorchLoader> loader) : loader_(std::move(loader)) {}

  void start_epoch(int64_t /*epoch*/) override {
    // LibTorch's samplers draw from the global generator, which the Trainer seeds per run.
    iterator_.emplace(loader_->begin());
  }

  std::optional<Batch> next() override {
    if (!iterator_ || *iterator_ == loader_->end()) return std::nullopt;
    auto& raw = **iterator_;
    Batch batch = to_batch(raw);
    ++*iterator_;
    return batch;
  }

  std::optional<int64_t> size() const override { return std::nullopt; }

 private:
  using RawBatch = typename TorchLoader::BatchType;

  static Batch to_batch(RawBatch& raw) {
    if constexpr (std::is_same_v<RawBatch, Batch>) {
      return raw;
    } else {
      std::vector<torch::Tensor> data, targets;
      data.reserve(raw.size());
      targets.reserve(raw.size());
      for (auto& example : raw) {
        data.push_back(example.data);
        targets.push_back(example.target);
      }
      return {torch::stack(data), torch::stack(targets)};
    }
  }

  std::unique_ptr<TorchLoader> loader_;
  std::optional<decltype(std::declval<TorchLoader&>().begin())> iterator_;
};

/// `trainer.fit(model, *fulgur::wrap(torch::data::make_data_loader(...)))`.
template <typename TorchLoader>
std::unique_ptr<DataLoader> wrap(std::unique_ptr<TorchLoader> loader) {
  return std::make_unique<TorchDataLoader<TorchLoader>>(std::move(loader));
}

}  // namespace fulgur
