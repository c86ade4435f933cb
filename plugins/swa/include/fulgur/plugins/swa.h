// swa: Stochastic Weight Averaging, Lightning's StochasticWeightAveraging callback.
//
// From epoch swa_epoch_start on, the learning rate anneals (cos or linear, over
// annealing_epochs epochs) from where it is to swa_lrs — PyTorch's SWALR, which replaces the
// Module's scheduler — and at the start of every epoch the running equal-weight average of the
// weights takes in the current ones. When training ends the average becomes the model's weights;
// a model with BatchNorm gets one more epoch over the training data, without backward or
// optimizer step, to recompute the BatchNorm statistics for the averaged weights, as Lightning
// does.
//
//   --plugin swa:swa_lrs=0.05,swa_epoch_start=0.75
//   trainer.add_plugin(fulgur::plugins::SwaOptions(0.05).swa_epoch_start(0.75));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct SwaOptions : DeclaredOptions<SwaOptions> {
  FULGUR_OPTIONS_OF("swa");
  SwaOptions() = default;
  explicit SwaOptions(double rate) { swa_lrs({rate}); }

  FULGUR_OPTION(std::vector<double>, swa_lrs, {},
                "The SWA learning rate: one for every param group, or one per group (0.05/0.01); each > 0.",
                required());
  FULGUR_OPTION(double, swa_epoch_start, 0.8,
                "The first averaging epoch: a count (>= 1, 1-based as Lightning's int) or, when below 1, a "
                "fraction of max_epochs (Lightning's float; int(fraction * max_epochs)).");
  FULGUR_OPTION(int64_t, annealing_epochs, 10, "Epochs over which the learning rate anneals to swa_lrs.");
  FULGUR_OPTION(std::string, annealing_strategy, "cos", "cos or linear.", one_of({"cos", "linear"}));

  [[deprecated("write .swa_lrs({value})")]] SwaOptions& with_swa_lrs(double value) { return swa_lrs({value}); }
  [[deprecated("write .swa_lrs(values)")]] SwaOptions& with_swa_lrs(std::vector<double> values) {
    return swa_lrs(std::move(values));
  }
  [[deprecated("write .swa_epoch_start(value)")]] SwaOptions& with_swa_epoch_start(double value) {
    return swa_epoch_start(value);
  }
  [[deprecated("write .annealing_epochs(value)")]] SwaOptions& with_annealing_epochs(int64_t value) {
    return annealing_epochs(value);
  }
  [[deprecated("write .annealing_strategy(value)")]] SwaOptions& with_annealing_strategy(std::string value) {
    return annealing_strategy(std::move(value));
  }
};

}  // namespace fulgur::plugins
