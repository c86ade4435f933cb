// What the Trainer iterates: a source of batches, one pass per epoch.
//
// Loaders that come with fulgur: DatasetLoader (PyTorch's DataLoader: a Dataset, batch_size,
// shuffle, workers, ...), TensorDataLoader (in-memory tensors), and the adapter for LibTorch's
// own loaders (fulgur::wrap, torch_data_loader.h). fulgur/data.h includes them all.
#pragma once

#include <cstdint>
#include <optional>

#include "fulgur/batch.h"
#include "fulgur/error.h"

namespace fulgur {

class DataLoader {
 public:
  virtual ~DataLoader() = default;
  /// Begins a pass over the data. `epoch` lets a shuffling loader draw a new, reproducible order.
  /// A pass left unfinished (a batch limit, the sanity check, should_stop, an exception) is
  /// abandoned: the new one starts from its beginning.
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
  /// Whether each pass draws a new order (a loader that cannot tell says false).
  virtual bool shuffles() const { return false; }
  /// Turns shuffling off: overfit_batches wants the same first batches every epoch, as
  /// Lightning's SequentialSampler swap gives them. A loader that shuffles must implement it.
  virtual void disable_shuffle() {
    throw Error(
        "this data loader shuffles and cannot turn it off, which overfit_batches needs; build it without shuffle");
  }
  /// Makes this loader yield only process `rank`'s share of each epoch, as PyTorch's
  /// DistributedSampler: the epoch's order padded to a multiple of `world_size` by repeating its
  /// start, then every world_size-th sample from `rank` on. The distributed strategy calls it
  /// (Trainer option use_distributed_sampler); a loader that cannot shard says so.
  virtual void shard(int64_t /*rank*/, int64_t /*world_size*/) {
    throw Error(
        "this data loader cannot give each process its share of the data; shard the dataset yourself "
        "(e.g. LibTorch's DistributedRandomSampler) and set the Trainer option use_distributed_sampler=false");
  }
};

}  // namespace fulgur
