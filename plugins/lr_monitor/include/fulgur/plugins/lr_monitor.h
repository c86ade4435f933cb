// lr_monitor: Lightning's LearningRateMonitor. Hands every param group's learning rate to the
// loggers: "lr-SGD" for a one-group optimizer, "lr-Adam/pg1" for its second group, or the
// scheduler config's `name` when it has one.
//
//   --plugin lr_monitor                     (with the step rows: every log_every_n_steps steps)
//   --plugin lr_monitor:logging_interval=epoch
#pragma once

#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct LRMonitorOptions {
  /// "step": at the batches whose metrics go to the loggers; "epoch": at each epoch's start.
  std::string logging_interval = "step";

  PluginSpec spec() const { return {"lr_monitor", {{"logging_interval", logging_interval}}}; }
};

}  // namespace fulgur::plugins
