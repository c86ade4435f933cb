// Module::log: Lightning's defaults per hook, suffixes, and epoch aggregates checked by hand.
#include <gtest/gtest.h>

#include "fulgur/error.h"
#include "testing.h"

namespace fulgur {
namespace {

// Logs the batch index as its value, so every aggregate can be computed by hand.
struct IndexLogger : testing::TinyClassifier {
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    auto loss = testing::TinyClassifier::training_step(batch, batch_idx);
    log("index", static_cast<double>(batch_idx), LogOptions().on_step(true).on_epoch(true));
    log("index_sum", static_cast<double>(batch_idx), LogOptions().on_epoch(true).reduce_fx("sum"));
    log("index_max", static_cast<double>(batch_idx), LogOptions().on_epoch(true).on_step(false).reduce_fx("max"));
    return loss;
  }
  torch::Tensor validation_step(const Batch& batch, int64_t batch_idx) override {
    log("val_index", static_cast<double>(batch_idx));
    return {};
  }
};

struct ConstantMetric : LoggableMetric {
  at::Tensor batch_value() const override { return torch::tensor(1.0); }
  at::Tensor compute() override { return torch::tensor(1.0); }
  void reset() override {}
  std::string metric_name() const override { return "ConstantMetric"; }
  void set_strategy(Strategy*) override {}
};

// What a CUDA-graph plugin does with the logs of the step it captures: record them, then log
// them again (with the values as they are then) after each replay.
TEST(Metrics, RecordedLogsAreStoredOnlyWhenLoggedAgain) {
  MetricStore store;
  store.set_context(LogContext::Training);
  std::vector<MetricStore::LoggedValue> recording;
  store.record_into(&recording, "the_recorder");
  auto value = torch::tensor(2.0);
  store.log("loss", value, LogOptions().on_epoch(true), 4);
  EXPECT_TRUE(store.callback_metrics().empty());
  ASSERT_EQ(recording.size(), 1u);
  ConstantMetric metric;
  const std::string error = testing::error_of([&] { store.log("acc", metric, LogOptions{}); });
  EXPECT_NE(error.find("in a step that the_recorder captures"), std::string::npos) << error;
  EXPECT_THROW(store.log("", value, LogOptions{}, 4), Error);  // still checked while recording
  store.record_into(nullptr);

  store.log_recorded(recording[0]);
  value.fill_(4.0);  // what the next replay does to the recorded tensor
  store.log_recorded(recording[0]);
  EXPECT_NEAR(*store.value("loss_step"), 4.0, 1e-12);
  store.end_epoch(LogContext::Training);
  EXPECT_NEAR(*store.value("loss_epoch"), 3.0, 1e-12);  // (2*4 + 4*4) / 8
}

TEST(Metrics, EpochMeanIsWeightedByBatchSize) {
  auto data = testing::make_blobs(10);
  auto train = testing::make_loader(data, 4);  // batches of 4, 4, 2
  auto val = testing::make_loader(data, 4);
  IndexLogger model;
  TrainerOptions options;
  options.max_epochs(1);
  options.num_sanity_val_steps(0);
  Trainer trainer(options);
  trainer.fit(model, train, val);
  auto& metrics = trainer.metrics();
  // (0*4 + 1*4 + 2*2) / 10
  EXPECT_NEAR(*metrics.value("index_epoch"), 0.8, 1e-6);
  EXPECT_NEAR(*metrics.value("index"), 0.8, 1e-6);  // the plain name holds the epoch value at epoch end
  EXPECT_NEAR(*metrics.value("index_step"), 2.0, 1e-6);
  EXPECT_NEAR(*metrics.value("index_sum_epoch"), 3.0, 1e-6);
  EXPECT_NEAR(*metrics.value("index_max"), 2.0, 1e-6);
  // Validation logs on_epoch by default: no _step entry, a weighted mean.
  EXPECT_NEAR(*metrics.value("val_index"), 0.8, 1e-6);
  EXPECT_FALSE(metrics.value("val_index_step"));
}

TEST(Metrics, TrainingStepLogsOnStepByDefault) {
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(1);
  options.log_every_n_steps(1);
  Trainer trainer(options);
  auto& logger =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.fit(model, train);
  ASSERT_EQ(logger.rows.size(), 2u);  // one row per step, none for the epoch
  for (const auto& [step, row] : logger.rows) EXPECT_TRUE(row.count("train_loss"));
  EXPECT_TRUE(trainer.metrics().step_metrics().empty());  // handed on and dropped each step
  EXPECT_FALSE(trainer.callback_metrics().count("train_loss_epoch"));
}

TEST(Metrics, LoggedValuesStayOnTheirDeviceAsTensors) {
  MetricStore store;
  store.set_context(LogContext::Training);
  const auto value = torch::tensor(1.5f);
  store.log("x", value, LogOptions{}, 1);
  EXPECT_EQ(store.step_metrics().at("x").device(), value.device());
  EXPECT_FALSE(store.step_metrics().at("x").requires_grad());
}

TEST(Metrics, BadNamesAndValuesAreRejected) {
  MetricStore store;
  EXPECT_THROW(store.log("a,b", torch::tensor(1.0), LogOptions{}, 1), Error);
  EXPECT_THROW(store.log("a\nb", torch::tensor(1.0), LogOptions{}, 1), Error);
  EXPECT_THROW(store.log("v", torch::ones({2}), LogOptions{}, 1), Error);
  EXPECT_THROW(store.log("r", torch::tensor(1.0), LogOptions().reduce_fx("median"), 1), Error);
}

}  // namespace
}  // namespace fulgur
