// amp: Lightning's precision plugins — 32-true, 64-true, bf16-mixed, 16-mixed, bf16-true, 16-true.
//
//   --precision bf16-mixed                (Trainer option: attaches amp)
//   --plugin amp:precision=16-mixed,init_scale=1024,growth_interval=100
//
// Mixed precision runs each step's forward and loss (training, validation, test, predict) under
// autocast and turns it off before backward. 16-mixed adds a loss scaler (LibTorch has no C++
// GradScaler; GradScaler below is ours): the loss is scaled before backward, the gradients are
// unscaled before clipping (slot group Precision runs before Gradients), a step whose
// gradients hold inf/NaN is skipped and the scale halved, and the scale grows after
// growth_interval clean steps. Its state travels in checkpoints. 64-true, bf16-true and
// 16-true make the module and the batches' floating tensors double, bfloat16 or half, and that
// dtype the default while each step runs (Lightning's DoublePrecision and HalfPrecision).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <boost/config.hpp>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct AmpOptions : DeclaredOptions<AmpOptions> {
  FULGUR_OPTIONS_OF("amp");
  FULGUR_OPTION(std::string, precision, "bf16-mixed", "32-true, 64-true, bf16-mixed, 16-mixed, bf16-true or 16-true.");
  FULGUR_OPTION(std::optional<bool>, loss_scaling, std::nullopt, "Loss scaling; none: on for 16-mixed only.");
  FULGUR_OPTION(double, init_scale, 65536.0, "The GradScaler's first scale.");
  FULGUR_OPTION(double, growth_factor, 2.0, "The scale's factor after growth_interval clean steps.");
  FULGUR_OPTION(double, backoff_factor, 0.5, "The scale's factor after a step with inf/NaN gradients.");
  FULGUR_OPTION(int64_t, growth_interval, 2000, "Clean steps before the scale grows.");
};

/// What the amp plugin tells other plugins and tests:
///   dynamic_cast<fulgur::plugins::AmpInfo*>(trainer.find_plugin("amp"))->loss_scale()
class BOOST_SYMBOL_VISIBLE AmpInfo {
 public:
  virtual ~AmpInfo() = default;
  virtual std::string precision() const = 0;
  /// The current loss scale (copies it to the host), or nothing without loss scaling.
  virtual std::optional<double> loss_scale() const = 0;
  /// Optimizer steps skipped because a gradient was inf or NaN.
  virtual int64_t skipped_steps() const = 0;
};

/// PyTorch's GradScaler, for the C++ side. On CUDA it uses PyTorch's fused kernels
/// (_amp_foreach_non_finite_check_and_unscale_, _amp_update_scale_); elsewhere the same
/// arithmetic in plain tensor ops. Nothing here reads a value on the host.
class GradScaler {
 public:
  GradScaler(const AmpOptions& options, const at::Device& device)
      : growth_factor_(options.growth_factor()),
        backoff_factor_(options.backoff_factor()),
        growth_interval_(options.growth_interval()),
        scale_(at::full({1}, options.init_scale(), at::TensorOptions().dtype(at::kFloat).device(device))),
        growth_tracker_(at::zeros({1}, at::TensorOptions().dtype(at::kInt).device(device))) {}

  /// loss * scale.
  at::Tensor scale(const at::Tensor& loss) const { return loss * scale_.to(loss.scalar_type()); }

  /// Divides the gradients by the scale in place; returns a one-element float tensor that is 1
  /// when any of them holds inf or NaN.
  at::Tensor unscale_(std::vector<at::Tensor>& grads) const {
    at::Tensor found_inf = at::zeros({1}, scale_.options());
    if (grads.empty()) return found_inf;
    const at::Tensor inv_scale = scale_.to(at::kDouble).reciprocal().to(at::kFloat);
    if (scale_.is_cuda()) {
      // The fused kernel wants one dtype per call.
      std::vector<std::vector<at::Tensor>> by_dtype;
      for (auto& grad : grads) {
        auto same = std::find_if(by_dtype.begin(), by_dtype.end(),
                                 [&](const auto& group) { return group.front().scalar_type() == grad.scalar_type(); });
        if (same == by_dtype.end()) {
          by_dtype.push_back({grad});
        } else {
          same->push_back(grad);
        }
      }
      for (auto& group : by_dtype) at::_amp_foreach_non_finite_check_and_unscale_(group, found_inf, inv_scale);
      return found_inf;
    }
    std::vector<at::Tensor> non_finite;
    non_finite.reserve(grads.size());
    for (auto& grad : grads) {
      non_finite.push_back(at::isfinite(grad).all().logical_not());
      grad.mul_(inv_scale.to(grad.scalar_type()));
    }
    return at::stack(non_finite).any().to(at::kFloat).reshape({1});
  }

  /// After an iteration's steps: back off on inf/NaN, grow after growth_interval clean steps.
  void update(const at::Tensor& found_inf) {
    if (scale_.is_cuda()) {
      at::_amp_update_scale_(scale_, growth_tracker_, found_inf, growth_factor_, backoff_factor_, growth_interval_);
      return;
    }
    const at::Tensor overflow = found_inf.gt(0);
    const at::Tensor clean_steps = growth_tracker_ + 1;
    const at::Tensor grow = clean_steps.eq(growth_interval_).logical_and(overflow.logical_not());
    at::Tensor grown = scale_ * growth_factor_;
    grown = at::where(at::isfinite(grown), grown, scale_);  // never grow into inf
    scale_ = at::where(overflow, scale_ * backoff_factor_, at::where(grow, grown, scale_));
    growth_tracker_ = at::where(overflow.logical_or(grow), at::zeros_like(growth_tracker_), clean_steps);
  }

  const at::Tensor& scale_tensor() const { return scale_; }
  const at::Tensor& growth_tracker() const { return growth_tracker_; }
  void load(double scale, int64_t growth_tracker) {
    scale_.fill_(scale);
    growth_tracker_.fill_(growth_tracker);
  }

 private:
  double growth_factor_;
  double backoff_factor_;
  int64_t growth_interval_;
  at::Tensor scale_;
  at::Tensor growth_tracker_;
};

}  // namespace fulgur::plugins
