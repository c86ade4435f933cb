// nan_guard: stops fit at the first NaN or infinite training loss (and, optionally, gradient),
// naming the epoch, batch and global step, and pointing at the last good checkpoint. The bad
// step never reaches the weights: the loss is checked before backward.
//
// It reads the loss on the host every step (one device sync per step), so it is a debugging aid
// that is off by default, like Lightning's detect_anomaly.
//
//   --plugin nan_guard
//   --plugin nan_guard:check_gradients=true
#pragma once

#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct NanGuardOptions : DeclaredOptions<NanGuardOptions> {
  FULGUR_OPTIONS_OF("nan_guard");
  FULGUR_OPTION(bool, check_gradients, false, "Also check every gradient after backward (one more sync per step).");
};

}  // namespace fulgur::plugins
