// early_stopping: Lightning's EarlyStopping. Stops fit when a monitored metric stops improving,
// crosses a threshold, diverges or becomes NaN/inf.
//
//   --plugin early_stopping:monitor=val_loss,patience=3
//   trainer.add_plugin(fulgur::plugins::EarlyStoppingOptions{"val_loss"}.spec());
#pragma once

#include <cmath>
#include <sstream>
#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct EarlyStoppingOptions {
  /// The metric to watch (required), as logged.
  std::string monitor;
  /// A change smaller than this is no improvement.
  double min_delta = 0.0;
  /// Checks without improvement before stopping.
  int64_t patience = 3;
  /// "min" or "max".
  std::string mode = "min";
  /// A missing metric is an error (true) or skipped with a warning (false).
  bool strict = true;
  /// Stop as soon as the metric is NaN or infinite.
  bool check_finite = true;
  /// Stop once the metric is better than this (NaN: never).
  double stopping_threshold = std::nan("");
  /// Stop once the metric is worse than this (NaN: never).
  double divergence_threshold = std::nan("");
  /// Check at the training epoch's end ("true"), after each validation ("false"), or "auto" as
  /// Lightning: at the epoch's end when validation runs once per epoch.
  std::string check_on_train_epoch_end = "auto";
  /// Log every improvement, not only the reason for stopping.
  bool verbose = false;

  PluginSpec spec() const {
    auto text = [](double value) {
      std::ostringstream out;
      out.precision(17);
      out << value;
      return out.str();
    };
    return {"early_stopping",
            {{"monitor", monitor},
             {"min_delta", text(min_delta)},
             {"patience", std::to_string(patience)},
             {"mode", mode},
             {"strict", strict ? "true" : "false"},
             {"check_finite", check_finite ? "true" : "false"},
             {"stopping_threshold", text(stopping_threshold)},
             {"divergence_threshold", text(divergence_threshold)},
             {"check_on_train_epoch_end", check_on_train_epoch_end},
             {"verbose", verbose ? "true" : "false"}}};
  }
};

}  // namespace fulgur::plugins
