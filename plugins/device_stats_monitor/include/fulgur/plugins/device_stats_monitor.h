// device_stats_monitor: Lightning's DeviceStatsMonitor. At the start and end of training,
// validation and test batches — those the Trainer logs, every log_every_n_steps — it hands the
// loggers the machine's and the process's memory and CPU use, and on a GPU the caching
// allocator's memory, named "DeviceStatsMonitor.on_train_batch_start/cpu_vm_percent" as in
// Lightning.
//
//   --plugin device_stats_monitor
//   trainer.add_plugin(fulgur::plugins::DeviceStatsMonitorOptions{}.spec());
#pragma once

#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct DeviceStatsMonitorOptions {
  /// CPU statistics: "auto" (when the run is on the CPU, as Lightning's cpu_stats=None),
  /// "true" (also beside a GPU's) or "false" (none on the CPU).
  std::string cpu_stats = "auto";

  PluginSpec spec() const { return {"device_stats_monitor", {{"cpu_stats", cpu_stats}}}; }
};

}  // namespace fulgur::plugins
