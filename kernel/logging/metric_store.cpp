#include "fulgur/metric_store.h"

#include <torch/torch.h>

#include "fulgur/error.h"

namespace fulgur {
namespace {

// The epoch reductions log() accepts (Lightning's reduce_fx).
bool known_reduce_fx(const std::string& fx) { return fx == "mean" || fx == "sum" || fx == "max" || fx == "min"; }

void check_name(const std::string& name) {
  if (name.empty()) throw Error("log: a metric needs a name");
  if (name.find_first_of(",\n\r") != std::string::npos) {
    throw Error("log: metric name '" + name + "' contains a comma or a line break, which loggers cannot store");
  }
}

bool default_on_step(LogContext context) { return context == LogContext::Training; }
bool default_on_epoch(LogContext context) { return context != LogContext::Training; }

}  // namespace

void MetricStore::check_name_and_place(const std::string& name) const {
  check_name(name);
  if (forbidden_in_) {
    throw Error("log('" + name + "') in " + forbidden_in_ +
                ": Lightning's rules allow log in the step methods and in "
                "the training, validation and test batch and epoch hooks (and on_train_start, on_before_backward, "
                "on_after_backward, on_before_optimizer_step, on_before_zero_grad), not in " +
                forbidden_in_);
  }
}

void MetricStore::record_step(const std::string& name, const std::string& key, const at::Tensor& value, bool on_epoch) {
  // key is name + the loader's suffix.
  const std::string step_name = on_epoch ? name + "_step" + key.substr(name.size()) : key;
  step_metrics_[step_name] = value;
  callback_metrics_[step_name] = value;
  if (on_epoch && (context_ == LogContext::Validation || context_ == LogContext::Test)) {
    eval_step_names_[step_name] = context_;
  }
  // As in Lightning, the plain name holds the latest value until the epoch value replaces it.
  callback_metrics_[key] = value;
}

void MetricStore::log(const std::string& name, LoggableMetric& metric, const LogOptions& options) {
  check_name_and_place(name);
  if (recording_) {
    throw Error("log('" + name + "', " + metric.metric_name() + ") in a step that " + recorder_ +
                " captures: a "
                "metric object's states change outside the captured work; log its value tensor instead, or update "
                "the metric outside training_step");
  }
  const bool on_step = options.on_step().value_or(default_on_step(context_));
  const bool on_epoch = options.on_epoch().value_or(default_on_epoch(context_));
  static const std::string no_suffix;
  const std::string& suffix = options.add_dataloader_idx() ? dataloader_suffix_ : no_suffix;
  const std::string key = suffix.empty() ? name : name + suffix;
  prog_bar_[key] = options.prog_bar();
  if (on_step) {
    const at::Tensor value = metric.batch_value();
    if (!value.defined()) {
      throw Error("log('" + name + "', " + metric.metric_name() +
                  ") with on_step=true logs this batch's value, which "
                  "only calling the metric on the batch gives (metric(preds, target) / forward); update() alone "
                  "gives none. Call it, or log with on_step=false");
    }
    if (value.numel() != 1) {
      throw Error("log('" + name + "', " + metric.metric_name() + "): its value has shape " + c10::str(value.sizes()) +
                  "; log takes single values (an average other than 'none' gives one)");
    }
    record_step(name, key, value.detach().reshape({}), on_epoch);
  }
  if (on_epoch) {
    auto& accumulator = accumulators_[key];
    if (accumulator.metric && accumulator.metric != &metric) {
      throw Error("log('" + name + "'): two different metric objects were logged under one name in one epoch");
    }
    if (!accumulator.metric && accumulator.total.defined()) {
      throw Error("log('" + name + "'): logged both as a value and as a metric object in one epoch");
    }
    accumulator.metric = &metric;
    accumulator.context = context_;
    accumulator.published_name = on_step ? name + "_epoch" + suffix : key;
  }
}

void MetricStore::log(const std::string& name, const at::Tensor& value, const LogOptions& options, int64_t batch_size,
                      const std::string& why_unknown) {
  check_name_and_place(name);
  if (!value.defined()) throw Error("log: metric '" + name + "' is an undefined tensor");
  if (value.numel() != 1) {
    throw Error("log: metric '" + name + "' must be a single value, got a tensor of shape " + c10::str(value.sizes()));
  }
  const auto& fx = options.reduce_fx();
  if (!known_reduce_fx(fx)) {
    throw Error("log: metric '" + name + "' has reduce_fx='" + fx + "'; expected mean, sum, max or min");
  }
  if (recording_) {
    recording_->push_back({name, value.detach(), options, batch_size, why_unknown});
    return;
  }
  const bool on_step = options.on_step().value_or(default_on_step(context_));
  const bool on_epoch = options.on_epoch().value_or(default_on_epoch(context_));
  at::Tensor detached = value.dim() == 0 ? value.detach() : value.detach().reshape({});
  if (options.sync_dist() && reducer_) {
    // The mean over processes (a collective: every rank must log it), as Lightning's sync_dist.
    detached = detached.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
    reducer_(detached);
  }
  // Lightning's names: "val_loss", "val_loss_step", "val_loss_epoch", each with the loader's
  // suffix when the loop reads several loaders.
  static const std::string no_suffix;
  const std::string& suffix = options.add_dataloader_idx() ? dataloader_suffix_ : no_suffix;
  const std::string key = suffix.empty() ? name : name + suffix;
  prog_bar_[key] = options.prog_bar();

  if (on_step) record_step(name, key, detached, on_epoch);
  if (on_epoch) {
    const int64_t weight = options.batch_size().value_or(fx == "mean" ? batch_size : 1);
    if (weight < 0) {
      throw Error("log('" + name + "'): the epoch mean weighs each value by its batch size, and " + why_unknown +
                  "; pass it: log(..., LogOptions().batch_size(n))");
    }
    // The published name is built only when the epoch's accumulator is new (not on every call).
    static const std::string step_and_epoch;  // empty: "<name>_epoch<suffix>"
    accumulate_for_epoch(name, on_step ? step_and_epoch : key, key, detached, fx, weight);
  }
}

// The epoch value under `key`: a weighted mean (in float64), a sum, a max or a min.
void MetricStore::accumulate_for_epoch(const std::string& name, const std::string& published_name,
                                       const std::string& key, const at::Tensor& detached, const std::string& fx,
                                       int64_t weight) {
  auto& accumulator = accumulators_[key];
  if (accumulator.metric) {
    throw Error("log('" + name + "'): logged both as a metric object and as a value in one epoch");
  }
  // An aggregate restored from a checkpoint is on the CPU; the values may live on a device.
  if (accumulator.total.defined() && accumulator.total.device() != detached.device()) {
    accumulator.total = accumulator.total.to(detached.device());
  }
  if (!accumulator.total.defined()) {
    accumulator.reduce_fx = fx;
    accumulator.context = context_;
    // key is name + the loader suffix; a value logged on steps too is published as name_epoch + suffix.
    accumulator.published_name = published_name.empty() ? name + "_epoch" + key.substr(name.size()) : published_name;
    // float64 accumulation keeps long epochs exact enough; one small kernel per call.
    accumulator.total =
        fx == "mean" ? detached.to(at::kDouble) * static_cast<double>(weight) : detached.to(at::kDouble).clone();
  } else if (fx == "mean") {
    accumulator.total.add_(detached, static_cast<double>(weight));
  } else if (fx == "sum") {
    accumulator.total.add_(detached);
  } else if (fx == "max") {
    accumulator.total = at::maximum(accumulator.total, detached.to(at::kDouble));
  } else {
    accumulator.total = at::minimum(accumulator.total, detached.to(at::kDouble));
  }
  accumulator.weight += weight;
}

void MetricStore::log_recorded(const LoggedValue& logged) {
  // A copy: the recorded tensor is rewritten by the next replay, and stored values must not change.
  log(logged.name, logged.value.clone(), logged.options, logged.batch_size, logged.why_unknown);
}

void MetricStore::publish(const std::string& name, double value) {
  callback_metrics_[name] = at::scalar_tensor(value, at::kDouble);
}

void MetricStore::end_epoch(LogContext context) {
  epoch_metrics_.clear();
  for (auto it = eval_step_names_.begin(); it != eval_step_names_.end();) {
    if (it->second != context) {
      ++it;
      continue;
    }
    callback_metrics_.erase(it->first);
    it = eval_step_names_.erase(it);
  }
  // Metric objects are reset only after every value is computed: metrics of one compute group
  // share their states.
  std::vector<LoggableMetric*> computed;
  for (auto it = accumulators_.begin(); it != accumulators_.end();) {
    auto& accumulator = it->second;
    if (accumulator.context != context) {
      ++it;
      continue;
    }
    at::Tensor value;
    if (accumulator.metric) {
      // compute() syncs across processes: every rank reaches it, in the same (name) order.
      value = accumulator.metric->compute().detach();
      if (value.numel() != 1) {
        throw Error("log('" + it->first + "', " + accumulator.metric->metric_name() + "): its epoch value has shape " +
                    c10::str(value.sizes()) + "; log takes single values (an average other than 'none' gives one)");
      }
      value = value.reshape({});
      computed.push_back(accumulator.metric);
    } else {
      value = accumulator.total;
      if (accumulator.reduce_fx == "mean") {
        value = value / static_cast<double>(std::max<int64_t>(accumulator.weight, 1));
      }
    }
    value = value.to(at::kFloat);
    epoch_metrics_[accumulator.published_name] = value;
    callback_metrics_[accumulator.published_name] = value;
    callback_metrics_[it->first] = value;
    it = accumulators_.erase(it);
  }
  for (auto* metric : computed) metric->reset();
}

std::vector<MetricStore::EpochAggregate> MetricStore::epoch_aggregates(LogContext context) const {
  std::vector<EpochAggregate> aggregates;
  for (const auto& [key, accumulator] : accumulators_) {
    if (accumulator.context != context || accumulator.metric || !accumulator.total.defined()) continue;
    aggregates.push_back(
        {key, accumulator.total.to(at::kCPU), accumulator.weight, accumulator.reduce_fx, accumulator.published_name});
  }
  return aggregates;
}

void MetricStore::restore_epoch_aggregates(const std::vector<EpochAggregate>& aggregates, LogContext context) {
  for (const auto& aggregate : aggregates) {
    const auto& fx = aggregate.reduce_fx;
    if (!known_reduce_fx(fx)) {
      throw Error("the epoch aggregate of '" + aggregate.key + "' has reduce_fx '" + fx +
                  "'; expected mean, sum, max or min");
    }
    if (!aggregate.total.defined() || aggregate.total.numel() != 1 || aggregate.weight < 0) {
      throw Error("the epoch aggregate of '" + aggregate.key + "' is not a single value with a weight >= 0");
    }
    Accumulator& accumulator = accumulators_[aggregate.key];
    accumulator = Accumulator{};
    accumulator.total = aggregate.total.to(at::kDouble).reshape({});
    accumulator.weight = aggregate.weight;
    accumulator.reduce_fx = fx;
    accumulator.published_name = aggregate.published_name.empty() ? aggregate.key : aggregate.published_name;
    accumulator.context = context;
  }
}

void MetricStore::reset(LogContext context) {
  for (auto it = accumulators_.begin(); it != accumulators_.end();) {
    if (it->second.context != context) {
      ++it;
      continue;
    }
    if (it->second.metric) it->second.metric->reset();
    it = accumulators_.erase(it);
  }
}

void MetricStore::reset_metric_objects() {
  for (auto& [name, accumulator] : accumulators_) {
    if (accumulator.metric) accumulator.metric->reset();
  }
}

void MetricStore::clear() {
  dataloader_suffix_.clear();
  accumulators_.clear();
  callback_metrics_.clear();
  eval_step_names_.clear();
  step_metrics_.clear();
  epoch_metrics_.clear();
  prog_bar_.clear();
}

std::string MetricStore::callback_metric_names() const {
  std::string names;
  for (const auto& [name, value] : callback_metrics_) names += (names.empty() ? "" : ", ") + name;
  return names.empty() ? "none" : names;
}

std::optional<double> MetricStore::value(const std::string& name) const {
  const auto found = callback_metrics_.find(name);
  if (found == callback_metrics_.end()) return std::nullopt;
  return found->second.item<double>();
}

}  // namespace fulgur
