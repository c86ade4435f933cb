// timer stops real runs when the training time is up, and carries the elapsed time over a resume.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "fulgur/plugins/timer.h"
#include "testing.h"

namespace fulgur {
namespace {

// Each step takes at least 20 ms, so time limits are reached after a predictable number of steps.
struct Slow : testing::TinyClassifier {
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return testing::TinyClassifier::training_step(batch, batch_idx);
  }
};

TrainerOptions quiet(int64_t epochs) {
  TrainerOptions options;
  options.max_epochs(epochs);
  options.accelerator("cpu");  // a first CUDA run spends the 0.3 s budgets on start-up alone
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  return options;
}

plugins::TimerInfo& timer_of(Trainer& trainer) {
  return *dynamic_cast<plugins::TimerInfo*>(trainer.find_plugin("timer"));
}

TEST(Timer, MaxTimeStopsAtTheNextStep) {
  auto data = testing::make_blobs(64);
  auto loader = testing::make_loader(data, 4);  // 16 steps of >= 20 ms per epoch
  Slow model;
  auto options = quiet(10);
  options.max_time("0.1");  // seconds
  Trainer trainer(options);
  trainer.fit(model, loader);
  // At least 5 steps fit into 0.1 s; a machine under load may fit fewer, but never a whole epoch.
  EXPECT_LE(trainer.global_step(), 5);
  EXPECT_GE(trainer.global_step(), 1);
  EXPECT_GE(timer_of(trainer).time_elapsed(Stage::Fit), 0.1);
  EXPECT_LE(timer_of(trainer).time_remaining(), 0.0);
}

TEST(Timer, EpochIntervalStopsAtTheEpochsEnd) {
  auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 4);  // 4 steps: >= 80 ms per epoch
  Slow model;
  auto options = quiet(10);
  options.plugins().push_back(plugins::TimerOptions("00:00:00:00.1").interval("epoch").verbose(false).spec());
  Trainer trainer(options);
  trainer.fit(model, loader);
  EXPECT_EQ(trainer.global_step() % 4, 0);
  EXPECT_LE(trainer.global_step(), 8);
}

TEST(Timer, MeasuresEachStage) {
  auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 4);
  Slow model;
  auto options = quiet(1);
  options.plugins().push_back(plugins::TimerOptions{}.spec());  // no limit: only measures
  Trainer trainer(options);
  trainer.fit(model, loader, loader);
  EXPECT_GE(timer_of(trainer).time_elapsed(Stage::Fit), 0.08);
  EXPECT_GT(timer_of(trainer).time_elapsed(Stage::Validate), 0.0);
  EXPECT_EQ(trainer.global_step(), 4);
}

TEST(Timer, ElapsedTimeTravelsInTheCheckpoint) {
  const auto path = testing::temp_dir("timer") + "/t.ckpt";
  auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 4);
  Slow model;
  auto options = quiet(1);
  options.plugins().push_back(plugins::TimerOptions{"0.3"}.spec());
  Trainer first(options);
  first.fit(model, loader);
  first.save_checkpoint(path);
  const double spent = timer_of(first).time_elapsed(Stage::Fit);
  ASSERT_LT(spent, 0.3);

  options.max_epochs(10);
  Trainer resumed(options);
  resumed.fit(model, loader, nullptr, path);
  EXPECT_GE(timer_of(resumed).time_elapsed(Stage::Fit), 0.3);
  // Only what was left of the 0.3 s was trained: far fewer than the 36 remaining steps.
  EXPECT_LT(resumed.global_step(), 4 + 15);
}

TEST(Timer, BadDurationIsAClearError) {
  auto options = quiet(1);
  options.max_time("soon");
  EXPECT_NE(testing::error_of([&] { Trainer trainer(options); }).find("duration 'soon' is not DD:HH:MM:SS"),
            std::string::npos);
}

}  // namespace
}  // namespace fulgur
