// The nan_guard plugin (see include/fulgur/plugins/nan_guard.h).
#include "fulgur/plugins/nan_guard.h"

#include <cmath>

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/plugins/model_checkpoint.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

class NanGuard : public Plugin {
 public:
  explicit NanGuard(NanGuardOptions options) : options_(options) {}

  std::string name() const override { return "nan_guard"; }

  void attach(HookBus& bus) override {
    connect(
        bus.on_train_batch_start, [this](BatchStartHook& hook) { batch_idx_ = hook.batch_idx; }, SlotGroup::Trace);
    // Before the precision plugins scale the loss, and before backward.
    connect(
        bus.on_before_backward,
        [this](BeforeBackwardHook& hook) {
          if (!torch::isfinite(hook.loss.detach()).all().item<bool>()) {
            const double value = hook.loss.item<double>();
            stop(hook.trainer, std::string("the training loss is ") + (std::isnan(value) ? "nan"
                                                                       : value > 0       ? "inf"
                                                                                         : "-inf"));
          }
        },
        SlotGroup::Trace);
    if (options_.check_gradients()) {
      connect(
          bus.on_after_backward,
          [this](AfterBackwardHook& hook) {
            std::vector<torch::Tensor> finite;
            for (const auto& item : hook.trainer.module()->named_parameters()) {
              if (item.value().grad().defined()) finite.push_back(torch::isfinite(item.value().grad()).all());
            }
            if (finite.empty() || torch::stack(finite).all().item<bool>()) return;
            for (const auto& item : hook.trainer.module()->named_parameters()) {
              const auto& grad = item.value().grad();
              if (grad.defined() && !torch::isfinite(grad).all().item<bool>()) {
                stop(hook.trainer, "the gradient of '" + item.key() + "' is not finite");
              }
            }
          },
          SlotGroup::Trace);
    }
  }

 private:
  [[noreturn]] void stop(Trainer& trainer, const std::string& what) const {
    std::string checkpoint = "no checkpoint was saved yet";
    if (const auto* saver = dynamic_cast<const ModelCheckpointInfo*>(trainer.find_plugin("model_checkpoint"))) {
      if (!saver->last_model_path().empty()) checkpoint = "the last good checkpoint is " + saver->last_model_path();
    }
    throw Error("nan_guard: " + what + " at epoch " + std::to_string(trainer.current_epoch()) + ", batch " +
                std::to_string(batch_idx_) + " (global step " + std::to_string(trainer.global_step()) + "); " +
                checkpoint);
  }

  NanGuardOptions options_;
  int64_t batch_idx_ = 0;
};

std::unique_ptr<Plugin> make_nan_guard(const PluginOptions& options) {
  return std::make_unique<NanGuard>(NanGuardOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_nan_guard)
