// configure_optimizers: what the Module returns is checked (no optimizer, a null one, several
// under automatic optimization), LibTorch's own schedulers are wrapped for the one optimizer, and
// the lr_scheduler plugin that steps schedulers is attached when there are any.
#include "fulgur/error.h"
#include "fulgur/lr_schedulers.h"
#include "fulgur/trainer.h"
#include "connectors/log_forbidden.h"

namespace fulgur {

void Trainer::configure_optimizers(Module& module) {
  OptimizerConfig config = [&] {
    const detail::LogForbidden scope(metrics_, "configure_optimizers");
    return module.configure_optimizers();
  }();
  if (config.optimizers.empty()) {
    throw Error(
        "configure_optimizers returned no optimizer; return at least one (e.g. "
        "std::make_shared<torch::optim::Adam>(parameters()))");
  }
  for (std::size_t i = 0; i < config.optimizers.size(); ++i) {
    if (!config.optimizers[i]) {
      throw Error("configure_optimizers returned a null optimizer at position " + std::to_string(i));
    }
  }
  if (module.automatic_optimization() && config.optimizers.size() > 1) {
    throw Error("configure_optimizers returned " + std::to_string(config.optimizers.size()) +
                " optimizers, but automatic optimization drives exactly one; call "
                "set_automatic_optimization(false) in the Module's constructor and step them yourself");
  }
  for (auto& scheduler : config.lr_schedulers) {
    if (!scheduler.scheduler && scheduler.libtorch_scheduler) {
      // LibTorch's schedulers keep their optimizer to themselves: it can only be the one there is.
      if (config.optimizers.size() != 1) {
        throw Error("configure_optimizers returned a LibTorch scheduler with " +
                    std::to_string(config.optimizers.size()) +
                    " optimizers, and LibTorch does not say which one it drives; wrap it: "
                    "fulgur::LibTorchScheduler(scheduler, *optimizer)");
      }
      scheduler.scheduler =
          std::make_shared<LibTorchScheduler>(std::move(scheduler.libtorch_scheduler), *config.optimizers.front());
    }
    if (!scheduler.scheduler) throw Error("configure_optimizers returned a scheduler config without a scheduler");
    scheduler.check();
  }
  optimizers_ = std::move(config.optimizers);
  lr_schedulers_ = std::move(config.lr_schedulers);
  // Schedulers are stepped by a plugin, attached here so a Module that returns one needs no
  // more than Lightning asks for.
  if (!lr_schedulers_.empty() && !find_plugin("lr_scheduler")) {
    try {
      add_plugin(PluginSpec{"lr_scheduler", {}});
    } catch (const PluginError& error) {
      throw PluginError(
          "configure_optimizers returned learning-rate schedulers, which the lr_scheduler plugin "
          "steps, and it could not be loaded: " +
          std::string(error.what()));
    }
  }
}

}  // namespace fulgur
