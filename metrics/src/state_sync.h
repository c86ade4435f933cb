// Combining a metric's states across the processes of a run (private to the metrics library).
#pragma once

#include <functional>
#include <memory>

#include "fulgur/metrics/metric.h"

namespace fulgur::metrics::detail {

using CustomMerge = std::function<void(StateSet& into, const StateSet& other)>;

/// The states of every process combined: Sum, Max and Min states all-reduced, Cat states
/// gathered in rank order (each process may hold a different number of rows, or none), Custom
/// states gathered and folded with `merge_custom` in rank order; updates summed. A collective:
/// every process calls it. `device` holds the small tensors exchanged about sizes.
std::shared_ptr<StateSet> sync_states(const StateSet& local, Strategy& strategy, const at::Device& device,
                                      const CustomMerge& merge_custom);

/// Every process's `rows` (first dimension may differ; undefined: none), in rank order.
std::vector<at::Tensor> gather_rows(const at::Tensor& rows, Strategy& strategy, const at::Device& device,
                                    const std::string& what);

}  // namespace fulgur::metrics::detail
