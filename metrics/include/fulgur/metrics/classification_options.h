// The arguments of the classification metrics, with torchmetrics' names and defaults:
//
//   metrics::ClassificationOptions().task("multiclass").num_classes(10).average("macro")
//
// task: "binary" (preds: one score or label per element), "multiclass" (preds: scores (N, C, ...)
// or labels (N, ...); target: labels (N, ...)) or "multilabel" (preds and target (N, L, ...)).
// Scores may be logits or probabilities, as torchmetrics takes them: scores outside [0, 1] are
// passed through a sigmoid (binary, multilabel) or a softmax (multiclass) first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fulgur/arg.h"

namespace fulgur::metrics {

struct ClassificationOptions {
  /// "binary", "multiclass" or "multilabel".
  FULGUR_ARG(ClassificationOptions, std::string, task, "binary");
  /// Required for multiclass.
  FULGUR_ARG(ClassificationOptions, std::optional<int64_t>, num_classes, std::nullopt);
  /// Required for multilabel.
  FULGUR_ARG(ClassificationOptions, std::optional<int64_t>, num_labels, std::nullopt);
  /// Scores above it count as positive (binary, multilabel).
  FULGUR_ARG(ClassificationOptions, double, threshold, 0.5);
  /// "micro", "macro", "weighted" or "none" (one value per class); unset: the metric's default
  /// (torchmetrics' task wrappers: "micro" for accuracy, precision, recall, F-scores,
  /// specificity and stat scores, "macro" for AUROC and average precision). Binary ignores it.
  FULGUR_ARG(ClassificationOptions, std::optional<std::string>, average, std::nullopt);
  /// Multiclass: a sample counts as right when its target is among its top_k scores.
  FULGUR_ARG(ClassificationOptions, int64_t, top_k, 1);
  /// Targets equal to it take no part in the metric.
  FULGUR_ARG(ClassificationOptions, std::optional<int64_t>, ignore_index, std::nullopt);
  /// The value of a ratio whose denominator is 0 (precision, recall, F-scores).
  FULGUR_ARG(ClassificationOptions, double, zero_division, 0.0);
  /// Only "global" (statistics over all samples and extra dimensions).
  FULGUR_ARG(ClassificationOptions, std::string, multidim_average, "global");
  /// Check values (labels in range, no NaN) as well as shapes.
  FULGUR_ARG(ClassificationOptions, bool, validate_args, true);

  // --- curves (ROC, PrecisionRecallCurve, AUROC, AveragePrecision) -----------------------------
  /// Unset: every distinct score is a threshold (every sample is kept). Set: the curve at these
  /// thresholds only, from a fixed-size state.
  FULGUR_ARG(ClassificationOptions, std::optional<std::vector<double>>, thresholds, std::nullopt);
  /// `n` thresholds evenly spaced over [0, 1] (torchmetrics' thresholds=n).
  ClassificationOptions& thresholds(int64_t n);
  /// AUROC (binary): the standardized partial area up to this false-positive rate.
  FULGUR_ARG(ClassificationOptions, std::optional<double>, max_fpr, std::nullopt);

  // --- ConfusionMatrix ------------------------------------------------------------------------
  /// "true" (rows sum to 1), "pred" (columns), "all", or unset / "none".
  FULGUR_ARG(ClassificationOptions, std::optional<std::string>, normalize, std::nullopt);

  // --- CalibrationError -----------------------------------------------------------------------
  FULGUR_ARG(ClassificationOptions, int64_t, n_bins, 15);
  /// "l1" (expected calibration error), "l2" (RMS) or "max".
  FULGUR_ARG(ClassificationOptions, std::string, norm, "l1");
};

}  // namespace fulgur::metrics
