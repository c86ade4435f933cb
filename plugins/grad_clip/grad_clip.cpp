// The grad_clip plugin (see include/fulgur/plugins/grad_clip.h).
#include "fulgur/plugins/grad_clip.h"

#include <algorithm>
#include <cmath>

#include "fulgur/compat.h"
#include "fulgur/error.h"
#include "fulgur/gradients.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

class GradClip : public Plugin {
 public:
  explicit GradClip(GradClipOptions options) : options_(std::move(options)) {
    if (!(options_.gradient_clip_val() > 0) || !std::isfinite(options_.gradient_clip_val())) {
      throw PluginError("plugin 'grad_clip': option 'gradient_clip_val' must be a positive number");
    }
    if (!(options_.norm_type() > 0)) throw PluginError("plugin 'grad_clip': option 'norm_type' must be > 0 (or inf)");
  }

  std::string name() const override { return "grad_clip"; }

  void attach(HookBus& bus) override {
    connect(
        bus.on_before_optimizer_step,
        [this](OptimizerHook& hook) {
          std::vector<torch::Tensor> grads = gradients_of(hook.optimizer);
          if (grads.empty()) return;
          torch::NoGradGuard no_grad;
          if (options_.gradient_clip_algorithm() == "value") {
            for (auto& grad : grads) grad.clamp_(-options_.gradient_clip_val(), options_.gradient_clip_val());
            return;
          }
          clip_by_norm(grads);
        },
        SlotGroup::Gradients);
  }

 private:
  // As torch.nn.utils.clip_grad_norm_ (its foreach path); on a GPU the coefficient stays a
  // tensor: no device sync. Gradients of one dtype and device take two fused launches (the norms, the
  // scaling) instead of two per parameter.
  void clip_by_norm(std::vector<torch::Tensor>& grads) const {
    const double p = options_.norm_type();
    const bool uniform = std::all_of(grads.begin(), grads.end(), [&](const torch::Tensor& grad) {
      return grad.scalar_type() == grads.front().scalar_type() && grad.device() == grads.front().device() &&
             !grad.is_sparse();
    });
    std::vector<torch::Tensor> norms;
    if (uniform && (p == 1.0 || p == 2.0)) {
      norms = compat::foreach_norm(grads, p);
    } else {
      norms.reserve(grads.size());
      for (const auto& grad : grads) norms.push_back(std::isinf(p) ? grad.abs().max() : grad.norm(p));
    }
    for (auto& norm : norms) norm = norm.to(torch::kFloat);
    const auto stacked = torch::stack(norms);
    const auto total = std::isinf(p) ? stacked.max() : stacked.norm(p);
    if (total.is_cpu()) {
      // On the CPU reading the norm costs no device sync, and skipping the scaling when nothing
      // is clipped (as clip_grad_norm_ does) saves a multiplication per parameter.
      const double coefficient = options_.gradient_clip_val() / (total.item<double>() + 1e-6);
      if (coefficient >= 1.0) return;
      if (uniform) {
        at::_foreach_mul_(grads, coefficient);
      } else {
        for (auto& grad : grads) grad.mul_(coefficient);
      }
      return;
    }
    const auto coefficient = (options_.gradient_clip_val() / (total + 1e-6)).clamp_max(1.0);
    if (uniform) {
      compat::foreach_mul_(grads, coefficient.to(grads.front().scalar_type()));
    } else {
      for (auto& grad : grads) grad.mul_(coefficient.to(grad.dtype()));
    }
  }

  GradClipOptions options_;
};

std::unique_ptr<Plugin> make_grad_clip(const PluginOptions& options) {
  return std::make_unique<GradClip>(GradClipOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_grad_clip)
