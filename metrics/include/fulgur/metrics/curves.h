// The metrics of ranked scores, torchmetrics' curve family: ROC, PrecisionRecallCurve, AUROC and
// AveragePrecision, for binary, multiclass (one class against the rest) and multilabel tasks.
//
// Without thresholds they keep every sample's scores and compute the exact curves (every
// distinct score a threshold), as torchmetrics' thresholds=None; with thresholds(n) or a list
// they keep a fixed-size histogram (thresholds x classes x 2 x 2) instead.
#pragma once

#include <functional>
#include <vector>

#include "fulgur/metrics/classification_metric.h"

namespace fulgur::metrics {

/// One curve per class (per label; a single one for binary and micro averages).
struct RocCurves {
  std::vector<at::Tensor> fpr, tpr, thresholds;
};
struct PrecisionRecallCurves {
  std::vector<at::Tensor> precision, recall, thresholds;
};

/// The states and update shared by the curve metrics.
class BOOST_SYMBOL_VISIBLE ScoreCurveMetric : public ClassificationMetric {
 public:
  void update(const at::Tensor& preds, const at::Tensor& target) override;
  std::string state_key() const override;

 protected:
  ScoreCurveMetric(const ClassificationOptions& options, const std::string& metric, const std::string& default_average,
                   const std::string& averages);

  /// From the current states: one curve per class (or the one binary curve); `pooled`: the
  /// curve of all labels' scores together (multilabel's micro average).
  RocCurves roc_curves(bool pooled = false) const;
  PrecisionRecallCurves pr_curves(bool pooled = false) const;
  /// Positives per class, the weights of the "weighted" average.
  at::Tensor positives_per_class() const;
  /// torchmetrics' _reduce_auroc / _reduce_average_precision: classes whose score is NaN are
  /// left out of the macro and weighted averages.
  at::Tensor reduce_per_class(const at::Tensor& scores) const;

  bool binned() const { return thresholds_.defined(); }

  at::Tensor thresholds_;  // float (T), or undefined

 private:
  // A curve from a (T, 2, 2) histogram and its thresholds; or from scores, which samples are
  // positive, and whether every target is 0.
  using BinnedCurve = std::function<void(const at::Tensor& state, const at::Tensor& thresholds)>;
  using ExactCurve = std::function<void(const at::Tensor& preds, const at::Tensor& positive, bool all_zero)>;
  void for_each_curve(const BinnedCurve& binned_curve, const ExactCurve& exact_curve) const;
  void pooled_curve(const BinnedCurve& binned_curve, const ExactCurve& exact_curve) const;
  /// Every kept score, as a probability.
  at::Tensor exact_scores() const;

  std::size_t preds_ = 0, target_ = 0, logits_ = 0, confmat_ = 0;
};

class BOOST_SYMBOL_VISIBLE ROC : public ScoreCurveMetric {
 public:
  FULGUR_METRIC_COPY(ROC)
  explicit ROC(const ClassificationOptions& options);
  /// The curves over every update since the last reset, combined across processes.
  RocCurves curve();

 protected:
  /// A curve has no single tensor value: curve() returns it.
  at::Tensor compute_value() override;
};

class BOOST_SYMBOL_VISIBLE PrecisionRecallCurve : public ScoreCurveMetric {
 public:
  FULGUR_METRIC_COPY(PrecisionRecallCurve)
  explicit PrecisionRecallCurve(const ClassificationOptions& options);
  PrecisionRecallCurves curve();

 protected:
  at::Tensor compute_value() override;
};

/// Area under the ROC curve (max_fpr: McClish's standardized partial area, binary).
class BOOST_SYMBOL_VISIBLE AUROC : public ScoreCurveMetric {
 public:
  FULGUR_METRIC_COPY(AUROC)
  explicit AUROC(const ClassificationOptions& options);

 protected:
  at::Tensor compute_value() override;

 private:
  std::optional<double> max_fpr_;
};

/// Area under the precision-recall curve as a step function: sum((R[n] - R[n-1]) P[n]).
class BOOST_SYMBOL_VISIBLE AveragePrecision : public ScoreCurveMetric {
 public:
  FULGUR_METRIC_COPY(AveragePrecision)
  explicit AveragePrecision(const ClassificationOptions& options);

 protected:
  at::Tensor compute_value() override;
};

}  // namespace fulgur::metrics
