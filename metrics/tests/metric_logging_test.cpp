// log() with metric objects in a real fit, with Lightning's rules: on_step logs the batch's value,
// on_epoch the epoch's compute() followed by a reset; sanity-check batches do not count.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fulgur/metrics.h"
#include "fulgur/trainer.h"
#include "testing.h"

namespace fulgur::metrics {
namespace {

using fulgur::testing::error_of;

ClassificationOptions two_classes() { return ClassificationOptions().task("multiclass").num_classes(2); }

double accuracy_of(const std::vector<torch::Tensor>& preds, const std::vector<torch::Tensor>& labels) {
  return torch::cat(preds).eq(torch::cat(labels)).to(torch::kDouble).mean().item<double>();
}

class MetricNet : public Module {
 public:
  MetricNet() {
    linear = register_module("linear", torch::nn::Linear(4, 2));
    train_acc = register_module("train_acc", std::make_shared<Accuracy>(two_classes()));
    val_acc = register_module("val_acc", std::make_shared<Accuracy>(two_classes()));
    val_metrics = register_module("val_metrics", std::make_shared<MetricCollection>("val_"));
    val_metrics->add("recall", std::make_shared<Recall>(two_classes().average(std::string("macro"))));
    val_metrics->add("precision", std::make_shared<Precision>(two_classes().average(std::string("macro"))));
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    const auto logits = linear(x);
    train_acc->forward(logits, y);
    log("train_acc", train_acc, LogOptions().on_step(true).on_epoch(true));
    train_preds.push_back(logits.argmax(1).detach());
    train_labels.push_back(y);
    step_values.push_back(logits.argmax(1).eq(y).to(torch::kDouble).mean().item<double>());
    return torch::nn::functional::cross_entropy(logits, y);
  }
  torch::Tensor validation_step(const Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    const auto logits = linear(x);
    val_acc->update(logits, y);
    log("val_acc", val_acc);
    val_metrics->update(logits, y);
    log_dict(val_metrics);
    if (!trainer().sanity_checking()) {
      val_preds.push_back(logits.argmax(1));
      val_labels.push_back(y);
    }
    return torch::Tensor();
  }
  void on_train_epoch_start() override {
    train_preds.clear();
    train_labels.clear();
  }
  void on_validation_epoch_start() override {
    val_preds.clear();
    val_labels.clear();
  }
  OptimizerConfig configure_optimizers() override { return std::make_shared<torch::optim::SGD>(parameters(), 0.1); }

  torch::nn::Linear linear{nullptr};
  std::shared_ptr<Accuracy> train_acc, val_acc;
  std::shared_ptr<MetricCollection> val_metrics;
  std::vector<torch::Tensor> train_preds, train_labels, val_preds, val_labels;
  std::vector<double> step_values;
};

TEST(MetricLogging, EpochValuesAreComputedOverTheEpochAndStepValuesPerBatch) {
  // Noisy blobs, so that accuracy is not simply 1.
  auto data = testing::make_blobs(96, 4, 5);
  data.x = data.x + 2.5 * torch::randn_like(data.x);
  auto train = testing::make_loader(data, 16);
  auto val = testing::make_loader(data, 24);
  MetricNet net;
  auto options = testing::quiet_options(2);
  options.num_sanity_val_steps(2);
  Trainer trainer(options);
  auto& logger =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.fit(net, train, val);

  // The last epoch's values, from that epoch's batches alone (reset after each epoch; the
  // sanity check's batches discarded).
  EXPECT_NEAR(*trainer.metrics().value("val_acc"), accuracy_of(net.val_preds, net.val_labels), 1e-6);
  EXPECT_NEAR(*trainer.metrics().value("train_acc_epoch"), accuracy_of(net.train_preds, net.train_labels), 1e-6);
  EXPECT_NEAR(*trainer.metrics().value("train_acc_step"), net.step_values.back(), 1e-6);
  Recall recall(two_classes().average(std::string("macro")));
  recall.update(torch::cat(net.val_preds), torch::cat(net.val_labels));
  EXPECT_NEAR(*trainer.metrics().value("val_recall"), recall.compute().item<double>(), 1e-6);
  ASSERT_TRUE(trainer.metrics().value("val_precision").has_value());
  // The loggers saw a step value at each logged step and the epoch value once per epoch.
  int epoch_rows = 0;
  for (const auto& [step, metrics] : logger.rows) epoch_rows += metrics.count("val_acc") ? 1 : 0;
  EXPECT_EQ(epoch_rows, 2);
  // Each epoch ended with a reset.
  EXPECT_EQ(net.val_acc->update_count(), 0);
  EXPECT_EQ(net.train_acc->update_count(), 0);
}

TEST(MetricLogging, AMetricNotRegisteredInTheModuleIsAnError) {
  struct Net : testing::TinyClassifier {
    torch::Tensor validation_step(const Batch& batch, int64_t) override {
      auto [x, y] = batch.unpack<2>();
      stray.update(forward(x), y);
      log("val_acc", stray);
      return torch::Tensor();
    }
    Accuracy stray{two_classes()};
  };
  auto loader = testing::make_loader(testing::make_blobs(32), 16);
  Net net;
  Trainer trainer(testing::quiet_options(1));
  const auto error = error_of([&] { trainer.fit(net, loader, loader); });
  EXPECT_NE(error.find("MulticlassAccuracy): the metric is not registered in this Module"), std::string::npos) << error;
}

TEST(MetricLogging, OnStepNeedsTheBatchValueThatForwardGives) {
  struct Net : testing::TinyClassifier {
    Net() { acc = register_module("acc", std::make_shared<Accuracy>(two_classes())); }
    torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
      auto [x, y] = batch.unpack<2>();
      acc->update(forward(x), y);
      log("train_acc", acc);  // on_step by default in training_step
      return TinyClassifier::training_step(batch, batch_idx);
    }
    std::shared_ptr<Accuracy> acc;
  };
  auto loader = testing::make_loader(testing::make_blobs(32), 16);
  Net net;
  Trainer trainer(testing::quiet_options(1));
  const auto error = error_of([&] { trainer.fit(net, loader); });
  EXPECT_NE(error.find("update() alone gives none"), std::string::npos) << error;
}

}  // namespace
}  // namespace fulgur::metrics
