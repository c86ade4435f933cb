// What Module::log accepts besides a number: a metric object that keeps its own state across
// batches (the metrics library, fulgur/metrics.h, implements it), with Lightning's rules for
// torchmetrics objects:
//   - on_step logs the value of this batch, the one the metric's forward returned;
//   - on_epoch logs compute() over everything since the last reset (synced across processes),
//     then resets the metric.
// The kernel knows metrics only through this interface.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <boost/config.hpp>

namespace fulgur {

class Strategy;

class BOOST_SYMBOL_VISIBLE LoggableMetric {
 public:
  virtual ~LoggableMetric() = default;

  /// What the last forward (calling the metric on a batch) returned; undefined when only
  /// update() ran since the last reset.
  virtual at::Tensor batch_value() const = 0;
  /// The value over every update since the last reset, across all processes.
  virtual at::Tensor compute() = 0;
  virtual void reset() = 0;
  /// The metric's class, for error messages ("MulticlassAccuracy").
  virtual std::string metric_name() const = 0;
  /// Where compute() syncs its states; nullptr: this process alone. The Trainer sets it for
  /// every metric registered in the Module for the length of a run.
  virtual void set_strategy(Strategy* strategy) = 0;
};

/// A group of named metrics logged together: Module::log_dict(collection).
class BOOST_SYMBOL_VISIBLE LoggableMetricGroup {
 public:
  virtual ~LoggableMetricGroup() = default;
  /// Each metric with the name it is logged under.
  virtual std::vector<std::pair<std::string, LoggableMetric*>> loggable_metrics() = 0;
};

}  // namespace fulgur
