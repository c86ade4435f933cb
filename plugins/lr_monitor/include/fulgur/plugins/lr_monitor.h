// lr_monitor: Lightning's LearningRateMonitor. Hands every param group's learning rate to the
// loggers: "lr-SGD" for a one-group optimizer, "lr-Adam/pg1" for its second group, or the
// scheduler config's `name` when it has one.
//
//   --plugin lr_monitor                     (each scheduler at its own interval, as Lightning's default)
//   --plugin lr_monitor:logging_interval=step   (every rate with the step rows)
//   --plugin lr_monitor:logging_interval=epoch  (every rate at each epoch's start)
#pragma once

#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct LRMonitorOptions {
  /// "step": every rate at the batches whose metrics go to the loggers; "epoch": every rate at
  /// each epoch's start; "" (Lightning's None, the default): a scheduled optimizer at its
  /// scheduler's interval, one without a scheduler at both.
  std::string logging_interval;

  PluginSpec spec() const { return {"lr_monitor", {{"logging_interval", logging_interval}}}; }
};

}  // namespace fulgur::plugins
