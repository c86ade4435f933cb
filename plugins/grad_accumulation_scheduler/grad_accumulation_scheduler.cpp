// The grad_accumulation_scheduler plugin (see include/fulgur/plugins/grad_accumulation_scheduler.h).
#include "fulgur/plugins/grad_accumulation_scheduler.h"

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

class GradAccumulationScheduler : public Plugin {
 public:
  explicit GradAccumulationScheduler(GradAccumulationSchedulerOptions options) : options_(std::move(options)) {
    options_.scheduling().emplace(0, 1);  // as Lightning: before the first listed epoch, no accumulation
  }

  std::string name() const override { return "grad_accumulation_scheduler"; }

  void attach(HookBus& bus) override {
    connect(bus.on_fit_start, [](RunHook& hook) {
      if (hook.trainer.options().accumulate_grad_batches() != 1) {
        throw Error(
            "grad_accumulation_scheduler sets the accumulation itself; leave the Trainer option "
            "accumulate_grad_batches at 1 (it is " +
            std::to_string(hook.trainer.options().accumulate_grad_batches()) + ")");
      }
      if (hook.trainer.module() && !hook.trainer.module()->automatic_optimization()) {
        throw Error(
            "grad_accumulation_scheduler needs automatic optimization; under manual optimization the "
            "Module accumulates gradients itself");
      }
    });
    connect(bus.on_train_epoch_start, [this](EpochHook& hook) { apply(hook.trainer, hook.epoch); });
    // A fit resumed mid-epoch gets no on_train_epoch_start for that epoch.
    connect(bus.on_train_start, [this](RunHook& hook) { apply(hook.trainer, hook.trainer.current_epoch()); });
  }

 private:
  void apply(Trainer& trainer, int64_t epoch) const {
    const auto in_force = std::prev(options_.scheduling().upper_bound(epoch));
    trainer.set_accumulate_grad_batches(in_force->second);
  }

  GradAccumulationSchedulerOptions options_;
};

std::unique_ptr<Plugin> make_grad_accumulation_scheduler(const PluginOptions& options) {
  return std::make_unique<GradAccumulationScheduler>(GradAccumulationSchedulerOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_grad_accumulation_scheduler)
