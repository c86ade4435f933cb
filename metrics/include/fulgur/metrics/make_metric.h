// A metric by torchmetrics' class name and keyword arguments, for metrics chosen in
// configuration rather than in code:
//
//   auto acc = metrics::make_metric("MulticlassAccuracy", {{"num_classes", 10}});   // macro, as torchmetrics
//   auto auc = metrics::make_metric("AUROC", {{"task", "binary"}, {"max_fpr", 0.5}});
//
// Task-specific names (BinaryF1Score, MulticlassAUROC, MultilabelAccuracy, ...) take their class's
// defaults, task wrappers (Accuracy with "task") theirs; a null value is Python's None. An
// unknown name or argument, or a value of the wrong kind, is an error naming it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fulgur/hparams.h"
#include "fulgur/metrics/metric.h"

namespace fulgur::metrics {

std::shared_ptr<Metric> make_metric(const std::string& name, const HParams& args = {});

/// Every name make_metric knows.
std::vector<std::string> metric_names();

}  // namespace fulgur::metrics
