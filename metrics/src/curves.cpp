#include "fulgur/metrics/curves.h"

#include <functional>
#include <sstream>

#include <torch/torch.h>

#include "fulgur/error.h"
#include "histogram.h"
#include "safe_divide.h"

namespace fulgur::metrics {
namespace {

using torch::indexing::Slice;

// torchmetrics' _binary_clf_curve: false and true positives at each distinct score, highest
// first, and those scores.
struct ClfCurve {
  at::Tensor fps, tps, thresholds;
};

ClfCurve clf_curve(const at::Tensor& preds, const at::Tensor& positive) {
  const at::Tensor order = preds.argsort(/*dim=*/0, /*descending=*/true);
  const at::Tensor sorted = preds.index_select(0, order);
  const at::Tensor hits = positive.index_select(0, order).to(at::kLong);
  const int64_t n = sorted.size(0);
  const at::Tensor distinct = at::nonzero(sorted.narrow(0, 1, n - 1) - sorted.narrow(0, 0, n - 1)).reshape(-1);
  const at::Tensor last = at::cat({distinct, at::full({1}, n - 1, distinct.options())});
  ClfCurve curve;
  curve.tps = hits.cumsum(0).index_select(0, last);
  curve.fps = last + 1 - curve.tps;
  curve.thresholds = sorted.index_select(0, last);
  return curve;
}

void check_samples(const at::Tensor& preds, const std::string& metric) {
  if (preds.size(0) == 0) {
    throw Error(metric + ": compute() found no samples to rank (every update was empty or ignored)");
  }
}

// _binary_roc_compute without thresholds.
void exact_roc(const at::Tensor& preds, const at::Tensor& positive, RocCurves& out, const std::string& metric) {
  check_samples(preds, metric);
  const ClfCurve c = clf_curve(preds, positive);
  const at::Tensor tps = at::cat({at::zeros({1}, c.tps.options()), c.tps});
  const at::Tensor fps = at::cat({at::zeros({1}, c.fps.options()), c.fps});
  const at::Tensor thresholds = at::cat({at::ones({1}, c.thresholds.options()), c.thresholds});
  // No negatives (positives): the rate is meaningless, and torchmetrics makes it all zeros.
  const bool no_negatives = fps[-1].item<int64_t>() <= 0;
  const bool no_positives = tps[-1].item<int64_t>() <= 0;
  out.fpr.push_back(no_negatives ? at::zeros_like(thresholds) : fps / fps[-1]);
  out.tpr.push_back(no_positives ? at::zeros_like(thresholds) : tps / tps[-1]);
  out.thresholds.push_back(thresholds);
}

// _binary_precision_recall_curve_compute without thresholds. `all_zero_targets`: torchmetrics
// sets recall to 1 when every target (as given, before pos_label) is 0.
void exact_pr(const at::Tensor& preds, const at::Tensor& positive, bool all_zero_targets, PrecisionRecallCurves& out,
              const std::string& metric) {
  check_samples(preds, metric);
  const ClfCurve c = clf_curve(preds, positive);
  at::Tensor precision = c.tps / (c.tps + c.fps);
  at::Tensor recall = c.tps / c.tps[-1];
  if (all_zero_targets) recall = at::ones_like(recall);
  out.precision.push_back(at::cat({precision.flip(0), at::ones({1}, precision.options())}));
  out.recall.push_back(at::cat({recall.flip(0), at::zeros({1}, recall.options())}));
  out.thresholds.push_back(c.thresholds.flip(0));
}

// From a (T, 2, 2) histogram over the thresholds.
void binned_roc(const at::Tensor& state, const at::Tensor& thresholds, RocCurves& out) {
  const at::Tensor tps = state.index({Slice(), 1, 1});
  const at::Tensor fps = state.index({Slice(), 0, 1});
  const at::Tensor fns = state.index({Slice(), 1, 0});
  const at::Tensor tns = state.index({Slice(), 0, 0});
  out.tpr.push_back(detail::safe_divide(tps, tps + fns).flip(0));
  out.fpr.push_back(detail::safe_divide(fps, fps + tns).flip(0));
  out.thresholds.push_back(thresholds.flip(0));
}

void binned_pr(const at::Tensor& state, const at::Tensor& thresholds, PrecisionRecallCurves& out) {
  const at::Tensor tps = state.index({Slice(), 1, 1}).to(at::kFloat);
  const at::Tensor fps = state.index({Slice(), 0, 1});
  const at::Tensor fns = state.index({Slice(), 1, 0});
  // 0/0 is NaN here, as torchmetrics' zero_division="nan".
  const at::Tensor precision = tps / (tps + fps);
  const at::Tensor recall = tps / (tps + fns);
  out.precision.push_back(at::cat({precision, at::ones({1}, precision.options())}));
  out.recall.push_back(at::cat({recall, at::zeros({1}, recall.options())}));
  out.thresholds.push_back(thresholds);
}

at::Tensor area(const at::Tensor& y, const at::Tensor& x) { return at::trapz(y, x); }

// -sum((R[n] - R[n-1]) * P[n-1]) over a curve; NaN where the curve is undefined.
at::Tensor step_area(const at::Tensor& precision, const at::Tensor& recall) {
  const int64_t n = recall.size(0);
  return -((recall.narrow(0, 1, n - 1) - recall.narrow(0, 0, n - 1)) * precision.narrow(0, 0, n - 1)).sum();
}

at::Tensor without_nan(const at::Tensor& values) {
  return at::where(at::isnan(values), at::zeros_like(values), values);
}

std::string averages_for(const ClassificationOptions& options) {
  return options.task_ == "multilabel" ? "micro,macro,weighted,none" : "macro,weighted,none";
}

}  // namespace

ScoreCurveMetric::ScoreCurveMetric(const ClassificationOptions& options, const std::string& metric,
                                   const std::string& default_average, const std::string& averages)
    : ClassificationMetric(options, metric, default_average, averages) {
  if (spec_.top_k != 1) fail("argument 'top_k' does not apply to curve metrics");
  if (options.thresholds_) {
    const auto& list = *options.thresholds_;
    if (list.size() < 2) fail("argument 'thresholds' needs at least 2 values");
    for (double value : list) {
      if (!(value >= 0.0 && value <= 1.0))
        fail("argument 'thresholds' must lie in [0, 1], got " + std::to_string(value));
    }
    thresholds_ = torch::tensor(list, torch::kFloat);
    const int64_t t = thresholds_.size(0);
    const int64_t classes = spec_.task == Task::Binary ? 0 : spec_.classes;
    confmat_ = add_state(
        "confmat", classes ? at::zeros({t, classes, 2, 2}, at::kLong) : at::zeros({t, 2, 2}, at::kLong), Reduce::Sum);
  } else {
    preds_ = add_cat_state("preds");
    target_ = add_cat_state("target");
    logits_ = add_cat_state("logits");
  }
}

std::string ScoreCurveMetric::state_key() const {
  std::ostringstream key;
  key << "scores/" << spec_.key() << '/';
  if (binned()) {
    for (int64_t i = 0; i < thresholds_.size(0); ++i) key << thresholds_[i].item<float>() << ',';
  }
  return key.str();
}

void ScoreCurveMetric::update(const at::Tensor& preds, const at::Tensor& target) {
  if (!binned()) {
    // Off the CPU the scores are kept as given: whether a batch's scores are logits is kept
    // beside them (one flag per row) and applied in compute(); ignored samples are left out
    // there too. Both here would need an answer on the host. On the CPU the batch is normalized
    // at once, as torchmetrics does (the same sigmoid over the same batch, to the last bit).
    const bool now = preds.device().is_cpu();
    const ClassificationInputs in = to_scores(preds, target, /*normalize=*/now);
    append(preds_, in.preds.detach().to(at::kFloat));
    append(target_, in.target);
    const at::Tensor is_logits =
        now ? at::zeros({1}, in.target.options().dtype(at::kByte)) : in.is_logits.to(at::kByte).reshape({1});
    append(logits_, is_logits.expand({in.preds.size(0)}));
    return;
  }
  const ClassificationInputs in = to_scores(preds, target);
  const at::Tensor thresholds = thresholds_.to(in.preds.device());
  const int64_t t = thresholds.size(0);
  at::Tensor& confmat = state(confmat_);
  at::Tensor target_in = in.target;
  if (in.any_ignored) target_in = at::where(in.valid, target_in, at::zeros({}, target_in.options()));
  at::Tensor index;
  at::Tensor valid = in.any_ignored ? in.valid.unsqueeze(-1) : at::Tensor();
  const at::Tensor step = at::arange(t, target_in.options());
  if (spec_.task == Task::Binary) {
    const at::Tensor above = (in.preds.unsqueeze(-1) >= thresholds).to(at::kLong);
    index = above + 2 * target_in.unsqueeze(-1) + 4 * step;
  } else {
    const int64_t c = spec_.classes;
    const at::Tensor above = (in.preds.unsqueeze(-1) >= thresholds).to(at::kLong);                    // (M, C, T)
    const at::Tensor truth = spec_.task == Task::Multiclass ? at::one_hot(target_in, c) : target_in;  // (M, C)
    const at::Tensor column = at::arange(c, target_in.options()).view({1, c, 1});
    index = above + 2 * truth.unsqueeze(-1) + 4 * column + 4 * c * step;
    if (in.any_ignored && spec_.task == Task::Multiclass) valid = in.valid.view({-1, 1, 1});
    if (in.any_ignored && spec_.task == Task::Multilabel) valid = in.valid.unsqueeze(-1);
  }
  detail::add_histogram(confmat, index, valid);
}

at::Tensor ScoreCurveMetric::positives_per_class() const {
  if (binned()) return state(confmat_).select(0, 0).select(1, 1).sum(-1).to(at::kFloat);
  const at::Tensor target = cat_state(target_, at::zeros({0}, at::kLong));
  if (spec_.task == Task::Multilabel) return (target == 1).sum(0).to(at::kFloat);
  at::Tensor kept = target;
  if (spec_.ignore_index) kept = target.index({target != *spec_.ignore_index});
  return at::bincount(kept, {}, spec_.classes).to(at::kFloat);
}

at::Tensor ScoreCurveMetric::exact_scores() const {
  const int64_t width = spec_.task == Task::Binary ? 0 : spec_.classes;
  const at::Tensor scores = cat_state(preds_, width ? at::zeros({0, width}) : at::zeros({0}));
  at::Tensor is_logits = cat_state(logits_, at::zeros({0}, at::kByte)).to(at::kBool);
  if (width) is_logits = is_logits.unsqueeze(1);
  return normalized(scores, is_logits);
}

void ScoreCurveMetric::for_each_curve(const BinnedCurve& binned_curve, const ExactCurve& exact_curve) const {
  if (binned()) {
    const at::Tensor& confmat = state(confmat_);
    const at::Tensor thresholds = thresholds_.to(confmat.device());
    if (spec_.task == Task::Binary) {
      binned_curve(confmat, thresholds);
    } else {
      for (int64_t c = 0; c < spec_.classes; ++c) binned_curve(confmat.select(1, c), thresholds);
    }
    return;
  }
  const int64_t width = spec_.task == Task::Binary ? 0 : spec_.classes;
  at::Tensor preds = exact_scores();
  at::Tensor target = cat_state(target_, width ? at::zeros({0, width}, at::kLong) : at::zeros({0}, at::kLong));
  auto drop_ignored = [this](at::Tensor& p, at::Tensor& t) {
    if (!spec_.ignore_index) return;
    const at::Tensor kept = t != *spec_.ignore_index;
    p = p.index({kept});
    t = t.index({kept});
  };
  if (spec_.task == Task::Multilabel) {
    // Each label on its own, its ignored entries left out.
    for (int64_t c = 0; c < spec_.classes; ++c) {
      at::Tensor p = preds.select(1, c);
      at::Tensor t = target.select(1, c);
      drop_ignored(p, t);
      exact_curve(p, t == 1, (t == 0).all().item<bool>());
    }
    return;
  }
  drop_ignored(preds, target);
  // torchmetrics asks "every target 0?" of the targets as given, for every class alike.
  const bool all_zero = (target == 0).all().item<bool>();
  if (spec_.task == Task::Binary) {
    exact_curve(preds, target == 1, all_zero);
  } else {
    for (int64_t c = 0; c < spec_.classes; ++c) exact_curve(preds.select(1, c), target == c, all_zero);
  }
}

void ScoreCurveMetric::pooled_curve(const BinnedCurve& binned_curve, const ExactCurve& exact_curve) const {
  if (binned()) {
    const at::Tensor& confmat = state(confmat_);
    binned_curve(confmat.sum(1), thresholds_.to(confmat.device()));
    return;
  }
  at::Tensor preds = exact_scores().reshape(-1);
  at::Tensor target = cat_state(target_, at::zeros({0, spec_.classes}, at::kLong)).reshape(-1);
  if (spec_.ignore_index) {
    const at::Tensor kept = target != *spec_.ignore_index;
    preds = preds.index({kept});
    target = target.index({kept});
  }
  exact_curve(preds, target == 1, (target == 0).all().item<bool>());
}

RocCurves ScoreCurveMetric::roc_curves(bool pooled) const {
  RocCurves out;
  const BinnedCurve binned_curve = [&](const at::Tensor& state, const at::Tensor& t) { binned_roc(state, t, out); };
  const ExactCurve exact_curve = [&](const at::Tensor& p, const at::Tensor& positive, bool) {
    exact_roc(p, positive, out, metric_name());
  };
  pooled ? pooled_curve(binned_curve, exact_curve) : for_each_curve(binned_curve, exact_curve);
  return out;
}

PrecisionRecallCurves ScoreCurveMetric::pr_curves(bool pooled) const {
  PrecisionRecallCurves out;
  const BinnedCurve binned_curve = [&](const at::Tensor& state, const at::Tensor& t) { binned_pr(state, t, out); };
  const ExactCurve exact_curve = [&](const at::Tensor& p, const at::Tensor& positive, bool all_zero) {
    exact_pr(p, positive, all_zero, out, metric_name());
  };
  pooled ? pooled_curve(binned_curve, exact_curve) : for_each_curve(binned_curve, exact_curve);
  return out;
}

at::Tensor ScoreCurveMetric::reduce_per_class(const at::Tensor& scores) const {
  const std::string& average = spec_.average;
  if (average == "none") return scores;
  const at::Tensor counted = ~at::isnan(scores);
  const at::Tensor kept = at::where(counted, scores, at::zeros_like(scores));
  if (average == "macro") return kept.sum() / counted.sum();
  const at::Tensor weights = at::where(counted, positives_per_class().to(scores.device()), at::zeros_like(scores));
  return (kept * detail::safe_divide(weights, weights.sum())).sum();
}

// --- ROC and PrecisionRecallCurve -------------------------------------------------------------

ROC::ROC(const ClassificationOptions& options) : ScoreCurveMetric(options, "ROC", "macro", averages_for(options)) {}

RocCurves ROC::curve() {
  RocCurves curves;
  const auto states = states_for_compute();
  torch::NoGradGuard no_grad;
  with_states(states, [&] { curves = roc_curves(); });
  return curves;
}

at::Tensor ROC::compute_value() {
  fail("a ROC curve is not one tensor: call curve() for fpr, tpr and thresholds (AUROC gives the area)");
}

PrecisionRecallCurve::PrecisionRecallCurve(const ClassificationOptions& options)
    : ScoreCurveMetric(options, "PrecisionRecallCurve", "macro", averages_for(options)) {}

PrecisionRecallCurves PrecisionRecallCurve::curve() {
  PrecisionRecallCurves curves;
  const auto states = states_for_compute();
  torch::NoGradGuard no_grad;
  with_states(states, [&] { curves = pr_curves(); });
  return curves;
}

at::Tensor PrecisionRecallCurve::compute_value() {
  fail(
      "a precision-recall curve is not one tensor: call curve() for precision, recall and thresholds "
      "(AveragePrecision gives the area)");
}

// --- AUROC ------------------------------------------------------------------------------------

namespace {

// _binary_auroc_compute: the area, or McClish's standardized partial area up to max_fpr.
at::Tensor binary_auroc(at::Tensor fpr, at::Tensor tpr, const std::optional<double>& max_fpr) {
  if (!max_fpr || *max_fpr == 1.0 || fpr.sum().item<double>() == 0.0 || tpr.sum().item<double>() == 0.0) {
    return area(tpr, fpr);
  }
  const at::Tensor max_area = at::full({}, *max_fpr, fpr.options());
  const int64_t stop = at::bucketize(max_area, fpr, /*out_int32=*/true, /*right=*/true).item<int64_t>();
  const at::Tensor weight = (max_area - fpr[stop - 1]) / (fpr[stop] - fpr[stop - 1]);
  const at::Tensor interpolated = at::lerp(tpr[stop - 1], tpr[stop], weight);
  tpr = at::cat({tpr.narrow(0, 0, stop), interpolated.view({1})});
  fpr = at::cat({fpr.narrow(0, 0, stop), max_area.view({1})});
  const at::Tensor partial = area(tpr, fpr);
  const at::Tensor min_area = 0.5 * max_area * max_area;
  return 0.5 * (1 + (partial - min_area) / (max_area - min_area));
}

}  // namespace

AUROC::AUROC(const ClassificationOptions& options)
    : ScoreCurveMetric(options, "AUROC", "macro", averages_for(options)), max_fpr_(options.max_fpr_) {
  if (max_fpr_ && !(*max_fpr_ > 0.0 && *max_fpr_ <= 1.0)) {
    fail("argument 'max_fpr' must be in (0, 1], got " + std::to_string(*max_fpr_));
  }
  if (max_fpr_ && spec_.task != Task::Binary) fail("argument 'max_fpr' applies to task 'binary' only");
}

at::Tensor AUROC::compute_value() {
  if (spec_.task == Task::Binary) {
    const RocCurves c = roc_curves();
    return binary_auroc(c.fpr[0], c.tpr[0], max_fpr_);
  }
  if (spec_.average == "micro") {
    const RocCurves c = roc_curves(/*pooled=*/true);
    return area(c.tpr[0], c.fpr[0]);
  }
  const RocCurves c = roc_curves();
  std::vector<at::Tensor> areas;
  for (std::size_t i = 0; i < c.fpr.size(); ++i) areas.push_back(area(c.tpr[i], c.fpr[i]));
  return reduce_per_class(at::stack(areas));
}

// --- AveragePrecision ---------------------------------------------------------------------------

AveragePrecision::AveragePrecision(const ClassificationOptions& options)
    : ScoreCurveMetric(options, "AveragePrecision", "macro", averages_for(options)) {}

at::Tensor AveragePrecision::compute_value() {
  if (spec_.task == Task::Binary || spec_.average == "micro") {
    const PrecisionRecallCurves c = pr_curves(/*pooled=*/spec_.task != Task::Binary);
    return step_area(without_nan(c.precision[0]), without_nan(c.recall[0]));
  }
  const PrecisionRecallCurves c = pr_curves();
  std::vector<at::Tensor> areas;
  for (std::size_t i = 0; i < c.precision.size(); ++i) {
    // Binned curves have NaN (0/0) replaced first, exact ones keep it: a class without positives
    // then drops out of the average, as in torchmetrics.
    areas.push_back(binned() ? step_area(without_nan(c.precision[i]), without_nan(c.recall[i]))
                             : step_area(c.precision[i], c.recall[i]));
  }
  return reduce_per_class(at::stack(areas));
}

}  // namespace fulgur::metrics
