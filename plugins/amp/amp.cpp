// The amp plugin (see include/fulgur/plugins/amp.h).
#include "fulgur/plugins/amp.h"

#include <cmath>

#include <spdlog/spdlog.h>

#include "fulgur/compat.h"
#include "fulgur/error.h"
#include "fulgur/gradients.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

class Amp : public Plugin, public AmpInfo {
 public:
  explicit Amp(AmpOptions options) : options_(std::move(options)) {
    const auto& precision = options_.precision();
    if (precision != "32-true" && precision != "64-true" && precision != "bf16-mixed" && precision != "16-mixed" &&
        precision != "bf16-true" && precision != "16-true") {
      throw PluginError(
          "plugin 'amp': option 'precision' expects 32-true, 64-true, bf16-mixed, 16-mixed, bf16-true or "
          "16-true, got '" +
          precision + "'");
    }
    mixed_ = precision == "bf16-mixed" || precision == "16-mixed";
    if (precision == "64-true") true_dtype_ = torch::kDouble;
    if (precision == "bf16-true") true_dtype_ = torch::kBFloat16;
    if (precision == "16-true") true_dtype_ = torch::kHalf;
    scaling_ = options_.loss_scaling().value_or(precision == "16-mixed");
    if (scaling_ && !mixed_) throw PluginError("plugin 'amp': loss_scaling needs a mixed precision, not " + precision);
    if (!(options_.init_scale() > 0) || !(options_.growth_factor() > 1) ||
        !(options_.backoff_factor() > 0 && options_.backoff_factor() < 1) || options_.growth_interval() < 1) {
      throw PluginError(
          "plugin 'amp': the scaler needs init_scale > 0, growth_factor > 1, backoff_factor in (0, 1) "
          "and growth_interval >= 1");
    }
  }

  std::string name() const override { return "amp"; }
  std::string precision() const override { return options_.precision(); }
  std::optional<double> loss_scale() const override {
    if (!scaler_) return std::nullopt;
    return scaler_->scale_tensor().item<double>();
  }
  int64_t skipped_steps() const override { return skipped_steps_; }

