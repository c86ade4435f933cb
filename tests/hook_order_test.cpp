// The hook sequence of each run, hook by hook, in Lightning's order.
#include <gtest/gtest.h>

#include <set>

#include "testing.h"

namespace fulgur {
namespace {

using testing::HookRecorder;
using testing::TinyClassifier;

std::vector<std::string> train_batch(int batch) {
  const std::string b = " batch=" + std::to_string(batch);
  return {"on_after_batch_transfer", "on_train_batch_start" + b, "on_before_zero_grad optimizer=0",
          "on_before_backward",      "on_after_backward",        "on_before_optimizer_step optimizer=0",
          "on_train_batch_end" + b};
}

std::vector<std::string> eval_epoch(const std::string& kind, int epoch, int batches) {
  std::vector<std::string> calls{"on_" + kind + "_start", "on_" + kind + "_epoch_start epoch=" + std::to_string(epoch)};
  for (int b = 0; b < batches; ++b) {
    calls.push_back("on_after_batch_transfer");
    calls.push_back("on_" + kind + "_batch_start batch=" + std::to_string(b));
    calls.push_back("on_" + kind + "_batch_end batch=" + std::to_string(b));
  }
  calls.push_back("on_" + kind + "_epoch_end epoch=" + std::to_string(epoch));
  calls.push_back("on_" + kind + "_end");
  return calls;
}

void append(std::vector<std::string>& to, const std::vector<std::string>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

struct Fixture {
  testing::Blobs data = testing::make_blobs(16);
  TensorDataLoader train = testing::make_loader(data, 4);
  TensorDataLoader val = testing::make_loader(data, 4);
  TinyClassifier model;
};

TEST(HookOrder, FitWithSanityCheckTwoTrainBatchesOneValBatch) {
  Fixture f;
  TrainerOptions options;
  options.max_epochs(1);
  options.limit_train_batches(2);
  options.limit_val_batches(1);
  options.default_root_dir(testing::temp_dir("hook_order_fit"));  // checkpointing is on by default
  Trainer trainer(options);
  auto& recorder = static_cast<HookRecorder&>(trainer.add_plugin(std::make_unique<HookRecorder>()));
  trainer.fit(f.model, f.train, f.val);

  std::vector<std::string> expected{"setup stage=fit", "on_fit_start", "on_sanity_check_start"};
  append(expected, eval_epoch("validation", 0, 1));
  append(expected, {"on_sanity_check_end", "on_train_start", "on_train_epoch_start epoch=0"});
  append(expected, train_batch(0));
  append(expected, train_batch(1));
  append(expected, eval_epoch("validation", 0, 1));
  // The default model_checkpoint saves at the epoch's end, after the callbacks saw it.
  append(expected,
         {"on_train_epoch_end epoch=0", "on_save_checkpoint", "on_train_end", "on_fit_end", "teardown stage=fit"});
  EXPECT_EQ(recorder.calls, expected);
}

TEST(HookOrder, Validate) {
  Fixture f;
  TrainerOptions options;
  options.limit_val_batches(2);
  Trainer trainer(options);
  auto& recorder = static_cast<HookRecorder&>(trainer.add_plugin(std::make_unique<HookRecorder>()));
  trainer.validate(f.model, f.val);
  std::vector<std::string> expected{"setup stage=validate"};
  append(expected, eval_epoch("validation", 0, 2));
  expected.push_back("teardown stage=validate");
  EXPECT_EQ(recorder.calls, expected);
}

TEST(HookOrder, Test) {
  Fixture f;
  Trainer trainer;
  auto& recorder = static_cast<HookRecorder&>(trainer.add_plugin(std::make_unique<HookRecorder>()));
  trainer.test(f.model, f.val);  // 16 samples in batches of 4
  std::vector<std::string> expected{"setup stage=test"};
  append(expected, eval_epoch("test", 0, 4));
  expected.push_back("teardown stage=test");
  EXPECT_EQ(recorder.calls, expected);
}

TEST(HookOrder, Predict) {
  Fixture f;
  TrainerOptions options;
  options.limit_predict_batches(2);
  Trainer trainer(options);
  auto& recorder = static_cast<HookRecorder&>(trainer.add_plugin(std::make_unique<HookRecorder>()));
  const auto predictions = trainer.predict(f.model, f.val);
  std::vector<std::string> expected{"setup stage=predict"};
  append(expected, eval_epoch("predict", 0, 2));
  expected.push_back("teardown stage=predict");
  EXPECT_EQ(recorder.calls, expected);
  ASSERT_EQ(predictions.size(), 2u);
  EXPECT_EQ(predictions[0].sizes(), torch::IntArrayRef({4}));
}

TEST(HookOrder, AccumulationZeroesOnFirstAndStepsOnLastMicroBatch) {
  Fixture f;
  TrainerOptions options;
  options.max_epochs(1);
  options.accumulate_grad_batches(2);
  options.limit_train_batches(2);
  options.enable_checkpointing(false);
  Trainer trainer(options);
  auto& recorder = static_cast<HookRecorder&>(trainer.add_plugin(std::make_unique<HookRecorder>()));
  trainer.fit(f.model, f.train);
  const std::vector<std::string> expected{"setup stage=fit",
                                          "on_fit_start",
                                          "on_train_start",
                                          "on_train_epoch_start epoch=0",
                                          "on_after_batch_transfer",
                                          "on_train_batch_start batch=0",
                                          "on_before_zero_grad optimizer=0",
                                          "on_before_backward",
                                          "on_after_backward",
                                          "on_train_batch_end batch=0",
                                          "on_after_batch_transfer",
                                          "on_train_batch_start batch=1",
                                          "on_before_backward",
                                          "on_after_backward",
                                          "on_before_optimizer_step optimizer=0",
                                          "on_train_batch_end batch=1",
                                          "on_train_epoch_end epoch=0",
                                          "on_train_end",
                                          "on_fit_end",
                                          "teardown stage=fit"};
  EXPECT_EQ(recorder.calls, expected);
  EXPECT_EQ(trainer.global_step(), 1);
}

// The Module's own hooks run after the plugins' slots, as Lightning runs callbacks first.
TEST(HookOrder, ModuleHooksRunAfterPluginSlots) {
  struct Model : TinyClassifier {
    std::vector<std::string>* log = nullptr;
    void on_train_epoch_end() override { log->push_back("module"); }
  };
  struct Plugin_ : Plugin {
    std::vector<std::string>* log = nullptr;
    std::string name() const override { return "p"; }
    void attach(HookBus& bus) override {
      connect(bus.on_train_epoch_end, [this](EpochHook&) { log->push_back("plugin"); });
    }
  };
  std::vector<std::string> log;
  Model model;
  model.log = &log;
  auto plugin = std::make_unique<Plugin_>();
  plugin->log = &log;
  TrainerOptions options;
  options.max_epochs(1);
  options.limit_train_batches(1);
  Trainer trainer(options);
  trainer.add_plugin(std::move(plugin));
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 4);
  trainer.fit(model, loader);
  EXPECT_EQ(log, (std::vector<std::string>{"plugin", "module"}));
}

// Every hook a Module may override runs right after the plugins' slots of that hook, in fit,
// validate, test and predict.
TEST(HookOrder, EveryModuleHookRunsRightAfterThePluginsSlots) {
  struct Model : TinyClassifier {
    std::vector<std::string>* calls = nullptr;
    void note(const std::string& hook) { calls->push_back("Module." + hook); }
    void on_train_batch_start(const Batch&, int64_t) override { note("on_train_batch_start"); }
    void on_train_batch_end(const StepOutput& outputs, const Batch&, int64_t) override {
      EXPECT_TRUE(outputs.loss.defined());  // the loss training_step returned
      note("on_train_batch_end");
    }
    void on_validation_start() override { note("on_validation_start"); }
    void on_validation_end() override { note("on_validation_end"); }
    void on_validation_batch_start(const Batch&, int64_t) override { note("on_validation_batch_start"); }
    void on_validation_batch_end(const torch::Tensor&, const Batch&, int64_t) override {
      note("on_validation_batch_end");
    }
    void on_test_start() override { note("on_test_start"); }
    void on_test_end() override { note("on_test_end"); }
    void on_test_batch_start(const Batch&, int64_t) override { note("on_test_batch_start"); }
    void on_test_batch_end(const torch::Tensor&, const Batch&, int64_t) override { note("on_test_batch_end"); }
    void on_predict_start() override { note("on_predict_start"); }
    void on_predict_end() override { note("on_predict_end"); }
    void on_predict_epoch_start() override { note("on_predict_epoch_start"); }
    void on_predict_epoch_end() override { note("on_predict_epoch_end"); }
    void on_predict_batch_start(const Batch&, int64_t) override { note("on_predict_batch_start"); }
    void on_predict_batch_end(const torch::Tensor&, const Batch&, int64_t) override { note("on_predict_batch_end"); }
    void on_before_backward(torch::Tensor& loss) override {
      EXPECT_TRUE(loss.requires_grad());
      note("on_before_backward");
    }
    void on_before_zero_grad(torch::optim::Optimizer&) override { note("on_before_zero_grad"); }
  };
  Fixture f;
  TrainerOptions options;
  options.max_epochs(1);
  options.limit_train_batches(2);
  options.limit_val_batches(1);
  options.default_root_dir(testing::temp_dir("hook_order_module"));
  Trainer trainer(options);
  auto& recorder = static_cast<HookRecorder&>(trainer.add_plugin(std::make_unique<HookRecorder>()));
  Model model;
  model.calls = &recorder.calls;
  trainer.fit(model, f.train, f.val);
  trainer.validate(model, f.val);
  trainer.test(model, f.val);
  trainer.predict(model, f.val);
  const auto& calls = recorder.calls;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].rfind("Module.", 0) != 0) continue;
    const std::string hook = calls[i].substr(7);
    seen.insert(hook);
    ASSERT_GT(i, 0u);
    EXPECT_EQ(calls[i - 1].substr(0, calls[i - 1].find(' ')), hook) << "at " << i;
  }
  EXPECT_EQ(seen.size(), 18u);
}

