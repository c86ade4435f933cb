// The ema plugin (see include/fulgur/plugins/ema.h).
#include "fulgur/plugins/ema.h"

#include <torch/torch.h>

#include "fulgur/checkpoint.h"
#include "fulgur/error.h"
#include "fulgur/plugin.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

class Ema : public Plugin {
 public:
  explicit Ema(EmaOptions options) : options_(options) {
    if (!(options_.decay() > 0.0 && options_.decay() < 1.0)) {
      throw PluginError("plugin 'ema': option 'decay' must lie in (0, 1), got " + std::to_string(options_.decay()));
    }
    if (options_.update_every_n_steps() < 0) {
      throw PluginError("plugin 'ema': option 'update_every_n_steps' must be >= 0 (0: never after steps)");
    }
    // -1 is Lightning's None (unset); anything below is a typo that would silently mean "unset".
    for (const auto& [option, value] :
         {std::pair<const char*, int64_t>{"update_starting_at_step", options_.update_starting_at_step()},
          {"update_starting_at_epoch", options_.update_starting_at_epoch()}}) {
      if (value < -1) {
        throw PluginError(std::string("plugin 'ema': option '") + option + "' must be >= 0, or -1 for unset; got " +
                          std::to_string(value));
      }
    }
  }

  std::string name() const override { return "ema"; }

  void attach(HookBus& bus) override {
    connect(bus.setup, [this](StageHook& hook) {
      if (hook.stage == Stage::Fit) start(hook.trainer);
    });
    connect(bus.teardown, [this](StageHook& hook) {
      if (hook.stage != Stage::Fit) return;
      average_.clear();
      model_.clear();
    });
    connect(bus.on_train_batch_end, [this](BatchEndHook& hook) {
      const int64_t step = hook.trainer.global_step();
      if (step > latest_update_step_ && should_update_after_step(step - 1)) {
        update();
        latest_update_step_ = step;
      }
    });
    connect(bus.on_train_epoch_end, [this](EpochHook& hook) {
      const int64_t epoch = hook.trainer.current_epoch();
      if (epoch > latest_update_epoch_ && options_.update_starting_at_epoch() >= 0 &&
          epoch >= options_.update_starting_at_epoch()) {
        update();
        latest_update_epoch_ = epoch;
      }
    });
    connect(bus.on_validation_epoch_start, [this](EpochHook& hook) {
      if (options_.validate_with_average() && !average_.empty()) swap();
    });
    connect(bus.on_validation_epoch_end, [this](EpochHook& hook) {
      if (options_.validate_with_average() && !average_.empty()) swap();
    });
    connect(bus.on_train_end, [this](RunHook&) {
      if (!average_.empty()) copy_average_into_model();
    });
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) { save(hook); });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) { load(hook); });
  }

 private:
  // The model's tensors that are averaged, in a fixed order (parameters, then buffers with
  // use_buffers), and their state_dict names: taken once per fit, as they stay the same objects.
  void start(Trainer& trainer) {
    torch::NoGradGuard no_grad;
    model_.clear();
    names_.clear();
    average_.clear();
    auto& module = *trainer.module();
    for (const auto& item : module.named_parameters()) {
      names_.push_back(item.key());
      model_.push_back(item.value());
    }
    if (options_.use_buffers()) {
      for (const auto& item : module.named_buffers()) {
        names_.push_back(item.key());
        model_.push_back(item.value());
      }
    }
    for (const auto& tensor : model_) average_.push_back(tensor.detach().clone());
    averaged_ = 0;
    latest_update_step_ = 0;
    latest_update_epoch_ = -1;
  }

  void copy_average_into_model() {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < model_.size(); ++i) model_[i].copy_(average_[i]);
  }

  // Lightning's EMAWeightAveraging.should_update for the step just taken (0-based).
  bool should_update_after_step(int64_t step_idx) const {
    const bool started = options_.update_starting_at_step() < 0 || step_idx >= options_.update_starting_at_step();
    const bool due = options_.update_every_n_steps() > 0 && step_idx % options_.update_every_n_steps() == 0;
    return started && due;
  }

  // torch.optim.swa_utils.AveragedModel.update_parameters with get_ema_avg_fn: the first update
  // copies, later ones move by (1 - decay). All on the device, no host sync.
  void update() {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < model_.size(); ++i) {
      const auto value = model_[i].detach().to(average_[i].device());
      if (averaged_ == 0) {
        average_[i].copy_(value);
      } else {
        average_[i].copy_(options_.decay() * average_[i] + (1.0 - options_.decay()) * value);
      }
    }
    ++averaged_;
  }

  void swap() {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < model_.size(); ++i) {
      const auto held = average_[i].clone();
      average_[i].copy_(model_[i]);
      model_[i].copy_(held);
    }
  }

  // Lightning's layout: the averaged weights are the checkpoint's state_dict (what
  // load_from_checkpoint and Lightning read), the training weights "current_model_state", the
  // update count "averaging_state".
  void save(CheckpointHook& hook) {
    auto state = plugin_state(hook.checkpoint, name());
    state.insert_or_assign("latest_update_step", latest_update_step_);
    if (average_.empty()) return;
    auto current = hook.checkpoint.at("state_dict").toGenericDict();
    StateDict averaged = make_state_dict();
    for (const auto& entry : current) averaged.insert(entry.key(), entry.value());
    for (std::size_t i = 0; i < names_.size(); ++i) averaged.insert_or_assign(names_[i], average_[i].detach().cpu());
    StateDict averaging = make_state_dict();
    averaging.insert("n_averaged", torch::tensor(averaged_, torch::kLong));
    hook.checkpoint.insert_or_assign("current_model_state", current);
    hook.checkpoint.insert_or_assign("state_dict", averaged);
    hook.checkpoint.insert_or_assign("averaging_state", averaging);
  }

  void load(CheckpointHook& hook) {
    if (has_plugin_state(hook.checkpoint, name())) {
      const auto state = plugin_state(hook.checkpoint, name());
      if (state.contains("latest_update_step")) latest_update_step_ = state.at("latest_update_step").toInt();
    }
    if (average_.empty()) return;
    // The Trainer loaded "state_dict" into the model: with ema's layout that is the average; else
    // both start from it, as in Lightning.
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < model_.size(); ++i) average_[i].copy_(model_[i]);
    if (!hook.checkpoint.contains("current_model_state") || !hook.checkpoint.contains("averaging_state")) return;
    // Put the training weights back.
    const auto training = hook.checkpoint.at("current_model_state").toGenericDict();
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (!training.contains(names_[i])) {
        throw Error("checkpoint: ema's current_model_state has no '" + names_[i] + "'");
      }
      model_[i].copy_(training.at(names_[i]).toTensor());
    }
    averaged_ = hook.checkpoint.at("averaging_state").toGenericDict().at("n_averaged").toTensor().item<int64_t>();
  }

  EmaOptions options_;
  std::vector<torch::Tensor> model_;  // the model's averaged tensors (shared with it)
  std::vector<std::string> names_;
  std::vector<torch::Tensor> average_;
  int64_t averaged_ = 0;
  int64_t latest_update_step_ = 0;
  int64_t latest_update_epoch_ = -1;
};

std::unique_ptr<Plugin> make_ema(const PluginOptions& options) {
  return std::make_unique<Ema>(EmaOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_ema)
