// What the evaluation and prediction loops share: reading their loaders batch by batch, and
// running without autograd.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "fulgur/trainer.h"

namespace fulgur {

namespace detail {
// The evaluation loops run without autograd: under InferenceMode (Lightning's inference_mode=True,
// cheaper: no version counters or view tracking) or under NoGradGuard.
class EvaluationGradMode {
 public:
  explicit EvaluationGradMode(bool inference_mode) {
    if (inference_mode) {
      inference_.emplace();
    } else {
      no_grad_.emplace();
    }
  }

 private:
  std::optional<c10::InferenceMode> inference_;
  std::optional<torch::NoGradGuard> no_grad_;
};
}  // namespace detail

template <typename Body>
void Trainer::read_loaders(const std::vector<DataLoader*>& loaders, const std::vector<int64_t>& limits, Body&& body) {
  for (std::size_t idx = 0; idx < loaders.size(); ++idx) {
    DataLoader& loader = *loaders[idx];
    const int64_t limit = limits[idx];
    const auto dataloader_idx = static_cast<int64_t>(idx);
    progress_.dataloader_idx = dataloader_idx;
    // Lightning names values per loader only when the loop reads several.
    metrics_.set_dataloader_suffix(loaders.size() > 1 ? "/dataloader_idx_" + std::to_string(idx) : "");
    progress_.num_eval_batches = batches_to_run(loader, limit);
    if (limit == 0) continue;
    loader.start_epoch(0);
    for (int64_t batch_idx = 0; limit < 0 || batch_idx < limit; ++batch_idx) {
      auto raw = loader.next();
      if (!raw) break;
      Batch batch = transfer(std::move(*raw), dataloader_idx);
      set_current_batch(batch);
      body(batch, batch_idx, dataloader_idx);
      current_batch_ = nullptr;
    }
  }
  metrics_.set_dataloader_suffix("");
  progress_.dataloader_idx = 0;
}

}  // namespace fulgur
