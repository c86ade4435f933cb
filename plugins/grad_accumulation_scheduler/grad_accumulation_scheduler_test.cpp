// grad_accumulation_scheduler on real runs: the factor in force each epoch, the optimizer steps
// it implies, accumulated gradients equal to the big batch's, and named bad options.
#include <gtest/gtest.h>

#include "fulgur/plugins/grad_accumulation_scheduler.h"
#include "testing.h"

namespace fulgur {
namespace {

TrainerOptions quiet(int64_t max_epochs) {
  TrainerOptions options;
  options.max_epochs(max_epochs);
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  return options;
}

struct FactorPerEpoch : Plugin {
  std::vector<int64_t> factors;
  std::vector<int64_t> steps_at_epoch_end;
  std::string name() const override { return "factor_per_epoch"; }
  void attach(HookBus& bus) override {
    connect(
        bus.on_train_epoch_start,
        [this](EpochHook& hook) { factors.push_back(hook.trainer.accumulate_grad_batches()); }, SlotGroup::Monitor);
    connect(bus.on_train_epoch_end,
            [this](EpochHook& hook) { steps_at_epoch_end.push_back(hook.trainer.global_step()); });
  }
};

TEST(GradAccumulationScheduler, FollowsTheScheduleEpochByEpoch) {
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 4);  // 8 batches per epoch
  testing::TinyClassifier model;
  auto options = quiet(5);
  plugins::GradAccumulationSchedulerOptions schedule;
  schedule.scheduling({{1, 2}, {3, 8}});
  options.plugins().push_back(schedule.spec());
  Trainer trainer(options);
  auto spy = std::make_unique<FactorPerEpoch>();
  auto& seen = *spy;
  trainer.add_plugin(std::move(spy));
  trainer.fit(model, train);
  EXPECT_EQ(seen.factors, (std::vector<int64_t>{1, 2, 2, 8, 8}));
  // 8 + 4 + 4 + 1 + 1 optimizer steps.
  EXPECT_EQ(seen.steps_at_epoch_end, (std::vector<int64_t>{8, 12, 16, 17, 18}));
}

// One epoch of 4 batches under factor 4 gives the weights of one SGD step on all 16 samples.
TEST(GradAccumulationScheduler, AccumulatedGradientEqualsTheBigBatchGradient) {
  auto data = testing::make_blobs(16);
  torch::manual_seed(1);
  testing::TinyClassifier accumulated;
  torch::manual_seed(1);
  testing::TinyClassifier big_batch;
  {
    auto train = testing::make_loader(data, 4);
    auto options = quiet(1);
    options.plugins().push_back(PluginSpec::parse("grad_accumulation_scheduler:scheduling=0:4"));
    Trainer trainer(options);
    trainer.fit(accumulated, train);
    EXPECT_EQ(trainer.global_step(), 1);
  }
  {
    auto train = testing::make_loader(data, 16);
    Trainer trainer(quiet(1));
    trainer.fit(big_batch, train);
  }
  EXPECT_TRUE(torch::allclose(testing::flat_parameters(accumulated), testing::flat_parameters(big_batch), 1e-6, 1e-6));
}

TEST(GradAccumulationScheduler, BadInputIsNamed) {
  auto load_error = [](const std::string& spec) {
    auto options = quiet(1);
    options.plugins().push_back(PluginSpec::parse(spec));
    try {
      Trainer trainer(options);
    } catch (const std::exception& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  EXPECT_NE(load_error("grad_accumulation_scheduler").find("'scheduling' is required"), std::string::npos);
  EXPECT_NE(load_error("grad_accumulation_scheduler:scheduling=0:0")
                .find("option 'scheduling' needs epochs >= 0 and factors >= 1, got 0:0"),
            std::string::npos);
  EXPECT_NE(
      load_error("grad_accumulation_scheduler:scheduling=a:2").find("option 'scheduling' expects an integer, got 'a'"),
      std::string::npos);
  EXPECT_NE(
      load_error("grad_accumulation_scheduler:scheduling=2").find("expects key:value pairs separated by '/', got '2'"),
      std::string::npos);

  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  auto options = quiet(1);
  options.accumulate_grad_batches(2);
  options.plugins().push_back(PluginSpec::parse("grad_accumulation_scheduler:scheduling=0:4"));
  Trainer trainer(options);
  EXPECT_NE(testing::error_of([&] {
              trainer.fit(model, train);
            }).find("leave the Trainer option accumulate_grad_batches at 1"),
            std::string::npos);
}

}  // namespace
}  // namespace fulgur
