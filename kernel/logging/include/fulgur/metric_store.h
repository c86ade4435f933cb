// Where Module::log puts its values: step values, epoch aggregates and callback_metrics.
//
// Values stay tensors on their device; nothing here copies to the host. Reading a value as a
// number (MetricStore::value) is the one place that syncs, and only loggers, progress output
// and tests do it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "fulgur/log_options.h"
#include "fulgur/loggable_metric.h"

namespace fulgur {

/// Which step function is running, to pick Lightning's default on_step/on_epoch.
enum class LogContext { None, Training, Validation, Test, Predict };

class MetricStore {
 public:
  using Metrics = std::map<std::string, at::Tensor>;

  /// Records one value. `batch_size` is the weight used when options.batch_size is unset; -1
  /// when the batch does not tell it (`why_unknown` says why), which is an error only where an
  /// epoch mean needs the weight.
  void log(const std::string& name, const at::Tensor& value, const LogOptions& options, int64_t batch_size,
           const std::string& why_unknown = {});
  /// Records a metric object (Lightning's rules for torchmetrics objects): on_step logs its
  /// batch_value(); on_epoch logs its compute() when the epoch ends, then resets it. reduce_fx,
  /// batch_size and sync_dist do not apply: the metric reduces (and syncs) its own states.
  void log(const std::string& name, LoggableMetric& metric, const LogOptions& options);
  /// Appended to every name logged while set (Lightning's "/dataloader_idx_1" when a loop reads
  /// several loaders); empty for one loader.
  void set_dataloader_suffix(std::string suffix) { dataloader_suffix_ = std::move(suffix); }

  /// One log(name, tensor) call, as a recording keeps it.
  struct LoggedValue {
    std::string name;
    at::Tensor value;
    LogOptions options;
    int64_t batch_size = -1;
    std::string why_unknown;
  };
  /// While `recording` is set, log(name, tensor) checks its arguments and appends the call there
  /// instead of storing the value, and logging a metric object is an error naming `recorder`. A
  /// CUDA-graph plugin records the logs of the step it captures (the host side of log() does not
  /// replay) and hands them to log_recorded() after each replay. nullptr stops recording.
  void record_into(std::vector<LoggedValue>* recording, std::string recorder = {}) {
    recording_ = recording;
    recorder_ = std::move(recorder);
  }
  /// Logs a recorded call again, with a copy of its value as it is now.
  void log_recorded(const LoggedValue& logged);

  void set_context(LogContext context) { context_ = context; }
  /// While set, log() is an error naming `where` (a hook where Lightning forbids logging, such as
  /// setup): a value logged there would be silently lost. nullptr allows logging again.
  void forbid_logging_in(const char* where) { forbidden_in_ = where; }
  const char* logging_forbidden_in() const { return forbidden_in_; }
  /// How values logged with sync_dist are averaged across processes (set by a strategy).
  void set_reducer(std::function<void(at::Tensor&)> reducer) { reducer_ = std::move(reducer); }
  LogContext context() const { return context_; }

  /// Turns the accumulated epoch values of `context` into `<name>` / `<name>_epoch` entries
  /// of callback_metrics (and of epoch_metrics) and forgets the accumulators.
  void end_epoch(LogContext context);
  /// Drops accumulators of `context` without publishing them, resetting the metric objects
  /// among them.
  void reset(LogContext context);
  /// A value's epoch aggregate so far, as a checkpoint keeps it: a fit resumed in the middle of
  /// an epoch goes on accumulating where the interrupted one was (Lightning keeps its
  /// ResultCollection in the loop state the same way). Metric objects keep their own states.
  struct EpochAggregate {
    std::string key;
    at::Tensor total;  // float64, on the CPU
    int64_t weight = 0;
    std::string reduce_fx;
    std::string published_name;
  };
  std::vector<EpochAggregate> epoch_aggregates(LogContext context) const;
  /// Puts aggregates back for `context`; throws fulgur::Error naming what does not fit.
  void restore_epoch_aggregates(const std::vector<EpochAggregate>& aggregates, LogContext context);

  /// Resets every metric object logged on_epoch whose epoch has not ended (after the sanity
  /// check, whose values Lightning discards).
  void reset_metric_objects();

  /// The latest value of every metric logged for monitoring (early stopping, checkpoints).
  const Metrics& callback_metrics() const { return callback_metrics_; }
  /// A value a plugin hands the loggers itself (lr_monitor's rates) joins callback_metrics too,
  /// as in Lightning.
  void publish(const std::string& name, double value);
  /// Values logged with on_step since the last take_step_metrics(); for loggers.
  const Metrics& step_metrics() const { return step_metrics_; }
  /// Epoch values published by the last end_epoch(); for loggers.
  const Metrics& epoch_metrics() const { return epoch_metrics_; }
  /// Names whose latest value was logged with prog_bar=true.
  const std::map<std::string, bool>& prog_bar() const { return prog_bar_; }

  void clear_step_metrics() { step_metrics_.clear(); }
  void clear();

  /// The names in callback_metrics, comma-separated ("none" when empty), for error messages.
  std::string callback_metric_names() const;

  /// A callback metric as a number (copies to the host), or nothing if it was never logged.
  std::optional<double> value(const std::string& name) const;

 private:
  struct Accumulator {
    LoggableMetric* metric = nullptr;  // a metric object: computes its own epoch value
    at::Tensor total;                  // sum of value*weight, running max/min, or plain sum
    int64_t weight = 0;
    std::string reduce_fx;
    std::string published_name;
    LogContext context;
  };

  void check_name_and_place(const std::string& name) const;
  void record_step(const std::string& name, const std::string& key, const at::Tensor& value, bool on_epoch);
  void accumulate_for_epoch(const std::string& name, const std::string& published_name, const std::string& key,
                            const at::Tensor& detached, const std::string& fx, int64_t weight);

  LogContext context_ = LogContext::None;
  const char* forbidden_in_ = nullptr;
  std::string dataloader_suffix_;
  std::function<void(at::Tensor&)> reducer_;
  std::vector<LoggedValue>* recording_ = nullptr;
  std::string recorder_;
  std::map<std::string, Accumulator> accumulators_;
  Metrics callback_metrics_;
  // "*_step" names logged in validation or test: Lightning drops them from callback_metrics at
  // the loop's epoch end (only the epoch value stays).
  std::map<std::string, LogContext> eval_step_names_;
  Metrics step_metrics_;
  Metrics epoch_metrics_;
  std::map<std::string, bool> prog_bar_;
};

}  // namespace fulgur
