// The grad_accumulation_scheduler plugin (see include/fulgur/plugins/grad_accumulation_scheduler.h).
#include "fulgur/plugins/grad_accumulation_scheduler.h"

#include <sstream>

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/plugin_options.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

std::map<int64_t, int64_t> parse_scheduling(const std::string& text) {
  const auto bad = [&text](const std::string& why) {
    return PluginError("plugin 'grad_accumulation_scheduler': option 'scheduling' expects epoch:factor pairs "
                       "separated by '/' (0:1/4:2), got '" + text + "': " + why);
  };
  std::map<int64_t, int64_t> scheduling;
  std::istringstream in(text);
  std::string pair;
  while (std::getline(in, pair, '/')) {
    const auto colon = pair.find(':');
    if (colon == std::string::npos) throw bad("'" + pair + "' has no ':'");
    int64_t epoch = 0;
    int64_t factor = 0;
    try {
      std::size_t used_epoch = 0;
      std::size_t used_factor = 0;
      epoch = std::stoll(pair.substr(0, colon), &used_epoch);
      factor = std::stoll(pair.substr(colon + 1), &used_factor);
      if (used_epoch != colon || used_factor != pair.size() - colon - 1) throw std::invalid_argument(pair);
    } catch (const std::exception&) {
      throw bad("'" + pair + "' is not two integers");
    }
    if (epoch < 0) throw bad("epochs must be >= 0");
    if (factor < 1) throw bad("factors must be >= 1");
    if (!scheduling.emplace(epoch, factor).second) throw bad("epoch " + std::to_string(epoch) + " is given twice");
  }
  if (scheduling.empty()) throw bad("no pairs");
  return scheduling;
}

class GradAccumulationScheduler : public Plugin {
 public:
  explicit GradAccumulationScheduler(GradAccumulationSchedulerOptions options) : options_(std::move(options)) {
    if (options_.scheduling.empty()) throw PluginError("plugin 'grad_accumulation_scheduler': empty scheduling");
    for (const auto& [epoch, factor] : options_.scheduling) {
      if (epoch < 0 || factor < 1) {
        throw PluginError("plugin 'grad_accumulation_scheduler': epochs must be >= 0 and factors >= 1");
      }
    }
    options_.scheduling.emplace(0, 1);  // as Lightning: before the first listed epoch, no accumulation
  }

  std::string name() const override { return "grad_accumulation_scheduler"; }

  void attach(HookBus& bus) override {
    connect(bus.on_fit_start, [](RunHook& hook) {
      if (hook.trainer.options().accumulate_grad_batches != 1) {
        throw Error("grad_accumulation_scheduler sets the accumulation itself; leave the Trainer option "
                    "accumulate_grad_batches at 1 (it is " +
                    std::to_string(hook.trainer.options().accumulate_grad_batches) + ")");
      }
      if (hook.trainer.module() && !hook.trainer.module()->automatic_optimization()) {
        throw Error("grad_accumulation_scheduler needs automatic optimization; under manual optimization the "
                    "Module accumulates gradients itself");
      }
    });
    connect(bus.on_train_epoch_start, [this](EpochHook& hook) { apply(hook.trainer, hook.epoch); });
    // A fit resumed mid-epoch gets no on_train_epoch_start for that epoch.
    connect(bus.on_train_start, [this](RunHook& hook) { apply(hook.trainer, hook.trainer.current_epoch()); });
  }

 private:
  void apply(Trainer& trainer, int64_t epoch) const {
    const auto in_force = std::prev(options_.scheduling.upper_bound(epoch));
    trainer.set_accumulate_grad_batches(in_force->second);
  }

  GradAccumulationSchedulerOptions options_;
};

std::unique_ptr<Plugin> make_grad_accumulation_scheduler(const PluginOptions& options) {
  OptionReader reader("grad_accumulation_scheduler", options);
  GradAccumulationSchedulerOptions config;
  const std::string text = reader.get("scheduling", "");
  reader.finish();
  if (text.empty()) {
    throw PluginError("plugin 'grad_accumulation_scheduler': option 'scheduling' is required (e.g. scheduling=0:1/4:2)");
  }
  config.scheduling = parse_scheduling(text);
  return std::make_unique<GradAccumulationScheduler>(std::move(config));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_grad_accumulation_scheduler)
