#include "fulgur/metrics/stat_scores.h"

#include <limits>

#include <torch/torch.h>

#include "fulgur/error.h"
#include "histogram.h"
#include "safe_divide.h"

namespace fulgur::metrics {
namespace {

constexpr const char* kAverages = "micro,macro,weighted,none";

}  // namespace

ConfusionCounts::ConfusionCounts(const ClassificationOptions& options, const std::string& metric,
                                 const std::string& default_average, const std::string& averages)
    : ClassificationMetric(options, metric, default_average, averages), zero_division_(options.zero_division_) {
  at::Tensor initial;
  switch (spec_.task) {
    case Task::Binary:
      initial = at::zeros({2, 2}, at::kLong);
      break;
    case Task::Multiclass:
      initial = at::zeros({spec_.classes, spec_.classes}, at::kLong);
      break;
    case Task::Multilabel:
      initial = at::zeros({spec_.classes, 2, 2}, at::kLong);
      break;
  }
  confmat_ = add_state("confmat", initial, Reduce::Sum);
}

void ConfusionCounts::update(const at::Tensor& preds, const at::Tensor& target) {
  const ClassificationInputs in = to_labels(preds, target);
  at::Tensor& confmat = state(confmat_);
  at::Tensor index;
  switch (spec_.task) {
    case Task::Binary:
      index = in.target * 2 + in.preds;
      break;
    case Task::Multiclass:
      index = in.target * spec_.classes + in.preds;
      break;
    case Task::Multilabel: {
      const at::Tensor label = at::arange(spec_.classes, in.target.options()).mul_(4);
      index = in.target * 2 + in.preds + label;
      break;
    }
  }
  detail::add_histogram(confmat, index, in.valid);
}

ConfusionCounts::Counts ConfusionCounts::counts() const {
  const at::Tensor confmat = confusion();
  Counts counts;
  if (spec_.task == Task::Multiclass) {
    counts.tp = confmat.diagonal();
    counts.fp = confmat.sum(0) - counts.tp;
    counts.fn = confmat.sum(1) - counts.tp;
    counts.tn = confmat.sum() - (counts.fp + counts.fn + counts.tp);
  } else {
    // (2, 2) or (L, 2, 2): [target][pred].
    counts.tn = confmat.select(-2, 0).select(-1, 0);
    counts.fp = confmat.select(-2, 0).select(-1, 1);
    counts.fn = confmat.select(-2, 1).select(-1, 0);
    counts.tp = confmat.select(-2, 1).select(-1, 1);
  }
  return counts;
}

at::Tensor ConfusionCounts::average(const at::Tensor& scores, const Counts& counts, bool top_k_weights) const {
  const std::string& average = spec_.average;
  if (average == "none") return scores;
  at::Tensor weights;
  if (average == "weighted") {
    weights = (counts.tp + counts.fn).to(scores.scalar_type());
  } else {
    weights = at::ones_like(scores);
    if (spec_.task == Task::Multiclass) {
      // Classes absent from both targets and predictions do not count in the macro average.
      const at::Tensor absent =
          top_k_weights && spec_.top_k > 1 ? (counts.tp + counts.fn) == 0 : (counts.tp + counts.fp + counts.fn) == 0;
      weights.masked_fill_(absent, 0.0);
    }
  }
  return detail::safe_divide(weights * scores, weights.sum(-1, true)).sum(-1);
}

// --- StatScores -----------------------------------------------------------------------------

StatScores::StatScores(const ClassificationOptions& options)
    : ConfusionCounts(options, "StatScores", "micro", kAverages) {}

at::Tensor StatScores::compute_value() {
  const Counts c = counts();
  const at::Tensor stats = at::stack({c.tp, c.fp, c.tn, c.fn, c.tp + c.fn}, -1);
  if (spec_.task == Task::Binary) return stats;
  const std::string& average = spec_.average;
  if (average == "micro") return stats.sum(0);
  if (average == "macro") return stats.to(at::kFloat).mean(0);
  if (average == "weighted") {
    const at::Tensor weight = (c.tp + c.fn).to(at::kFloat);
    return (stats * (weight / weight.sum()).unsqueeze(1)).sum(0);
  }
  return stats;
}

// --- Accuracy -------------------------------------------------------------------------------

Accuracy::Accuracy(const ClassificationOptions& options) : ConfusionCounts(options, "Accuracy", "micro", kAverages) {}

at::Tensor Accuracy::compute_value() {
  Counts c = counts();
  const bool multilabel = spec_.task == Task::Multilabel;
  if (spec_.task == Task::Binary) return detail::safe_divide(c.tp + c.tn, c.tp + c.tn + c.fp + c.fn);
  if (spec_.average == "micro") {
    const at::Tensor tp = c.tp.sum(0);
    const at::Tensor fn = c.fn.sum(0);
    if (multilabel) {
      const at::Tensor fp = c.fp.sum(0);
      const at::Tensor tn = c.tn.sum(0);
      return detail::safe_divide(tp + tn, tp + tn + fp + fn);
    }
    return detail::safe_divide(tp, tp + fn);
  }
  const at::Tensor score =
      multilabel ? detail::safe_divide(c.tp + c.tn, c.tp + c.tn + c.fp + c.fn) : detail::safe_divide(c.tp, c.tp + c.fn);
  return average(score, c, /*top_k_weights=*/true);
}

// --- Precision and Recall -------------------------------------------------------------------

namespace {

at::Tensor precision_or_recall(const at::Tensor& tp, const at::Tensor& other, double zero_division) {
  return detail::safe_divide(tp, tp + other, zero_division);
}

}  // namespace

Precision::Precision(const ClassificationOptions& options)
    : ConfusionCounts(options, "Precision", "micro", kAverages) {}

at::Tensor Precision::compute_value() {
  const Counts c = counts();
  if (spec_.task == Task::Binary) return precision_or_recall(c.tp, c.fp, zero_division_);
  if (spec_.average == "micro") return precision_or_recall(c.tp.sum(0), c.fp.sum(0), zero_division_);
  return average(precision_or_recall(c.tp, c.fp, zero_division_), c, /*top_k_weights=*/true);
}

Recall::Recall(const ClassificationOptions& options) : ConfusionCounts(options, "Recall", "micro", kAverages) {}

at::Tensor Recall::compute_value() {
  const Counts c = counts();
  if (spec_.task == Task::Binary) return precision_or_recall(c.tp, c.fn, zero_division_);
  if (spec_.average == "micro") return precision_or_recall(c.tp.sum(0), c.fn.sum(0), zero_division_);
  return average(precision_or_recall(c.tp, c.fn, zero_division_), c, /*top_k_weights=*/true);
}

// --- F-scores -------------------------------------------------------------------------------

FBetaScore::FBetaScore(double beta, const ClassificationOptions& options) : FBetaScore(beta, options, "FBetaScore") {}

FBetaScore::FBetaScore(double beta, const ClassificationOptions& options, const std::string& metric)
    : ConfusionCounts(options, metric, "micro", kAverages), beta_(beta) {
  if (!(beta > 0.0)) fail("argument 'beta' must be a positive number, got " + std::to_string(beta));
}

at::Tensor FBetaScore::compute_value() {
  Counts c = counts();
  if (spec_.task != Task::Binary && spec_.average == "micro") {
    c.tp = c.tp.sum(0);
    c.fn = c.fn.sum(0);
    c.fp = c.fp.sum(0);
  }
  const double beta2 = beta_ * beta_;
  const at::Tensor tp = c.tp.to(at::kFloat);
  const at::Tensor score =
      detail::safe_divide((1 + beta2) * tp, (1 + beta2) * tp + beta2 * c.fn + c.fp, zero_division_);
  if (spec_.task == Task::Binary || spec_.average == "micro") return score;
  return average(score, c);
}

F1Score::F1Score(const ClassificationOptions& options) : FBetaScore(1.0, options, "F1Score") {}

// --- Specificity ----------------------------------------------------------------------------

Specificity::Specificity(const ClassificationOptions& options)
    : ConfusionCounts(options, "Specificity", "micro", kAverages) {}

at::Tensor Specificity::compute_value() {
  const Counts c = counts();
  if (spec_.task == Task::Binary) return detail::safe_divide(c.tn, c.tn + c.fp);
  if (spec_.average == "micro") return detail::safe_divide(c.tn.sum(0), c.tn.sum(0) + c.fp.sum(0));
  return average(detail::safe_divide(c.tn, c.tn + c.fp), c);
}

// --- ConfusionMatrix ------------------------------------------------------------------------

ConfusionMatrix::ConfusionMatrix(const ClassificationOptions& options)
    : ConfusionCounts(options, "ConfusionMatrix", "micro", kAverages), normalize_(options.normalize_.value_or("none")) {
  if (normalize_ != "none" && normalize_ != "true" && normalize_ != "pred" && normalize_ != "all") {
    fail("argument 'normalize' must be 'true', 'pred', 'all' or 'none', got '" + normalize_ + "'");
  }
  if (spec_.top_k != 1) fail("argument 'top_k' does not apply to a confusion matrix");
}

at::Tensor ConfusionMatrix::compute_value() {
  at::Tensor confmat = confusion().clone();
  if (normalize_ == "none") return confmat;
  confmat = confmat.to(at::kFloat);
  if (normalize_ == "true") {
    confmat = confmat / confmat.sum(-1, true);
  } else if (normalize_ == "pred") {
    confmat = confmat / confmat.sum(-2, true);
  } else {
    confmat = confmat / confmat.sum({-2, -1}, true);
  }
  // Rows or columns without samples are 0, not NaN (torchmetrics replaces them, with a warning).
  return at::nan_to_num(confmat, 0.0, std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity());
}

}  // namespace fulgur::metrics
