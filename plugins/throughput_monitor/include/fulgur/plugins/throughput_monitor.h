// throughput_monitor: Lightning's ThroughputMonitor. Batches, samples (and FLOPs, when the
// Module reports them) per second over a window of recent batches, handed to the loggers as
// "train/device/samples_per_sec" and so on, each time the Trainer logs (log_every_n_steps) and
// at the end of each validation and test run. The training clock stops while validation runs.
//
//   --plugin throughput_monitor:window_size=50
//   trainer.add_plugin(fulgur::plugins::ThroughputMonitorOptions());
#pragma once

#include <cstdint>
#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

/// A Module that also derives from this reports the floating-point operations of one batch (its
/// forward and backward, per device); the monitor then adds FLOP/s.
class FlopsPerBatch {
 public:
  virtual ~FlopsPerBatch() = default;
  virtual double flops_per_batch() const = 0;
};

struct ThroughputMonitorOptions : DeclaredOptions<ThroughputMonitorOptions> {
  FULGUR_OPTIONS_OF("throughput_monitor");
  FULGUR_OPTION(int64_t, window_size, 100, "Batches in the rolling window (at least 2); rates appear once it is full.");
  FULGUR_OPTION(std::string, separator, "/", "Between the parts of a name: train/device/samples_per_sec.");
};

}  // namespace fulgur::plugins
