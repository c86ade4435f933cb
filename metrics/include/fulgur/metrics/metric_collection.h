// MetricCollection: several metrics of the same predictions and targets, updated, computed and
// logged together, as torchmetrics' MetricCollection:
//
//   auto val_metrics = register_module("val_metrics", std::make_shared<metrics::MetricCollection>("val_"));
//   val_metrics->add("acc", std::make_shared<metrics::Accuracy>(options));
//   val_metrics->add("f1", std::make_shared<metrics::F1Score>(options));
//   val_metrics->update(logits, labels);   // the confusion matrix is counted once for both
//   log_dict(val_metrics);                 // "val_acc", "val_f1"
//
// Compute groups: metrics whose states are the same (Accuracy, Precision, Recall, F1Score... of
// one task and its arguments; AUROC and AveragePrecision of the same scores) share one set of
// states, so each batch is counted once per group, and synced once per group.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

#include "fulgur/loggable_metric.h"
#include "fulgur/metrics/metric.h"

namespace fulgur::metrics {

class BOOST_SYMBOL_VISIBLE MetricCollection : public torch::nn::Module, public LoggableMetricGroup {
 public:
  /// Logged names are prefix + name + postfix. `compute_groups` off: every metric keeps its own states.
  explicit MetricCollection(std::string prefix = "", std::string postfix = "", bool compute_groups = true);

  /// Adds (and registers) a metric under `name`; returns it. Metrics are grouped when added,
  /// before any update.
  /// A metric from make_metric (a Metric) joins too when it is one of (preds, target); an
  /// aggregation metric (MeanMetric, ...) is an error naming it.
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> metric) {
    static_assert(std::is_base_of_v<Metric, M>, "a MetricCollection holds metrics of (preds, target)");
    if constexpr (std::is_base_of_v<PredsTargetMetric, M>) {
      add_metric(name, metric);
    } else {
      add_metric(name, as_preds_target(name, metric));
    }
    return metric;
  }

  void update(const at::Tensor& preds, const at::Tensor& target);
  /// Updates with the batch; every metric's value on this batch alone, by logged name.
  std::map<std::string, at::Tensor> forward(const at::Tensor& preds, const at::Tensor& target);
  std::map<std::string, at::Tensor> operator()(const at::Tensor& preds, const at::Tensor& target) {
    return forward(preds, target);
  }
  /// Every metric's compute(), by logged name.
  std::map<std::string, at::Tensor> compute();
  void reset();

  /// The metrics by name (as added, without prefix and postfix).
  PredsTargetMetric& at(const std::string& name) const;
  /// The names of each group of metrics that share states, in the order added.
  std::vector<std::vector<std::string>> compute_groups() const;

  std::vector<std::pair<std::string, LoggableMetric*>> loggable_metrics() override;

  /// A deep copy (torchmetrics' clone): every metric copied with its states and compute groups,
  /// logged under a new prefix and postfix (nullopt keeps this collection's):
  ///   auto train_metrics = register_module("train_metrics", val_metrics->clone("train_"));
  std::shared_ptr<MetricCollection> clone(std::optional<std::string> prefix,
                                          std::optional<std::string> postfix = std::nullopt) const;
  /// The same copy with this prefix and postfix, through LibTorch's Module interface.
  std::shared_ptr<torch::nn::Module> clone(const torch::optional<torch::Device>& device = {}) const override;

  const std::string& prefix() const { return prefix_; }
  const std::string& postfix() const { return postfix_; }

 private:
  void add_metric(const std::string& name, const std::shared_ptr<PredsTargetMetric>& metric);
  static std::shared_ptr<PredsTargetMetric> as_preds_target(const std::string& name,
                                                            const std::shared_ptr<Metric>& metric);
  std::string logged_name(const std::string& name) const { return prefix_ + name + postfix_; }

  struct Member {
    std::string name;
    std::shared_ptr<PredsTargetMetric> metric;
  };
  std::string prefix_, postfix_;
  bool group_ = true;
  std::vector<Member> members_;
  std::vector<std::vector<std::size_t>> groups_;  // indices into members_; the first updates
};

}  // namespace fulgur::metrics
