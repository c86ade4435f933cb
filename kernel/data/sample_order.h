// The order in which a loader visits its samples in one epoch: PyTorch's RandomSampler seeded per
// epoch, and DistributedSampler's share per process. Shared by TensorDataLoader and DatasetLoader.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace fulgur::detail {

/// The sample indices (int64) epoch `epoch` visits in process `rank` of `world_size`: a
/// permutation drawn from a generator seeded with seed + epoch when shuffling; under several
/// processes padded to a multiple of world_size by repeating its start, then every world_size-th
/// index from rank on. Undefined when it is simply 0..total-1.
at::Tensor epoch_order(int64_t total, bool shuffle, uint64_t seed, int64_t epoch, int64_t rank, int64_t world_size);

/// Samples one epoch gives one process.
inline int64_t samples_per_process(int64_t total, int64_t world_size) {
  return world_size > 1 ? (total + world_size - 1) / world_size : total;
}

/// Batches of `batch_size` in `samples` samples.
inline int64_t batches_in(int64_t samples, int64_t batch_size, bool drop_last) {
  return drop_last ? samples / batch_size : (samples + batch_size - 1) / batch_size;
}

}  // namespace fulgur::detail
