// PyTorch's learning-rate schedules as fulgur::LRScheduler formulas, with PyTorch's names,
// arguments and closed forms. Return them from configure_optimizers:
//
//   auto adam = std::make_shared<torch::optim::Adam>(parameters(), 1e-3);
//   fulgur::OptimizerConfig config(adam);
//   config.lr_schedulers.push_back({std::make_shared<fulgur::LinearWarmup>(
//       std::make_shared<fulgur::CosineAnnealingLR>(*adam, /*t_max=*/28), /*warmup_steps=*/2)});
//   return config;
#pragma once

#include <memory>
#include <vector>

#include "fulgur/lr_scheduler.h"
#include "fulgur/options.h"

namespace torch::optim {
class LRScheduler;
}  // namespace torch::optim

namespace fulgur {

/// base * gamma^floor(step / step_size).
class StepLR : public LRScheduler {
 public:
  StepLR(torch::optim::Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override { return "step"; }

 private:
  int64_t step_size_;
  double gamma_;
};

/// base * gamma^(number of milestones <= step).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(torch::optim::Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override { return "multistep"; }

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

/// base * gamma^step.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(torch::optim::Optimizer& optimizer, double gamma);
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override { return "exponential"; }

 private:
  double gamma_;
};

/// eta_min + (base - eta_min) * (1 + cos(pi * step / t_max)) / 2 (PyTorch's closed form; past
/// t_max the cosine continues, as in PyTorch).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(torch::optim::Optimizer& optimizer, int64_t t_max, double eta_min = 0.0);
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override { return "cosine"; }

 private:
  int64_t t_max_;
  double eta_min_;
};

/// SGDR: cosine annealing restarted after t_0 steps, each period t_mult times longer.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(torch::optim::Optimizer& optimizer, int64_t t_0, int64_t t_mult = 1,
                              double eta_min = 0.0);
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override { return "cosine_warm_restarts"; }

 private:
  int64_t t_0_;
  int64_t t_mult_;
  double eta_min_;
};

/// Linear warmup in front of another schedule: for the first `warmup_steps` steps the rate goes
/// linearly from start_factor * base to base; then `after` runs as if it started there.
class LinearWarmup : public LRScheduler {
 public:
  LinearWarmup(std::shared_ptr<LRScheduler> after, int64_t warmup_steps, double start_factor = 1.0 / 3.0);
  /// Warmup alone: the rate stays at base after the warmup.
  LinearWarmup(torch::optim::Optimizer& optimizer, int64_t warmup_steps, double start_factor = 1.0 / 3.0);
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override;

 private:
  std::shared_ptr<LRScheduler> after_;
  int64_t warmup_steps_;
  double start_factor_;
};

/// The 1cycle policy: from max_lr / div_factor up to max_lr over pct_start of total_steps, then
/// down to that over final_div_factor ("cos" or "linear" annealing). Like PyTorch it sets the
/// rates itself (the optimizer's own rate is not used) and stepping past total_steps is an error.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(torch::optim::Optimizer& optimizer, double max_lr, int64_t total_steps, double pct_start = 0.3,
             std::string anneal_strategy = "cos", double div_factor = 25.0, double final_div_factor = 1e4,
             bool three_phase = false);
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override { return "one_cycle"; }

 protected:
  void advance(std::optional<double> metric) override;

 private:
  struct Phase {
    double end_step;
    double start_lr;
    double end_lr;
  };
  std::vector<Phase> phases_;
  int64_t total_steps_;
  bool cosine_;
};

/// base * (1 - min(step, total_iters) / total_iters)^power.
class PolynomialLR : public LRScheduler {
 public:
  PolynomialLR(torch::optim::Optimizer& optimizer, int64_t total_iters = 5, double power = 1.0);
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override { return "polynomial"; }

 private:
  int64_t total_iters_;
  double power_;
};

/// Multiplies the rates by `factor` when the monitored metric stopped improving for `patience`
/// steps (PyTorch's ReduceLROnPlateau, same options and state).
class ReduceLROnPlateau : public LRScheduler {
 public:
  struct Options : DeclaredOptions<Options> {
    static const char* options_name() { return "plateau"; }
    static std::string options_owner() { return "ReduceLROnPlateau"; }
    FULGUR_OPTION(std::string, mode, "min", "min: lower is better; max: higher is better.", one_of({"min", "max"}));
    FULGUR_OPTION(double, factor, 0.1, "The rates' factor at each reduction.");
    FULGUR_OPTION(int64_t, patience, 10, "Steps without improvement before a reduction.");
    FULGUR_OPTION(double, threshold, 1e-4, "The least change that counts as an improvement.");
    FULGUR_OPTION(std::string, threshold_mode, "rel", "rel or abs.", one_of({"rel", "abs"}));
    FULGUR_OPTION(int64_t, cooldown, 0, "Steps after a reduction before watching again.");
    FULGUR_OPTION(double, min_lr, 0.0, "The lowest rate.");
    FULGUR_OPTION(double, eps, 1e-8, "A smaller change of the rate is not applied.");
  };
  explicit ReduceLROnPlateau(torch::optim::Optimizer& optimizer) : ReduceLROnPlateau(optimizer, Options{}) {}
  ReduceLROnPlateau(torch::optim::Optimizer& optimizer, Options options);

  bool needs_metric() const override { return true; }
  /// Not a formula of the step count: returns the current rate of the group with that base.
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override { return "plateau"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }

 protected:
  void advance(std::optional<double> metric) override;

 private:
  bool is_better(double value) const;

  Options options_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
};

/// LibTorch's own schedulers (torch::optim::StepLR, or any torch::optim::LRScheduler) in a
/// scheduler config, stepped by the lr_scheduler plugin like fulgur's:
///   auto step = std::make_shared<torch::optim::StepLR>(*adam, /*step_size=*/10, /*gamma=*/0.1);
///   config.lr_schedulers.push_back({std::make_shared<fulgur::LibTorchScheduler>(step, *adam)});
/// LibTorch's schedulers keep no state but their step count: that count and the current rates
/// travel in checkpoints and are set again on resume, so a resumed run continues the schedule
/// exactly. A scheduler subclass of your own that keeps more state
/// than the count resumes with that extra state lost.
class LibTorchScheduler : public LRScheduler {
 public:
  LibTorchScheduler(std::shared_ptr<torch::optim::LRScheduler> scheduler, torch::optim::Optimizer& optimizer);
  /// Not a formula: LibTorch computes the rates; returns the current rate of the group with that base.
  double lr_at(int64_t step, double base_lr) const override;
  std::string kind() const override { return "libtorch"; }
  void load_state_dict(const StateDict& state) override;

 protected:
  void advance(std::optional<double> metric) override;

 private:
  std::shared_ptr<torch::optim::LRScheduler> scheduler_;
};

}  // namespace fulgur
