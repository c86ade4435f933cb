#include "fulgur/dataset_loader.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <spdlog/spdlog.h>

#include "fulgur/error.h"
#include "sample_order.h"

namespace fulgur {

namespace {

std::string what_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

}  // namespace

DatasetLoader::DatasetLoader(std::shared_ptr<Dataset> dataset, DatasetLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  if (!dataset_) throw Error("DatasetLoader: no dataset given (a null pointer)");
  validate_options();
  const int64_t samples = dataset_->size();
  if (samples <= 0) throw Error("DatasetLoader: the dataset is empty (its size() is " + std::to_string(samples) + ")");
  if (options_.drop_last_ && samples < options_.batch_size_) {
    throw Error("DatasetLoader: drop_last with batch_size " + std::to_string(options_.batch_size_) +
                " leaves no batch of the " + std::to_string(samples) + " samples");
  }
}

DatasetLoader::DatasetLoader(std::shared_ptr<IterableDataset> dataset, DatasetLoaderOptions options)
    : iterable_(std::move(dataset)), options_(std::move(options)) {
  if (!iterable_) throw Error("DatasetLoader: no dataset given (a null pointer)");
  validate_options();
}

DatasetLoader::~DatasetLoader() { stop_workers(); }

void DatasetLoader::validate_options() const {
  if (options_.batch_size_ < 1) {
    throw Error("DatasetLoader: batch_size must be >= 1, got " + std::to_string(options_.batch_size_));
  }
  if (options_.num_workers_ < 0) {
    throw Error("DatasetLoader: num_workers must be >= 0, got " + std::to_string(options_.num_workers_));
  }
  if (options_.prefetch_factor_ < 1) {
    throw Error("DatasetLoader: prefetch_factor must be >= 1, got " + std::to_string(options_.prefetch_factor_));
  }
  if (options_.pin_memory_ && !torch::cuda::is_available()) {
    static std::once_flag warned;
    std::call_once(warned, [] {
      spdlog::warn("DatasetLoader: pin_memory is set but no CUDA device is available; batches are not pinned");
    });
  }
}

void DatasetLoader::shard(int64_t rank, int64_t world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw Error("DatasetLoader::shard: rank " + std::to_string(rank) + " of world size " + std::to_string(world_size));
  }
  if (dataset_ && world_size > dataset_->size()) {
    throw Error("DatasetLoader: " + std::to_string(dataset_->size()) + " samples cannot be shared by " +
                std::to_string(world_size) + " processes");
  }
  rank_ = rank;
  world_size_ = world_size;
}

std::optional<int64_t> DatasetLoader::size() const {
  if (!dataset_) return std::nullopt;
  return detail::batches_in(detail::samples_per_process(dataset_->size(), world_size_), options_.batch_size_,
                            options_.drop_last_);
}

Batch DatasetLoader::finish(std::vector<Batch>& samples, const std::vector<int64_t>& indices) const {
  Batch batch = options_.collate_fn_ ? options_.collate_fn_(samples) : default_collate(samples, indices);
  if (pin_) {
    batch.apply_to_tensors([](const at::Tensor& tensor) { return tensor.is_pinned() ? tensor : tensor.pin_memory(); });
  }
  return batch;
}

Batch DatasetLoader::make_batch(const Pass& pass, int64_t batch_index) const {
  const int64_t begin = batch_index * pass.batch_size;
  const int64_t end = std::min<int64_t>(begin + pass.batch_size, static_cast<int64_t>(pass.order.size()));
  std::vector<int64_t> indices(pass.order.begin() + begin, pass.order.begin() + end);
  std::vector<Batch> samples;
  samples.reserve(indices.size());
  for (const int64_t index : indices) {
    try {
      samples.push_back(dataset_->get(index));
    } catch (...) {
      throw Error("dataset sample " + std::to_string(index) + ": get() failed: " + what_of(std::current_exception()));
    }
  }
  return finish(samples, indices);
}

void DatasetLoader::start_workers() {
  stopping_ = false;
  const int64_t count = options_.num_workers_;
  for (int64_t w = 0; w < count; ++w) {
    if (dataset_) {
      workers_.emplace_back([this] { map_worker(); });
    } else {
      workers_.emplace_back([this, w] { stream_worker(w); });
    }
  }
}

