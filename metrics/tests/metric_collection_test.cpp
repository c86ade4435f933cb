// MetricCollection: metrics of the same states share them (one update per group), and give the
// values each would give alone.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fulgur/metrics.h"
#include "testing.h"

namespace fulgur::metrics {
namespace {

using fulgur::testing::error_of;

ClassificationOptions five_classes() { return ClassificationOptions().task("multiclass").num_classes(5); }

TEST(MetricCollection, GroupsMetricsOfTheSameStatesAndComputesAsEachAlone) {
  MetricCollection collection("val_");
  collection.add("acc", std::make_shared<Accuracy>(five_classes()));
  collection.add("f1", std::make_shared<F1Score>(five_classes().average(std::string("macro"))));
  collection.add("confmat", std::make_shared<ConfusionMatrix>(five_classes()));
  collection.add("auroc", std::make_shared<AUROC>(five_classes()));
  collection.add("ap", std::make_shared<AveragePrecision>(five_classes()));
  collection.add("top2", std::make_shared<Accuracy>(five_classes().top_k(2)));
  const std::vector<std::vector<std::string>> groups{{"acc", "f1", "confmat"}, {"auroc", "ap"}, {"top2"}};
  EXPECT_EQ(collection.compute_groups(), groups);

  Accuracy acc(five_classes());
  F1Score f1(five_classes().average(std::string("macro")));
  AUROC auroc(five_classes());
  torch::manual_seed(11);
  for (int batch = 0; batch < 3; ++batch) {
    const auto logits = torch::randn({32, 5});
    const auto labels = torch::randint(0, 5, {32});
    const auto values = collection(logits, labels);
    EXPECT_NEAR(values.at("val_acc").item<double>(), acc(logits, labels).item<double>(), 1e-7);
    EXPECT_NEAR(values.at("val_f1").item<double>(), f1(logits, labels).item<double>(), 1e-7);
    auroc.update(logits, labels);
  }
  // One update per group: the shared states counted each batch once.
  EXPECT_EQ(collection.at("acc").update_count(), 3);
  EXPECT_EQ(collection.at("f1").update_count(), 3);
  const auto values = collection.compute();
  EXPECT_NEAR(values.at("val_acc").item<double>(), acc.compute().item<double>(), 1e-7);
  EXPECT_NEAR(values.at("val_f1").item<double>(), f1.compute().item<double>(), 1e-7);
  EXPECT_NEAR(values.at("val_auroc").item<double>(), auroc.compute().item<double>(), 1e-7);
  EXPECT_EQ(values.at("val_confmat").sum().item<int64_t>(), 96);

  collection.reset();
  collection.update(torch::tensor({{0.1, 0.6, 0.1, 0.1, 0.1}, {0.1, 0.6, 0.1, 0.1, 0.1}}), torch::tensor({1, 0}));
  EXPECT_NEAR(collection.compute().at("val_acc").item<double>(), 0.5, 1e-7);
}

TEST(MetricCollection, WithoutComputeGroupsEveryMetricKeepsItsOwnStates) {
  MetricCollection collection("", "_epoch", /*compute_groups=*/false);
  collection.add("acc", std::make_shared<Accuracy>(five_classes()));
  collection.add("recall", std::make_shared<Recall>(five_classes()));
  EXPECT_EQ(collection.compute_groups().size(), 2u);
  collection.update(torch::tensor({0, 1, 2}), torch::tensor({0, 1, 1}));
  const auto names = collection.loggable_metrics();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0].first, "acc_epoch");
  EXPECT_NEAR(collection.compute().at("recall_epoch").item<double>(), 2.0 / 3.0, 1e-7);
}

TEST(MetricCollection, BadNamesAreErrors) {
  MetricCollection collection;
  collection.add("acc", std::make_shared<Accuracy>(five_classes()));
  EXPECT_NE(error_of([&] { collection.add("acc", std::make_shared<Recall>(five_classes())); }).find("already has"),
            std::string::npos);
  EXPECT_NE(error_of([&] { collection.add("a.b", std::make_shared<Recall>(five_classes())); }).find("without '.'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { collection.at("f1"); }).find("it has: acc"), std::string::npos);
}

TEST(MetricCollection, CloneCopiesMetricsStatesAndGroupsUnderANewPrefix) {
  auto val = std::make_shared<MetricCollection>("val_");
  val->add("acc", std::make_shared<Accuracy>(five_classes()));
  val->add("f1", std::make_shared<F1Score>(five_classes().average(std::string("macro"))));
  val->add("mse", std::make_shared<MeanSquaredError>());
  torch::manual_seed(3);
  const auto logits = torch::randn({40, 5});
  const auto labels = torch::randint(0, 5, {40});
  val->at("acc").update(logits, labels);  // the acc/f1 group's shared states see one batch

  auto train = val->clone("train_");
  EXPECT_EQ(train->prefix(), "train_");
  EXPECT_EQ(train->compute_groups(), val->compute_groups());
  EXPECT_EQ(train->at("f1").update_count(), 1);  // states copied, and still shared in the group
  // The copy goes on alone: updating it leaves the original where it was.
  train->at("acc").update(logits.flip(0), labels);
  EXPECT_EQ(train->at("f1").update_count(), 2);
  EXPECT_EQ(val->at("acc").update_count(), 1);
  Accuracy alone(five_classes());
  alone.update(logits, labels);
  alone.update(logits.flip(0), labels);
  EXPECT_NEAR(train->at("acc").compute().item<double>(), alone.compute().item<double>(), 1e-7);
  // Logged names carry the new prefix; clone() keeps the old one, postfix set on request.
  const auto names = train->loggable_metrics();
  EXPECT_EQ(names.front().first, "train_acc");
  auto same = std::dynamic_pointer_cast<MetricCollection>(val->clone());
  ASSERT_TRUE(same);
  EXPECT_EQ(same->prefix(), "val_");
  EXPECT_EQ(val->clone(std::nullopt, "_epoch")->loggable_metrics().front().first, "val_acc_epoch");
}

TEST(MetricCollection, MetricsOfMakeMetricJoinAndCloneAlone) {
  MetricCollection collection;
  collection.add("acc", make_metric("MulticlassAccuracy", {{"num_classes", 5}, {"average", "micro"}}));
  collection.add("auroc", make_metric("AUROC", {{"task", "multiclass"}, {"num_classes", 5}}));
  EXPECT_NE(
      error_of([&] { collection.add("mean", make_metric("MeanMetric")); }).find("is not a metric of (preds, target)"),
      std::string::npos);
  torch::manual_seed(5);
  const auto logits = torch::randn({16, 5});
  const auto labels = torch::randint(0, 5, {16});
  collection.update(logits, labels);
  // A single metric clones too (torchmetrics' metric.clone()), persistent states included.
  auto acc = std::make_shared<Accuracy>(five_classes());
  acc->persistent();
  acc->update(logits, labels);
  auto copy = std::dynamic_pointer_cast<Accuracy>(acc->clone());
  ASSERT_TRUE(copy);
  EXPECT_NEAR(copy->compute().item<double>(), acc->compute().item<double>(), 1e-7);
  copy->update(logits, torch::zeros_like(labels));
  EXPECT_EQ(acc->update_count(), 1);
  EXPECT_EQ(copy->named_buffers().size(), acc->named_buffers().size());
  EXPECT_FALSE(copy->buffers()[0].is_same(acc->buffers()[0]));
  EXPECT_NEAR(collection.compute().at("acc").item<double>(), acc->compute().item<double>(), 1e-7);
}

}  // namespace
}  // namespace fulgur::metrics
