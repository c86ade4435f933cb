// The profiler plugin (see include/fulgur/plugins/profiler.h).
#include "fulgur/plugins/profiler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

using Clock = std::chrono::steady_clock;

struct Tally {
  double seconds = 0;
  int64_t calls = 0;
  void add(double s) {
    seconds += s;
    ++calls;
  }
};

// The kernel phase that runs after each hook returns, until the next marked hook starts.
const std::map<std::string_view, std::string_view> kPhaseAfter = {
    {"on_train_epoch_start", "data fetch and transfer"},
    {"on_train_batch_end", "data fetch and transfer"},
    {"on_validation_end", "data fetch and transfer"},
    {"on_train_batch_start", "training_step (forward + loss)"},
    {"on_before_zero_grad", "zero_grad"},
    {"on_before_backward", "backward"},
    {"on_after_backward", "after backward"},
    {"on_before_optimizer_step", "optimizer step"},
    {"on_validation_batch_start", "validation_step"},
    {"on_validation_batch_end", "validation data fetch"},
    {"on_validation_epoch_start", "validation data fetch"},
    {"on_test_batch_start", "test_step"},
    {"on_test_batch_end", "test data fetch"},
    {"on_test_epoch_start", "test data fetch"},
    {"on_predict_batch_start", "predict_step"},
    {"on_predict_batch_end", "predict data fetch"},
    {"on_predict_epoch_start", "predict data fetch"},
};

class Profiler : public Plugin, public SlotTimer {
 public:
  explicit Profiler(ProfilerOptions options) : options_(std::move(options)) {}
  ~Profiler() override {
    if (observed_bus_ && observed_bus_->slot_timer == this) observed_bus_->slot_timer = nullptr;
  }

  std::string name() const override { return "profiler"; }

  void attach(HookBus& bus) override {
    observed_bus_ = &bus;
    bus.slot_timer = this;
    // Marks around every hook, outside every other slot: hook time and the kernel's phases between.
    bus.for_each_hook([this](std::string_view hook_name, auto& hook) {
      using Context = std::remove_reference_t<typename std::remove_reference_t<decltype(hook)>::template arg<0>::type>;
      marks_.emplace_back(hook.connect(
          SlotGroup::Trace, [this, hook_name](Context&) { hook_started(hook_name); }, boost::signals2::at_front));
      marks_.emplace_back(hook.connect(SlotGroup::Last, [this, hook_name](Context& context) {
        hook_ended(hook_name);
        if constexpr (std::is_same_v<Context, StageHook>) {
          if (hook_name == "teardown") report(context.trainer, context.stage);
        }
      }));
    });
    marks_.emplace_back(bus.on_exception.connect(SlotGroup::Last, [this](ExceptionHook&) {
      depth_ = 0;
      starts_.clear();
    }));
  }

  void record(std::string_view hook, const std::string& plugin, double seconds) override {
    slots_[std::string(hook) + " / " + plugin].add(seconds);
  }

 private:
  void hook_started(std::string_view hook) {
    const auto now = Clock::now();
    if (depth_++ == 0) {
      if (!phase_.empty()) phases_[std::string(phase_)].add(std::chrono::duration<double>(now - mark_).count());
      phase_ = {};
      if (!run_started_) {
        run_start_ = now;
        run_started_ = true;
      }
    }
    starts_.push_back(now);
  }

  void hook_ended(std::string_view hook) {
    const auto now = Clock::now();
    if (!starts_.empty()) {
      hooks_[std::string(hook)].add(std::chrono::duration<double>(now - starts_.back()).count());
      starts_.pop_back();
    }
    if (depth_ > 0 && --depth_ == 0) {
      const auto next = kPhaseAfter.find(hook);
      phase_ = next == kPhaseAfter.end() ? std::string_view() : next->second;
      mark_ = now;
    }
  }

  void report(Trainer& trainer, Stage stage) {
    const double total = std::chrono::duration<double>(Clock::now() - run_start_).count();
    std::string text = fmt::format("Profiler report ({}): {:.3f} s from setup to teardown\n", to_string(stage), total);
    const std::string header =
        fmt::format("{:<58} | {:>11} | {:>8} | {:>10} | {:>7}", "Action", "Mean (us)", "Calls", "Total (s)", "Percent");
    text += header + "\n" + std::string(header.size(), '-') + "\n";
    auto section = [&](const std::string& prefix, const std::map<std::string, Tally>& tallies) {
      std::vector<std::pair<std::string, Tally>> rows(tallies.begin(), tallies.end());
      std::sort(rows.begin(), rows.end(),
                [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
      for (const auto& [action, tally] : rows) {
        text += fmt::format("{:<58} | {:>11.1f} | {:>8} | {:>10.4f} | {:>6.2f}%\n", prefix + action,
                            1e6 * tally.seconds / std::max<int64_t>(tally.calls, 1), tally.calls, tally.seconds,
                            total > 0 ? 100.0 * tally.seconds / total : 0.0);
      }
    };
    section("kernel: ", phases_);
    section("hook: ", hooks_);
    section("slot: ", slots_);
    if (options_.print()) {
      std::fputs(text.c_str(), stdout);
      std::fflush(stdout);
    }
    const auto folder =
        std::filesystem::path(options_.dirpath().empty() ? trainer.options().default_root_dir() : options_.dirpath());
    std::error_code ignored;
    std::filesystem::create_directories(folder, ignored);
    const auto path = folder / (std::string(to_string(stage)) + "-profile.txt");
    std::ofstream file(path);
    if (!(file << text)) throw Error("plugin 'profiler': cannot write '" + path.string() + "'");
    phases_.clear();
    hooks_.clear();
    slots_.clear();
    run_started_ = false;
    phase_ = {};
  }

  ProfilerOptions options_;
  HookBus* observed_bus_ = nullptr;
  std::vector<boost::signals2::scoped_connection> marks_;
  std::map<std::string, Tally> phases_, hooks_, slots_;
  std::vector<Clock::time_point> starts_;
  int depth_ = 0;  // hooks emitted from inside hooks (a checkpoint saved in on_train_epoch_end) nest
  std::string_view phase_;
  Clock::time_point mark_{};
  Clock::time_point run_start_{};
  bool run_started_ = false;
};

std::unique_ptr<Plugin> make_profiler(const PluginOptions& options) {
  return std::make_unique<Profiler>(ProfilerOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_profiler)
