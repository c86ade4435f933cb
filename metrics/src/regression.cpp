#include "fulgur/metrics/regression.h"

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "fulgur/error.h"

namespace fulgur::metrics {
namespace {

std::string shape_text(const at::Tensor& tensor) { return c10::str(tensor.sizes()); }

at::Tensor floats(const at::Tensor& tensor) {
  return tensor.is_floating_point() ? tensor.detach() : tensor.detach().to(at::kFloat);
}

void check_multioutput(const std::string& multioutput, const std::string& metric) {
  if (multioutput != "uniform_average" && multioutput != "raw_values" && multioutput != "variance_weighted") {
    throw Error(metric +
                ": argument 'multioutput' must be 'uniform_average', 'raw_values' or 'variance_weighted', got '" +
                multioutput + "'");
  }
}

// Scores averaged over the outputs as `multioutput` says; `variance` weighs variance_weighted.
at::Tensor over_outputs(const at::Tensor& scores, const at::Tensor& variance, const std::string& multioutput) {
  if (multioutput == "raw_values") return scores;
  if (multioutput == "uniform_average") return scores.mean();
  return (variance / variance.sum() * scores).sum();
}

}  // namespace

RegressionMetric::RegressionMetric(std::string name, const RegressionOptions& options)
    : PredsTargetMetric(std::move(name)), options_(options) {
  if (options_.num_outputs_ < 1)
    fail("argument 'num_outputs' must be at least 1, got " + std::to_string(options_.num_outputs_));
  set_validate_args(options_.validate_args_);
}

void RegressionMetric::check(const at::Tensor& preds, const at::Tensor& target, bool multi_output, bool two_dims) {
  if (!preds.defined() || !target.defined()) fail("update() needs defined preds and target tensors");
  if (preds.sizes() != target.sizes()) {
    fail("preds and target must have the same shape, got preds " + shape_text(preds) + " and target " +
         shape_text(target));
  }
  if (preds.is_complex() || target.is_complex()) fail("preds and target must be real");
  const int64_t outputs = options_.num_outputs_;
  if (two_dims && preds.dim() != 2) fail("preds and target must be (N, D) tensors, got " + shape_text(preds));
  if (multi_output) {
    if (preds.dim() > 2) fail("preds and target must have 1 or 2 dimensions, got " + shape_text(preds));
    const int64_t columns = preds.dim() == 2 ? preds.size(1) : 1;
    if (columns != outputs) {
      fail("preds " + shape_text(preds) + " have " + std::to_string(columns) +
           " output(s) per sample but num_outputs is " + std::to_string(outputs) + " (argument 'num_outputs')");
    }
  } else if (outputs > 1 && (preds.dim() != 2 || preds.size(1) != outputs)) {
    fail("with num_outputs=" + std::to_string(outputs) + " preds and target must be (N, " + std::to_string(outputs) +
         "), got " + shape_text(preds));
  }
  if (validate_args() && preds.is_floating_point())
    check_values(at::isnan(preds).sum(), "preds hold NaN (argument 'preds')");
  if (validate_args() && target.is_floating_point())
    check_values(at::isnan(target).sum(), "target holds NaN (argument 'target')");
  begin_update(preds.device());
}

std::pair<at::Tensor, at::Tensor> RegressionMetric::per_output(const at::Tensor& preds,
                                                               const at::Tensor& target) const {
  if (options_.num_outputs_ > 1) return {floats(preds), floats(target)};
  return {floats(preds).reshape(-1), floats(target).reshape(-1)};
}

at::Tensor RegressionMetric::per_output_zeros() const {
  return options_.num_outputs_ == 1 ? at::zeros({}) : at::zeros({options_.num_outputs_});
}

void RegressionMetric::assign(at::Tensor& state, const at::Tensor& value) {
  if (state.scalar_type() == value.scalar_type() && state.sizes() == value.sizes()) {
    state.copy_(value);
  } else {
    state.set_data(value);
  }
}

// --- MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError --------------------------

MeanSquaredError::MeanSquaredError(const RegressionOptions& options)
    : RegressionMetric(options.squared_ ? "MeanSquaredError" : "RootMeanSquaredError", options) {
  sum_ = add_state("sum_squared_error", at::zeros({options.num_outputs_}), Reduce::Sum);
  total_ = add_state("total", at::zeros({}, at::kLong), Reduce::Sum);
}

void MeanSquaredError::update(const at::Tensor& preds_in, const at::Tensor& target_in) {
  check(preds_in, target_in, /*multi_output=*/false);
  auto [preds, target] = per_output(preds_in, target_in);
  const at::Tensor diff = preds - target;
  assign(state(sum_), state(sum_) + (diff * diff).sum(0));
  state(total_).add_(target.size(0));
}

at::Tensor MeanSquaredError::compute_value() {
  const at::Tensor mean = state(sum_) / state(total_);
  return options_.squared_ ? mean : mean.sqrt();
}

MeanAbsoluteError::MeanAbsoluteError(const RegressionOptions& options)
    : RegressionMetric("MeanAbsoluteError", options) {
  sum_ = add_state("sum_abs_error", at::zeros({options.num_outputs_}), Reduce::Sum);
  total_ = add_state("total", at::zeros({}, at::kLong), Reduce::Sum);
}

void MeanAbsoluteError::update(const at::Tensor& preds_in, const at::Tensor& target_in) {
  check(preds_in, target_in, /*multi_output=*/false);
  auto [preds, target] = per_output(preds_in, target_in);
  assign(state(sum_), state(sum_) + (preds - target).abs().sum(0));
  state(total_).add_(target.size(0));
}

at::Tensor MeanAbsoluteError::compute_value() { return state(sum_) / state(total_); }

MeanAbsolutePercentageError::MeanAbsolutePercentageError(const RegressionOptions& options)
    : RegressionMetric("MeanAbsolutePercentageError", options) {
  sum_ = add_state("sum_abs_per_error", at::zeros({}), Reduce::Sum);
  total_ = add_state("total", at::zeros({}), Reduce::Sum);
}

void MeanAbsolutePercentageError::update(const at::Tensor& preds_in, const at::Tensor& target_in) {
  check(preds_in, target_in, /*multi_output=*/false);
  const at::Tensor preds = floats(preds_in);
  const at::Tensor target = floats(target_in);
  const at::Tensor relative = (preds - target).abs() / target.abs().clamp_min(options_.epsilon_);
  assign(state(sum_), state(sum_) + relative.sum());
  state(total_).add_(static_cast<double>(target.numel()));
}

at::Tensor MeanAbsolutePercentageError::compute_value() { return state(sum_) / state(total_); }

// --- R2Score and ExplainedVariance ---------------------------------------------------------------

R2Score::R2Score(const RegressionOptions& options) : RegressionMetric("R2Score", options) {
  check_multioutput(options.multioutput_, metric_name());
  if (options.adjusted_ < 0)
    fail("argument 'adjusted' must be an integer >= 0, got " + std::to_string(options.adjusted_));
  squared_obs_ = add_state("sum_squared_error", per_output_zeros(), Reduce::Sum);
  sum_obs_ = add_state("sum_error", per_output_zeros(), Reduce::Sum);
  residual_ = add_state("residual", per_output_zeros(), Reduce::Sum);
  total_ = add_state("total", at::zeros({}, at::kLong), Reduce::Sum);
}

void R2Score::update(const at::Tensor& preds_in, const at::Tensor& target_in) {
  check(preds_in, target_in, /*multi_output=*/true);
  auto [preds, target] = per_output(preds_in, target_in);
  assign(state(sum_obs_), state(sum_obs_) + target.sum(0));
  assign(state(squared_obs_), state(squared_obs_) + (target * target).sum(0));
  const at::Tensor residual = target - preds;
  assign(state(residual_), state(residual_) + (residual * residual).sum(0));
  state(total_).add_(target.size(0));
}

at::Tensor R2Score::compute_value() {
  const int64_t n = state(total_).item<int64_t>();
  if (n < 2) fail("needs at least two samples to compute the r2 score, has " + std::to_string(n));
  const at::Tensor sum_obs = state(sum_obs_);
  const at::Tensor rss = state(residual_);
  const at::Tensor tss = state(squared_obs_) - sum_obs * (sum_obs / static_cast<double>(n));
  const at::Tensor rss_nonzero = ~at::isclose(rss, at::zeros_like(rss), 1e-05, 1e-04);
  const at::Tensor tss_nonzero = ~at::isclose(tss, at::zeros_like(tss), 1e-05, 1e-04);
  at::Tensor scores = at::ones_like(rss);
  scores = at::where(rss_nonzero & tss_nonzero, 1 - rss / tss, scores);
  scores = at::where(rss_nonzero & ~tss_nonzero, at::zeros_like(scores), scores);
  at::Tensor r2 = over_outputs(scores, tss, options_.multioutput_);
  const int64_t adjusted = options_.adjusted_;
  // torchmetrics falls back to the plain score (with a warning) when the adjustment is undefined.
  if (adjusted != 0 && adjusted < n - 1) {
    r2 = 1 - (1 - r2) * static_cast<double>(n - 1) / static_cast<double>(n - adjusted - 1);
  }
  return r2;
}

ExplainedVariance::ExplainedVariance(const RegressionOptions& options)
    : RegressionMetric("ExplainedVariance", options) {
  check_multioutput(options.multioutput_, metric_name());
  sum_error_ = add_state("sum_error", per_output_zeros(), Reduce::Sum);
  sum_squared_error_ = add_state("sum_squared_error", per_output_zeros(), Reduce::Sum);
  sum_target_ = add_state("sum_target", per_output_zeros(), Reduce::Sum);
  sum_squared_target_ = add_state("sum_squared_target", per_output_zeros(), Reduce::Sum);
  total_ = add_state("num_obs", at::zeros({}), Reduce::Sum);
}

void ExplainedVariance::update(const at::Tensor& preds_in, const at::Tensor& target_in) {
  check(preds_in, target_in, /*multi_output=*/true);
  auto [preds, target] = per_output(preds_in, target_in);
  const at::Tensor error = target - preds;
  assign(state(sum_error_), state(sum_error_) + error.sum(0));
  assign(state(sum_squared_error_), state(sum_squared_error_) + (error * error).sum(0));
  assign(state(sum_target_), state(sum_target_) + target.sum(0));
  assign(state(sum_squared_target_), state(sum_squared_target_) + (target * target).sum(0));
  state(total_).add_(static_cast<double>(preds.size(0)));
}

at::Tensor ExplainedVariance::compute_value() {
  const at::Tensor n = state(total_);
  const at::Tensor error_mean = state(sum_error_) / n;
  const at::Tensor numerator = state(sum_squared_error_) / n - error_mean * error_mean;
  const at::Tensor target_mean = state(sum_target_) / n;
  const at::Tensor denominator = state(sum_squared_target_) / n - target_mean * target_mean;
  const at::Tensor numerator_nonzero = numerator != 0;
  const at::Tensor denominator_nonzero = denominator != 0;
  at::Tensor scores = at::ones_like(error_mean);
  scores = at::where(numerator_nonzero & denominator_nonzero, 1.0 - numerator / denominator, scores);
  scores = at::where(numerator_nonzero & ~denominator_nonzero, at::zeros_like(scores), scores);
  return over_outputs(scores, denominator, options_.multioutput_);
}

// --- PearsonCorrCoef ------------------------------------------------------------------------------

PearsonCorrCoef::PearsonCorrCoef(const RegressionOptions& options) : RegressionMetric("PearsonCorrCoef", options) {
  const at::Tensor zeros = at::zeros({options.num_outputs_});
  mean_x_ = add_state("mean_x", zeros, Reduce::Custom);
  mean_y_ = add_state("mean_y", zeros, Reduce::Custom);
  max_abs_dev_x_ = add_state("max_abs_dev_x", zeros, Reduce::Custom);
  max_abs_dev_y_ = add_state("max_abs_dev_y", zeros, Reduce::Custom);
  var_x_ = add_state("var_x", zeros, Reduce::Custom);
  var_y_ = add_state("var_y", zeros, Reduce::Custom);
  corr_xy_ = add_state("corr_xy", zeros, Reduce::Custom);
  n_total_ = add_state("n_total", zeros, Reduce::Custom);
}

void PearsonCorrCoef::update(const at::Tensor& preds_in, const at::Tensor& target_in) {
  check(preds_in, target_in, /*multi_output=*/true);
  const at::Tensor preds = floats(preds_in);
  const at::Tensor target = floats(target_in);
  const int64_t n = preds.size(0);
  if (n == 0) return;
  // torchmetrics' streaming update (Chan et al.): the batch's moments folded into the running ones.
  const at::Tensor batch_mean_x = preds.mean(0);
  const at::Tensor batch_mean_y = target.mean(0);
  const at::Tensor prior = state(n_total_);
  const at::Tensor delta_x = batch_mean_x - state(mean_x_);
  const at::Tensor delta_y = batch_mean_y - state(mean_y_);
  const at::Tensor total = prior + n;
  const at::Tensor mean_x = state(mean_x_) + delta_x * n / total;
  const at::Tensor mean_y = state(mean_y_) + delta_y * n / total;
  if (n == 1) {
    assign(state(var_x_), state(var_x_) + (batch_mean_x - mean_x) * delta_x);
    assign(state(var_y_), state(var_y_) + (batch_mean_y - mean_y) * delta_y);
    assign(state(corr_xy_), state(corr_xy_) + delta_x * (batch_mean_y - mean_y));
  } else {
    const at::Tensor centered_x = preds - batch_mean_x;
    const at::Tensor centered_y = target - batch_mean_y;
    const at::Tensor correction = prior * n / total;
    assign(state(var_x_), state(var_x_) + (centered_x * centered_x).sum(0) + delta_x * delta_x * correction);
    assign(state(var_y_), state(var_y_) + (centered_y * centered_y).sum(0) + delta_y * delta_y * correction);
    assign(state(corr_xy_), state(corr_xy_) + (centered_x * centered_y).sum(0) + delta_x * delta_y * correction);
  }
  assign(state(max_abs_dev_x_), at::maximum(state(max_abs_dev_x_), std::get<0>((preds - mean_x).abs().max(0))));
  assign(state(max_abs_dev_y_), at::maximum(state(max_abs_dev_y_), std::get<0>((target - mean_y).abs().max(0))));
  assign(state(mean_x_), mean_x);
  assign(state(mean_y_), mean_y);
  assign(state(n_total_), total);
}

void PearsonCorrCoef::merge_custom(StateSet& into, const StateSet& other) const {
  auto mine = [&](std::size_t i) -> at::Tensor& { return into.entries[i].value; };
  auto theirs = [&](std::size_t i) { return other.entries[i].value.to(into.entries[i].value.device()); };
  // torchmetrics' _final_aggregation for two sets of moments.
  const at::Tensor n1 = mine(n_total_);
  const at::Tensor n2 = theirs(n_total_);
  const at::Tensor n = at::where(at::logical_or(n1, n2), n1 + n2, at::full({}, 1e-10, n1.options()));
  const at::Tensor delta_x = theirs(mean_x_) - mine(mean_x_);
  const at::Tensor delta_y = theirs(mean_y_) - mine(mean_y_);
  const at::Tensor weight = n1 * n2 / n;
  const at::Tensor mean_x = (n1 * mine(mean_x_) + n2 * theirs(mean_x_)) / n;
  const at::Tensor mean_y = (n1 * mine(mean_y_) + n2 * theirs(mean_y_)) / n;
  assign(mine(var_x_), mine(var_x_) + theirs(var_x_) + weight * delta_x * delta_x);
  assign(mine(var_y_), mine(var_y_) + theirs(var_y_) + weight * delta_y * delta_y);
  assign(mine(corr_xy_), mine(corr_xy_) + theirs(corr_xy_) + weight * delta_x * delta_y);
  assign(mine(max_abs_dev_x_), at::maximum(mine(max_abs_dev_x_), theirs(max_abs_dev_x_)));
  assign(mine(max_abs_dev_y_), at::maximum(mine(max_abs_dev_y_), theirs(max_abs_dev_y_)));
  assign(mine(mean_x_), mean_x);
  assign(mine(mean_y_), mean_y);
  assign(mine(n_total_), n);
}

at::Tensor PearsonCorrCoef::compute_value() {
  const at::Tensor n = state(n_total_);
  at::Tensor var_x = state(var_x_) / (n - 1);
  at::Tensor var_y = state(var_y_) / (n - 1);
  at::Tensor corr_xy = state(corr_xy_) / (n - 1);
  // Scaled by the largest deviation first, as torchmetrics does, against overflow.
  var_x = var_x * state(max_abs_dev_x_).pow(-2);
  var_y = var_y * state(max_abs_dev_y_).pow(-2);
  corr_xy = corr_xy / (state(max_abs_dev_x_) * state(max_abs_dev_y_));
  const double epsilon = var_x.scalar_type() == at::kDouble
                             ? std::numeric_limits<double>::epsilon()
                             : static_cast<double>(std::numeric_limits<float>::epsilon());
  const double bound = std::sqrt(epsilon);
  // Near-constant inputs have no defined correlation: NaN, as in torchmetrics.
  const at::Tensor undefined =
      (var_x < bound) | (var_y < bound) | ~at::isfinite(var_x) | ~at::isfinite(var_y) | ~at::isfinite(corr_xy);
  const at::Tensor r = (corr_xy / (var_x * var_y).sqrt()).clamp(-1.0, 1.0);
  return at::where(undefined, at::full({}, std::numeric_limits<double>::quiet_NaN(), r.options()), r).squeeze();
}

// --- SpearmanCorrCoef ------------------------------------------------------------------------------

namespace {

// torchmetrics' _rank_data: ranks 1..n, ties sharing their mean rank.
at::Tensor rank_data(const at::Tensor& data) {
  const int64_t n = data.numel();
  at::Tensor rank = at::empty({n}, data.options().dtype(at::kInt));
  rank.index_put_({data.argsort()}, at::arange(1, n + 1, data.options().dtype(at::kInt)));
  auto [unique, inverse, counts] = at::_unique2(data, /*sorted=*/true, /*return_inverse=*/true, /*return_counts=*/true);
  at::Tensor sums = at::zeros({unique.size(0)}, rank.options());
  sums.scatter_add_(0, inverse, rank);
  return (sums / counts).index_select(0, inverse);
}

}  // namespace

SpearmanCorrCoef::SpearmanCorrCoef(const RegressionOptions& options) : RegressionMetric("SpearmanCorrCoef", options) {
  preds_ = add_cat_state("preds");
  target_ = add_cat_state("target");
}

void SpearmanCorrCoef::update(const at::Tensor& preds, const at::Tensor& target) {
  if (preds.defined() && target.defined() && (!preds.is_floating_point() || !target.is_floating_point())) {
    fail("preds and target must be floating point, got " + std::string(c10::toString(preds.scalar_type())) + " and " +
         c10::toString(target.scalar_type()));
  }
  check(preds, target, /*multi_output=*/true);
  append(preds_, preds.detach());
  append(target_, target.detach());
}

at::Tensor SpearmanCorrCoef::compute_value() {
  const at::Tensor empty = options_.num_outputs_ == 1 ? at::zeros({0}) : at::zeros({0, options_.num_outputs_});
  at::Tensor preds = cat_state(preds_, empty);
  at::Tensor target = cat_state(target_, empty);
  if (preds.dim() == 1) {
    preds = rank_data(preds);
    target = rank_data(target);
  } else {
    std::vector<at::Tensor> p, t;
    for (int64_t c = 0; c < preds.size(1); ++c) {
      p.push_back(rank_data(preds.select(1, c)));
      t.push_back(rank_data(target.select(1, c)));
    }
    preds = at::stack(p, 1);
    target = at::stack(t, 1);
  }
  const at::Tensor dp = preds - preds.mean(0);
  const at::Tensor dt = target - target.mean(0);
  const at::Tensor covariance = (dp * dt).mean(0);
  const at::Tensor deviations = (dp * dp).mean(0).sqrt() * (dt * dt).mean(0).sqrt();
  return (covariance / (deviations + 1e-6)).clamp(-1.0, 1.0);
}

// --- CosineSimilarity --------------------------------------------------------------------------------

CosineSimilarity::CosineSimilarity(const RegressionOptions& options) : RegressionMetric("CosineSimilarity", options) {
  const auto& reduction = options.reduction_;
  if (reduction != "sum" && reduction != "mean" && reduction != "none") {
    fail("argument 'reduction' must be 'sum', 'mean' or 'none', got '" + reduction + "'");
  }
  preds_ = add_cat_state("preds");
  target_ = add_cat_state("target");
}

void CosineSimilarity::update(const at::Tensor& preds, const at::Tensor& target) {
  check(preds, target, /*multi_output=*/false, /*two_dims=*/true);
  append(preds_, preds.detach().to(at::kFloat));
  append(target_, target.detach().to(at::kFloat));
}

at::Tensor CosineSimilarity::compute_value() {
  const at::Tensor preds = cat_state(preds_, at::zeros({0, 0}));
  const at::Tensor target = cat_state(target_, at::zeros({0, 0}));
  const at::Tensor similarity = (preds * target).sum(-1) / (preds.norm(2, -1) * target.norm(2, -1));
  if (options_.reduction_ == "sum") return similarity.sum();
  if (options_.reduction_ == "mean") return similarity.mean();
  return similarity;
}

}  // namespace fulgur::metrics
