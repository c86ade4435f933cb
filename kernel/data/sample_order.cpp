#include "sample_order.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ATen.h>

namespace fulgur::detail {

at::Tensor epoch_order(int64_t total, bool shuffle, uint64_t seed, int64_t epoch, int64_t rank, int64_t world_size) {
  at::Tensor order;
  if (shuffle) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed + static_cast<uint64_t>(epoch));
    order = at::randperm(total, generator, at::TensorOptions().dtype(at::kLong));
  }
  if (world_size > 1) {
    // Every process draws the same order (same seed and epoch) and takes its own stride of it.
    if (!order.defined()) order = at::arange(total, at::TensorOptions().dtype(at::kLong));
    const int64_t padded = (total + world_size - 1) / world_size * world_size;
    if (padded > total) order = at::cat({order, order.narrow(0, 0, padded - total)});
    order = order.slice(0, rank, padded, world_size).contiguous();
  }
  return order;
}

}  // namespace fulgur::detail
