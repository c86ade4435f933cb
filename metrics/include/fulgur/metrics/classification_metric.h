// The base of the classification metrics: the task's arguments, checked once, and the inputs of
// each update checked and brought into one form, as torchmetrics' *_format functions do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fulgur/metrics/classification_options.h"
#include "fulgur/metrics/metric.h"

namespace fulgur::metrics {

enum class Task { Binary, Multiclass, Multilabel };

/// A classification metric's arguments, checked.
struct TaskSpec {
  Task task = Task::Binary;
  /// num_classes (multiclass), num_labels (multilabel), 1 (binary).
  int64_t classes = 1;
  double threshold = 0.5;
  int64_t top_k = 1;
  std::optional<int64_t> ignore_index;
  /// "binary" for the binary task; otherwise micro, macro, weighted or none.
  std::string average;

  /// torchmetrics' class name: "MulticlassAccuracy" for ("multiclass", "Accuracy").
  static std::string class_name(const ClassificationOptions& options, const std::string& metric);
  /// Checks `options` (naming `metric` in errors); `default_average` when the options set none,
  /// `averages` the ones this metric accepts (comma-separated).
  static TaskSpec from(const ClassificationOptions& options, const std::string& metric,
                       const std::string& default_average, const std::string& averages);
  /// The part of the arguments that decides the states (for compute groups).
  std::string key() const;
};

/// One update's inputs, flattened to samples, with the samples that take part marked.
struct ClassificationInputs {
  at::Tensor preds;          // labels (long) or scores (float): (M) or (M, L) / (M, C)
  at::Tensor target;         // long: (M) or (M, L)
  at::Tensor valid;          // bool, the shape of target: false where target == ignore_index
  bool any_ignored = false;  // whether ignore_index is set
  at::Tensor is_logits;      // to_scores: 0-d bool, whether the scores were logits
};

class BOOST_SYMBOL_VISIBLE ClassificationMetric : public PredsTargetMetric {
 public:
  const TaskSpec& spec() const { return spec_; }

 protected:
  ClassificationMetric(const ClassificationOptions& options, const std::string& metric,
                       const std::string& default_average, const std::string& averages);

  /// Checks shapes and values (labels in range, no NaN) and returns predicted labels: binary
  /// and multilabel as 0/1 (thresholded scores), multiclass as class indices (argmax, or the
  /// target when it is among the top_k scores, as torchmetrics refines top_k).
  ClassificationInputs to_labels(const at::Tensor& preds, const at::Tensor& target);
  /// Checks as to_labels and returns probabilities: binary (M), multiclass (M, C) softmaxed when
  /// given as logits, multilabel (M, L) passed through a sigmoid when given as logits.
  /// `normalize` false: the scores as given, and is_logits says whether they are logits.
  ClassificationInputs to_scores(const at::Tensor& preds, const at::Tensor& target, bool normalize = true);
  /// Scores turned into probabilities where `is_logits` (0-d, or one flag per row) says so:
  /// softmax for multiclass, sigmoid otherwise.
  at::Tensor normalized(const at::Tensor& scores, const at::Tensor& is_logits) const;

  TaskSpec spec_;

 private:
  void check(const at::Tensor& preds, const at::Tensor& target, bool need_scores);
  /// Whether scores are logits (some outside [0, 1]; only `counted` ones, if given), as a 0-d
  /// device tensor; checks for NaN on the way.
  at::Tensor logits_flag(const at::Tensor& scores, const at::Tensor& counted);
  at::Tensor probabilities(const at::Tensor& scores, const at::Tensor& counted);
};

}  // namespace fulgur::metrics
