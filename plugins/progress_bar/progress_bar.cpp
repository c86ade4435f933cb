// The progress_bar plugin (see include/fulgur/plugins/progress_bar.h).
#include "fulgur/plugins/progress_bar.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

using Clock = std::chrono::steady_clock;

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(seconds);
  return fmt::format("{}:{:02}:{:02}", total / 3600, (total / 60) % 60, total % 60);
}

// One bar: where a loop is, how fast it goes, and the text for it.
struct Bar {
  std::string label;
  int64_t done = 0;
  int64_t total = -1;  // unknown
  Clock::time_point start = Clock::now();

  void reset(std::string new_label, int64_t new_total) {
    label = std::move(new_label);
    done = 0;
    total = new_total;
    start = Clock::now();
  }

  std::string render(const std::string& metrics, bool graphic) const {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    std::string text = label + ": ";
    if (total > 0) {
      const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
      text += fmt::format("{}/{} ", done, total);
      if (graphic) {
        constexpr int width = 20;
        const int filled = static_cast<int>(fraction * width);
        std::string bar;
        for (int i = 0; i < width; ++i) bar += i < filled ? "\u2588" : "\u2591";
        text += "[" + bar + "] ";
      }
      const double remaining = rate > 0 ? static_cast<double>(total - done) / rate : NAN;
      text +=
          fmt::format("{:3.0f}% {:.1f}it/s {}<{}", fraction * 100.0, rate, clock_text(elapsed), clock_text(remaining));
    } else {
      text += fmt::format("{} {:.1f}it/s {}", done, rate, clock_text(elapsed));
    }
    if (!metrics.empty()) text += " " + metrics;
    return text;
  }
};

class ProgressBar : public Plugin {
 public:
  explicit ProgressBar(ProgressBarOptions options) : options_(std::move(options)) {
    if (options_.refresh_seconds() < 0 || options_.line_seconds() < 0) {
      throw PluginError("plugin 'progress_bar': refresh_seconds and line_seconds must be >= 0");
    }
    const auto& tty = options_.tty();
    terminal_ = tty == "auto" ? ::isatty(STDOUT_FILENO) == 1 : tty == "true";
    last_draw_ = Clock::now();  // in a log the first line waits for line_seconds or an epoch's end
    const char* rank = std::getenv("RANK");
    enabled_ = rank == nullptr || std::string(rank) == "0";
  }

  std::string name() const override { return "progress_bar"; }

  void attach(HookBus& bus) override {
    if (!enabled_) return;
    connect(
        bus.on_train_epoch_start, [this](EpochHook& hook) { start_epoch(hook.trainer, hook.epoch); },
        SlotGroup::Logger);
    // A fit resumed mid-epoch gets no on_train_epoch_start for that epoch.
    connect(
        bus.on_train_start, [this](RunHook& hook) { start_epoch(hook.trainer, hook.trainer.current_epoch()); },
        SlotGroup::Logger);
    connect(
        bus.on_train_batch_end,
        [this](BatchEndHook& hook) {
          train_.done = hook.batch_idx + 1;
          train_.total = hook.trainer.num_training_batches();  // known once the epoch runs (also when resumed)
          if (due()) draw_train(hook.trainer);
        },
        SlotGroup::Logger);
    connect(
        bus.on_train_epoch_end,
        [this](EpochHook& hook) {
          // The epoch's final line stays on screen, as tqdm leaves each epoch's bar.
          draw_train(hook.trainer);
          if (terminal_) write("\n");
        },
        SlotGroup::Logger);

    connect(
        bus.on_validation_start, [this](RunHook& hook) { start_eval(hook.trainer, eval_label(hook.trainer)); },
        SlotGroup::Logger);
    connect(
        bus.on_test_start, [this](RunHook& hook) { start_eval(hook.trainer, "Testing"); }, SlotGroup::Logger);
    connect(
        bus.on_predict_start, [this](RunHook& hook) { start_eval(hook.trainer, "Predicting"); }, SlotGroup::Logger);
    auto step = [this](BatchEndHook& hook) {
      eval_.done = hook.batch_idx + 1;
      if (terminal_ && due()) draw_line(eval_.render("", true));
    };
    connect(bus.on_validation_batch_end, step, SlotGroup::Logger);
    connect(bus.on_test_batch_end, step, SlotGroup::Logger);
    connect(bus.on_predict_batch_end, step, SlotGroup::Logger);
    connect(
        bus.on_validation_end, [this](RunHook& hook) { end_eval(hook.trainer); }, SlotGroup::Logger);
    connect(
        bus.on_test_end, [this](RunHook& hook) { end_eval(hook.trainer); }, SlotGroup::Logger);
    connect(
        bus.on_predict_end, [this](RunHook& hook) { end_eval(hook.trainer); }, SlotGroup::Logger);
  }

