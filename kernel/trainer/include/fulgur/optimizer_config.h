// What Module::configure_optimizers returns: one or several optimizers, and optional
// learning-rate schedulers with Lightning's scheduler config (interval, frequency, monitor, ...).
//
//   return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
//
//   fulgur::OptimizerConfig config(optimizer);
//   config.lr_schedulers.push_back({std::make_shared<fulgur::StepLR>(*optimizer, 10, 0.1)});
//   return config;
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

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace fulgur {

class LRScheduler;

struct LRSchedulerConfig {
  std::shared_ptr<LRScheduler> scheduler;
  /// "epoch" steps the scheduler after every `frequency` epochs, "step" after every `frequency`
  /// optimizer steps.
  std::string interval = "epoch";
  int64_t frequency = 1;
  /// Metric a plateau scheduler reads; `strict` makes a missing metric an error (otherwise the
  /// step is skipped with a warning).
  std::string monitor;
  bool strict = true;
  /// Name under which lr_monitor logs this scheduler's rates (default lr-<Optimizer>).
  std::string name;
};

struct OptimizerConfig {
  OptimizerConfig() = default;

  /// One optimizer: `return std::make_shared<torch::optim::SGD>(...)` works directly.
  template <typename Optimizer,
            typename = std::enable_if_t<std::is_base_of_v<torch::optim::Optimizer, Optimizer>>>
  OptimizerConfig(std::shared_ptr<Optimizer> optimizer)  // NOLINT: implicit by design
      : optimizers{std::move(optimizer)} {}

  OptimizerConfig(std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers_)  // NOLINT
      : optimizers(std::move(optimizers_)) {}

  /// Several optimizers (manual optimization): `return {opt_g, opt_d};`.
  OptimizerConfig(std::initializer_list<std::shared_ptr<torch::optim::Optimizer>> optimizers_)  // NOLINT
      : optimizers(optimizers_) {}

  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers;
  std::vector<LRSchedulerConfig> lr_schedulers;
};

}  // namespace fulgur
