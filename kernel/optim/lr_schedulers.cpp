// The learning-rate schedules: PyTorch's closed forms, evaluated from the step count.
#include "fulgur/lr_schedulers.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <torch/optim/optimizer.h>
#include <torch/optim/schedulers/lr_scheduler.h>

#include "fulgur/error.h"

namespace fulgur {
namespace {

constexpr double kPi = 3.14159265358979323846;

void require(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

c10::impl::GenericList list_of(const std::vector<double>& values) {
  // A list of Any: LibTorch pickles a typed float list through a torch.jit global, which
  // Python's torch.load(weights_only=True) refuses.
  c10::impl::GenericList list(c10::AnyType::get());
  for (double value : values) list.push_back(value);
  return list;
}

std::vector<double> doubles_of(const StateDict& state, const char* key, const std::string& kind) {
  if (!state.contains(key) || !state.at(key).isList()) {
    throw Error("lr scheduler '" + kind + "': its saved state has no list '" + key + "'");
  }
  std::vector<double> values;
  for (const auto& value : state.at(key).toList()) values.push_back(value.get().toDouble());
  return values;
}

int64_t int_of(const StateDict& state, const char* key, const std::string& kind) {
  if (!state.contains(key) || !state.at(key).isInt()) {
    throw Error("lr scheduler '" + kind + "': its saved state has no integer '" + key + "'");
  }
  const int64_t value = state.at(key).toInt();
  if (value < 0) {  // step and epoch counters: a negative one would replay a schedule from before its start
    throw Error("lr scheduler '" + kind + "': its saved '" + key + "' is " + std::to_string(value) +
                "; it cannot be negative");
  }
  return value;
}

// A saved state belongs to one kind of scheduler; restoring it into another is an error.
void require_kind(const StateDict& state, const std::string& kind) {
  const std::string saved = state.contains("kind") && state.at("kind").isString() ? state.at("kind").toStringRef() : "";
  require(saved == kind,
          "lr scheduler: the checkpoint holds a '" + saved + "' scheduler where the run has a '" + kind + "' one");
}

void require_warmup(int64_t warmup_steps, double start_factor) {
  require(warmup_steps >= 0, "LinearWarmup: warmup_steps must be >= 0");
  require(start_factor > 0 && start_factor <= 1, "LinearWarmup: start_factor must be in (0, 1]");
}

double cosine_between(double from, double to, double fraction) {
  return to + (from - to) * (1.0 + std::cos(kPi * fraction)) / 2.0;
}

}  // namespace

// --- LRScheduler ------------------------------------------------------------------------------

LRScheduler::LRScheduler(torch::optim::Optimizer& optimizer) : optimizer_(&optimizer) {
  for (const auto& group : optimizer.param_groups()) base_lrs_.push_back(group.options().get_lr());
  require(!base_lrs_.empty(), "lr scheduler: the optimizer has no param groups");
}

void LRScheduler::step(std::optional<double> metric) {
  if (needs_metric() && !metric) throw Error("lr scheduler '" + kind() + "' needs the monitored metric to step");
  advance(metric);
}

void LRScheduler::advance(std::optional<double> /*metric*/) {
  ++steps_;
  apply_lrs();
}

std::vector<double> LRScheduler::last_lrs() const {
  std::vector<double> lrs;
  for (const auto& group : optimizer_->param_groups()) lrs.push_back(group.options().get_lr());
  return lrs;
}

void LRScheduler::apply_lrs() {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(lr_at(steps_, base));
  set_lrs(lrs);
}

void LRScheduler::set_lrs(const std::vector<double>& lrs) {
  auto& groups = optimizer_->param_groups();
  require(groups.size() == lrs.size(), "lr scheduler '" + kind() + "': the optimizer has " +
                                           std::to_string(groups.size()) + " param groups but the scheduler knows " +
                                           std::to_string(lrs.size()));
  for (std::size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(lrs[i]);
}

StateDict LRScheduler::state_dict() const {
  StateDict state = make_state_dict();
  state.insert("kind", kind());
  state.insert("last_epoch", steps_);
  state.insert("base_lrs", list_of(base_lrs_));
  state.insert("_last_lr", list_of(last_lrs()));
  return state;
}

void LRScheduler::load_state_dict(const StateDict& state) {
  require_kind(state, kind());
  const auto base = doubles_of(state, "base_lrs", kind());
  require(base.size() == base_lrs_.size(), "lr scheduler '" + kind() + "': the checkpoint has " +
                                               std::to_string(base.size()) + " param groups, the optimizer " +
                                               std::to_string(base_lrs_.size()));
  base_lrs_ = base;
  steps_ = int_of(state, "last_epoch", kind());
  apply_lrs();
}

// --- the closed-form schedules ------------------------------------------------------------------

StepLR::StepLR(torch::optim::Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  require(step_size > 0, "StepLR: step_size must be > 0, got " + std::to_string(step_size));
  apply_lrs();
}

double StepLR::lr_at(int64_t step, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(step / step_size_));
}

MultiStepLR::MultiStepLR(torch::optim::Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  require(std::is_sorted(milestones_.begin(), milestones_.end()), "MultiStepLR: milestones must be increasing");
  apply_lrs();
}

double MultiStepLR::lr_at(int64_t step, double base_lr) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), step) - milestones_.begin();
  return base_lr * std::pow(gamma_, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(torch::optim::Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {
  apply_lrs();
}

double ExponentialLR::lr_at(int64_t step, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(step));
}

CosineAnnealingLR::CosineAnnealingLR(torch::optim::Optimizer& optimizer, int64_t t_max, double eta_min)
    : LRScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
  require(t_max > 0, "CosineAnnealingLR: t_max must be > 0, got " + std::to_string(t_max));
  apply_lrs();
}