 private:
  void start_epoch(const Trainer& trainer, int64_t epoch) {
    train_.reset(fmt::format("Epoch {}", epoch), trainer.num_training_batches());
    // A terminal shows the new bar at once; a log only gets a line when line_seconds passed.
    if (terminal_) last_draw_ = Clock::time_point{};
  }

  static std::string eval_label(const Trainer& trainer) {
    return trainer.sanity_checking() ? "Sanity Checking" : "Validation";
  }

  bool due() {
    const auto now = Clock::now();
    const double interval = terminal_ ? options_.refresh_seconds() : options_.line_seconds();
    if (std::chrono::duration<double>(now - last_draw_).count() < interval) return false;
    last_draw_ = now;
    return true;
  }

  // The metrics logged with prog_bar=true, as "name=value" (this reads them from the device).
  static std::string metrics_text(Trainer& trainer) {
    std::string text;
    const auto& flags = trainer.metrics().prog_bar();
    for (const auto& [name, value] : trainer.callback_metrics()) {
      std::string base = name;
      for (const char* suffix : {"_step", "_epoch"}) {
        const std::string tail(suffix);
        if (base.size() > tail.size() && base.compare(base.size() - tail.size(), tail.size(), tail) == 0) {
          base = base.substr(0, base.size() - tail.size());
        }
      }
      const auto flag = flags.find(base);
      if (flag == flags.end() || !flag->second || name != base) continue;
      text += fmt::format("{}{}={:.4g}", text.empty() ? "" : " ", name, value.item<double>());
    }
    return text;
  }

  void draw_train(Trainer& trainer) {
    const std::string line = train_.render(metrics_text(trainer), terminal_);
    if (terminal_) {
      draw_line(line);
    } else {
      write(line + "\n");
    }
  }

  void start_eval(Trainer& trainer, const std::string& label) {
    eval_.reset(label, trainer.num_eval_batches());
    in_fit_ = trainer.stage() == Stage::Fit && !trainer.sanity_checking();
    // On a terminal the validation bar goes on the line below the training bar.
    if (terminal_ && in_fit_ && train_.done > 0) write("\n");
    if (terminal_) last_draw_ = Clock::time_point{};
  }

  void end_eval(Trainer& trainer) {
    if (terminal_) {
      if (in_fit_ && train_.done > 0) {
        write("\r\x1b[K\x1b[A");  // clear the validation line, back to the training bar
        draw_train(trainer);
      } else if (eval_.label == "Sanity Checking") {
        write("\r\x1b[K");
      } else {
        draw_line(eval_.render(metrics_text(trainer), true));
        write("\n");
      }
    } else if (!trainer.sanity_checking()) {
      write(eval_.render(metrics_text(trainer), false) + "\n");
    }
    in_fit_ = false;
  }

  void draw_line(const std::string& line) { write("\r" + line + "\x1b[K"); }

  static void write(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }

  ProgressBarOptions options_;
  bool terminal_ = false;
  bool enabled_ = true;
  bool in_fit_ = false;
  Bar train_;
  Bar eval_;
  Clock::time_point last_draw_{};
};

std::unique_ptr<Plugin> make_progress_bar(const PluginOptions& options) {
  return std::make_unique<ProgressBar>(ProgressBarOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_progress_bar)
