// Collating samples into a batch, as PyTorch's default_collate does.
//
// Samples of the same structure become one batch of that structure: tensors are stacked along a
// new first dimension, ints / doubles / bools become int64 / float64 / bool tensors, strings a
// list of strings; lists and dicts are collated entry by entry.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "fulgur/batch.h"

namespace fulgur {

/// How a loader turns the samples of one batch into the batch.
using CollateFn = std::function<Batch(std::vector<Batch>& samples)>;

/// PyTorch's default_collate. `indices` (optional) are the samples' dataset indices, named in
/// errors: samples whose structures or tensor shapes differ are a fulgur::Error naming both
/// samples and what each holds.
Batch default_collate(std::vector<Batch>& samples, const std::vector<int64_t>& indices = {});

}  // namespace fulgur
