// The batch-size finder: Lightning's power and binsearch searches over trial fits.
#include <malloc.h>

#include <cmath>
#include <new>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/plugin.h"
#include "fulgur/tuner.h"
#include "optimizer_snapshot.h"
#include "weights_snapshot.h"

// A CUDA LibTorch carries the caching allocator (as device_stats_monitor finds it): a trial that
// ran out of GPU memory gives its cache back before the next one.
#if __has_include(<c10/cuda/CUDACachingAllocator.h>) && __has_include(<c10/cuda/impl/cuda_cmake_macros.h>) && \
    __has_include(<cuda_runtime_api.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define FULGUR_HAS_CUDA_CACHING 1
#endif

namespace fulgur {
namespace {

// Bytes the process's heap holds now (glibc: small blocks in use plus mmapped large ones, which
// is where LibTorch's CPU tensors live).
double heap_bytes() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks) + static_cast<double>(info.hblkhd);
}

// A trial that holds more than `limit_mb` MiB of heap above where it started "runs out of
// memory": checked where a step's activations are all alive (before backward) and after it.
class MemoryBudget : public Plugin {
 public:
  explicit MemoryBudget(double limit_mb) : limit_bytes_(limit_mb * 1024.0 * 1024.0) {}
  std::string name() const override { return "batch_size_finder_memory_budget"; }
  void attach(HookBus& bus) override {
    connect(bus.on_train_start, [this](RunHook&) { baseline_ = heap_bytes(); });
    connect(bus.on_before_backward, [this](BeforeBackwardHook&) { check(); });
    connect(bus.on_after_backward, [this](AfterBackwardHook&) { check(); });
  }

 private:
  void check() const {
    const double used = heap_bytes() - baseline_;
    if (used > limit_bytes_) {
      throw Error("out of memory: the trial holds " + std::to_string(static_cast<int64_t>(used / (1024 * 1024))) +
                  " MiB above its start, over the batch-size finder's max_memory_mb");
    }
  }
  double limit_bytes_;
  double baseline_ = 0;
};

bool is_out_of_memory(const std::string& message) {
  return message.find("out of memory") != std::string::npos ||
         message.find("can't allocate memory") != std::string::npos ||
         message.find("not enough memory") != std::string::npos;
}

void release_cached_memory() {
#ifdef FULGUR_HAS_CUDA_CACHING
  if (torch::cuda::is_available()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
  malloc_trim(0);
}

}  // namespace

BatchSizeFinder Tuner::run_scale_batch_size(Module& module, int64_t& batch_size, const BatchSizeFindOptions& options,
                                            const Fit& fit) {
  if (options.mode_ != "power" && options.mode_ != "binsearch") {
    throw Error("scale_batch_size: mode must be power or binsearch, got '" + options.mode_ + "'");
  }
  if (options.steps_per_trial_ < 1 || options.init_val_ < 1 || options.max_trials_ < 1 || options.max_val_ < 1) {
    throw Error("scale_batch_size: steps_per_trial, init_val, max_trials and max_val must be >= 1");
  }
  if (!(options.margin_ >= 0 && options.margin_ < 1)) throw Error("scale_batch_size: margin must lie in [0, 1)");
  if (options.max_memory_mb_ < 0) throw Error("scale_batch_size: max_memory_mb must be >= 0 (0: no budget)");
  BatchSizeFinder result;
  if (options_.fast_dev_run() > 0) {
    spdlog::warn("scale_batch_size is skipped under fast_dev_run, as in Lightning");
    result.batch_size = batch_size;
    return result;
  }
  TrainerOptions search = search_options();
  search.max_steps(options.steps_per_trial_);
  search.limit_train_batches(1.0);
  search.limit_val_batches(options.steps_per_trial_);
  const detail::WeightsSnapshot restore(module);

  // One trial: true when it fitted, false when it ran out of memory; other errors propagate.
  bool can_grow = true;
  const auto trial = [&](int64_t size) {
    batch_size = size;
    Trainer trainer(search);
    trainer.add_plugin(std::make_unique<detail::OptimizerSnapshot>());
    if (options.max_memory_mb_ > 0) trainer.add_plugin(std::make_unique<MemoryBudget>(options.max_memory_mb_));
    bool fitted = true;
    try {
      fit(trainer);
    } catch (const std::bad_alloc&) {
      fitted = false;
    } catch (const std::exception& error) {
      if (!is_out_of_memory(error.what())) throw;
      fitted = false;
    }
    release_cached_memory();
    // A size that already puts all the data in one batch cannot grow (Lightning compares with the
    // dataset's length); the Trainer keeps the last epoch's batch count after the fit.
    can_grow = trainer.num_training_batches() != 1;
    result.trials.emplace_back(size, fitted);
    spdlog::info("scale_batch_size: batch size {} {}", size, fitted ? "fits" : "runs out of memory");
    return fitted;
  };

  int64_t size = std::min(options.init_val_, options.max_val_);
  if (!trial(size)) {
    batch_size = size;
    throw Error("scale_batch_size: the first batch size (" + std::to_string(size) +
                ") already runs out of memory; give a smaller init_val" +
                (options.max_memory_mb_ > 0 ? " or a larger max_memory_mb" : ""));
  }
  if (options.mode_ == "power") {
    // Double while it fits; the first failure keeps the last size that fitted.
    for (int64_t count = 1; count < options.max_trials_ && can_grow && size < options.max_val_; ++count) {
      const int64_t next = std::min(size * 2, options.max_val_);
      if (!trial(next)) break;
      size = next;
    }
  } else {
    // Double until the first failure, then bisect between the last success and it.
    int64_t low = size;
    std::optional<int64_t> high;
    for (int64_t count = 1; count < options.max_trials_; ++count) {
      int64_t next;
      if (high) {
        if (*high - low <= 1) break;
        next = (low + *high) / 2;
      } else {
        if (!can_grow || low >= options.max_val_) break;
        next = std::min(low * 2, options.max_val_);
      }
      if (trial(next)) {
        low = next;
      } else {
        high = next;
      }
    }
    size = low;
    if (options.margin_ > 0)
      size = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(size) * (1 - options.margin_)));
  }
  batch_size = size;
  result.batch_size = size;
  spdlog::info("scale_batch_size: batch size {} found after {} trial(s)", size, result.trials.size());
  return result;
}

}  // namespace fulgur
