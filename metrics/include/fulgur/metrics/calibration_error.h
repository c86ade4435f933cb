// CalibrationError: how far confidence is from accuracy, over n_bins equal-width bins of
// confidence (torchmetrics' CalibrationError; norm "l1" is the expected calibration error).
// Binary: the score is the confidence and the target the outcome; multiclass: the top
// probability is the confidence and whether its class is the target the outcome.
#pragma once

#include "fulgur/metrics/classification_metric.h"

namespace fulgur::metrics {

class BOOST_SYMBOL_VISIBLE CalibrationError : public ClassificationMetric {
 public:
  FULGUR_METRIC_COPY(CalibrationError)
  explicit CalibrationError(const ClassificationOptions& options);
  void update(const at::Tensor& preds, const at::Tensor& target) override;

 protected:
  at::Tensor compute_value() override;

 private:
  int64_t n_bins_;
  std::string norm_;
  std::size_t confidences_, accuracies_, kept_;
};

}  // namespace fulgur::metrics
