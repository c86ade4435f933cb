// What Module::configure_optimizers returns: one or several optimizers, and optional
// learning-rate schedulers with Lightning's scheduler config (interval, frequency, monitor, ...).
//
//   return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
//
//   fulgur::OptimizerConfig config(optimizer);
//   config.lr_schedulers.push_back({std::make_shared<fulgur::StepLR>(*optimizer, 10, 0.1)});
//   return config;
//
//   return std::vector{opt_g, opt_d};                       // several optimizers (manual optimization)
//   return {{opt_g, opt_d}, {sched_g, sched_d}};            // Lightning's ([opts], [schedulers])
//   config.lr_schedulers.push_back({std::make_shared<torch::optim::StepLR>(*optimizer, 10, 0.1)});
//
// The schedulers (fulgur/lr_schedulers.h) are stepped by the lr_scheduler plugin, which the
// Trainer attaches by itself when configure_optimizers returns any.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fulgur/options.h"

namespace torch::optim {
class Optimizer;
class LRScheduler;
}  // namespace torch::optim

namespace fulgur {

class LRScheduler;

struct LRSchedulerConfig : DeclaredOptions<LRSchedulerConfig> {
  static const char* options_name() { return "lr_scheduler_config"; }
  static std::string options_owner() { return "lr scheduler config"; }

  LRSchedulerConfig() = default;
  /// `{scheduler}`, `{scheduler, "step"}`, ...: the fields in order, as Lightning's dict; or
  /// `LRSchedulerConfig(scheduler).interval("step").frequency(2)`.
  template <typename S, std::enable_if_t<std::is_base_of_v<LRScheduler, S>, int> = 0>
  LRSchedulerConfig(std::shared_ptr<S> scheduler_, std::string interval_ = "epoch",  // NOLINT
                    int64_t frequency_ = 1, std::string monitor_ = "", bool strict_ = true, std::string name_ = "")
      : scheduler(std::move(scheduler_)) {
    interval(std::move(interval_))
        .frequency(frequency_)
        .monitor(std::move(monitor_))
        .strict(strict_)
        .name(std::move(name_));
  }
  /// LibTorch's own scheduler (torch::optim::StepLR, ...), given as it is: the Trainer wraps it in
  /// a fulgur::LibTorchScheduler for the one optimizer configure_optimizers returned (with several,
  /// wrap it yourself: LibTorch does not say which optimizer a scheduler drives).
  template <typename S, std::enable_if_t<std::is_base_of_v<torch::optim::LRScheduler, S>, int> = 0>
  LRSchedulerConfig(std::shared_ptr<S> libtorch, std::string interval_ = "epoch",  // NOLINT
                    int64_t frequency_ = 1, std::string monitor_ = "", bool strict_ = true, std::string name_ = "")
      : libtorch_scheduler(std::move(libtorch)) {
    interval(std::move(interval_))
        .frequency(frequency_)
        .monitor(std::move(monitor_))
        .strict(strict_)
        .name(std::move(name_));
  }

  std::shared_ptr<LRScheduler> scheduler;
  /// A LibTorch scheduler given directly, until the Trainer wraps it into `scheduler`.
  std::shared_ptr<torch::optim::LRScheduler> libtorch_scheduler;

  FULGUR_OPTION(std::string, interval, "epoch",
                "epoch steps the scheduler after every `frequency` epochs, step after every `frequency` optimizer "
                "steps.",
                one_of({"epoch", "step"}));
  FULGUR_OPTION(int64_t, frequency, 1, "Step the scheduler every this many intervals.", at_least(1));
  FULGUR_OPTION(std::string, monitor, "", "The metric a plateau scheduler reads.");
  FULGUR_OPTION(bool, strict, true,
                "A missing monitored metric is an error (true) or skips the step with a warning (false).");
  FULGUR_OPTION(std::string, name, "",
                "Name under which lr_monitor logs this scheduler's rates (default lr-<Optimizer>).");
};

struct OptimizerConfig {
  OptimizerConfig() = default;

  /// One optimizer: `return std::make_shared<torch::optim::SGD>(...)` works directly.
  template <typename Optimizer, typename = std::enable_if_t<std::is_base_of_v<torch::optim::Optimizer, Optimizer>>>
  OptimizerConfig(std::shared_ptr<Optimizer> optimizer)  // NOLINT: implicit by design
      : optimizers{std::move(optimizer)} {}

  OptimizerConfig(std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers_)  // NOLINT
      : optimizers(std::move(optimizers_)) {}

  /// `return std::vector{opt_g, opt_d};` with optimizers of one class.
  template <typename Optimizer, typename = std::enable_if_t<std::is_base_of_v<torch::optim::Optimizer, Optimizer> &&
                                                            !std::is_same_v<torch::optim::Optimizer, Optimizer>>>
  OptimizerConfig(const std::vector<std::shared_ptr<Optimizer>>& optimizers_)  // NOLINT
      : optimizers(optimizers_.begin(), optimizers_.end()) {}

  /// Lightning's `return [opt_g, opt_d], [sched_g, sched_d]`.
  OptimizerConfig(std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers_,
                  std::vector<LRSchedulerConfig> lr_schedulers_)
      : optimizers(std::move(optimizers_)), lr_schedulers(std::move(lr_schedulers_)) {}

  /// Several optimizers (manual optimization): `return {opt_g, opt_d};`.
  OptimizerConfig(std::initializer_list<std::shared_ptr<torch::optim::Optimizer>> optimizers_)  // NOLINT
      : optimizers(optimizers_) {}

  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers;
  std::vector<LRSchedulerConfig> lr_schedulers;
};

}  // namespace fulgur
