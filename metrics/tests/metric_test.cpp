// The Metric base on real tensors: accumulate, forward, reset, merge, persistence, device moves,
// and a clear error for each kind of bad input. (Values against torchmetrics: metrics_parity.)
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fulgur/metrics.h"
#include "fulgur/state_dict.h"
#include "testing.h"

namespace fulgur::metrics {
namespace {

using fulgur::testing::error_of;

ClassificationOptions multiclass(int64_t classes) {
  return ClassificationOptions().task("multiclass").num_classes(classes);
}

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Metric, AccumulatesOverUpdatesAndForwardReturnsTheBatchAlone) {
  Accuracy accuracy(multiclass(3));
  // Batch 1: 2 of 4 right; batch 2: 3 of 3 right.
  const auto first = accuracy.forward(torch::tensor({0, 1, 2, 0}), torch::tensor({0, 1, 1, 1}));
  EXPECT_NEAR(first.item<double>(), 0.5, 1e-7);
  const auto second = accuracy(torch::tensor({2, 2, 1}), torch::tensor({2, 2, 1}));
  EXPECT_NEAR(second.item<double>(), 1.0, 1e-7);
  EXPECT_NEAR(accuracy.batch_value().item<double>(), 1.0, 1e-7);
  EXPECT_NEAR(accuracy.compute().item<double>(), 5.0 / 7.0, 1e-7);
  EXPECT_EQ(accuracy.update_count(), 2);
  accuracy.reset();
  EXPECT_EQ(accuracy.update_count(), 0);
  EXPECT_FALSE(accuracy.batch_value().defined());
  accuracy.update(torch::tensor({1}), torch::tensor({0}));
  EXPECT_NEAR(accuracy.compute().item<double>(), 0.0, 1e-7);
}

TEST(Metric, ComputeIsCachedUntilTheNextUpdate) {
  MeanMetric mean;
  mean.update(torch::tensor({1.0, 3.0}));
  const auto first = mean.compute();
  EXPECT_TRUE(mean.compute().is_same(first));
  mean.update(5.0);
  EXPECT_NEAR(mean.compute().item<double>(), 3.0, 1e-7);
}

TEST(Metric, MergeStateAddsAnotherMetricsSamples) {
  AUROC left(ClassificationOptions().task("binary"));
  AUROC right(ClassificationOptions().task("binary"));
  AUROC all(ClassificationOptions().task("binary"));
  torch::manual_seed(3);
  const auto scores = torch::rand({40});
  const auto labels = torch::randint(0, 2, {40});
  left.update(scores.slice(0, 0, 25), labels.slice(0, 0, 25));
  right.update(scores.slice(0, 25), labels.slice(0, 25));
  all.update(scores, labels);
  left.merge_state(right);
  EXPECT_NEAR(left.compute().item<double>(), all.compute().item<double>(), 1e-7);
  EXPECT_EQ(left.update_count(), 2);
  // A metric with other arguments does not merge.
  AUROC other(ClassificationOptions().task("binary").thresholds(int64_t{10}));
  EXPECT_TRUE(contains(error_of([&] { left.merge_state(other); }), "different arguments"));
}

TEST(Metric, PersistentStatesAreInTheStateDictAndLoadBack) {
  struct Net : torch::nn::Module {
    Net() {
      accuracy = register_module("val_acc", std::make_shared<Accuracy>(multiclass(3)));
      accuracy->persistent();
    }
    std::shared_ptr<Accuracy> accuracy;
  };
  Net net;
  net.accuracy->update(torch::tensor({0, 1, 2, 2}), torch::tensor({0, 1, 1, 2}));
  const StateDict weights = state_dict(net);
  ASSERT_TRUE(weights.contains("val_acc.confmat"));
  Net restored;
  load_state_dict(restored, weights);
  // The loaded counts are the metric's states: compute sees them (an update marks them in use).
  restored.accuracy->update(torch::zeros({0}, torch::kLong), torch::zeros({0}, torch::kLong));
  EXPECT_NEAR(restored.accuracy->compute().item<double>(), 0.75, 1e-7);
  // Updates, resets and moves keep changing the registered tensor itself.
  net.accuracy->reset();
  EXPECT_EQ(state_dict(net).at("val_acc.confmat").toTensor().sum().item<int64_t>(), 0);
  // States that keep every sample have no fixed size for a state_dict.
  AUROC auroc(ClassificationOptions().task("binary"));
  EXPECT_TRUE(contains(error_of([&] { auroc.persistent(); }), "thresholds=N"));
}

TEST(Metric, NotPersistentByDefaultAsInTorchmetrics) {
  struct Net : torch::nn::Module {
    Net() { register_module("acc", std::make_shared<Accuracy>(multiclass(3))); }
  };
  EXPECT_EQ(state_dict(Net()).size(), 0u);
}

TEST(Metric, StatesMoveWithTheModuleAndDtypeChangesLeaveThemAlone) {
  Precision precision(multiclass(4));
  precision.to(torch::kDouble);
  precision.update(torch::tensor({0, 1, 2, 3}), torch::tensor({0, 1, 2, 0}));
  EXPECT_EQ(precision.metric_state().front().second.scalar_type(), torch::kLong);
  precision.to(torch::Device(torch::kCPU));
  EXPECT_NEAR(precision.compute().item<double>(), 0.75, 1e-7);
}

TEST(Metric, UpdateDoesNotReadValuesOnTheHost) {
  // A meta tensor has a shape and no values: reading one on the host (item(), a data-dependent
  // branch, boolean indexing) throws. These updates go through, so they never wait for the
  // device. (The value checks, off here because LibTorch 1.13 has no meta isnan, are counts kept
  // on the device until compute(): check_values.)
#if TORCH_VERSION_MAJOR < 2
  GTEST_SKIP() << "LibTorch 1.13 runs too few operators on meta tensors (torch.where); the 2.x build checks this";
#endif
  const auto meta = torch::TensorOptions().device(torch::kMeta);
  Accuracy accuracy(multiclass(100).validate_args(false));
  F1Score f1(multiclass(100).average(std::string("macro")).validate_args(false));
  AUROC auroc(multiclass(100).validate_args(false));
  const auto logits = torch::empty({4096, 100}, meta.dtype(torch::kFloat));
  const auto labels = torch::empty({4096}, meta.dtype(torch::kLong));
  for (PredsTargetMetric* metric : std::initializer_list<PredsTargetMetric*>{&accuracy, &f1, &auroc}) {
    EXPECT_NO_THROW(metric->update(logits, labels)) << metric->metric_name();
  }
}

// --- bad input: each a clear error naming the metric and the argument ---------------------------

TEST(MetricErrors, ComputeBeforeAnyUpdate) {
  F1Score f1(multiclass(4));
  const auto error = error_of([&] { f1.compute(); });
  EXPECT_TRUE(contains(error, "MulticlassF1Score")) << error;
  EXPECT_TRUE(contains(error, "before any update")) << error;
}

TEST(MetricErrors, MulticlassWithoutNumClasses) {
  const auto error = error_of([] { Accuracy(ClassificationOptions().task("multiclass")); });
  EXPECT_TRUE(contains(error, "MulticlassAccuracy")) << error;
  EXPECT_TRUE(contains(error, "'num_classes'")) << error;
  EXPECT_TRUE(contains(error_of([] { Recall(ClassificationOptions().task("multilabel")); }), "'num_labels'"));
  EXPECT_TRUE(contains(error_of([] { Recall(ClassificationOptions().task("ternary")); }), "'task'"));
  EXPECT_TRUE(contains(error_of([] { Recall(multiclass(3).average(std::string("mean"))); }), "'average'"));
  EXPECT_TRUE(contains(error_of([] { Recall(multiclass(3).top_k(4)); }), "'top_k'"));
}

TEST(MetricErrors, MismatchedShapes) {
  Accuracy accuracy(multiclass(3));
  auto error = error_of([&] { accuracy.update(torch::rand({8, 4}), torch::zeros({8}, torch::kLong)); });
  EXPECT_TRUE(contains(error, "num_classes (3)")) << error;
  error = error_of([&] { accuracy.update(torch::zeros({8}, torch::kLong), torch::zeros({7}, torch::kLong)); });
  EXPECT_TRUE(contains(error, "same shape")) << error;
  MeanSquaredError mse;
  error = error_of([&] { mse.update(torch::rand({4}), torch::rand({5})); });
  EXPECT_TRUE(contains(error, "MeanSquaredError: preds and target must have the same shape")) << error;
  // Nothing was counted.
  EXPECT_EQ(accuracy.update_count(), 0);
}

TEST(MetricErrors, LabelsOutOfRange) {
  Accuracy accuracy(multiclass(3));
  auto error = error_of([&] { accuracy.update(torch::rand({4, 3}), torch::tensor({0, 1, 3, 2})); });
  EXPECT_TRUE(contains(error, "target holds values other than class indices in [0, 3)")) << error;
  EXPECT_TRUE(contains(error, "'target'")) << error;
  error = error_of([&] { accuracy.update(torch::tensor({0, 5}), torch::tensor({0, 1})); });
  EXPECT_TRUE(contains(error, "preds hold labels other than")) << error;
  // ignore_index values are allowed in the target.
  Accuracy ignoring(multiclass(3).ignore_index(int64_t{-100}));
  EXPECT_NO_THROW(ignoring.update(torch::rand({3, 3}), torch::tensor({0, -100, 2})));
  Precision binary(ClassificationOptions().task("binary"));
  error = error_of([&] { binary.update(torch::rand({3}), torch::tensor({0, 2, 1})); });
  EXPECT_TRUE(contains(error, "BinaryPrecision: target holds values other than 0 or 1")) << error;
  error = error_of([&] { binary.update(torch::rand({3}), torch::rand({3})); });
  EXPECT_TRUE(contains(error, "target must hold integer labels")) << error;
}

TEST(MetricErrors, NanInPreds) {
  AUROC auroc(ClassificationOptions().task("binary"));
  auto error = error_of([&] { auroc.update(torch::tensor({0.1, kNan, 0.3}), torch::tensor({0, 1, 1})); });
  EXPECT_TRUE(contains(error, "BinaryAUROC: preds hold NaN (argument 'preds')")) << error;
  // A rejected update leaves the metric as it was.
  Accuracy accuracy(multiclass(3));
  error = error_of([&] { accuracy.update(torch::tensor({{0.2, kNan, 0.1}}), torch::tensor({0})); });
  EXPECT_TRUE(contains(error, "MulticlassAccuracy: preds hold NaN")) << error;
  EXPECT_EQ(accuracy.update_count(), 0);
  EXPECT_EQ(accuracy.metric_state().front().second.sum().item<int64_t>(), 0);
  PearsonCorrCoef pearson;
  error = error_of([&] { pearson.update(torch::tensor({1.0, kNan}), torch::tensor({1.0, 2.0})); });
  EXPECT_TRUE(contains(error, "PearsonCorrCoef: preds hold NaN")) << error;
  MeanMetric strict(AggregationOptions().nan_strategy("error"));
  error = error_of([&] { strict.update(torch::tensor({1.0, kNan})); });
  EXPECT_TRUE(contains(error, "nan_strategy='error'")) << error;
  // validate_args off: no value checks (torchmetrics' validate_args=False).
  Accuracy unchecked(multiclass(3).validate_args(false));
  EXPECT_NO_THROW(unchecked.update(torch::tensor({{0.2, kNan, 0.1}}), torch::tensor({0})));
}

TEST(MetricErrors, UnknownMetricOrArgument) {
  auto error = error_of([] { make_metric("MulticlassAccuracyy", {{"num_classes", 3}}); });
  EXPECT_TRUE(contains(error, "unknown metric 'MulticlassAccuracyy'")) << error;
  error = error_of([] { make_metric("MulticlassAccuracy", {{"num_classes", 3}, {"averag", "macro"}}); });
  EXPECT_TRUE(contains(error, "MulticlassAccuracy: unknown argument 'averag'")) << error;
  error = error_of([] { make_metric("MulticlassAccuracy", {{"num_classes", "three"}}); });
  EXPECT_TRUE(contains(error, "argument 'num_classes'")) << error;
  error = error_of([] { make_metric("Accuracy", {{"num_classes", 3}}); });
  EXPECT_TRUE(contains(error, "Accuracy: argument 'task' is required")) << error;
  // Task classes take torchmetrics' class defaults: macro.
  auto macro = make_metric("MulticlassAccuracy", {{"num_classes", 3}});
  dynamic_cast<PredsTargetMetric&>(*macro).update(torch::tensor({0, 0, 0, 1}), torch::tensor({0, 0, 0, 2}));
  EXPECT_NEAR(macro->compute().item<double>(), 1.0 / 3.0, 1e-7);  // per class: 1, 0 (absent class 1 kept), 0
}

TEST(MetricErrors, CurvesAreNotOneTensor) {
  ROC roc(ClassificationOptions().task("binary"));
  roc.update(torch::tensor({0.2, 0.8}), torch::tensor({0, 1}));
  EXPECT_TRUE(contains(error_of([&] { roc.compute(); }), "call curve()"));
  const auto curve = roc.curve();
  ASSERT_EQ(curve.fpr.size(), 1u);
  EXPECT_EQ(curve.tpr[0][-1].item<double>(), 1.0);
}

TEST(MetricErrors, R2NeedsTwoSamplesAndMatchingOutputs) {
  R2Score r2;
  r2.update(torch::tensor({1.0}), torch::tensor({1.5}));
  EXPECT_TRUE(contains(error_of([&] { r2.compute(); }), "at least two samples"));
  EXPECT_TRUE(contains(error_of([&] { r2.update(torch::rand({4, 3}), torch::rand({4, 3})); }), "num_outputs"));
}

}  // namespace
}  // namespace fulgur::metrics
