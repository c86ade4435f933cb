// DatasetLoader: PyTorch's DataLoader for fulgur. Batches of a Dataset (or IterableDataset)
// with a seeded, resumable shuffle, worker threads that prepare batches ahead of the step,
// pinned memory for non-blocking copies to a GPU, and DistributedSampler's sharding.
//
//   auto data = std::make_shared<fulgur::CsvDataset>("train.csv", csv_options);
//   fulgur::DatasetLoader train(data, fulgur::DatasetLoaderOptions().batch_size(64).shuffle(true)
//                                                                   .num_workers(2));
//   trainer.fit(model, train);
//
// Batches come out in the same order whatever the number of workers: worker k prepares batch
// k, k + num_workers, ... and the loader hands them out in turn. A pass left unfinished (a
// limit, the sanity check, should_stop, an exception) is abandoned cleanly: the workers drop
// what they prepared and the next pass starts afresh. A sample whose get() throws is an error
// naming its index, raised when its batch is due.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "fulgur/arg.h"
#include "fulgur/collate.h"
#include "fulgur/data_loader.h"
#include "fulgur/dataset.h"

namespace fulgur {

/// PyTorch DataLoader's arguments, with its defaults.
struct DatasetLoaderOptions {
  FULGUR_ARG(DatasetLoaderOptions, int64_t, batch_size, 1)
  /// A new order every epoch: a permutation drawn from a generator seeded with seed + epoch.
  FULGUR_ARG(DatasetLoaderOptions, bool, shuffle, false)
  FULGUR_ARG(DatasetLoaderOptions, uint64_t, seed, 0)
  FULGUR_ARG(DatasetLoaderOptions, bool, drop_last, false)
  /// Threads preparing batches; 0 prepares them on the calling thread when they are due.
  FULGUR_ARG(DatasetLoaderOptions, int64_t, num_workers, 0)
  /// Batches each worker prepares ahead.
  FULGUR_ARG(DatasetLoaderOptions, int64_t, prefetch_factor, 2)
  /// Batches in page-locked memory, so that the copy to a GPU does not block (no effect without CUDA).
  FULGUR_ARG(DatasetLoaderOptions, bool, pin_memory, false)
  /// Keep the worker threads between epochs instead of starting them for each.
  FULGUR_ARG(DatasetLoaderOptions, bool, persistent_workers, false)
  /// Turns one batch's samples into the batch; default_collate when empty.
  FULGUR_ARG(DatasetLoaderOptions, CollateFn, collate_fn, nullptr)
};

class DatasetLoader : public DataLoader {
 public:
  DatasetLoader(std::shared_ptr<Dataset> dataset, DatasetLoaderOptions options = {});
  DatasetLoader(std::shared_ptr<IterableDataset> dataset, DatasetLoaderOptions options = {});
  ~DatasetLoader() override;
  DatasetLoader(const DatasetLoader&) = delete;
  DatasetLoader& operator=(const DatasetLoader&) = delete;

  void start_epoch(int64_t epoch) override;
  std::optional<Batch> next() override;
  /// Known for a map-style Dataset; unknown for an IterableDataset.
  std::optional<int64_t> size() const override;
  /// A map-style dataset skips without reading the samples it skips.
  int64_t skip(int64_t batches) override;
  void shard(int64_t rank, int64_t world_size) override;
  bool shuffles() const override { return options_.shuffle_; }
  void disable_shuffle() override { options_.shuffle_ = false; }

  const DatasetLoaderOptions& options() const { return options_; }

 private:
  struct Prepared {
    std::optional<Batch> batch;  // nothing (and no error): the end of a worker's stream
    std::exception_ptr error;
  };
  /// One pass of a map-style dataset, shared with the workers that prepare its batches.
  struct Pass {
    std::vector<int64_t> order;  // sample indices in the order of the pass
    int64_t batch_size = 1;
    int64_t num_batches = 0;
  };

  void validate_options() const;
  Batch make_batch(const Pass& pass, int64_t batch_index) const;
  Batch finish(std::vector<Batch>& samples, const std::vector<int64_t>& indices) const;
  void start_workers();
  void stop_workers();
  void map_worker();
  void stream_worker(int64_t worker_id);
  std::optional<Batch> next_streamed();

  std::shared_ptr<Dataset> dataset_;
  std::shared_ptr<IterableDataset> iterable_;
  DatasetLoaderOptions options_;
  bool pin_ = false;
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
  int64_t epoch_ = 0;

  std::shared_ptr<const Pass> pass_;
  int64_t next_to_yield_ = 0;
  std::unique_ptr<SampleStream> main_stream_;  // an IterableDataset without workers
  bool started_ = false;

  // The workers. `generation_` changes with every new pass or skip: a worker finishing a batch
  // of an older one drops it.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  int64_t generation_ = 0;
  int64_t next_to_claim_ = 0;
  std::map<int64_t, Prepared> prepared_;        // map-style: by batch index
  std::vector<std::deque<Prepared>> streamed_;  // iterable: per worker, in order
  std::vector<bool> stream_done_;
  int64_t turn_ = 0;  // iterable: the worker whose batch is next
};

}  // namespace fulgur
