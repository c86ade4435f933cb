// nan_guard stops a real run at the first non-finite loss, before it reaches the weights.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include "fulgur/plugins/nan_guard.h"
#include "testing.h"

namespace fulgur {
namespace {

// The loss turns NaN at one global step.
struct PoisonedAt : testing::TinyClassifier {
  int64_t step = -1;
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    auto loss = testing::TinyClassifier::training_step(batch, batch_idx);
    return trainer().global_step() == step ? loss * std::numeric_limits<float>::quiet_NaN() : loss;
  }
};

TEST(NanGuard, StopsNamingTheBatchAndKeepsTheLastGoodCheckpoint) {
  const auto dir = testing::temp_dir("nan_guard");
  auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 4);  // 4 steps per epoch
  PoisonedAt model;
  model.step = 6;  // epoch 1, batch 2
  TrainerOptions options;
  options.max_epochs(3);
  options.default_root_dir(dir);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.plugins().push_back(plugins::NanGuardOptions{}.spec());
  Trainer trainer(options);
  const auto message = testing::error_of([&] { trainer.fit(model, loader); });
  EXPECT_EQ(message,
            "nan_guard: the training loss is nan at epoch 1, batch 2 (global step 6); the last good checkpoint is " +
                dir + "/checkpoints/epoch=0-step=4.ckpt");
  EXPECT_TRUE(std::filesystem::exists(dir + "/checkpoints/epoch=0-step=4.ckpt"));
  EXPECT_TRUE(torch::isfinite(testing::flat_parameters(model)).all().item<bool>());
  EXPECT_EQ(trainer.global_step(), 6);
}

TEST(NanGuard, GradientCheckNamesTheParameter) {
  struct BadGradient : testing::TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t) override {
      // sqrt at 0 has an infinite derivative: a finite loss with a non-finite gradient.
      return (forward(batch[0]).sum() * 0).abs().sqrt() + linear->bias.sum() * 0;
    }
  };
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 4);
  BadGradient model;
  TrainerOptions options;
  options.max_epochs(1);
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  plugins::NanGuardOptions guard;
  guard.check_gradients(true);
  options.plugins().push_back(guard.spec());
  Trainer trainer(options);
  const auto message = testing::error_of([&] { trainer.fit(model, loader); });
  EXPECT_NE(message.find("nan_guard: the gradient of 'linear."), std::string::npos) << message;
  EXPECT_NE(message.find("no checkpoint was saved yet"), std::string::npos) << message;
}

}  // namespace
}  // namespace fulgur
