// Running aggregates of values, torchmetrics' aggregation metrics: MeanMetric (weighted),
// SumMetric, MaxMetric, MinMetric and CatMetric.
//
//   auto loss_mean = std::make_shared<metrics::MeanMetric>();
//   loss_mean->update(loss);              // any shape: every element counts
//   loss_mean->update(values, weights);   // weights broadcast to the values' shape
#pragma once

#include <optional>
#include <string>

#include "fulgur/arg.h"
#include "fulgur/metrics/metric.h"

namespace fulgur::metrics {

struct AggregationOptions {
  /// What NaN values do: "warn" (dropped, with a warning on the CPU), "ignore" (dropped),
  /// "error", "disable" (kept: the result is NaN), or nan_strategy(x): replaced by x.
  FULGUR_ARG(AggregationOptions, std::string, nan_strategy, "warn");
  AggregationOptions& nan_strategy(double replacement) {
    nan_strategy_ = "replace";
    nan_replacement_ = replacement;
    return *this;
  }
  double nan_replacement_ = 0.0;
};

class BOOST_SYMBOL_VISIBLE Aggregator : public Metric {
 public:
  virtual void update(const at::Tensor& values) = 0;
  void update(double value);
  at::Tensor forward(const at::Tensor& values) {
    return forward_with([&] { update(values); });
  }
  at::Tensor operator()(const at::Tensor& values) { return forward(values); }

 protected:
  Aggregator(std::string name, const AggregationOptions& options);
  /// The values as floats, and a float mask of the ones that count (undefined: all count),
  /// after the NaN strategy.
  std::pair<at::Tensor, at::Tensor> prepare(const at::Tensor& values, const at::Tensor& weights = at::Tensor());

 private:
  std::pair<at::Tensor, at::Tensor> checked(const at::Tensor& values, const at::Tensor& weights);

  AggregationOptions options_;
};

/// The (weighted) mean of every value since the last reset.
class BOOST_SYMBOL_VISIBLE MeanMetric : public Aggregator {
 public:
  FULGUR_METRIC_COPY(MeanMetric)
  explicit MeanMetric(const AggregationOptions& options = {});
  using Aggregator::update;
  void update(const at::Tensor& values) override;
  /// Each value weighted; `weights` broadcasts to the values' shape.
  void update(const at::Tensor& values, const at::Tensor& weights);
  using Aggregator::forward;
  at::Tensor forward(const at::Tensor& values, const at::Tensor& weights) {
    return forward_with([&] { update(values, weights); });
  }

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t sum_, weight_;
};

class BOOST_SYMBOL_VISIBLE SumMetric : public Aggregator {
 public:
  FULGUR_METRIC_COPY(SumMetric)
  explicit SumMetric(const AggregationOptions& options = {});
  using Aggregator::update;
  void update(const at::Tensor& values) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t sum_;
};

class BOOST_SYMBOL_VISIBLE MaxMetric : public Aggregator {
 public:
  FULGUR_METRIC_COPY(MaxMetric)
  explicit MaxMetric(const AggregationOptions& options = {});
  using Aggregator::update;
  void update(const at::Tensor& values) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t max_;
};

class BOOST_SYMBOL_VISIBLE MinMetric : public Aggregator {
 public:
  FULGUR_METRIC_COPY(MinMetric)
  explicit MinMetric(const AggregationOptions& options = {});
  using Aggregator::update;
  void update(const at::Tensor& values) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t min_;
};

/// Every value since the last reset, concatenated along dimension 0 (0-d values become rows).
class BOOST_SYMBOL_VISIBLE CatMetric : public Aggregator {
 public:
  FULGUR_METRIC_COPY(CatMetric)
  explicit CatMetric(const AggregationOptions& options = {});
  using Aggregator::update;
  void update(const at::Tensor& values) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t values_;
};

}  // namespace fulgur::metrics
