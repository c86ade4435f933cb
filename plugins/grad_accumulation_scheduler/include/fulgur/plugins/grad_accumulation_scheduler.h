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

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct GradAccumulationSchedulerOptions {
  /// epoch -> accumulate_grad_batches from that epoch on. Epochs before the first key use 1.
  std::map<int64_t, int64_t> scheduling{{0, 1}};

  PluginSpec spec() const {
    std::string text;
    for (const auto& [epoch, factor] : scheduling) {
      text += (text.empty() ? "" : "/") + std::to_string(epoch) + ":" + std::to_string(factor);
    }
    return {"grad_accumulation_scheduler", {{"scheduling", text}}};
  }
};

}  // namespace fulgur::plugins
