// ema on real training runs: the average equals the EMA of the weights after each chosen step,
// validation sees it and training does not, checkpoints hold both, and a resumed fit ends where
// an uninterrupted one does.
#include <gtest/gtest.h>

#include "fulgur/checkpoint.h"
#include "fulgur/plugins/ema.h"
#include "testing.h"

namespace fulgur {
namespace {

// Records the weights after every optimizer step, and the weights validation runs with.
struct Recorder : Plugin {
  std::string name() const override { return "recorder"; }
  void attach(HookBus& bus) override {
    connect(bus.on_train_batch_end, [this](BatchEndHook& hook) {
      after_step.push_back(testing::flat_parameters(*hook.trainer.module()).clone());
    });
    connect(bus.on_validation_batch_start, [this](BatchStartHook& hook) {
      if (!hook.trainer.sanity_checking())
        validated.push_back(testing::flat_parameters(*hook.trainer.module()).clone());
    });
  }
  std::vector<torch::Tensor> after_step, validated;
};

// Saves a checkpoint at the end of one epoch.
struct SaveAt : Plugin {
  SaveAt(int64_t epoch_, std::string path_) : epoch(epoch_), path(std::move(path_)) {}
  std::string name() const override { return "save_at"; }
  void attach(HookBus& bus) override {
    connect(
        bus.on_train_epoch_end,
        [this](EpochHook& hook) {
          if (hook.epoch == epoch) hook.trainer.save_checkpoint(path);
        },
        SlotGroup::Monitor);
  }
  int64_t epoch;
  std::string path;
};

struct FitResult {
  torch::Tensor final_weights;
  std::vector<torch::Tensor> after_step, validated;
};

FitResult fit(std::optional<plugins::EmaOptions> ema, int64_t epochs, const std::string& ckpt_path = "",
              std::unique_ptr<Plugin> extra = nullptr) {
  auto data = testing::make_blobs(32, 4, 2);
  auto train = testing::make_loader(data, 8);  // 4 steps per epoch
  auto val = testing::make_loader(data, 16);
  torch::manual_seed(3);
  testing::TinyClassifier model(4, 0.5);
  auto options = testing::quiet_options(epochs);
  options.num_sanity_val_steps(0);
  Trainer trainer(options);
  if (ema) trainer.add_plugin(ema->spec());
  auto& recorder = static_cast<Recorder&>(trainer.add_plugin(std::make_unique<Recorder>()));
  if (extra) trainer.add_plugin(std::move(extra));
  trainer.fit(model, train, val, ckpt_path);
  return {testing::flat_parameters(model), recorder.after_step, recorder.validated};
}

// The EMA of `weights` (one per step) over the steps Lightning's rule picks.
torch::Tensor expected_average(const std::vector<torch::Tensor>& weights, double decay, int64_t every, int64_t start,
                               std::size_t steps) {
  torch::Tensor average;
  for (std::size_t i = 0; i < steps; ++i) {
    const auto step = static_cast<int64_t>(i);
    if (step < start || step % every != 0) continue;
    average = average.defined() ? decay * average + (1 - decay) * weights[i] : weights[i].clone();
  }
  return average;
}

TEST(Ema, TheModelEndsWithTheAverageOfTheChosenSteps) {
  const auto ema = plugins::EmaOptions().decay(0.8).update_every_n_steps(2).update_starting_at_step(1);
  const FitResult run = fit(ema, 3);
  ASSERT_EQ(run.after_step.size(), 12u);
  const auto expected = expected_average(run.after_step, 0.8, 2, 1, 12);  // steps 2, 4, 6, 8, 10
  EXPECT_TRUE(torch::allclose(run.final_weights, expected, 1e-6, 1e-7));
  EXPECT_FALSE(torch::allclose(run.final_weights, run.after_step.back(), 1e-4, 1e-5));
}

TEST(Ema, ValidationSeesTheAverageAndTrainingContinuesFromItsOwnWeights) {
  const auto ema = plugins::EmaOptions().decay(0.5);
  const FitResult with = fit(ema, 2);
  const FitResult without = fit(std::nullopt, 2);
  // Swapping the average in for validation and back leaves training untouched.
  ASSERT_EQ(with.after_step.size(), without.after_step.size());
  for (std::size_t i = 0; i < with.after_step.size(); ++i)
    EXPECT_TRUE(torch::equal(with.after_step[i], without.after_step[i]));
  // Epoch 0's validation ran with the average of steps 0-3.
  ASSERT_FALSE(with.validated.empty());
  EXPECT_TRUE(torch::allclose(with.validated.front(), expected_average(with.after_step, 0.5, 1, -1, 4), 1e-6, 1e-7));
  EXPECT_TRUE(torch::equal(without.validated.front(), without.after_step[3]));
}

TEST(Ema, CheckpointsHoldTheAverageAndAResumedFitEndsLikeAnUninterruptedOne) {
  const std::string dir = testing::temp_dir("ema");
  const std::string path = dir + "/epoch0.ckpt";
  const auto ema = plugins::EmaOptions().decay(0.7);
  const FitResult whole = fit(ema, 3, "", std::make_unique<SaveAt>(0, path));
  // Lightning's layout: the average as state_dict, the training weights beside it.
  const Checkpoint checkpoint = read_checkpoint(path);
  ASSERT_TRUE(checkpoint.contains("current_model_state"));
  ASSERT_TRUE(checkpoint.contains("averaging_state"));
  EXPECT_EQ(checkpoint.at("averaging_state").toGenericDict().at("n_averaged").toTensor().item<int64_t>(), 4);
  const auto saved_average = checkpoint.at("state_dict").toGenericDict().at("linear.weight").toTensor();
  const auto saved_training = checkpoint.at("current_model_state").toGenericDict().at("linear.weight").toTensor();
  EXPECT_FALSE(torch::equal(saved_average, saved_training));
  // Resumed from the end of epoch 0: the same final (averaged) weights.
  const FitResult resumed = fit(ema, 3, path);
  EXPECT_TRUE(torch::allclose(resumed.final_weights, whole.final_weights, 1e-6, 1e-7));
}

TEST(Ema, BadOptionsAreNamed) {
  Trainer trainer(testing::quiet_options());
  const auto error = testing::error_of([&] { trainer.add_plugin(plugins::EmaOptions().decay(1.0).spec()); });
  EXPECT_NE(error.find("option 'decay' must lie in (0, 1), got 1"), std::string::npos) << error;
  const auto unknown = testing::error_of([&] { trainer.add_plugin(PluginSpec{"ema", {{"decays", "0.9"}}}); });
  EXPECT_NE(unknown.find("decays"), std::string::npos) << unknown;
  // -1 means unset (Lightning's None); a lower number is a mistake, not "unset".
  const auto negative = testing::error_of([&] {
    trainer.add_plugin(PluginSpec{"ema", {{"update_starting_at_step", "-5"}}});
  });
  EXPECT_NE(negative.find("option 'update_starting_at_step' must be >= 0, or -1 for unset; got -5"), std::string::npos)
      << negative;
  // The plugin's name once, not "plugin 'ema': plugin 'ema': ...".
  EXPECT_EQ(negative.rfind("plugin 'ema': option", 0), 0u) << negative;
}

}  // namespace
}  // namespace fulgur
