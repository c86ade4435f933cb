// Counting indices into a histogram state without a host sync (private).
#pragma once

#include <ATen/ATen.h>

namespace fulgur::metrics::detail {

/// Adds the counts of `index` (values in [0, histogram.numel())) to `histogram` (long, any
/// shape, filled in order), skipping entries where `valid` (broadcastable to index) is false.
/// bincount on the CPU; index_add_ elsewhere, since CUDA's bincount reads its maximum on the host.
inline void add_histogram(at::Tensor& histogram, at::Tensor index, at::Tensor valid) {
  const int64_t bins = histogram.numel();
  at::Tensor flat = histogram.view({-1});
  if (valid.defined()) valid = valid.expand_as(index);
  if (index.device().is_cpu()) {
    if (valid.defined()) index = at::where(valid, index, at::full({}, bins, index.options()));
    const at::Tensor counts = at::bincount(index.reshape(-1), {}, bins + 1);
    flat.add_(counts.narrow(0, 0, bins));
    return;
  }
  at::Tensor weight = valid.defined() ? valid.to(at::kLong) : at::ones_like(index);
  if (valid.defined()) index = at::where(valid, index, at::zeros({}, index.options()));
  flat.index_add_(0, index.reshape(-1), weight.reshape(-1));
}

}  // namespace fulgur::metrics::detail
