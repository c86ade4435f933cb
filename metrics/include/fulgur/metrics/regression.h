// Regression metrics with torchmetrics' names and definitions: MeanSquaredError (and its root),
// MeanAbsoluteError, MeanAbsolutePercentageError, R2Score, ExplainedVariance, PearsonCorrCoef,
// SpearmanCorrCoef and CosineSimilarity.
//
//   auto rmse = std::make_shared<metrics::MeanSquaredError>(metrics::RegressionOptions().squared(false));
//   rmse->update(prediction, target);   // same shapes
#pragma once

#include <string>
#include <utility>

#include "fulgur/arg.h"
#include "fulgur/metrics/metric.h"

namespace fulgur::metrics {

struct RegressionOptions {
  /// Outputs per sample: 1 (any shape, flattened) or the size of dimension 1 of (N, outputs).
  FULGUR_ARG(RegressionOptions, int64_t, num_outputs, 1);
  /// MeanSquaredError: false gives the root mean squared error.
  FULGUR_ARG(RegressionOptions, bool, squared, true);
  /// R2Score, ExplainedVariance: "uniform_average", "raw_values" or "variance_weighted".
  FULGUR_ARG(RegressionOptions, std::string, multioutput, "uniform_average");
  /// R2Score: the number of independent variables of the adjusted score (0: not adjusted).
  FULGUR_ARG(RegressionOptions, int64_t, adjusted, 0);
  /// CosineSimilarity: "sum", "mean" or "none".
  FULGUR_ARG(RegressionOptions, std::string, reduction, "sum");
  /// MeanAbsolutePercentageError: the smallest |target| divided by.
  FULGUR_ARG(RegressionOptions, double, epsilon, 1.17e-06);
  /// Check values (no NaN) as well as shapes.
  FULGUR_ARG(RegressionOptions, bool, validate_args, true);
};

/// The base of the regression metrics: shape and NaN checks.
class BOOST_SYMBOL_VISIBLE RegressionMetric : public PredsTargetMetric {
 protected:
  RegressionMetric(std::string name, const RegressionOptions& options);
  /// Same shapes, floating point, no NaN; counts the update. `multi_output`: the shape must fit
  /// num_outputs ((N) for 1, (N, num_outputs) otherwise); `two_dims`: (N, D) required.
  void check(const at::Tensor& preds, const at::Tensor& target, bool multi_output, bool two_dims = false);
  /// Floating-point preds and target: flattened for one output, (N, num_outputs) for several.
  std::pair<at::Tensor, at::Tensor> per_output(const at::Tensor& preds, const at::Tensor& target) const;
  /// The state's shape: a scalar for one output, (num_outputs) for several.
  at::Tensor per_output_zeros() const;
  /// Replaces a state's value, keeping the tensor object (its dtype may widen to double).
  static void assign(at::Tensor& state, const at::Tensor& value);

  RegressionOptions options_;
};

class BOOST_SYMBOL_VISIBLE MeanSquaredError : public RegressionMetric {
 public:
  FULGUR_METRIC_COPY(MeanSquaredError)
  explicit MeanSquaredError(const RegressionOptions& options = {});
  void update(const at::Tensor& preds, const at::Tensor& target) override;
  std::string state_key() const override { return "squared_error/" + std::to_string(options_.num_outputs_); }

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t sum_, total_;
};

class BOOST_SYMBOL_VISIBLE MeanAbsoluteError : public RegressionMetric {
 public:
  FULGUR_METRIC_COPY(MeanAbsoluteError)
  explicit MeanAbsoluteError(const RegressionOptions& options = {});
  void update(const at::Tensor& preds, const at::Tensor& target) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t sum_, total_;
};

class BOOST_SYMBOL_VISIBLE MeanAbsolutePercentageError : public RegressionMetric {
 public:
  FULGUR_METRIC_COPY(MeanAbsolutePercentageError)
  explicit MeanAbsolutePercentageError(const RegressionOptions& options = {});
  void update(const at::Tensor& preds, const at::Tensor& target) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t sum_, total_;
};

/// The coefficient of determination: 1 - residual sum of squares / total sum of squares.
class BOOST_SYMBOL_VISIBLE R2Score : public RegressionMetric {
 public:
  FULGUR_METRIC_COPY(R2Score)
  explicit R2Score(const RegressionOptions& options = {});
  void update(const at::Tensor& preds, const at::Tensor& target) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t squared_obs_, sum_obs_, residual_, total_;
};

class BOOST_SYMBOL_VISIBLE ExplainedVariance : public RegressionMetric {
 public:
  FULGUR_METRIC_COPY(ExplainedVariance)
  explicit ExplainedVariance(const RegressionOptions& options = {});
  void update(const at::Tensor& preds, const at::Tensor& target) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t sum_error_, sum_squared_error_, sum_target_, sum_squared_target_, total_;
};

/// Pearson's r from running means, variances and covariance (merged exactly across batches
/// and processes, torchmetrics' streaming form).
class BOOST_SYMBOL_VISIBLE PearsonCorrCoef : public RegressionMetric {
 public:
  FULGUR_METRIC_COPY(PearsonCorrCoef)
  explicit PearsonCorrCoef(const RegressionOptions& options = {});
  void update(const at::Tensor& preds, const at::Tensor& target) override;

 protected:
  at::Tensor compute_value() override;
  void merge_custom(StateSet& into, const StateSet& other) const override;
  bool full_state_update() const override { return true; }

 private:
  std::size_t mean_x_, mean_y_, max_abs_dev_x_, max_abs_dev_y_, var_x_, var_y_, corr_xy_, n_total_;
};

/// Pearson's r of the ranks (ties get their mean rank); keeps every sample.
class BOOST_SYMBOL_VISIBLE SpearmanCorrCoef : public RegressionMetric {
 public:
  FULGUR_METRIC_COPY(SpearmanCorrCoef)
  explicit SpearmanCorrCoef(const RegressionOptions& options = {});
  void update(const at::Tensor& preds, const at::Tensor& target) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t preds_, target_;
};

/// Cosine similarity of each row of (N, D) preds and target, summed, averaged or per row.
class BOOST_SYMBOL_VISIBLE CosineSimilarity : public RegressionMetric {
 public:
  FULGUR_METRIC_COPY(CosineSimilarity)
  explicit CosineSimilarity(const RegressionOptions& options = {});
  void update(const at::Tensor& preds, const at::Tensor& target) override;

 protected:
  at::Tensor compute_value() override;

 private:
  std::size_t preds_, target_;
};

}  // namespace fulgur::metrics
