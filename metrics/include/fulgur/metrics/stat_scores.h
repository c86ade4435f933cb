// The metrics computed from true/false positives and negatives, torchmetrics' StatScores family:
// StatScores, Accuracy, Precision, Recall, FBetaScore, F1Score, Specificity and ConfusionMatrix.
//
// All of them keep one state, the confusion matrix of the samples seen: (2, 2) for binary,
// (C, C) for multiclass (rows: target, columns: prediction), (L, 2, 2) for multilabel. An update
// adds one histogram to it; everything else happens in compute(). Metrics with the same task
// arguments share it in a MetricCollection.
#pragma once

#include "fulgur/metrics/classification_metric.h"

namespace fulgur::metrics {

/// The confusion-matrix state and its update, shared by the metrics below.
class BOOST_SYMBOL_VISIBLE ConfusionCounts : public ClassificationMetric {
 public:
  void update(const at::Tensor& preds, const at::Tensor& target) override;
  std::string state_key() const override { return "confusion/" + spec_.key(); }

 protected:
  ConfusionCounts(const ClassificationOptions& options, const std::string& metric, const std::string& default_average,
                  const std::string& averages);

  struct Counts {
    at::Tensor tp, fp, tn, fn;  // scalars (binary) or one per class / label
  };
  Counts counts() const;
  /// torchmetrics' _adjust_weights_safe_divide: macro and weighted averages of per-class
  /// scores, or the scores themselves for "none".
  at::Tensor average(const at::Tensor& scores, const Counts& counts, bool top_k_weights = false) const;
  at::Tensor confusion() const { return state(confmat_); }

  double zero_division_;

 private:
  std::size_t confmat_;
};

/// [tp, fp, tn, fn, support] (per class for average "none").
class BOOST_SYMBOL_VISIBLE StatScores : public ConfusionCounts {
 public:
  FULGUR_METRIC_COPY(StatScores)
  explicit StatScores(const ClassificationOptions& options);

 protected:
  at::Tensor compute_value() override;
};

class BOOST_SYMBOL_VISIBLE Accuracy : public ConfusionCounts {
 public:
  FULGUR_METRIC_COPY(Accuracy)
  explicit Accuracy(const ClassificationOptions& options);

 protected:
  at::Tensor compute_value() override;
};

class BOOST_SYMBOL_VISIBLE Precision : public ConfusionCounts {
 public:
  FULGUR_METRIC_COPY(Precision)
  explicit Precision(const ClassificationOptions& options);

 protected:
  at::Tensor compute_value() override;
};

class BOOST_SYMBOL_VISIBLE Recall : public ConfusionCounts {
 public:
  FULGUR_METRIC_COPY(Recall)
  explicit Recall(const ClassificationOptions& options);

 protected:
  at::Tensor compute_value() override;
};

/// (1 + beta²) · precision · recall / (beta² · precision + recall).
class BOOST_SYMBOL_VISIBLE FBetaScore : public ConfusionCounts {
 public:
  FULGUR_METRIC_COPY(FBetaScore)
  FBetaScore(double beta, const ClassificationOptions& options);

 protected:
  FBetaScore(double beta, const ClassificationOptions& options, const std::string& metric);
  at::Tensor compute_value() override;

 private:
  double beta_;
};

class BOOST_SYMBOL_VISIBLE F1Score : public FBetaScore {
 public:
  FULGUR_METRIC_COPY(F1Score)
  explicit F1Score(const ClassificationOptions& options);
};

/// tn / (tn + fp).
class BOOST_SYMBOL_VISIBLE Specificity : public ConfusionCounts {
 public:
  FULGUR_METRIC_COPY(Specificity)
  explicit Specificity(const ClassificationOptions& options);

 protected:
  at::Tensor compute_value() override;
};

/// The confusion matrix itself, normalized as options.normalize says.
class BOOST_SYMBOL_VISIBLE ConfusionMatrix : public ConfusionCounts {
 public:
  FULGUR_METRIC_COPY(ConfusionMatrix)
  explicit ConfusionMatrix(const ClassificationOptions& options);

 protected:
  at::Tensor compute_value() override;

 private:
  std::string normalize_;
};

}  // namespace fulgur::metrics
