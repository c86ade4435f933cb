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
//   trainer.add_plugin(fulgur::plugins::SwaOptions{}.with_swa_lrs(0.05).spec());
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct SwaOptions {
  /// The SWA learning rate: one for every param group, or one per group. Required, > 0.
  std::vector<double> swa_lrs;
  /// The first averaging epoch: a count (>= 1, 1-based as Lightning's int) or, when below 1, a
  /// fraction of max_epochs (Lightning's float; int(fraction * max_epochs)).
  double swa_epoch_start = 0.8;
  /// Epochs over which the learning rate anneals to swa_lrs.
  int64_t annealing_epochs = 10;
  /// "cos" or "linear".
  std::string annealing_strategy = "cos";

  SwaOptions& with_swa_lrs(double value) { swa_lrs = {value}; return *this; }
  SwaOptions& with_swa_lrs(std::vector<double> values) { swa_lrs = std::move(values); return *this; }
  SwaOptions& with_swa_epoch_start(double value) { swa_epoch_start = value; return *this; }
  SwaOptions& with_annealing_epochs(int64_t value) { annealing_epochs = value; return *this; }
  SwaOptions& with_annealing_strategy(std::string value) { annealing_strategy = std::move(value); return *this; }

  PluginSpec spec() const {
    std::ostringstream lrs, start;
    lrs.precision(17);
    start.precision(17);
    for (std::size_t i = 0; i < swa_lrs.size(); ++i) lrs << (i ? "/" : "") << swa_lrs[i];
    start << swa_epoch_start;
    return {"swa",
            {{"swa_lrs", lrs.str()},
             {"swa_epoch_start", start.str()},
             {"annealing_epochs", std::to_string(annealing_epochs)},
             {"annealing_strategy", annealing_strategy}}};
  }
};

}  // namespace fulgur::plugins
