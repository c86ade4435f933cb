// The profiler finds the slow plugin on a real run and reports the kernel's phases.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "fulgur/plugins/profiler.h"
#include "testing.h"

namespace fulgur {
namespace {

struct SlowCallback : Plugin {
  std::string name() const override { return "slow_callback"; }
  void attach(HookBus& bus) override {
    connect(bus.on_train_batch_end, [](BatchEndHook&) { std::this_thread::sleep_for(std::chrono::milliseconds(3)); });
  }
};

std::string row(const std::string& text, const std::string& action) {
  const auto at = text.find(action);
  if (at == std::string::npos) return "";
  return text.substr(at, text.find('\n', at) - at);
}

int64_t calls_in(const std::string& row_text) {
  // "action | mean | calls | total | percent"
  auto field = row_text;
  for (int i = 0; i < 2; ++i) field = field.substr(field.find('|') + 1);
  return std::stoll(field.substr(0, field.find('|')));
}

TEST(Profiler, SplitsHookTimePerPluginAndMeasuresTheKernelPhases) {
  const auto dir = testing::temp_dir("profiler");
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 4);  // 8 steps per epoch
  auto val = testing::make_loader(data, 16);
  testing::TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(2);
  options.default_root_dir(dir);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  plugins::ProfilerOptions profiler;
  profiler.print(false);
  options.plugins().push_back(profiler.spec());
  Trainer trainer(options);
  trainer.add_plugin(std::make_unique<SlowCallback>());
  trainer.fit(model, train, val);

  std::ifstream file(dir + "/fit-profile.txt");
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  const auto slow = row(text, "slot: on_train_batch_end / slow_callback");
  ASSERT_FALSE(slow.empty()) << text;
  EXPECT_EQ(calls_in(slow), 16);
  // The slow slot is the most expensive slot: the slot section is sorted by total time.
  EXPECT_LT(text.find("slot: on_train_batch_end / slow_callback"),
            text.find("slot: on_train_epoch_end / model_checkpoint"))
      << text;
  for (const char* phase : {"kernel: training_step (forward + loss)", "kernel: backward", "kernel: optimizer step",
                            "kernel: zero_grad", "kernel: data fetch and transfer", "kernel: validation_step"}) {
    EXPECT_FALSE(row(text, phase).empty()) << phase << "\n" << text;
  }
  EXPECT_EQ(calls_in(row(text, "kernel: backward")), 16);
  EXPECT_EQ(calls_in(row(text, "kernel: optimizer step")), 16);
  EXPECT_EQ(calls_in(row(text, "hook: on_train_batch_end")), 16);
}

TEST(Profiler, SlotsAreNotTimedWithoutAProfiler) {
  Trainer trainer;
  EXPECT_EQ(trainer.hooks().slot_timer, nullptr);
  {
    TrainerOptions options;
    options.plugins().push_back(PluginSpec::parse("profiler:print=false"));
    Trainer profiled(options);
    EXPECT_NE(profiled.hooks().slot_timer, nullptr);
  }
}

}  // namespace
}  // namespace fulgur
