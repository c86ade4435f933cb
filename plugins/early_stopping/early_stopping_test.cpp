// early_stopping on real training runs driven by scripted metric sequences: each test checks the
// exact epoch training stops after.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fulgur/plugins/early_stopping.h"
#include "testing.h"

namespace fulgur {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// validation_step logs the next value of a script as "score" (one value per validation run).
struct Scripted : testing::TinyClassifier {
  std::vector<double> script;
  std::size_t runs = 0;
  void on_validation_epoch_start() override { ++runs; }
  torch::Tensor validation_step(const Batch&, int64_t) override {
    log("score", script.at(runs - 1));
    return {};
  }
};

struct Outcome {
  int64_t epochs_run;
  int64_t steps;
};

Outcome run(std::vector<double> script, plugins::EarlyStoppingOptions stopping, TrainerOptions options = {}) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);  // 4 steps per epoch
  auto val = testing::make_loader(data, 16);
  Scripted model;
  model.script = std::move(script);
  if (!options.max_epochs()) options.max_epochs() = static_cast<int64_t>(model.script.size());
  options.num_sanity_val_steps(0);
  options.enable_checkpointing(false);
  stopping.monitor("score");
  options.plugins().push_back(stopping.spec());
  Trainer trainer(options);
  trainer.fit(model, train, val);
  return {trainer.current_epoch(), trainer.global_step()};
}

TEST(EarlyStopping, StopsAfterPatienceChecksWithoutImprovement) {
  plugins::EarlyStoppingOptions options;
  options.patience(3);
  // Best 4.0 at epoch 1; epochs 2, 3, 4 do not beat it: stop after epoch 4.
  EXPECT_EQ(run({5, 4, 4.5, 4.2, 4.1, 3, 2, 1}, options).epochs_run, 5);
}

TEST(EarlyStopping, KeepsGoingWhileImproving) { EXPECT_EQ(run({5, 4, 3, 2, 1, 0.5}, {}).epochs_run, 6); }

TEST(EarlyStopping, MinDeltaIgnoresSmallImprovements) {
  plugins::EarlyStoppingOptions options;
  options.patience(2);
  options.min_delta(0.5);
  // 4.6 and 4.7 are within 0.5 of the best 5.0: two checks without improvement -> stop after epoch 2.
  EXPECT_EQ(run({5, 4.6, 4.7, 1, 0.5}, options).epochs_run, 3);
  options.min_delta(0.0);
  EXPECT_EQ(run({5, 4.6, 4.7, 1, 0.5}, options).epochs_run, 5);
}

TEST(EarlyStopping, ModeMax) {
  plugins::EarlyStoppingOptions options;
  options.mode("max");
  options.patience(1);
  EXPECT_EQ(run({0.1, 0.5, 0.4, 0.9}, options).epochs_run, 3);
}

TEST(EarlyStopping, NonFiniteMetricStopsAtOnceUnlessCheckFiniteIsOff) {
  plugins::EarlyStoppingOptions options;
  options.patience(10);
  EXPECT_EQ(run({1, kNaN, 0.5, 0.4}, options).epochs_run, 2);
  options.check_finite(false);
  EXPECT_EQ(run({1, kNaN, 0.5, 0.4}, options).epochs_run, 4);
}

TEST(EarlyStopping, StoppingThreshold) {
  plugins::EarlyStoppingOptions options;
  options.stopping_threshold(0.5);
  EXPECT_EQ(run({1, 0.8, 0.4, 0.3, 0.2}, options).epochs_run, 3);
}

TEST(EarlyStopping, DivergenceThreshold) {
  plugins::EarlyStoppingOptions options;
  options.divergence_threshold(10);
  EXPECT_EQ(run({1, 2, 11, 0.5, 0.4}, options).epochs_run, 3);
}

TEST(EarlyStopping, MissingMetricIsAnErrorWhenStrictAndSkippedOtherwise) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 16);
  testing::TinyClassifier model;  // logs val_loss, not "score"
  TrainerOptions options;
  options.max_epochs(3);
  options.enable_checkpointing(false);
  options.plugins().push_back(PluginSpec::parse("early_stopping:monitor=score"));
  Trainer strict(options);
  const auto message = testing::error_of([&] { strict.fit(model, train, val); });
  EXPECT_NE(message.find("metric 'score', which is not available; logged metrics:"), std::string::npos) << message;
  EXPECT_NE(message.find("val_loss"), std::string::npos) << message;

  options.plugins().back() = PluginSpec::parse("early_stopping:monitor=score,strict=false");
  Trainer lenient(options);
  lenient.fit(model, train, val);
  EXPECT_EQ(lenient.current_epoch(), 3);
}

TEST(EarlyStopping, ChecksAfterEachValidationWhenValidatingTwicePerEpoch) {
  plugins::EarlyStoppingOptions options;
  options.patience(1);
  TrainerOptions trainer;
  trainer.max_epochs(5);
  trainer.val_check_interval(0.5);  // validation after batches 2 and 4
  // The 3rd validation (epoch 1, after batch 2) does not improve: stop after that batch.
  const auto outcome = run({3, 2, 2.5, 1, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1}, options, trainer);
  EXPECT_EQ(outcome.steps, 6);
}

TEST(EarlyStopping, MinEpochsDefersTheStop) {
  plugins::EarlyStoppingOptions options;
  options.patience(1);
  TrainerOptions trainer;
  trainer.min_epochs(4);
  trainer.max_epochs(6);
  EXPECT_EQ(run({1, 2, 3, 4, 5, 6}, options, trainer).epochs_run, 4);
}

TEST(EarlyStopping, CountersTravelInTheCheckpoint) {
  const auto path = testing::temp_dir("early_stopping") + "/es.ckpt";
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 16);
  plugins::EarlyStoppingOptions stopping;
  stopping.monitor("score");
  stopping.patience(3);
  TrainerOptions options;
  options.num_sanity_val_steps(0);
  options.enable_checkpointing(false);
  options.plugins().push_back(stopping.spec());

  Scripted model;
  model.script = {1, 2, 3, 4, 5, 6};  // never improves after epoch 0
  options.max_epochs(3);              // two checks without improvement so far
  Trainer first(options);
  first.fit(model, train, val);
  first.save_checkpoint(path);
  EXPECT_EQ(read_checkpoint(path)
                .at("callbacks")
                .toGenericDict()
                .at("early_stopping")
                .toGenericDict()
                .at("wait_count")
                .toInt(),
            2);

  options.max_epochs(6);
  Trainer resumed(options);
  resumed.fit(model, train, val, path);
  EXPECT_EQ(resumed.current_epoch(), 4);  // the third check without improvement, in epoch 3
}

TEST(EarlyStopping, BadOptions) {
  auto message_for = [](const std::string& spec) {
    return testing::error_of([&] {
      TrainerOptions options;
      options.plugins().push_back(PluginSpec::parse(spec));
      Trainer trainer(options);
    });
  };
  EXPECT_NE(message_for("early_stopping").find("option 'monitor' is required"), std::string::npos);
  EXPECT_NE(message_for("early_stopping:monitor=x,mode=up").find("'mode' expects min or max"), std::string::npos);
  EXPECT_NE(message_for("early_stopping:monitor=x,patience=soon").find("'patience' expects an integer"),
            std::string::npos);
}

}  // namespace
}  // namespace fulgur
