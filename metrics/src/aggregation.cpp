#include "fulgur/metrics/aggregation.h"

#include <limits>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

namespace fulgur::metrics {

Aggregator::Aggregator(std::string name, const AggregationOptions& options)
    : Metric(std::move(name)), options_(options) {
  const auto& strategy = options_.nan_strategy_;
  if (strategy != "warn" && strategy != "ignore" && strategy != "error" && strategy != "disable" &&
      strategy != "replace") {
    fail("argument 'nan_strategy' must be 'warn', 'ignore', 'error', 'disable' or a number, got '" + strategy + "'");
  }
}

void Aggregator::update(double value) { update(at::full({}, value, at::kDouble)); }

std::pair<at::Tensor, at::Tensor> Aggregator::prepare(const at::Tensor& values, const at::Tensor& weights) {
  auto prepared = checked(values, weights);
  // Counted only now: an update that failed a check leaves the metric as it was.
  begin_update(prepared.first.device());
  return prepared;
}

std::pair<at::Tensor, at::Tensor> Aggregator::checked(const at::Tensor& values_in, const at::Tensor& weights_in) {
  if (!values_in.defined()) fail("update() needs a defined tensor");
  at::Tensor values = values_in.detach();
  if (!values.is_floating_point()) values = values.to(at::kFloat);
  at::Tensor weights;
  if (weights_in.defined()) {
    try {
      weights = weights_in.detach().to(values.scalar_type()).expand_as(values);
    } catch (const c10::Error&) {
      fail("weights of shape " + c10::str(weights_in.sizes()) + " do not broadcast to the values' shape " +
           c10::str(values.sizes()) + " (argument 'weight')");
    }
  }
  const auto& strategy = options_.nan_strategy_;
  if (strategy == "disable") return {values, weights};
  at::Tensor nan = at::isnan(values);
  if (weights.defined()) nan = nan | at::isnan(weights);
  if (strategy == "error") {
    check_values(nan.sum(), "value holds NaN (nan_strategy='error'; argument 'value')");
    return {values, weights};
  }
  if (strategy == "replace") {
    values = at::where(nan, at::full({}, options_.nan_replacement_, values.options()), values);
    if (weights.defined()) weights = at::where(nan, at::ones_like(weights), weights);
    return {values, weights};
  }
  if (strategy == "warn" && values.device().is_cpu() && nan.any().item<bool>()) {
    spdlog::warn("{}: NaN values in an update are left out (nan_strategy='warn')", metric_name());
  }
  // Dropped through a zero weight rather than boolean indexing, which would wait for the host.
  const at::Tensor counted = (~nan).to(values.scalar_type());
  values = at::where(nan, at::zeros({}, values.options()), values);
  weights = weights.defined() ? at::where(nan, at::zeros({}, weights.options()), weights) : counted;
  return {values, weights};
}

// --- MeanMetric -------------------------------------------------------------------------------

MeanMetric::MeanMetric(const AggregationOptions& options) : Aggregator("MeanMetric", options) {
  sum_ = add_state("mean_value", at::zeros({}, at::kDouble), Reduce::Sum);
  weight_ = add_state("weight", at::zeros({}, at::kDouble), Reduce::Sum);
}

void MeanMetric::update(const at::Tensor& values) { update(values, at::Tensor()); }

void MeanMetric::update(const at::Tensor& values_in, const at::Tensor& weights_in) {
  auto [values, weights] = prepare(values_in, weights_in);
  if (!weights.defined()) weights = at::ones_like(values);
  state(sum_).add_((values * weights).sum());
  state(weight_).add_(weights.sum());
}

at::Tensor MeanMetric::compute_value() { return (state(sum_) / state(weight_)).to(at::kFloat); }

// --- SumMetric, MaxMetric, MinMetric ---------------------------------------------------------------

SumMetric::SumMetric(const AggregationOptions& options) : Aggregator("SumMetric", options) {
  sum_ = add_state("sum_value", at::zeros({}, at::kDouble), Reduce::Sum);
}

void SumMetric::update(const at::Tensor& values_in) {
  auto [values, weights] = prepare(values_in);
  state(sum_).add_(weights.defined() ? (values * weights).sum() : values.sum());
}

at::Tensor SumMetric::compute_value() { return state(sum_).to(at::kFloat); }

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Values that do not count (NaN dropped) become the identity of the reduction.
at::Tensor counted_or(const at::Tensor& values, const at::Tensor& weights, double identity) {
  return weights.defined() ? at::where(weights > 0, values, at::full({}, identity, values.options())) : values;
}

}  // namespace

MaxMetric::MaxMetric(const AggregationOptions& options) : Aggregator("MaxMetric", options) {
  max_ = add_state("max_value", at::full({}, -kInfinity, at::kDouble), Reduce::Max);
}

void MaxMetric::update(const at::Tensor& values_in) {
  auto [values, weights] = prepare(values_in);
  if (values.numel() == 0) return;
  at::Tensor& max = state(max_);
  max.copy_(at::maximum(max, counted_or(values, weights, -kInfinity).max().to(at::kDouble)));
}

at::Tensor MaxMetric::compute_value() { return state(max_).to(at::kFloat); }

MinMetric::MinMetric(const AggregationOptions& options) : Aggregator("MinMetric", options) {
  min_ = add_state("min_value", at::full({}, kInfinity, at::kDouble), Reduce::Min);
}

void MinMetric::update(const at::Tensor& values_in) {
  auto [values, weights] = prepare(values_in);
  if (values.numel() == 0) return;
  at::Tensor& min = state(min_);
  min.copy_(at::minimum(min, counted_or(values, weights, kInfinity).min().to(at::kDouble)));
}

at::Tensor MinMetric::compute_value() { return state(min_).to(at::kFloat); }

// --- CatMetric ------------------------------------------------------------------------------------

CatMetric::CatMetric(const AggregationOptions& options) : Aggregator("CatMetric", options) {
  values_ = add_cat_state("value");
}

void CatMetric::update(const at::Tensor& values_in) {
  auto [values, weights] = prepare(values_in);
  // torchmetrics drops NaN by indexing, which flattens the values; so does this (the one
  // aggregate that reads on the host: the rows it keeps decide the state's size).
  if (weights.defined() && (weights == 0).any().item<bool>()) values = values.index({weights > 0});
  if (values.numel() == 0) return;
  append(values_, values.dim() == 0 ? values.unsqueeze(0) : values);
}

at::Tensor CatMetric::compute_value() { return cat_state(values_, at::zeros({0})); }

}  // namespace fulgur::metrics
