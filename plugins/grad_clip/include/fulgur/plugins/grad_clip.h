// grad_clip: Lightning's gradient clipping (gradient_clip_val / gradient_clip_algorithm).
// Clips the gradients of the optimizer about to step, after any loss scaler has unscaled them
// (slot group Gradients) and before the step.
//
//   --gradient-clip-val 1.0 [--gradient-clip-algorithm value]   (Trainer options)
//   --plugin grad_clip:gradient_clip_val=1.0,gradient_clip_algorithm=norm
//
// Clipping by norm keeps everything on the device: the total norm and the scale factor are
// tensors, never read on the host (LibTorch's clip_grad_norm_ returns a double, which syncs).
#pragma once

#include <sstream>
#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct GradClipOptions {
  /// The largest norm (algorithm "norm") or absolute value (algorithm "value") allowed.
  double gradient_clip_val = 1.0;
  /// "norm" scales all gradients together; "value" clamps each element.
  std::string gradient_clip_algorithm = "norm";
  /// The p of the p-norm for "norm" ("inf" for the largest absolute value).
  double norm_type = 2.0;

  PluginSpec spec() const {
    auto text = [](double value) {
      std::ostringstream out;
      out.precision(17);
      out << value;
      return out.str();
    };
    return {"grad_clip",
            {{"gradient_clip_val", text(gradient_clip_val)},
             {"gradient_clip_algorithm", gradient_clip_algorithm},
             {"norm_type", text(norm_type)}}};
  }
};

}  // namespace fulgur::plugins
