// lr_monitor: Lightning's LearningRateMonitor. Hands every param group's learning rate to the
// loggers: "lr-SGD" for a one-group optimizer, "lr-Adam/pg1" for its second group, or the
// scheduler config's `name` when it has one.
//
//   --plugin lr_monitor                     (each scheduler at its own interval, as Lightning's default)
//   --plugin lr_monitor:logging_interval=step   (every rate with the step rows)
//   --plugin lr_monitor:logging_interval=epoch  (every rate at each epoch's start)
//   --plugin lr_monitor:log_momentum=true,log_weight_decay=true   (also "lr-SGD-momentum", ...)
#pragma once

#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct LRMonitorOptions : DeclaredOptions<LRMonitorOptions> {
  FULGUR_OPTIONS_OF("lr_monitor");
  FULGUR_OPTION(std::string, logging_interval, "",
                "step: every rate at the batches whose metrics go to the loggers; epoch: every rate at each "
                "epoch's start; empty (Lightning's None, the default): a scheduled optimizer at its scheduler's "
                "interval, one without a scheduler at both.");
  FULGUR_OPTION(bool, log_momentum, false,
                "Also log each group's momentum as <name>-momentum: beta1 for Adam-like optimizers, momentum for "
                "SGD and RMSprop, 0 (with a warning) for one without.");
  FULGUR_OPTION(bool, log_weight_decay, false, "Also log each group's weight decay as <name>-weight_decay.");
};

}  // namespace fulgur::plugins
