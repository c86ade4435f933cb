// grad_accumulation_scheduler: Lightning's GradientAccumulationScheduler. Changes how many
// batches' gradients are summed before each optimizer step as the epochs go by.
//
//   --plugin grad_accumulation_scheduler:scheduling=0:1/4:2/8:4   (epoch:factor pairs)
//
// From epoch 4 two batches make a step, from epoch 8 four. The kernel divides each loss by the
// factor, so an accumulated gradient equals the gradient of one batch that many times larger.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct GradAccumulationSchedulerOptions : DeclaredOptions<GradAccumulationSchedulerOptions> {
  FULGUR_OPTIONS_OF("grad_accumulation_scheduler");
  using Scheduling = std::map<int64_t, int64_t>;
  FULGUR_OPTION(Scheduling, scheduling, {},
                "epoch:factor pairs (0:1/4:2): accumulate_grad_batches from that epoch on; epochs before the "
                "first key use 1.",
                required(), valid_scheduling);

  /// Epochs from 0, factors from 1.
  static std::string valid_scheduling(const Scheduling& scheduling) {
    for (const auto& [epoch, factor] : scheduling) {
      if (epoch < 0 || factor < 1) {
        return "needs epochs >= 0 and factors >= 1, got " + std::to_string(epoch) + ":" + std::to_string(factor);
      }
    }
    return "";
  }
};

}  // namespace fulgur::plugins
