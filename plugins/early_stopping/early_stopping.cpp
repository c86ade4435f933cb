// The early_stopping plugin (see include/fulgur/plugins/early_stopping.h).
#include "fulgur/plugins/early_stopping.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

class EarlyStopping : public Plugin {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
    options_.min_delta() = std::abs(options_.min_delta());
    best_ = minimizing() ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }

  std::string name() const override { return "early_stopping"; }

  void attach(HookBus& bus) override {
    connect(
        bus.on_train_epoch_end,
        [this](EpochHook& hook) {
          if (checks_at_epoch_end(hook.trainer)) check(hook.trainer);
        },
        SlotGroup::Monitor);
    connect(
        bus.on_validation_end,
        [this](RunHook& hook) {
          auto& trainer = hook.trainer;
          if (trainer.sanity_checking() || trainer.stage() != Stage::Fit || checks_at_epoch_end(trainer)) return;
          check(trainer);
        },
        SlotGroup::Monitor);
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) {
      auto state = plugin_state(hook.checkpoint, name());
      state.insert_or_assign("wait_count", wait_count_);
      state.insert_or_assign("stopped_epoch", stopped_epoch_);
      state.insert_or_assign("best_score", best_);
      state.insert_or_assign("patience", options_.patience());
    });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) {
      if (!has_plugin_state(hook.checkpoint, name())) return;
      const auto state = plugin_state(hook.checkpoint, name());
      wait_count_ = state.at("wait_count").toInt();
      stopped_epoch_ = state.at("stopped_epoch").toInt();
      if (wait_count_ < 0 || stopped_epoch_ < 0) {
        throw Error("checkpoint: early_stopping's saved wait_count (" + std::to_string(wait_count_) +
                    ") and stopped_epoch (" + std::to_string(stopped_epoch_) + ") cannot be negative");
      }
      best_ = state.at("best_score").toDouble();
    });
  }

 private:
  bool minimizing() const { return options_.mode() == "min"; }
  bool better(double a, double b) const { return minimizing() ? a < b : a > b; }

  bool checks_at_epoch_end(const Trainer& trainer) const {
    const auto& when = options_.check_on_train_epoch_end();
    if (when != "auto") return when == "true";
    return trainer.options().validates_once_per_epoch();
  }

  void check(Trainer& trainer) {
    if (trainer.options().fast_dev_run() > 0) return;  // Lightning turns early stopping off under fast_dev_run
    const auto& metrics = trainer.callback_metrics();
    const auto found = metrics.find(options_.monitor());
    if (found == metrics.end()) {
      const std::string message =
          "early stopping is conditioned on metric '" + options_.monitor() +
          "', which is not available; logged metrics: " + trainer.metrics().callback_metric_names();
      if (options_.strict()) throw Error("plugin 'early_stopping': " + message);
      spdlog::warn("{} (strict=false: skipped)", message);
      return;
    }
    const double current = found->second.item<double>();
    const auto [stop, reason] = evaluate(current);
    if (stop) {
      trainer.should_stop = true;
      stopped_epoch_ = trainer.current_epoch();
    }
    if (!reason.empty() && (stop || options_.verbose())) spdlog::info("early_stopping: {}", reason);
  }

  // Lightning's order of checks: non-finite, threshold, divergence, improvement, patience.
  std::pair<bool, std::string> evaluate(double current) {
    const std::string& metric = options_.monitor();
    if (options_.check_finite() && !std::isfinite(current)) {
      return {true, fmt::format("monitored metric {} = {} is not finite; previous best value was {:.3f}. "
                                "Signaling Trainer to stop.",
                                metric, current, best_)};
    }
    if (!std::isnan(options_.stopping_threshold()) && better(current, options_.stopping_threshold())) {
      return {true, fmt::format("stopping threshold reached: {} = {} {} {}. Signaling Trainer to stop.", metric,
                                current, minimizing() ? "<" : ">", options_.stopping_threshold())};
    }
    if (!std::isnan(options_.divergence_threshold()) && better(options_.divergence_threshold(), current)) {
      return {true, fmt::format("divergence threshold reached: {} = {} {} {}. Signaling Trainer to stop.", metric,
                                current, minimizing() ? ">" : "<", options_.divergence_threshold())};
    }
    const double target = minimizing() ? best_ - options_.min_delta() : best_ + options_.min_delta();
    if (better(current, target)) {
      std::string reason = std::isinf(best_)
                               ? fmt::format("metric {} improved. New best score: {:.3f}", metric, current)
                               : fmt::format("metric {} improved by {:.3f} >= min_delta = {}. New best score: {:.3f}",
                                             metric, std::abs(best_ - current), options_.min_delta(), current);
      best_ = current;
      wait_count_ = 0;
      return {false, reason};
    }
    ++wait_count_;
    if (wait_count_ >= options_.patience()) {
      return {true, fmt::format("monitored metric {} did not improve in the last {} records. Best score: {:.3f}. "
                                "Signaling Trainer to stop.",
                                metric, wait_count_, best_)};
    }
    return {false, ""};
  }

  EarlyStoppingOptions options_;
  double best_;
  int64_t wait_count_ = 0;
  int64_t stopped_epoch_ = 0;
};

std::unique_ptr<Plugin> make_early_stopping(const PluginOptions& options) {
  return std::make_unique<EarlyStopping>(EarlyStoppingOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_early_stopping)