double CosineAnnealingLR::lr_at(int64_t step, double base_lr) const {
  return cosine_between(base_lr, eta_min_, static_cast<double>(step) / static_cast<double>(t_max_));
}

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(torch::optim::Optimizer& optimizer, int64_t t_0,
                                                         int64_t t_mult, double eta_min)
    : LRScheduler(optimizer), t_0_(t_0), t_mult_(t_mult), eta_min_(eta_min) {
  require(t_0 > 0, "CosineAnnealingWarmRestarts: t_0 must be > 0, got " + std::to_string(t_0));
  require(t_mult >= 1, "CosineAnnealingWarmRestarts: t_mult must be >= 1, got " + std::to_string(t_mult));
  apply_lrs();
}

double CosineAnnealingWarmRestarts::lr_at(int64_t step, double base_lr) const {
  // Walk the periods in integers: PyTorch's log-based formula can land one period off at a
  // restart because of rounding.
  int64_t period_start = 0;
  int64_t period = t_0_;
  while (step >= period_start + period) {
    period_start += period;
    period *= t_mult_;
  }
  return cosine_between(base_lr, eta_min_, static_cast<double>(step - period_start) / static_cast<double>(period));
}

LinearWarmup::LinearWarmup(std::shared_ptr<LRScheduler> after, int64_t warmup_steps, double start_factor)
    : LRScheduler(after ? after->optimizer() : throw Error("LinearWarmup: no schedule to warm up into")),
      after_(std::move(after)),
      warmup_steps_(warmup_steps),
      start_factor_(start_factor) {
  require(!after_->needs_metric(), "LinearWarmup: a '" + after_->kind() +
                                       "' scheduler follows a metric, not a step count; it cannot follow a warmup");
  base_lrs_ = after_->base_lrs();
  require_warmup(warmup_steps, start_factor);
  apply_lrs();
}

LinearWarmup::LinearWarmup(torch::optim::Optimizer& optimizer, int64_t warmup_steps, double start_factor)
    : LRScheduler(optimizer), warmup_steps_(warmup_steps), start_factor_(start_factor) {
  require_warmup(warmup_steps, start_factor);
  apply_lrs();
}

double LinearWarmup::lr_at(int64_t step, double base_lr) const {
  if (step < warmup_steps_) {
    const double progress = static_cast<double>(step) / static_cast<double>(warmup_steps_);
    return base_lr * (start_factor_ + (1.0 - start_factor_) * progress);
  }
  return after_ ? after_->lr_at(step - warmup_steps_, base_lr) : base_lr;
}

