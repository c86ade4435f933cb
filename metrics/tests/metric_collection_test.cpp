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

}  // namespace
}  // namespace fulgur::metrics
