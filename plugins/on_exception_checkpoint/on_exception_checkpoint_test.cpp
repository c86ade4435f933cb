// on_exception_checkpoint saves a checkpoint a crashed or interrupted fit resumes from exactly.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "fulgur/error.h"
#include "fulgur/plugins/on_exception_checkpoint.h"
#include "testing.h"

namespace fulgur {
namespace {

// Fails once, at a chosen global batch, as a flaky data source or a bug would.
struct Crashing : testing::TinyClassifier {
  int64_t crash_at_step = -1;
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    if (trainer().global_step() == crash_at_step) throw std::runtime_error("the data server went away");
    return testing::TinyClassifier::training_step(batch, batch_idx);
  }
};

TrainerOptions options_in(const std::string& dir, int64_t epochs) {
  TrainerOptions options;
  options.max_epochs(epochs);
  options.default_root_dir(dir);
  options.enable_checkpointing(false);
  options.plugins().push_back(plugins::OnExceptionCheckpointOptions{}.spec());
  return options;
}

TEST(OnExceptionCheckpoint, ACrashedFitResumesToTheSameWeights) {
  auto data = testing::make_blobs(32);
  auto loader = testing::make_loader(data, 8, /*shuffle=*/true, 5);  // 4 batches per epoch
  torch::manual_seed(3);
  Crashing reference;
  Trainer(options_in(testing::temp_dir("oec_ref"), 3)).fit(reference, loader);

  const auto dir = testing::temp_dir("oec");
  torch::manual_seed(3);
  Crashing model;
  model.crash_at_step = 6;  // epoch 1, batch 2
  Trainer crashed(options_in(dir, 3));
  EXPECT_THROW(crashed.fit(model, loader), std::exception);
  const auto path = dir + "/checkpoints/on_exception.ckpt";
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(read_checkpoint(path).at("global_step").toInt(), 6);

  model.crash_at_step = -1;
  Trainer resumed(options_in(dir, 3));
  resumed.fit(model, loader, nullptr, path);
  EXPECT_EQ(resumed.global_step(), 12);
  EXPECT_TRUE(torch::equal(testing::flat_parameters(model), testing::flat_parameters(reference)));
}

// SIGINT (Ctrl-C) ends the fit at the next batch boundary through on_exception.
TEST(OnExceptionCheckpoint, SigintSavesAndEndsTheFitWithAClearError) {
  struct Interrupter : Plugin {
    std::string name() const override { return "interrupter"; }
    void attach(HookBus& bus) override {
      connect(bus.on_train_batch_end, [](BatchEndHook& hook) {
        if (hook.trainer.global_step() == 3) std::raise(SIGINT);
      });
    }
  };
  const auto dir = testing::temp_dir("oec_sigint");
  auto data = testing::make_blobs(32);
  auto loader = testing::make_loader(data, 8);
  testing::TinyClassifier model;
  Trainer trainer(options_in(dir, 5));
  trainer.add_plugin(std::make_unique<Interrupter>());
  try {
    trainer.fit(model, loader);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()), "fit interrupted by SIGINT at epoch 0 after batch 2");
  }
  EXPECT_EQ(read_checkpoint(dir + "/checkpoints/on_exception.ckpt").at("global_step").toInt(), 3);
}

TEST(OnExceptionCheckpoint, ErrorsOutsideTrainingSaveNothing) {
  struct NoTest : testing::TinyClassifier {
    torch::Tensor test_step(const Batch&, int64_t) override { throw std::runtime_error("broken metric"); }
  };
  const auto dir = testing::temp_dir("oec_test");
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 8);
  NoTest model;
  Trainer trainer(options_in(dir, 1));
  EXPECT_THROW(trainer.test(model, loader), std::exception);
  EXPECT_FALSE(std::filesystem::exists(dir + "/checkpoints"));
}

}  // namespace
}  // namespace fulgur
