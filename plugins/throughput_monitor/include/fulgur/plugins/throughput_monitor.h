// throughput_monitor: Lightning's ThroughputMonitor. Batches, samples (and FLOPs, when the
// Module reports them) per second over a window of recent batches, handed to the loggers as
// "train/device/samples_per_sec" and so on, each time the Trainer logs (log_every_n_steps) and
// at the end of each validation and test run. The training clock stops while validation runs.
//
//   --plugin throughput_monitor:window_size=50
//   trainer.add_plugin(fulgur::plugins::ThroughputMonitorOptions{}.spec());
#pragma once

#include <cstdint>
#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

/// A Module that also derives from this reports the floating-point operations of one batch (its
/// forward and backward, per device); the monitor then adds FLOP/s.
class FlopsPerBatch {
 public:
  virtual ~FlopsPerBatch() = default;
  virtual double flops_per_batch() const = 0;
};

struct ThroughputMonitorOptions {
  /// Batches in the rolling window (at least 2); rates appear once it is full.
  int64_t window_size = 100;
  /// Between the parts of a name: "train/device/samples_per_sec".
  std::string separator = "/";

  PluginSpec spec() const {
    return {"throughput_monitor", {{"window_size", std::to_string(window_size)}, {"separator", separator}}};
  }
};

}  // namespace fulgur::plugins
