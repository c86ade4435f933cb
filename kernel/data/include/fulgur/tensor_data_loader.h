// TensorDataLoader: batches of rows of in-memory tensors, with a seeded shuffle (the same seed
// and epoch always give the same order, whatever else consumed random numbers). Each batch is
// the list [data, targets] (or the data tensor alone when no targets are given).
#pragma once

#include <cstdint>
#include <optional>

#include <ATen/core/Tensor.h>

#include "fulgur/data_loader.h"
#include "fulgur/options.h"

namespace fulgur {

struct TensorDataLoaderOptions : DeclaredOptions<TensorDataLoaderOptions> {
  static const char* options_name() { return "TensorDataLoader"; }
  static std::string options_owner() { return "TensorDataLoader"; }
  TensorDataLoaderOptions() = default;
  /// `{32, true}`: batch_size, shuffle, drop_last and seed in order, as the last release spelled them.
  TensorDataLoaderOptions(int64_t batch_size_, bool shuffle_ = false, bool drop_last_ = false,  // NOLINT
                          uint64_t seed_ = 0) {
    batch_size(batch_size_).shuffle(shuffle_).drop_last(drop_last_).seed(seed_);
  }

  FULGUR_OPTION(int64_t, batch_size, 1, "Samples per batch.", at_least(1));
  FULGUR_OPTION(bool, shuffle, false, "A new order every epoch.");
  FULGUR_OPTION(bool, drop_last, false, "Drop a short last batch.");
  FULGUR_OPTION(uint64_t, seed, 0,
                "The order of epoch e is a permutation drawn from a generator seeded with seed + e.");
};

/// Batches of rows of `data` and `targets` (first dimension is the sample).
class TensorDataLoader : public DataLoader {
 public:
  TensorDataLoader(at::Tensor data, at::Tensor targets, TensorDataLoaderOptions options = {});

  void start_epoch(int64_t epoch) override;
  std::optional<Batch> next() override;
  std::optional<int64_t> size() const override;
  int64_t skip(int64_t batches) override;
  void shard(int64_t rank, int64_t world_size) override;
  bool shuffles() const override { return options_.shuffle(); }
  void disable_shuffle() override { options_.shuffle(false); }

  int64_t num_samples() const { return data_.size(0); }

 private:
  /// Samples one epoch yields in this process.
  int64_t epoch_samples() const;

  at::Tensor data_;
  at::Tensor targets_;
  TensorDataLoaderOptions options_;
  at::Tensor order_;  // the epoch's sample indices; undefined when in order and unsharded
  int64_t position_ = 0;
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
};

}  // namespace fulgur