void DatasetLoader::stop_workers() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    ++generation_;
  }
  changed_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  const std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = false;
  prepared_.clear();
  streamed_.clear();
}

void DatasetLoader::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  if (iterable_ || !options_.persistent_workers_) stop_workers();
  if (dataset_) {
    auto pass = std::make_shared<Pass>();
    const int64_t total = dataset_->size();
    const at::Tensor order = detail::epoch_order(total, options_.shuffle_, options_.seed_, epoch, rank_, world_size_);
    if (order.defined()) {
      const auto* begin = order.data_ptr<int64_t>();
      pass->order.assign(begin, begin + order.numel());
    } else {
      pass->order.resize(static_cast<std::size_t>(total));
      for (int64_t i = 0; i < total; ++i) pass->order[static_cast<std::size_t>(i)] = i;
    }
    pass->batch_size = options_.batch_size_;
    pass->num_batches =
        detail::batches_in(static_cast<int64_t>(pass->order.size()), pass->batch_size, options_.drop_last_);
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      ++generation_;
      prepared_.clear();
      pass_ = std::move(pass);
      next_to_claim_ = next_to_yield_ = 0;
      started_ = true;
    }
    changed_.notify_all();
  } else {
    const int64_t workers = options_.num_workers_;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      ++generation_;
      streamed_.assign(static_cast<std::size_t>(workers), {});
      stream_done_.assign(static_cast<std::size_t>(workers), false);
      turn_ = 0;
      started_ = true;
    }
    main_stream_.reset();
    if (workers == 0) {
      main_stream_ = iterable_->stream(StreamShard{rank_, world_size_, 0, 1, epoch});
      if (!main_stream_) throw Error("IterableDataset::stream returned no stream");
    }
  }
  pin_ = options_.pin_memory_ && torch::cuda::is_available();
  if (options_.num_workers_ > 0 && workers_.empty()) start_workers();
}

void DatasetLoader::map_worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  const int64_t window = options_.num_workers_ * options_.prefetch_factor_;
  while (true) {
    changed_.wait(lock, [&] {
      return stopping_ || (pass_ && next_to_claim_ < pass_->num_batches && next_to_claim_ < next_to_yield_ + window);
    });
    if (stopping_) return;
    const int64_t index = next_to_claim_++;
    const int64_t generation = generation_;
    const std::shared_ptr<const Pass> pass = pass_;
    lock.unlock();
    Prepared prepared;
    try {
      prepared.batch = make_batch(*pass, index);
    } catch (...) {
      prepared.error = std::current_exception();
    }
    lock.lock();
    if (generation == generation_) {
      prepared_[index] = std::move(prepared);
      changed_.notify_all();
    }
  }
}

namespace {

// Up to `batch_size` samples from a worker's stream; `end` is set when the stream ran out. An
// error names the worker and the sample.
std::vector<Batch> draw_samples(SampleStream& stream, int64_t batch_size, int64_t worker_id, int64_t& drawn,
                                bool& end) {
  std::vector<Batch> samples;
  while (static_cast<int64_t>(samples.size()) < batch_size) {
    std::optional<Batch> sample;
    try {
      sample = stream.next();
    } catch (...) {
      throw Error("worker " + std::to_string(worker_id) + ", sample " + std::to_string(drawn) +
                  " of its stream: " + what_of(std::current_exception()));
    }
    if (!sample) {
      end = true;
      break;
    }
    ++drawn;
    samples.push_back(std::move(*sample));
  }
  return samples;
}

}  // namespace

