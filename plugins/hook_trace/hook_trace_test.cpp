// hook_trace writes the hooks of a real run, in order, with their main argument.
#include <gtest/gtest.h>

#include "fulgur/error.h"
#include "fulgur/plugins/hook_trace.h"
#include "testing.h"

namespace fulgur {
namespace {

TEST(HookTrace, WritesEveryHookOfAFitInOrder) {
  const auto dir = testing::temp_dir("hook_trace");
  const auto path = dir + "/trace.txt";
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 8);
  testing::TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(1);
  options.num_sanity_val_steps(0);
  options.default_root_dir(dir);
  Trainer trainer(options);
  trainer.add_plugin(plugins::HookTraceOptions{path}.spec());
  trainer.fit(model, train, val);

  const std::vector<std::string> expected{
      "setup stage=fit",
      "on_fit_start",
      "on_train_start",
      "on_train_epoch_start epoch=0",
      "on_after_batch_transfer",
      "on_train_batch_start epoch=0 batch=0",
      "on_before_zero_grad optimizer=0",
      "on_before_backward",
      "on_after_backward",
      "on_before_optimizer_step optimizer=0",
      "on_train_batch_end epoch=0 batch=0",
      "on_after_batch_transfer",
      "on_train_batch_start epoch=0 batch=1",
      "on_before_zero_grad optimizer=0",
      "on_before_backward",
      "on_after_backward",
      "on_before_optimizer_step optimizer=0",
      "on_train_batch_end epoch=0 batch=1",
      "on_validation_start",
      "on_validation_epoch_start epoch=0",
      "on_after_batch_transfer",
      "on_validation_batch_start epoch=0 batch=0",
      "on_validation_batch_end epoch=0 batch=0",
      "on_validation_epoch_end epoch=0",
      "on_validation_end",
      "on_train_epoch_end epoch=0",
      "on_save_checkpoint epoch=0 step=2",  // the default model_checkpoint
      "on_train_end",
      "on_fit_end",
      "teardown stage=fit",
  };
  EXPECT_EQ(testing::read_lines(path), expected);
}

TEST(HookTrace, DefaultPathIsInTheDefaultRootDir) {
  const auto dir = testing::temp_dir("hook_trace_default");
  auto data = testing::make_blobs(4);
  auto loader = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  TrainerOptions options;
  options.default_root_dir(dir);
  options.plugins().push_back(PluginSpec::parse("hook_trace"));
  Trainer trainer(options);
  trainer.test(model, loader);
  const auto lines = testing::read_lines(dir + "/hook_trace.txt");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "setup stage=test");
  EXPECT_EQ(lines.back(), "teardown stage=test");
}

TEST(HookTrace, ExceptionsAreTracedWithTheirMessage) {
  struct Failing : testing::TinyClassifier {
    torch::Tensor training_step(const Batch&, int64_t) override { throw Error("boom"); }
  };
  const auto path = testing::temp_dir("hook_trace_error") + "/trace.txt";
  auto data = testing::make_blobs(4);
  auto loader = testing::make_loader(data, 4);
  Failing model;
  Trainer trainer;
  trainer.add_plugin(plugins::HookTraceOptions{path}.spec());
  EXPECT_THROW(trainer.fit(model, loader), Error);
  const auto lines = testing::read_lines(path);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "on_exception error=training_step failed at epoch 0, batch 0: boom");
}

TEST(HookTrace, UnwritablePathIsAClearError) {
  try {
    Trainer trainer;
    trainer.add_plugin(plugins::HookTraceOptions{"/proc/no/such/dir/trace.txt"}.spec());
    FAIL() << "no error";
  } catch (const PluginError& error) {
    EXPECT_NE(std::string(error.what()).find("cannot write '/proc/no/such/dir/trace.txt'"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace fulgur
