// When logged metrics reach the loggers: every log_every_n_steps optimizer steps (Lightning's
// step numbers), each epoch's aggregates, hyper-parameters at the start, finalize at the end.
#include <gtest/gtest.h>

#include "testing.h"

namespace fulgur {
namespace {

using testing::RecordingLogger;

TrainerOptions quiet(int64_t max_epochs) {
  TrainerOptions options;
  options.max_epochs(max_epochs);
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  return options;
}

RecordingLogger& add_recorder(Trainer& trainer) {
  return static_cast<RecordingLogger&>(trainer.add_plugin(std::make_unique<RecordingLogger>()));
}

TEST(Loggers, StepRowsEveryNStepsAndEpochRows) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);  // 4 steps per epoch
  auto val = testing::make_loader(data, 8);
  testing::TinyClassifier model;
  model.save_hyperparameters({{"lr", 0.1}});
  auto options = quiet(2);
  options.log_every_n_steps(3);
  Trainer trainer(options);
  auto& logger = add_recorder(trainer);
  ASSERT_EQ(trainer.loggers().size(), 1u);
  trainer.fit(model, train, val);

  std::vector<int64_t> steps;
  for (const auto& [step, row] : logger.rows) steps.push_back(step);
  // Steps 3 and 6 (global) are logged as 2 and 5; val rows at each epoch's last step (3, 7).
  EXPECT_EQ(steps, (std::vector<int64_t>{2, 3, 5, 7}));
  EXPECT_TRUE(logger.rows[0].second.count("train_loss"));
  EXPECT_EQ(logger.rows[0].second.at("epoch"), 0.0);
  EXPECT_TRUE(logger.rows[1].second.count("val_loss"));
  EXPECT_FALSE(logger.rows[1].second.count("train_loss"));  // a step's value is for its own row only
  EXPECT_EQ(logger.rows[2].second.at("epoch"), 1.0);
  EXPECT_DOUBLE_EQ(logger.rows[3].second.at("val_loss"), trainer.metrics().value("val_loss").value());
  ASSERT_EQ(logger.hparams.size(), 1u);
  EXPECT_EQ(logger.hparams[0].get<double>("lr"), 0.1);
  EXPECT_EQ(logger.statuses, std::vector<std::string>{"success"});
  EXPECT_GE(logger.saves, 4);  // after each train and val epoch, and at the end
}

TEST(Loggers, EpochMeansAreTheWeightedMeansOfTheSteps) {
  struct LogsBatchMean : testing::TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
      log("batch_mean", batch[0].mean(), LogOptions().on_step(false).on_epoch(true));
      return TinyClassifier::training_step(batch, batch_idx);
    }
  };
  auto data = testing::make_blobs(10);
  auto train = testing::make_loader(data, 4);  // batches of 4, 4, 2
  LogsBatchMean model;
  Trainer trainer(quiet(1));
  auto& logger = add_recorder(trainer);
  trainer.fit(model, train);
  const auto& last = logger.rows.back().second;
  ASSERT_TRUE(last.count("batch_mean"));
  // Batch-size-weighted mean of batch means == the mean over all samples.
  EXPECT_NEAR(last.at("batch_mean"), data.x.mean().item<double>(), 1e-6);
}

TEST(Loggers, FailedRunsAreFinalizedAsFailed) {
  struct Explodes : testing::TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
      if (batch_idx == 1) throw Error("boom");
      return TinyClassifier::training_step(batch, batch_idx);
    }
  };
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  Explodes model;
  Trainer trainer(quiet(1));
  auto& logger = add_recorder(trainer);
  EXPECT_NE(testing::error_of([&] { trainer.fit(model, train); }).find("boom"), std::string::npos);
  EXPECT_EQ(logger.statuses, std::vector<std::string>{"failed"});
}

TEST(Loggers, SanityCheckValuesNeverReachLoggers) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  auto options = quiet(1);
  options.limit_train_batches(0);  // no training: only the sanity check would log
  Trainer trainer(options);
  auto& logger = add_recorder(trainer);
  trainer.fit(model, train, val);
  EXPECT_TRUE(logger.rows.empty());
}

}  // namespace
}  // namespace fulgur