void DatasetLoader::stream_worker(int64_t worker_id) {
  const int64_t workers = options_.num_workers_;
  int64_t generation = 0;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    generation = generation_;
  }
  const auto w = static_cast<std::size_t>(worker_id);
  // Hands one result to the loader; false when the pass was abandoned.
  auto deliver = [&](Prepared prepared) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] {
      return stopping_ || generation != generation_ ||
             static_cast<int64_t>(streamed_[w].size()) < options_.prefetch_factor_;
    });
    if (stopping_ || generation != generation_) return false;
    streamed_[w].push_back(std::move(prepared));
    changed_.notify_all();
    return true;
  };
  std::unique_ptr<SampleStream> stream;
  int64_t drawn = 0;
  try {
    stream =
        iterable_->stream(StreamShard{rank_ * workers + worker_id, world_size_ * workers, worker_id, workers, epoch_});
    if (!stream) throw Error("IterableDataset::stream returned no stream");
  } catch (...) {
    Prepared failed;
    failed.error = std::current_exception();
    if (deliver(std::move(failed))) deliver(Prepared{});
    return;
  }
  while (true) {
    Prepared prepared;
    bool end = false;
    try {
      std::vector<Batch> samples = draw_samples(*stream, options_.batch_size_, worker_id, drawn, end);
      const bool partial = static_cast<int64_t>(samples.size()) < options_.batch_size_;
      if (!samples.empty() && !(partial && options_.drop_last_)) prepared.batch = finish(samples, {});
    } catch (...) {
      prepared.error = std::current_exception();
      end = true;
    }
    if ((prepared.batch || prepared.error) && !deliver(std::move(prepared))) return;
    if (end) {
      deliver(Prepared{});
      return;
    }
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ || generation != generation_) return;
    }
  }
}

std::optional<Batch> DatasetLoader::next_streamed() {
  if (main_stream_) {
    std::vector<Batch> samples;
    while (static_cast<int64_t>(samples.size()) < options_.batch_size_) {
      auto sample = main_stream_->next();
      if (!sample) break;
      samples.push_back(std::move(*sample));
    }
    const bool partial = static_cast<int64_t>(samples.size()) < options_.batch_size_;
    if (samples.empty() || (partial && options_.drop_last_)) {
      main_stream_.reset();
      return std::nullopt;
    }
    return finish(samples, {});
  }
  std::unique_lock<std::mutex> lock(mutex_);
  const auto workers = static_cast<int64_t>(streamed_.size());
  while (true) {
    if (std::all_of(stream_done_.begin(), stream_done_.end(), [](bool done) { return done; })) {
      lock.unlock();
      if (!options_.persistent_workers_) stop_workers();
      return std::nullopt;
    }
    const auto w = static_cast<std::size_t>(turn_ % workers);
    if (stream_done_[w]) {
      ++turn_;
      continue;
    }
    changed_.wait(lock, [&] { return !streamed_[w].empty(); });
    Prepared prepared = std::move(streamed_[w].front());
    streamed_[w].pop_front();
    changed_.notify_all();
    ++turn_;
    if (!prepared.batch && !prepared.error) {
      stream_done_[w] = true;
      continue;
    }
    lock.unlock();
    if (prepared.error) std::rethrow_exception(prepared.error);
    return std::move(prepared.batch);
  }
}

std::optional<Batch> DatasetLoader::next() {
  if (!started_) throw Error("DatasetLoader::next: call start_epoch first (the Trainer does)");
  if (iterable_) return next_streamed();
  const std::shared_ptr<const Pass> pass = pass_;
  if (next_to_yield_ >= pass->num_batches) {
    if (!workers_.empty() && !options_.persistent_workers_) stop_workers();
    return std::nullopt;
  }
  if (workers_.empty()) return make_batch(*pass, next_to_yield_++);
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return prepared_.count(next_to_yield_) != 0; });
  auto node = prepared_.extract(next_to_yield_);
  ++next_to_yield_;
  lock.unlock();
  changed_.notify_all();
  if (node.mapped().error) std::rethrow_exception(node.mapped().error);
  return std::move(node.mapped().batch);
}

int64_t DatasetLoader::skip(int64_t batches) {
  if (iterable_) return DataLoader::skip(batches);
  if (!started_) throw Error("DatasetLoader::skip: call start_epoch first (the Trainer does)");
  int64_t skipped = 0;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const int64_t target = std::min(next_to_yield_ + std::max<int64_t>(batches, 0), pass_->num_batches);
    skipped = target - next_to_yield_;
    ++generation_;
    prepared_.clear();
    next_to_claim_ = next_to_yield_ = target;
  }
  changed_.notify_all();
  return skipped;
}

}  // namespace fulgur
