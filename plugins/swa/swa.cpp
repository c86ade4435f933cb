// The swa plugin (see include/fulgur/plugins/swa.h).
#include "fulgur/plugins/swa.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "fulgur/checkpoint.h"
#include "fulgur/error.h"
#include "fulgur/lr_scheduler.h"
#include "fulgur/plugin.h"
#include "fulgur/plugin_export.h"
#include "fulgur/plugins/lr_scheduler.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

constexpr double kPi = 3.14159265358979323846;

// PyTorch's SWALR. Its recursive update (each step reconstructs the rate it started from and
// moves alpha(t) of the way to swa_lr) is, in closed form, lr = swa_lr * alpha + start * (1 - alpha)
// with t = step / annealing_epochs clamped to [0, 1]: a formula of the step count, as every
// fulgur scheduler is, so its state is that count.
class SwaLR : public LRScheduler {
 public:
  SwaLR(torch::optim::Optimizer& optimizer, std::vector<double> swa_lrs, int64_t annealing_epochs, bool cosine)
      : LRScheduler(optimizer), swa_lrs_(std::move(swa_lrs)), annealing_epochs_(annealing_epochs), cosine_(cosine) {
    if (swa_lrs_.size() == 1) swa_lrs_.resize(base_lrs_.size(), swa_lrs_[0]);
    if (swa_lrs_.size() != base_lrs_.size()) {
      throw Error("plugin 'swa': swa_lrs has " + std::to_string(swa_lrs_.size()) + " rates but the optimizer has " +
                  std::to_string(base_lrs_.size()) + " param groups");
    }
    apply_group_lrs();
  }

  std::string kind() const override { return "swalr"; }
  double lr_at(int64_t step, double base_lr) const override { return rate(step, base_lr, swa_lrs_.at(0)); }

  void load_state_dict(const StateDict& state) override {
    LRScheduler::load_state_dict(state);
    apply_group_lrs();
  }

 protected:
  void advance(std::optional<double> /*metric*/) override {
    ++steps_;
    apply_group_lrs();
  }

 private:
  double rate(int64_t step, double start, double swa_lr) const {
    // SWALR with no annealing jumps to swa_lr when made.
    const int64_t effective = annealing_epochs_ == 0 ? std::max<int64_t>(1, step) : step;
    const double t = std::clamp(
        static_cast<double>(effective) / static_cast<double>(std::max<int64_t>(1, annealing_epochs_)), 0.0, 1.0);
    const double alpha = cosine_ ? (1.0 - std::cos(kPi * t)) / 2.0 : t;
    return swa_lr * alpha + start * (1.0 - alpha);
  }

  void apply_group_lrs() {
    std::vector<double> lrs;
    for (std::size_t i = 0; i < base_lrs_.size(); ++i) lrs.push_back(rate(steps_, base_lrs_[i], swa_lrs_[i]));
    set_lrs(lrs);
  }

  std::vector<double> swa_lrs_;
  int64_t annealing_epochs_;
  bool cosine_;
};

bool is_batch_norm(torch::nn::Module& module) {
  return dynamic_cast<torch::nn::BatchNorm1dImpl*>(&module) || dynamic_cast<torch::nn::BatchNorm2dImpl*>(&module) ||
         dynamic_cast<torch::nn::BatchNorm3dImpl*>(&module);
}

class Swa : public Plugin {
 public:
  explicit Swa(SwaOptions options) : options_(std::move(options)) {
    for (const double lr : options_.swa_lrs()) {
      if (!(lr > 0)) throw PluginError("plugin 'swa': swa_lrs must be positive, got " + std::to_string(lr));
    }
    const double start = options_.swa_epoch_start();
    if (!(start >= 0) || (start >= 1 && start != std::floor(start))) {
      throw PluginError("plugin 'swa': swa_epoch_start must be an epoch count >= 1 or a fraction in [0, 1), got " +
                        std::to_string(start));
    }
    if (options_.annealing_epochs() < 0) throw PluginError("plugin 'swa': annealing_epochs must be >= 0");
    if (options_.annealing_strategy() != "cos" && options_.annealing_strategy() != "linear") {
      throw PluginError("plugin 'swa': annealing_strategy must be cos or linear, got '" +
                        options_.annealing_strategy() + "'");
    }
  }

  std::string name() const override { return "swa"; }

