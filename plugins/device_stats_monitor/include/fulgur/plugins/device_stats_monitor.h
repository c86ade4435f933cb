// device_stats_monitor: Lightning's DeviceStatsMonitor. At the start and end of training,
// validation and test batches — those the Trainer logs, every log_every_n_steps — it hands the
// loggers the machine's and the process's memory and CPU use, and on a GPU the caching
// allocator's memory, named "DeviceStatsMonitor.on_train_batch_start/cpu_vm_percent" as in
// Lightning.
//
//   --plugin device_stats_monitor
//   trainer.add_plugin(fulgur::plugins::DeviceStatsMonitorOptions());
#pragma once

#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct DeviceStatsMonitorOptions : DeclaredOptions<DeviceStatsMonitorOptions> {
  FULGUR_OPTIONS_OF("device_stats_monitor");
  FULGUR_OPTION(std::string, cpu_stats, "auto",
                "CPU statistics: auto (when the run is on the CPU, as Lightning's cpu_stats=None), true (also "
                "beside a GPU's) or false (none on the CPU).",
                one_of({"auto", "true", "false"}));
};

}  // namespace fulgur::plugins