  void attach(HookBus& bus) override {
    connect(
        bus.setup, [this](StageHook& hook) { setup(hook.trainer); }, SlotGroup::Precision);
    connect(
        bus.teardown,
        [this](StageHook&) {
          leave_autocast();
          leave_default_dtype();
        },
        SlotGroup::Precision);
    connect(
        bus.on_exception,
        [this](ExceptionHook&) {
          leave_autocast();
          leave_default_dtype();
        },
        SlotGroup::Precision);
    if (true_dtype_) attach_true_precision(bus, *true_dtype_);
    if (!mixed_) return;

    connect_around_steps(
        bus, [this] { enter_autocast(); }, [this] { leave_autocast(); });
    // Backward runs outside autocast, on the (scaled) loss.
    connect(
        bus.on_before_backward,
        [this](BeforeBackwardHook& hook) {
          leave_autocast();
          if (scaler_) hook.loss = scaler_->scale(hook.loss);
        },
        SlotGroup::Precision);
    if (!scaling_) {
      connect(
          bus.on_train_batch_end, [this](BatchEndHook&) { leave_autocast(); }, SlotGroup::Precision);
      return;
    }
    connect(
        bus.on_before_optimizer_step, [this](OptimizerHook& hook) { unscale(hook); }, SlotGroup::Precision);
    // The scale moves once per iteration, after all its optimizer steps (as GradScaler.update()).
    connect(
        bus.on_train_batch_end,
        [this](BatchEndHook&) {
          leave_autocast();
          if (found_inf_.defined()) {
            scaler_->update(found_inf_);
            found_inf_ = torch::Tensor();
          }
        },
        SlotGroup::Precision);
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) {
      if (!scaler_) return;
      StateDict state = plugin_state(hook.checkpoint, name());
      state.insert_or_assign("scale", scaler_->scale_tensor().item<double>());
      state.insert_or_assign("growth_tracker", static_cast<int64_t>(scaler_->growth_tracker().item<int>()));
      state.insert_or_assign("skipped_steps", skipped_steps_);
    });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) {
      if (!scaler_ || !has_plugin_state(hook.checkpoint, name())) return;
      const StateDict state = plugin_state(hook.checkpoint, name());
      if (!state.contains("scale") || !state.at("scale").isDouble() || !state.contains("growth_tracker") ||
          !state.at("growth_tracker").isInt()) {
        throw Error("checkpoint: the amp loss scaler's state (scale, growth_tracker) is missing or malformed");
      }
      const double scale = state.at("scale").toDouble();
      if (!(scale > 0) || !std::isfinite(scale) || state.at("growth_tracker").toInt() < 0) {
        throw Error("checkpoint: the amp loss scaler's saved scale must be finite and > 0 and its growth_tracker >= 0");
      }
      scaler_->load(state.at("scale").toDouble(), state.at("growth_tracker").toInt());
      if (state.contains("skipped_steps") && state.at("skipped_steps").isInt())
        skipped_steps_ = state.at("skipped_steps").toInt();
    });
  }

 private:
  void setup(Trainer& trainer) {
    const torch::Device device = trainer.device();
    if (options_.precision() == "16-mixed" && !device.is_cuda()) {
      throw Error("precision '16-mixed' needs a CUDA device, but this run is on " + device.str() +
                  ": LibTorch's CPU autocast computes in bfloat16 only. Use precision 'bf16-mixed' on the CPU");
    }
    device_type_ = device.type();
    low_dtype_ = options_.precision() == "16-mixed" ? torch::kHalf : torch::kBFloat16;
    if (true_dtype_ && trainer.module()) trainer.module()->to(*true_dtype_);
    if (scaling_ && !scaler_) scaler_.emplace(options_, device);
  }

  // Lightning's DoublePrecision / HalfPrecision: the weights and the batches' floating tensors in
  // that dtype, and it is the default dtype while a step runs, so tensors the step makes match.
  void attach_true_precision(HookBus& bus, torch::ScalarType dtype) {
    connect(
        bus.on_after_batch_transfer,
        [dtype](BatchTransferHook& hook) {
          hook.batch.apply_to_tensors(
              [dtype](const torch::Tensor& tensor) { return tensor.is_floating_point() ? tensor.to(dtype) : tensor; });
        },
        SlotGroup::Precision);
    connect_around_steps(
        bus, [this] { enter_default_dtype(); }, [this] { leave_default_dtype(); });
    connect(
        bus.on_before_backward, [this](BeforeBackwardHook&) { leave_default_dtype(); }, SlotGroup::Precision);
    connect(
        bus.on_train_batch_end, [this](BatchEndHook&) { leave_default_dtype(); }, SlotGroup::Precision);
  }

  // `enter` at every loop's batch start, `leave` at the evaluation loops' batch ends (where a
  // training step leaves depends on backward and the scaler, so each caller connects that).
  template <typename Enter, typename Leave>
  void connect_around_steps(HookBus& bus, Enter enter, Leave leave) {
    auto at_start = [enter](BatchStartHook&) { enter(); };
    auto at_end = [leave](BatchEndHook&) { leave(); };
    connect(bus.on_train_batch_start, at_start, SlotGroup::Precision);
    connect(bus.on_validation_batch_start, at_start, SlotGroup::Precision);
    connect(bus.on_test_batch_start, at_start, SlotGroup::Precision);
    connect(bus.on_predict_batch_start, at_start, SlotGroup::Precision);
    connect(bus.on_validation_batch_end, at_end, SlotGroup::Precision);
    connect(bus.on_test_batch_end, at_end, SlotGroup::Precision);
    connect(bus.on_predict_batch_end, at_end, SlotGroup::Precision);
  }

  void enter_default_dtype() {
    if (saved_default_dtype_) return;
    saved_default_dtype_ = c10::get_default_dtype();
    c10::set_default_dtype(c10::scalarTypeToTypeMeta(*true_dtype_));
  }

  void leave_default_dtype() {
    if (!saved_default_dtype_) return;
    c10::set_default_dtype(*saved_default_dtype_);
    saved_default_dtype_.reset();
  }

  void enter_autocast() {
    if (autocast_on_) return;
    compat::set_autocast(device_type_, true, low_dtype_);
    autocast_on_ = true;
  }

  void leave_autocast() {
    if (!autocast_on_) return;
    compat::set_autocast(device_type_, false, low_dtype_);
    autocast_on_ = false;
  }

  void unscale(OptimizerHook& hook) {
    std::vector<torch::Tensor> grads = gradients_of(hook.optimizer);
    torch::NoGradGuard no_grad;
    const torch::Tensor found = scaler_->unscale_(grads);
    found_inf_ = found_inf_.defined() ? found_inf_ + found : found;
    // Deciding to skip needs the flag on the host: one sync per step, as PyTorch's GradScaler.
    if (found.item<float>() > 0) {
      hook.skip_step = true;
      ++skipped_steps_;
      spdlog::debug("amp: gradients overflowed at global step {}: step skipped, loss scale backs off",
                    hook.trainer.global_step());
    }
  }

  AmpOptions options_;
  bool mixed_ = false;
  bool scaling_ = false;
  bool autocast_on_ = false;
  std::optional<torch::ScalarType> true_dtype_;          // 64-true, bf16-true, 16-true
  std::optional<caffe2::TypeMeta> saved_default_dtype_;  // set while a step runs under a true precision
  c10::DeviceType device_type_ = c10::DeviceType::CPU;
  torch::ScalarType low_dtype_ = torch::kBFloat16;
  std::optional<GradScaler> scaler_;
  torch::Tensor found_inf_;
  int64_t skipped_steps_ = 0;
};

std::unique_ptr<Plugin> make_amp(const PluginOptions& options) {
  return std::make_unique<Amp>(AmpOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_amp)
