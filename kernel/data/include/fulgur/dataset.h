// What a DatasetLoader reads: a map-style Dataset (get(i), size()), as PyTorch's Dataset, or an
// IterableDataset that streams samples, as PyTorch's IterableDataset.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "fulgur/batch.h"

namespace fulgur {

/// Samples by index. With num_workers > 0 the loader calls get() from several threads at once:
/// it must be safe to call concurrently (read-only state, or its own locking).
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Sample `index`, 0 <= index < size(): any structure (a tensor, a list, a dict, ...).
  virtual Batch get(int64_t index) = 0;
  virtual int64_t size() const = 0;
};

/// A Dataset from a function: `LambdaDataset(1000, [](int64_t i) { return Batch::list({...}); })`.
class LambdaDataset : public Dataset {
 public:
  LambdaDataset(int64_t size, std::function<Batch(int64_t)> get) : size_(size), get_(std::move(get)) {}
  Batch get(int64_t index) override { return get_(index); }
  int64_t size() const override { return size_; }

 private:
  int64_t size_;
  std::function<Batch(int64_t)> get_;
};

/// Which share of an IterableDataset one stream yields: shard `shard` of `num_shards`, where the
/// shards are every (process, worker) pair of the run (PyTorch's get_worker_info() and the
/// rank together). A stream yields the records r with r % num_shards == shard, or any other
/// disjoint split; `epoch` lets it reshuffle.
struct StreamShard {
  int64_t shard = 0;
  int64_t num_shards = 1;
  int64_t worker_id = 0;
  int64_t num_workers = 1;
  int64_t epoch = 0;
};

/// One pass over an IterableDataset's share.
class SampleStream {
 public:
  virtual ~SampleStream() = default;
  /// The next sample, or nothing at the end of the pass.
  virtual std::optional<Batch> next() = 0;
};

/// Samples as a stream. Each worker thread opens its own stream; streams run concurrently.
class IterableDataset {
 public:
  virtual ~IterableDataset() = default;
  virtual std::unique_ptr<SampleStream> stream(const StreamShard& shard) = 0;
};

}  // namespace fulgur
