#include "fulgur/metrics/calibration_error.h"

#include <torch/torch.h>

namespace fulgur::metrics {

CalibrationError::CalibrationError(const ClassificationOptions& options)
    : ClassificationMetric(options, "CalibrationError", "macro", "macro,micro,weighted,none"),
      n_bins_(options.n_bins_),
      norm_(options.norm_) {
  if (spec_.task == Task::Multilabel)
    fail("task 'multilabel' is not defined for calibration error (binary or multiclass)");
  if (n_bins_ < 1) fail("argument 'n_bins' must be a positive integer, got " + std::to_string(n_bins_));
  if (norm_ != "l1" && norm_ != "l2" && norm_ != "max")
    fail("argument 'norm' must be 'l1', 'l2' or 'max', got '" + norm_ + "'");
  confidences_ = add_cat_state("confidences");
  accuracies_ = add_cat_state("accuracies");
  kept_ = add_cat_state("kept");
}

void CalibrationError::update(const at::Tensor& preds, const at::Tensor& target) {
  const ClassificationInputs in = to_scores(preds, target);
  at::Tensor confidences;
  at::Tensor accuracies;
  if (spec_.task == Task::Binary) {
    confidences = in.preds;
    accuracies = in.target.to(at::kFloat);
  } else {
    auto [top, predicted] = in.preds.max(1);
    confidences = top.to(at::kFloat);
    accuracies = predicted.eq(in.target).to(at::kFloat);
  }
  append(confidences_, confidences.detach());
  append(accuracies_, accuracies);
  // Ignored samples stay until compute(), which leaves them out (no host sync here).
  append(kept_, in.any_ignored ? in.valid : at::ones_like(in.target, at::kBool));
}

at::Tensor CalibrationError::compute_value() {
  const at::Tensor kept = cat_state(kept_, at::zeros({0}, at::kBool));
  const at::Tensor confidences = cat_state(confidences_, at::zeros({0})).index({kept});
  const at::Tensor accuracies = cat_state(accuracies_, at::zeros({0})).index({kept}).to(confidences.scalar_type());
  // torchmetrics' _binning_bucketize: n_bins + 1 boundaries, each sample in the bin whose lower
  // boundary it reaches.
  const at::Tensor boundaries = at::linspace(0, 1, n_bins_ + 1, confidences.options());
  const int64_t bins = boundaries.size(0);
  const at::Tensor index = at::bucketize(confidences, boundaries, /*out_int32=*/false, /*right=*/true) - 1;
  at::Tensor count = at::zeros({bins}, confidences.options()).scatter_add_(0, index, at::ones_like(confidences));
  at::Tensor confidence = at::zeros({bins}, confidences.options()).scatter_add_(0, index, confidences);
  at::Tensor accuracy = at::zeros({bins}, confidences.options()).scatter_add_(0, index, accuracies);
  confidence = at::nan_to_num(confidence / count);
  accuracy = at::nan_to_num(accuracy / count);
  const at::Tensor share = count / count.sum();
  const at::Tensor gap = (accuracy - confidence).abs();
  if (norm_ == "l1") return (gap * share).sum();
  if (norm_ == "max") return gap.max();
  const at::Tensor squared = ((accuracy - confidence).pow(2) * share).sum();
  return squared.item<double>() > 0 ? squared.sqrt() : at::zeros({}, squared.options());
}

}  // namespace fulgur::metrics
