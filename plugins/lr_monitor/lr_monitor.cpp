// The lr_monitor plugin (see include/fulgur/plugins/lr_monitor.h).
#include "fulgur/plugins/lr_monitor.h"

#include <c10/util/Type.h>

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

class LRMonitor : public Plugin {
 public:
  explicit LRMonitor(LRMonitorOptions options) : options_(std::move(options)) {
    if (!options_.logging_interval().empty() && options_.logging_interval() != "step" && options_.logging_interval() != "epoch") {
      throw PluginError("plugin 'lr_monitor': option 'logging_interval' expects step, epoch or nothing (each "
                        "scheduler at its own interval), got '" + options_.logging_interval() + "'");
    }
  }

  std::string name() const override { return "lr_monitor"; }

  void attach(HookBus& bus) override {
    connect(bus.on_train_start, [](RunHook& hook) {
      if (hook.trainer.loggers().empty()) {
        throw Error("lr_monitor hands learning rates to the loggers, but the Trainer has none; add a logger plugin "
                    "(e.g. --plugin csv_logger)");
      }
    });
    // Lightning's rule: "epoch" logs every rate at each epoch's start, "step" at the batches whose
    // metrics go to the loggers; unset (the default) logs a scheduler's optimizer at that
    // scheduler's own interval, and an optimizer without a scheduler at both.
    const std::string& interval = options_.logging_interval();
    if (interval != "step") {
      connect(bus.on_train_epoch_start, [this, interval](EpochHook& hook) {
        log_rates(hook.trainer, interval.empty() ? "epoch" : "any");
      });
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
        rates[key] = groups[g].options().get_lr();
      }
    }
    if (rates.empty()) return;
    for (const auto& [key, rate] : rates) trainer.metrics().publish(key, rate);
    trainer.log_to_loggers(rates, trainer.global_step());
  }

  LRMonitorOptions options_;
};

std::unique_ptr<Plugin> make_lr_monitor(const PluginOptions& options) {
  return std::make_unique<LRMonitor>(LRMonitorOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_lr_monitor)
