// early_stopping: Lightning's EarlyStopping. Stops fit when a monitored metric stops improving,
// crosses a threshold, diverges or becomes NaN/inf.
//
//   --plugin early_stopping:monitor=val_loss,patience=3
//   trainer.add_plugin(fulgur::plugins::EarlyStoppingOptions("val_loss").patience(3));
#pragma once

#include <cmath>
#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct EarlyStoppingOptions : DeclaredOptions<EarlyStoppingOptions> {
  FULGUR_OPTIONS_OF("early_stopping");
  EarlyStoppingOptions() = default;
  explicit EarlyStoppingOptions(std::string metric) { monitor(std::move(metric)); }

  FULGUR_OPTION(std::string, monitor, "", "The metric to watch, as logged.", required());
  FULGUR_OPTION(double, min_delta, 0.0, "A change smaller than this is no improvement.");
  FULGUR_OPTION(int64_t, patience, 3, "Checks without improvement before stopping.", at_least(0));
  FULGUR_OPTION(std::string, mode, "min", "min or max: which values are better.", one_of({"min", "max"}));
  FULGUR_OPTION(bool, strict, true, "A missing metric is an error (true) or skipped with a warning (false).");
  FULGUR_OPTION(bool, check_finite, true, "Stop as soon as the metric is NaN or infinite.");
  FULGUR_OPTION(double, stopping_threshold, std::nan(""), "Stop once the metric is better than this (nan: never).");
  FULGUR_OPTION(double, divergence_threshold, std::nan(""), "Stop once the metric is worse than this (nan: never).");
  FULGUR_OPTION(std::string, check_on_train_epoch_end, "auto",
                "Check at the training epoch's end (true), after each validation (false), or auto as Lightning: "
                "at the epoch's end when validation runs once per epoch.",
                one_of({"auto", "true", "false"}));
  FULGUR_OPTION(bool, verbose, false, "Log every improvement, not only the reason for stopping.");
};

}  // namespace fulgur::plugins
