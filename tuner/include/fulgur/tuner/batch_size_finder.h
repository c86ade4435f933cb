// The batch-size finder's options and result (Lightning's scale_batch_size).
//
// Each trial fits steps_per_trial optimizer steps at one batch size, asking the data hooks for
// new loaders. "power" doubles the size after every trial that fits and stops at the first that
// runs out of memory, keeping the last that fitted; "binsearch" then bisects between the two and
// takes `margin` off the result. Out of memory is CUDA's error (caught, the cache emptied), the
// CPU allocator's, or — so that a CPU run can find a limit — using more than max_memory_mb
// above where the trial started.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fulgur/arg.h"

namespace fulgur {

struct BatchSizeFindOptions {
  /// "power" or "binsearch".
  FULGUR_ARG(BatchSizeFindOptions, std::string, mode, "power")
  FULGUR_ARG(BatchSizeFindOptions, int64_t, steps_per_trial, 3)
  FULGUR_ARG(BatchSizeFindOptions, int64_t, init_val, 2)
  FULGUR_ARG(BatchSizeFindOptions, int64_t, max_trials, 25)
  /// binsearch only: the found size is reduced by this fraction, as a safety buffer.
  FULGUR_ARG(BatchSizeFindOptions, double, margin, 0.05)
  FULGUR_ARG(BatchSizeFindOptions, int64_t, max_val, 8192)
  /// A memory budget for trials on the host, in MiB of heap above the trial's start (0: none, then
  /// only a real allocation failure counts as out of memory).
  FULGUR_ARG(BatchSizeFindOptions, double, max_memory_mb, 0.0)
};

struct BatchSizeFinder {
  /// The size found, also left in the variable the data hooks read.
  int64_t batch_size = 0;
  /// Each trial: the size tried and whether it fitted.
  std::vector<std::pair<int64_t, bool>> trials;
};

}  // namespace fulgur