// A fit resumed mid-epoch (Lightning's rule, checked against Lightning in tests/parity): no sanity
// check and no second on_train_epoch_start; it goes on with the next batch.
TEST(HookOrder, AFitResumedMidEpochSkipsTheSanityCheckAndTheEpochStart) {
  Fixture f;
  const auto dir = testing::temp_dir("hook_order_resume");
  TrainerOptions options;
  options.max_epochs(1);
  options.limit_train_batches(2);
  options.limit_val_batches(1);
  options.default_root_dir(dir);
  options.plugins().push_back(PluginSpec::parse("model_checkpoint:every_n_train_steps=1,save_top_k=-1"));
  {
    Trainer first(options);
    first.fit(f.model, f.train, f.val);
  }
  options.plugins().clear();
  options.enable_checkpointing(false);
  Trainer trainer(options);
  auto& recorder = static_cast<HookRecorder&>(trainer.add_plugin(std::make_unique<HookRecorder>()));
  trainer.fit(f.model, f.train, f.val, dir + "/checkpoints/epoch=0-step=1.ckpt");
  std::vector<std::string> expected{"setup stage=fit", "on_load_checkpoint", "on_fit_start", "on_train_start"};
  append(expected, train_batch(1));
  append(expected, eval_epoch("validation", 0, 1));
  append(expected, {"on_train_epoch_end epoch=0", "on_train_end", "on_fit_end", "teardown stage=fit"});
  EXPECT_EQ(recorder.calls, expected);
}

// Slot groups fix the order between plugins whatever order they were added in.
TEST(HookOrder, SlotGroupsOrderPluginsOnOneHook) {
  struct Grouped : Plugin {
    Grouped(std::string n, SlotGroup g, std::vector<std::string>* l) : name_(std::move(n)), group(g), log(l) {}
    std::string name_;
    SlotGroup group;
    std::vector<std::string>* log;
    std::string name() const override { return name_; }
    void attach(HookBus& bus) override {
      connect(
          bus.on_after_backward, [this](AfterBackwardHook&) { log->push_back(name_); }, group);
    }
  };
  std::vector<std::string> log;
  TrainerOptions options;
  options.max_steps(1);
  Trainer trainer(options);
  trainer.add_plugin(std::make_unique<Grouped>("logger", SlotGroup::Logger, &log));
  trainer.add_plugin(std::make_unique<Grouped>("clip", SlotGroup::Gradients, &log));
  trainer.add_plugin(std::make_unique<Grouped>("amp", SlotGroup::Precision, &log));
  Fixture f;
  trainer.fit(f.model, f.train);
  EXPECT_EQ(log, (std::vector<std::string>{"amp", "clip", "logger"}));
}

}  // namespace
}  // namespace fulgur
