// fulgur::LRScheduler: what sets an optimizer's learning rates as training advances.
//
// LibTorch 1.13 has one scheduler (StepLR) with no state and no metric; Lightning users expect
// PyTorch's whole family. A fulgur scheduler is a formula of its step count (`lr_at`), so its
// state is that count (plus what a plateau scheduler remembers), and it saves and restores
// exactly. The schedules themselves are in fulgur/lr_schedulers.h; the lr_scheduler plugin
// steps them with Lightning's interval / frequency / monitor semantics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fulgur/checkpoint.h"

namespace torch::optim {
class Optimizer;
}

namespace fulgur {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one step (an epoch or an optimizer step, as the scheduler config says) and sets
  /// the optimizer's learning rates. `metric` is for schedulers that monitor one.
  void step(std::optional<double> metric = std::nullopt);

  /// True for schedulers that decide from a monitored metric (reduce-on-plateau).
  virtual bool needs_metric() const { return false; }
  /// The learning rate of a param group whose base rate is `base_lr`, after `step` steps.
  virtual double lr_at(int64_t step, double base_lr) const = 0;
  /// A short name for logs and errors ("cosine", "step", ...).
  virtual std::string kind() const = 0;

  /// Steps taken (PyTorch's last_epoch).
  int64_t steps() const { return steps_; }
  /// Each param group's rate when the scheduler was made.
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// Each param group's current rate.
  std::vector<double> last_lrs() const;
  torch::optim::Optimizer& optimizer() const { return *optimizer_; }

  /// PyTorch-style state: last_epoch, base_lrs, _last_lr and the scheduler's own fields.
  virtual StateDict state_dict() const;
  /// Restores state_dict() and sets the learning rates it implies. Throws fulgur::Error on a
  /// state that does not fit (another number of param groups, missing entries).
  virtual void load_state_dict(const StateDict& state);

 protected:
  explicit LRScheduler(torch::optim::Optimizer& optimizer);
  /// Sets every param group's rate to lr_at(steps(), base). Concrete schedulers call it at the
  /// end of their constructor, as PyTorch's schedulers take their step 0 when made.
  void apply_lrs();
  void set_lrs(const std::vector<double>& lrs);
  /// Advances the state by one step; the default counts and applies the formula.
  virtual void advance(std::optional<double> metric);

  int64_t steps_ = 0;
  std::vector<double> base_lrs_;

 private:
  torch::optim::Optimizer* optimizer_;
};

}  // namespace fulgur