std::string LinearWarmup::kind() const { return after_ ? "linear_warmup+" + after_->kind() : "linear_warmup"; }

OneCycleLR::OneCycleLR(torch::optim::Optimizer& optimizer, double max_lr, int64_t total_steps, double pct_start,
                       std::string anneal_strategy, double div_factor, double final_div_factor, bool three_phase)
    : LRScheduler(optimizer), total_steps_(total_steps), cosine_(anneal_strategy == "cos") {
  require(total_steps > 0, "OneCycleLR: total_steps must be > 0, got " + std::to_string(total_steps));
  require(pct_start >= 0 && pct_start <= 1, "OneCycleLR: pct_start must be in [0, 1]");
  require(anneal_strategy == "cos" || anneal_strategy == "linear",
          "OneCycleLR: anneal_strategy must be 'cos' or 'linear', got '" + anneal_strategy + "'");
  require(max_lr > 0 && div_factor > 0 && final_div_factor > 0, "OneCycleLR: max_lr and the div factors must be > 0");
  const double initial = max_lr / div_factor;
  const double minimum = initial / final_div_factor;
  const double up_end = pct_start * static_cast<double>(total_steps) - 1.0;
  const double last = static_cast<double>(total_steps) - 1.0;
  if (three_phase) {
    phases_ = {{up_end, initial, max_lr},
               {2.0 * pct_start * static_cast<double>(total_steps) - 2.0, max_lr, initial},
               {last, initial, minimum}};
  } else {
    phases_ = {{up_end, initial, max_lr}, {last, max_lr, minimum}};
  }
  // The schedule sets the rates itself: base_lrs are its starting rate, as PyTorch's initial_lr.
  std::fill(base_lrs_.begin(), base_lrs_.end(), initial);
  apply_lrs();
}

double OneCycleLR::lr_at(int64_t step, double /*base_lr*/) const {
  double start_step = 0.0;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    const auto& phase = phases_[i];
    if (static_cast<double>(step) <= phase.end_step || i + 1 == phases_.size()) {
      const double fraction = (static_cast<double>(step) - start_step) / (phase.end_step - start_step);
      return cosine_ ? cosine_between(phase.start_lr, phase.end_lr, fraction)
                     : phase.start_lr + (phase.end_lr - phase.start_lr) * fraction;
    }
    start_step = phase.end_step;
  }
  return phases_.back().end_lr;
}

void OneCycleLR::advance(std::optional<double> metric) {
  if (steps_ + 1 > total_steps_) {
    throw Error("OneCycleLR: stepped " + std::to_string(steps_ + 1) + " times but total_steps is " +
                std::to_string(total_steps_) + "; make total_steps the number of scheduler steps of the run");
  }
  LRScheduler::advance(metric);
}

PolynomialLR::PolynomialLR(torch::optim::Optimizer& optimizer, int64_t total_iters, double power)
    : LRScheduler(optimizer), total_iters_(total_iters), power_(power) {
  require(total_iters > 0, "PolynomialLR: total_iters must be > 0, got " + std::to_string(total_iters));
  apply_lrs();
}

double PolynomialLR::lr_at(int64_t step, double base_lr) const {
  const double done = static_cast<double>(std::min(step, total_iters_)) / static_cast<double>(total_iters_);
  return base_lr * std::pow(1.0 - done, power_);
}

