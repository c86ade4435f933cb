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
    if (member.name == name)
      throw Error("MetricCollection::add('" + name + "'): the collection already has a metric of that name");
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

std::shared_ptr<PredsTargetMetric> MetricCollection::as_preds_target(const std::string& name,
                                                                     const std::shared_ptr<Metric>& metric) {
  if (!metric) throw Error("MetricCollection::add('" + name + "'): no metric given");
  auto preds_target = std::dynamic_pointer_cast<PredsTargetMetric>(metric);
  if (!preds_target) {
    throw Error("MetricCollection::add('" + name + "'): " + metric->metric_name() +
                " is not a metric of (preds, target); a collection updates all its metrics with the same "
                "predictions and targets");
  }
  return preds_target;
}

std::shared_ptr<MetricCollection> MetricCollection::clone(std::optional<std::string> prefix,
                                                          std::optional<std::string> postfix) const {
  auto copy = std::make_shared<MetricCollection>(prefix.value_or(prefix_), postfix.value_or(postfix_), group_);
  copy->train(is_training());
  for (const auto& member : members_) {
    auto metric = std::static_pointer_cast<PredsTargetMetric>(member.metric->clone_metric());
    copy->register_module(member.name, metric);
    copy->members_.push_back({member.name, metric});
  }
  // The same compute groups: the members of a group share the leader's copied states.
  copy->groups_ = groups_;
  for (const auto& group : groups_) {
    Metric& leader = *copy->members_[group.front()].metric;
    for (std::size_t i : group) static_cast<Metric&>(*copy->members_[i].metric).states_ = leader.states_;
  }
  return copy;
}

std::shared_ptr<torch::nn::Module> MetricCollection::clone(const torch::optional<torch::Device>& device) const {
  auto copy = clone(std::nullopt, std::nullopt);
  if (device) copy->to(*device);
  return copy;
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
