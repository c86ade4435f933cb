// The lr_monitor plugin (see include/fulgur/plugins/lr_monitor.h).
#include "fulgur/plugins/lr_monitor.h"

#include <optional>

#include <c10/util/Type.h>
#include <spdlog/spdlog.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/lr_scheduler.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

// "torch::optim::Adam" -> "Adam".
std::string short_type_name(const torch::optim::Optimizer& optimizer) {
  const std::string full = c10::demangle(typeid(optimizer).name());
  const auto colon = full.rfind("::");
  return colon == std::string::npos ? full : full.substr(colon + 2);
}

// A group's momentum as Lightning reads it: betas[0] where the optimizer has betas, else its
// momentum; nothing for an optimizer that has neither.
std::optional<double> momentum_of(const torch::optim::OptimizerOptions& options) {
  if (const auto* adam = dynamic_cast<const torch::optim::AdamOptions*>(&options)) return std::get<0>(adam->betas());
  if (const auto* adamw = dynamic_cast<const torch::optim::AdamWOptions*>(&options)) return std::get<0>(adamw->betas());
  if (const auto* sgd = dynamic_cast<const torch::optim::SGDOptions*>(&options)) return sgd->momentum();
  if (const auto* rms = dynamic_cast<const torch::optim::RMSpropOptions*>(&options)) return rms->momentum();
  return std::nullopt;
}

std::optional<double> weight_decay_of(const torch::optim::OptimizerOptions& options) {
  if (const auto* adam = dynamic_cast<const torch::optim::AdamOptions*>(&options)) return adam->weight_decay();
  if (const auto* adamw = dynamic_cast<const torch::optim::AdamWOptions*>(&options)) return adamw->weight_decay();
  if (const auto* sgd = dynamic_cast<const torch::optim::SGDOptions*>(&options)) return sgd->weight_decay();
  if (const auto* rms = dynamic_cast<const torch::optim::RMSpropOptions*>(&options)) return rms->weight_decay();
  if (const auto* adagrad = dynamic_cast<const torch::optim::AdagradOptions*>(&options)) return adagrad->weight_decay();
  return std::nullopt;
}

class LRMonitor : public Plugin {
 public:
  explicit LRMonitor(LRMonitorOptions options) : options_(std::move(options)) {
    if (!options_.logging_interval().empty() && options_.logging_interval() != "step" &&
        options_.logging_interval() != "epoch") {
      throw PluginError(
          "plugin 'lr_monitor': option 'logging_interval' expects step, epoch or nothing (each "
          "scheduler at its own interval), got '" +
          options_.logging_interval() + "'");
    }
  }

  std::string name() const override { return "lr_monitor"; }

  void attach(HookBus& bus) override {
    connect(bus.on_train_start, [](RunHook& hook) {
      if (hook.trainer.loggers().empty()) {
        throw Error(
            "lr_monitor hands learning rates to the loggers, but the Trainer has none; add a logger plugin "
            "(e.g. --plugin csv_logger)");
      }
    });
    // Lightning's rule: "epoch" logs every rate at each epoch's start, "step" at the batches whose
    // metrics go to the loggers; unset (the default) logs a scheduler's optimizer at that
    // scheduler's own interval, and an optimizer without a scheduler at both.
    const std::string& interval = options_.logging_interval();
    if (interval != "step") {
      connect(bus.on_train_epoch_start,
              [this, interval](EpochHook& hook) { log_rates(hook.trainer, interval.empty() ? "epoch" : "any"); });
    }
    if (interval != "epoch") {
      // The same steps whose metrics the Trainer hands the loggers, with the same step number.
      connect(bus.on_train_batch_start, [this, interval](BatchStartHook& hook) {
        const Trainer& trainer = hook.trainer;
        if ((trainer.global_step() + 1) % trainer.options().log_every_n_steps() == 0 || trainer.should_stop) {
          log_rates(hook.trainer, interval.empty() ? "step" : "any");
        }
      });
    }
  }

 private:
  // The optimizers due at `due` ("epoch", "step" or "any"): those with a scheduler of that
  // interval, and those without a scheduler.
  void log_rates(Trainer& trainer, const std::string& due) {
    Logger::Metrics rates;
    const auto& optimizers = trainer.optimizers();
    for (std::size_t i = 0; i < optimizers.size(); ++i) {
      bool scheduled = false;
      bool scheduled_now = due == "any";
      for (const auto& config : trainer.lr_schedulers()) {
        if (&config.scheduler->optimizer() != optimizers[i].get()) continue;
        scheduled = true;
        scheduled_now = scheduled_now || config.interval() == due;
      }
      if (scheduled && !scheduled_now) continue;
      std::string base = "lr-" + short_type_name(*optimizers[i]);
      for (const auto& config : trainer.lr_schedulers()) {
        if (&config.scheduler->optimizer() == optimizers[i].get() && !config.name().empty()) base = config.name();
      }
      const auto& groups = optimizers[i]->param_groups();
      for (std::size_t g = 0; g < groups.size(); ++g) {
        std::string key = groups.size() > 1 ? base + "/pg" + std::to_string(g + 1) : base;
        // Two optimizers of one type get Lightning's "-1" suffix on the second.
        while (rates.count(key)) key += "-" + std::to_string(i);
        const auto& group_options = groups[g].options();
        rates[key] = group_options.get_lr();
        if (options_.log_momentum()) {
          const auto momentum = momentum_of(group_options);
          if (!momentum && !warned_momentum_) {
            warned_momentum_ = true;
            spdlog::warn("lr_monitor: log_momentum is set, but {} has no momentum: 0 is logged for it", key);
          }
          rates[key + "-momentum"] = momentum.value_or(0.0);
        }
        if (options_.log_weight_decay()) {
          if (const auto decay = weight_decay_of(group_options)) rates[key + "-weight_decay"] = *decay;
        }
      }
    }
    if (rates.empty()) return;
    for (const auto& [key, rate] : rates) trainer.metrics().publish(key, rate);
    trainer.log_to_loggers(rates, trainer.global_step());
  }

  LRMonitorOptions options_;
  bool warned_momentum_ = false;
};

std::unique_ptr<Plugin> make_lr_monitor(const PluginOptions& options) {
  return std::make_unique<LRMonitor>(LRMonitorOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_lr_monitor)
