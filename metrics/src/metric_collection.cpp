#include "fulgur/metrics/metric_collection.h"

#include <torch/torch.h>

#include "fulgur/error.h"

namespace fulgur::metrics {

MetricCollection::MetricCollection(std::string prefix, std::string postfix, bool compute_groups)
    : prefix_(std::move(prefix)), postfix_(std::move(postfix)), group_(compute_groups) {}

void MetricCollection::add_metric(const std::string& name, const std::shared_ptr<PredsTargetMetric>& metric) {
  if (!metric) throw Error("MetricCollection::add('" + name + "'): no metric given");
  if (name.empty() || name.find('.') != std::string::npos) {
    throw Error("MetricCollection::add('" + name + "'): a metric's name must be non-empty and without '.'");
  }
  for (const auto& member : members_) {
    if (member.name == name) throw Error("MetricCollection::add('" + name + "'): the collection already has a metric of that name");
  }
  register_module(name, metric);
  members_.push_back({name, metric});
  const std::size_t index = members_.size() - 1;
  const std::string key = metric->state_key();
  // Shared states only between metrics that have seen nothing yet, and not for states that are
  // buffers of their own metric (persistent).
  if (group_ && !key.empty() && metric->update_count() == 0 && !static_cast<const Metric&>(*metric).persistent_) {
    for (auto& group : groups_) {
      const Metric& leader = *members_[group.front()].metric;
      if (leader.state_key() == key && leader.update_count() == 0 && !leader.persistent_) {
        static_cast<Metric&>(*metric).states_ = static_cast<const Metric&>(leader).states_;
        group.push_back(index);
        return;
      }
    }
  }
  groups_.push_back({index});
}

void MetricCollection::update(const at::Tensor& preds, const at::Tensor& target) {
  for (const auto& group : groups_) members_[group.front()].metric->update(preds, target);
}

std::map<std::string, at::Tensor> MetricCollection::forward(const at::Tensor& preds, const at::Tensor& target) {
  std::map<std::string, at::Tensor> values;
  for (const auto& group : groups_) {
    std::vector<Metric*> metrics;
    for (std::size_t i : group) metrics.push_back(members_[i].metric.get());
    PredsTargetMetric& leader = *members_[group.front()].metric;
    Metric::forward_group(metrics, [&] { leader.update(preds, target); });
    for (std::size_t i : group) values[logged_name(members_[i].name)] = members_[i].metric->batch_value();
  }
  return values;
}

std::map<std::string, at::Tensor> MetricCollection::compute() {
  std::map<std::string, at::Tensor> values;
  // In the order added, on every process: each compute() may be a collective.
  for (const auto& member : members_) values[logged_name(member.name)] = member.metric->compute();
  return values;
}

void MetricCollection::reset() {
  for (const auto& member : members_) member.metric->reset();
}

PredsTargetMetric& MetricCollection::at(const std::string& name) const {
  for (const auto& member : members_) {
    if (member.name == name) return *member.metric;
  }
  std::string names;
  for (const auto& member : members_) names += (names.empty() ? "" : ", ") + member.name;
  throw Error("MetricCollection has no metric '" + name + "'; it has: " + (names.empty() ? "none" : names));
}

std::vector<std::vector<std::string>> MetricCollection::compute_groups() const {
  std::vector<std::vector<std::string>> names;
  for (const auto& group : groups_) {
    names.emplace_back();
    for (std::size_t i : group) names.back().push_back(members_[i].name);
  }
  return names;
}

std::vector<std::pair<std::string, LoggableMetric*>> MetricCollection::loggable_metrics() {
  std::vector<std::pair<std::string, LoggableMetric*>> out;
  for (const auto& member : members_) out.emplace_back(logged_name(member.name), member.metric.get());
  return out;
}

}  // namespace fulgur::metrics