// --- reduce on plateau ------------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(torch::optim::Optimizer& optimizer, Options options)
    : LRScheduler(optimizer), options_(std::move(options)) {
  options_.check();
  require(options_.factor() > 0 && options_.factor() < 1, "ReduceLROnPlateau: factor must be in (0, 1)");
  require(options_.patience() >= 0 && options_.cooldown() >= 0,
          "ReduceLROnPlateau: patience and cooldown must be >= 0");
  best_ = options_.mode() == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

double ReduceLROnPlateau::lr_at(int64_t /*step*/, double base_lr) const {
  const auto lrs = last_lrs();
  for (std::size_t i = 0; i < base_lrs_.size(); ++i) {
    if (base_lrs_[i] == base_lr) return lrs[i];
  }
  return base_lr;
}

bool ReduceLROnPlateau::is_better(double value) const {
  const bool relative = options_.threshold_mode() == "rel";
  if (options_.mode() == "min")
    return value < (relative ? best_ * (1.0 - options_.threshold()) : best_ - options_.threshold());
  return value > (relative ? best_ * (1.0 + options_.threshold()) : best_ + options_.threshold());
}

void ReduceLROnPlateau::advance(std::optional<double> metric) {
  ++steps_;
  if (is_better(*metric)) {
    best_ = *metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;
  }
  if (num_bad_epochs_ > options_.patience()) {
    auto lrs = last_lrs();
    for (double& lr : lrs) {
      const double reduced = std::max(lr * options_.factor(), options_.min_lr());
      if (lr - reduced > options_.eps()) lr = reduced;
    }
    set_lrs(lrs);
    cooldown_counter_ = options_.cooldown();
    num_bad_epochs_ = 0;
  }
}

StateDict ReduceLROnPlateau::state_dict() const {
  StateDict state = LRScheduler::state_dict();
  state.insert("best", best_);
  state.insert("num_bad_epochs", num_bad_epochs_);
  state.insert("cooldown_counter", cooldown_counter_);
  return state;
}

void ReduceLROnPlateau::load_state_dict(const StateDict& state) {
  require_kind(state, kind());
  require(state.contains("best") && state.at("best").isDouble(),
          "lr scheduler 'plateau': its saved state has no 'best'");
  base_lrs_ = doubles_of(state, "base_lrs", kind());
  steps_ = int_of(state, "last_epoch", kind());
  best_ = state.at("best").toDouble();
  num_bad_epochs_ = int_of(state, "num_bad_epochs", kind());
  cooldown_counter_ = int_of(state, "cooldown_counter", kind());
  set_lrs(doubles_of(state, "_last_lr", kind()));
}

// --- LibTorch's own schedulers ---------------------------------------------------------------------

namespace {

// LibTorch keeps the step count protected; a pointer to it, formed in a derived class's scope,
// reads and sets it on any scheduler (the count is all a LibTorch scheduler's state).
struct LibTorchStepCount : torch::optim::LRScheduler {
  static unsigned& of(torch::optim::LRScheduler& scheduler) { return scheduler.*(&LibTorchStepCount::step_count_); }
};

}  // namespace

LibTorchScheduler::LibTorchScheduler(std::shared_ptr<torch::optim::LRScheduler> scheduler,
                                     torch::optim::Optimizer& optimizer)
    : LRScheduler(optimizer), scheduler_(std::move(scheduler)) {
  require(scheduler_ != nullptr, "LibTorchScheduler: no scheduler given");
  steps_ = LibTorchStepCount::of(*scheduler_);
}

double LibTorchScheduler::lr_at(int64_t /*step*/, double base_lr) const {
  const auto lrs = last_lrs();
  for (std::size_t i = 0; i < base_lrs_.size() && i < lrs.size(); ++i) {
    if (base_lrs_[i] == base_lr) return lrs[i];
  }
  return base_lr;
}

void LibTorchScheduler::advance(std::optional<double> /*metric*/) {
  scheduler_->step();
  steps_ = LibTorchStepCount::of(*scheduler_);
}

void LibTorchScheduler::load_state_dict(const StateDict& state) {
  require_kind(state, kind());
  steps_ = int_of(state, "last_epoch", kind());
  require(
      steps_ <= static_cast<int64_t>(std::numeric_limits<unsigned>::max()),
      "lr scheduler 'libtorch': its saved last_epoch " + std::to_string(steps_) + " is beyond LibTorch's step counter");
  LibTorchStepCount::of(*scheduler_) = static_cast<unsigned>(steps_);
  // LibTorch's rates are not a formula fulgur can evaluate: the saved ones are set as they were.
  set_lrs(doubles_of(state, "_last_lr", kind()));
}

}  // namespace fulgur
