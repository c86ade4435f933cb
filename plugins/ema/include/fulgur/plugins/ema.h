// ema: an exponential moving average of the weights, Lightning's EMAWeightAveraging.
// After each chosen optimizer step the averaged weights move toward the model's:
//   average = decay * average + (1 - decay) * weights    (the first update copies them)
// Validation runs on the averaged weights, checkpoints hold them as "state_dict" (the training
// weights under "current_model_state", so a resumed fit continues both), and they become the
// model's weights when training ends.
//
//   --plugin ema:decay=0.999,update_starting_at_step=100
//   trainer.add_plugin(fulgur::plugins::EmaOptions().decay(0.99));
#pragma once

#include <cstdint>
#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct EmaOptions : DeclaredOptions<EmaOptions> {
  FULGUR_OPTIONS_OF("ema");
  FULGUR_OPTION(double, decay, 0.999, "In (0, 1): the weight of the average in each update.");
  FULGUR_OPTION(int64_t, update_every_n_steps, 1,
                "Update after every n-th optimizer step (counted from 0: steps 0, n, 2n, ...; 0: never after steps).");
  FULGUR_OPTION(int64_t, update_starting_at_step, -1, "Update only from this step on (-1: from the first).");
  FULGUR_OPTION(int64_t, update_starting_at_epoch, -1,
                "Also update at the end of every epoch from this one on (-1: never at epoch ends).");
  FULGUR_OPTION(bool, use_buffers, true, "Average the buffers (BatchNorm statistics) too, as Lightning's default.");
  FULGUR_OPTION(bool, validate_with_average, true,
                "Validate with the averaged weights (Lightning swaps them in for every validation).");

  [[deprecated("write .decay(value)")]] EmaOptions& with_decay(double value) { return decay(value); }
  [[deprecated("write .update_every_n_steps(value)")]] EmaOptions& with_update_every_n_steps(int64_t value) {
    return update_every_n_steps(value);
  }
  [[deprecated("write .update_starting_at_step(value)")]] EmaOptions& with_update_starting_at_step(int64_t value) {
    return update_starting_at_step(value);
  }
  [[deprecated("write .update_starting_at_epoch(value)")]] EmaOptions& with_update_starting_at_epoch(int64_t value) {
    return update_starting_at_epoch(value);
  }
};

}  // namespace fulgur::plugins