  void attach(HookBus& bus) override {
    connect(bus.on_fit_start, [this](RunHook& hook) { start(hook.trainer); });
    connect(bus.on_train_epoch_start, [this](EpochHook& hook) { epoch_start(hook.trainer); });
    // The BatchNorm epoch neither back-propagates nor steps: its loss is replaced by a constant
    // and its one optimizer step is skipped (Lightning skips backward for that epoch).
    connect(bus.on_before_backward, [this](BeforeBackwardHook& hook) {
      if (batch_norm_epoch_) hook.loss = torch::zeros({}, hook.loss.options()).requires_grad_();
    });
    connect(
        bus.on_before_optimizer_step,
        [this](OptimizerHook& hook) {
          if (batch_norm_epoch_) hook.skip_step = true;
        },
        SlotGroup::Precision);
    // Slot group Monitor: after the epoch's metrics, where the lr_scheduler plugin steps its own.
    connect(
        bus.on_train_epoch_end,
        [this](EpochHook& hook) {
          // SWALR steps in the BatchNorm epoch too: it is a scheduler of the fit, as in Lightning.
          if (scheduler_ && hook.trainer.train_epoch_complete()) scheduler_->step();
        },
        SlotGroup::Monitor);
    connect(bus.on_train_end, [this](RunHook& hook) { end(hook.trainer); });
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) { save(hook); });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) { load(hook); });
    // The scheduler and the average outlive the fit: a checkpoint written after it holds them.
    connect(bus.teardown, [this](StageHook& hook) {
      if (hook.stage == Stage::Fit) restore_momenta();
    });
  }

 private:
  void start(Trainer& trainer) {
    Module& module = *trainer.module();
    if (trainer.optimizers().size() != 1) throw Error("plugin 'swa': SWA works with exactly one optimizer");
    if (trainer.lr_schedulers().size() > 1) throw Error("plugin 'swa': SWA works with at most one lr scheduler");
    scheduler_.reset();
    max_epochs_ = trainer.max_epochs();
    double start = options_.swa_epoch_start();
    if (start < 1) {
      if (max_epochs_ < 0) {
        throw Error("plugin 'swa': swa_epoch_start as a fraction needs max_epochs; give an epoch count instead");
      }
      start = std::floor(static_cast<double>(max_epochs_) * start);
    }
    swa_start_ = std::max<int64_t>(static_cast<int64_t>(start) - 1, 0);
    parameters_ = module.parameters();
    has_batch_norm_ = false;
    for (const auto& child : module.modules(/*include_self=*/false))
      has_batch_norm_ = has_batch_norm_ || is_batch_norm(*child);
    // Lightning adds an epoch in which the averaged model recomputes its BatchNorm statistics.
    if (has_batch_norm_ && max_epochs_ >= 0) trainer.set_max_epochs(max_epochs_ + 1);
    if (!loaded_average_.empty()) {
      average_ = std::move(loaded_average_);
      loaded_average_.clear();
      if (average_.size() != parameters_.size()) {
        throw Error("checkpoint: swa's average has " + std::to_string(average_.size()) + " tensors, the model " +
                    std::to_string(parameters_.size()));
      }
      for (std::size_t i = 0; i < average_.size(); ++i) average_[i] = average_[i].to(parameters_[i].device());
    } else {
      torch::NoGradGuard no_grad;
      average_.clear();
      for (const auto& parameter : parameters_) average_.push_back(parameter.detach().clone());
      n_averaged_ = 0;
      latest_update_epoch_ = -1;
    }
    batch_norm_epoch_ = false;
  }

  int64_t swa_end() const { return max_epochs_ < 0 ? std::numeric_limits<int64_t>::max() : max_epochs_ - 1; }

  void epoch_start(Trainer& trainer) {
    const int64_t epoch = trainer.current_epoch();
    const bool averaging = swa_start_ <= epoch && epoch <= swa_end();
    if (!scheduler_ && averaging) begin_annealing(trainer);
    if (averaging && epoch > latest_update_epoch_) {
      update_average();
      latest_update_epoch_ = epoch;
    }
    if (max_epochs_ >= 0 && epoch == swa_end() + 1) {
      // The extra epoch: the averaged weights, fresh cumulative BatchNorm statistics, no steps.
      transfer_average();
      reset_batch_norm(*trainer.module());
      batch_norm_epoch_ = true;
      trainer.set_accumulate_grad_batches(std::max<int64_t>(trainer.num_training_batches(), 1) + 1);
    }
  }

  void begin_annealing(Trainer& trainer) {
    scheduler_ = std::make_unique<SwaLR>(*trainer.optimizers().front(), options_.swa_lrs(), options_.annealing_epochs(),
                                         options_.annealing_strategy() == "cos");
    if (!loaded_scheduler_.empty()) {
      scheduler_->load_state_dict(loaded_scheduler_);
      loaded_scheduler_ = make_state_dict();
    }
    // SWALR takes the Module's scheduler's place, as in Lightning.
    if (auto* control = dynamic_cast<LRSchedulerControl*>(trainer.find_plugin("lr_scheduler"))) {
      control->hand_over_first_optimizer();
      if (!trainer.lr_schedulers().empty()) {
        spdlog::info("swa: SWALR replaces the '{}' scheduler from epoch {}",
                     trainer.lr_schedulers().front().scheduler->kind(), trainer.current_epoch());
      }
    }
  }

  // torch.optim.swa_utils' equal average: the first update copies, the n-th moves by 1/(n+1).
  void update_average() {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
      const auto value = parameters_[i].detach().to(average_[i].device());
      if (n_averaged_ == 0) {
        average_[i].copy_(value);
      } else {
        average_[i].add_((value - average_[i]) / static_cast<double>(n_averaged_ + 1));
      }
    }
    ++n_averaged_;
  }

  void transfer_average() {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < parameters_.size(); ++i) parameters_[i].detach().copy_(average_[i]);
  }

  // torch.optim.swa_utils.update_bn's reset: zero means, unit variances, momentum None (a
  // cumulative average over the epoch's batches).
  void reset_batch_norm(Module& module) {
    torch::NoGradGuard no_grad;
    momenta_.clear();
    for (const auto& child : module.modules(/*include_self=*/false)) {
      auto reset = [&](auto* norm) {
        if (!norm) return false;
        if (norm->running_mean.defined()) norm->running_mean.zero_();
        if (norm->running_var.defined()) norm->running_var.fill_(1.0);
        if (norm->num_batches_tracked.defined()) norm->num_batches_tracked.zero_();
        momenta_.emplace_back(&norm->options, norm->options.momentum());
        norm->options.momentum(c10::nullopt);
        return true;
      };
      reset(dynamic_cast<torch::nn::BatchNorm1dImpl*>(child.get())) ||
          reset(dynamic_cast<torch::nn::BatchNorm2dImpl*>(child.get())) ||
          reset(dynamic_cast<torch::nn::BatchNorm3dImpl*>(child.get()));
    }
  }

  void restore_momenta() {
    for (auto& [options, momentum] : momenta_) options->momentum(momentum);
    momenta_.clear();
  }

  void end(Trainer& trainer) {
    if (batch_norm_epoch_) {
      // The BatchNorm epoch ran: the model holds the average and its statistics.
      batch_norm_epoch_ = false;
      trainer.set_max_epochs(max_epochs_);
      restore_momenta();
      return;
    }
    // The last SWA epoch (or unlimited training) ended: the average becomes the model.
    if (n_averaged_ > 0 && (trainer.current_epoch() - 1 == swa_end() || max_epochs_ < 0)) transfer_average();
  }

  // Lightning's keys: n_averaged, latest_update_epoch, scheduler_state, average_model_state.
  void save(CheckpointHook& hook) {
    auto state = plugin_state(hook.checkpoint, name());
    state.insert_or_assign("n_averaged", n_averaged_);
    state.insert_or_assign("latest_update_epoch", latest_update_epoch_);
    if (scheduler_) {
      state.insert_or_assign("scheduler_state", scheduler_->state_dict());
    } else {
      state.insert_or_assign("scheduler_state", c10::IValue());
    }
    StateDict average = make_state_dict();
    const auto names = hook.trainer.module()->named_parameters();
    for (std::size_t i = 0; i < average_.size() && i < names.size(); ++i) {
      average.insert(names[i].key(), average_[i].detach().cpu());
    }
    state.insert_or_assign("average_model_state", average);
  }

  void load(CheckpointHook& hook) {
    if (!has_plugin_state(hook.checkpoint, name())) return;
    const auto state = plugin_state(hook.checkpoint, name());
    const auto integer = [&](const char* key) {
      if (!state.contains(key) || !state.at(key).isInt()) {
        throw Error(std::string("checkpoint: swa's state has no integer '") + key + "'");
      }
      return state.at(key).toInt();
    };
    n_averaged_ = integer("n_averaged");
    latest_update_epoch_ = integer("latest_update_epoch");
    if (n_averaged_ < 0 || latest_update_epoch_ < -1) throw Error("checkpoint: swa's counters are negative");
    loaded_scheduler_ = make_state_dict();
    if (state.contains("scheduler_state") && state.at("scheduler_state").isGenericDict()) {
      loaded_scheduler_ = state.at("scheduler_state").toGenericDict();
    }
    loaded_average_.clear();
    if (state.contains("average_model_state") && state.at("average_model_state").isGenericDict()) {
      const auto average = state.at("average_model_state").toGenericDict();
      for (const auto& item : hook.trainer.module()->named_parameters()) {
        if (!average.contains(item.key())) throw Error("checkpoint: swa's average has no '" + item.key() + "'");
        loaded_average_.push_back(average.at(item.key()).toTensor().clone());
      }
    }
    // Restored before on_fit_start, which adopts the loaded average.
  }

  SwaOptions options_;
  std::vector<torch::Tensor> parameters_;
  std::vector<torch::Tensor> average_;
  std::vector<torch::Tensor> loaded_average_;
  StateDict loaded_scheduler_ = make_state_dict();
  std::unique_ptr<SwaLR> scheduler_;
  std::vector<std::pair<torch::nn::BatchNormOptions*, c10::optional<double>>> momenta_;
  int64_t n_averaged_ = 0;
  int64_t latest_update_epoch_ = -1;
  int64_t swa_start_ = 0;
  int64_t max_epochs_ = -1;
  bool has_batch_norm_ = false;
  bool batch_norm_epoch_ = false;
};

std::unique_ptr<Plugin> make_swa(const PluginOptions& options) {
  return std::make_unique<Swa>(SwaOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_swa)
