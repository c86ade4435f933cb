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

#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct GradClipOptions : DeclaredOptions<GradClipOptions> {
  FULGUR_OPTIONS_OF("grad_clip");
  GradClipOptions() = default;
  explicit GradClipOptions(double value) { gradient_clip_val(value); }

  FULGUR_OPTION(double, gradient_clip_val, 1.0,
                "The largest norm (algorithm norm) or absolute value (algorithm value) allowed; finite, > 0.");
  FULGUR_OPTION(std::string, gradient_clip_algorithm, "norm",
                "norm scales all gradients together; value clamps each element.", one_of({"norm", "value"}));
  FULGUR_OPTION(double, norm_type, 2.0, "The p (> 0) of the p-norm for norm (inf for the largest absolute value).");
};

}  // namespace fulgur::plugins
