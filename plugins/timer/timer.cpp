// The timer plugin (see include/fulgur/plugins/timer.h).
#include "fulgur/plugins/timer.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include <spdlog/spdlog.h>

#include "fulgur/duration.h"
#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

using Clock = std::chrono::steady_clock;

// Empty: no limit, only measure.
double parse_duration(const std::string& text) {
  if (text.empty()) return std::numeric_limits<double>::infinity();
  return fulgur::parse_duration(text, "plugin 'timer': duration");
}

class Timer : public Plugin, public TimerInfo {
 public:
  explicit Timer(TimerOptions options) : options_(std::move(options)), duration_(parse_duration(options_.duration())) {}

  std::string name() const override { return "timer"; }

  void attach(HookBus& bus) override {
    connect(
        bus.on_train_start, [this](RunHook&) { start(Stage::Fit); }, SlotGroup::Trace);
    connect(
        bus.on_train_end, [this](RunHook&) { end(Stage::Fit); }, SlotGroup::Trace);
    connect(
        bus.on_validation_start, [this](RunHook&) { start(Stage::Validate); }, SlotGroup::Trace);
    connect(
        bus.on_validation_end, [this](RunHook&) { end(Stage::Validate); }, SlotGroup::Trace);
    connect(
        bus.on_test_start, [this](RunHook&) { start(Stage::Test); }, SlotGroup::Trace);
    connect(
        bus.on_test_end, [this](RunHook&) { end(Stage::Test); }, SlotGroup::Trace);
    connect(
        bus.on_predict_start, [this](RunHook&) { start(Stage::Predict); }, SlotGroup::Trace);
    connect(
        bus.on_predict_end, [this](RunHook&) { end(Stage::Predict); }, SlotGroup::Trace);
    connect(
        bus.on_train_batch_end,
        [this](BatchEndHook& hook) {
          if (options_.interval() == "step") check(hook.trainer);
        },
        SlotGroup::Monitor);
    connect(
        bus.on_train_epoch_end,
        [this](EpochHook& hook) {
          if (options_.interval() == "epoch") check(hook.trainer);
        },
        SlotGroup::Monitor);
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) {
      auto state = plugin_state(hook.checkpoint, name());
      StateDict elapsed = make_state_dict();
      for (Stage stage : {Stage::Fit, Stage::Validate, Stage::Test, Stage::Predict}) {
        elapsed.insert(std::string(to_string(stage)), time_elapsed(stage));
      }
      state.insert_or_assign("time_elapsed", elapsed);
    });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) {
      if (!has_plugin_state(hook.checkpoint, name())) return;
      const auto elapsed = plugin_state(hook.checkpoint, name()).at("time_elapsed").toGenericDict();
      for (Stage stage : {Stage::Fit, Stage::Validate, Stage::Test, Stage::Predict}) {
        const std::string key(to_string(stage));
        if (elapsed.contains(key)) offset_[stage] = elapsed.at(key).toDouble();
      }
    });
  }

  double time_elapsed(Stage stage) const override {
    double seconds = offset_.count(stage) ? offset_.at(stage) : 0.0;
    if (const auto found = accumulated_.find(stage); found != accumulated_.end()) seconds += found->second;
    if (const auto found = running_.find(stage); found != running_.end()) {
      seconds += std::chrono::duration<double>(Clock::now() - found->second).count();
    }
    return seconds;
  }

  double time_remaining() const override { return duration_ - time_elapsed(Stage::Fit); }

 private:
  void start(Stage stage) { running_[stage] = Clock::now(); }
  void end(Stage stage) {
    const auto found = running_.find(stage);
    if (found == running_.end()) return;
    accumulated_[stage] += std::chrono::duration<double>(Clock::now() - found->second).count();
    running_.erase(found);
  }

  void check(Trainer& trainer) {
    if (std::isinf(duration_) || time_elapsed(Stage::Fit) < duration_ || trainer.should_stop) return;
    trainer.should_stop = true;
    if (options_.verbose()) {
      spdlog::info("timer: time limit of {:.1f} s reached after {:.1f} s of training. Signaling Trainer to stop.",
                   duration_, time_elapsed(Stage::Fit));
    }
  }

  TimerOptions options_;
  double duration_;
  std::map<Stage, double> offset_;  // restored from a checkpoint
  std::map<Stage, double> accumulated_;
  std::map<Stage, Clock::time_point> running_;
};

std::unique_ptr<Plugin> make_timer(const PluginOptions& options) {
  return std::make_unique<Timer>(TimerOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_timer)
