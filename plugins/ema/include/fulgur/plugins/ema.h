// ema: an exponential moving average of the weights, Lightning's EMAWeightAveraging.
// After each chosen optimizer step the averaged weights move toward the model's:
//   average = decay * average + (1 - decay) * weights    (the first update copies them)
// Validation runs on the averaged weights, checkpoints hold them as "state_dict" (the training
// weights under "current_model_state", so a resumed fit continues both), and they become the
// model's weights when training ends.
//
//   --plugin ema:decay=0.999,update_starting_at_step=100
//   trainer.add_plugin(fulgur::plugins::EmaOptions{}.with_decay(0.99).spec());
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct EmaOptions {
  /// In (0, 1): the weight of the average in each update.
  double decay = 0.999;
  /// Update after every n-th optimizer step (counted from 0: steps 0, n, 2n, ...).
  int64_t update_every_n_steps = 1;
  /// Update only from this step on (-1: from the first).
  int64_t update_starting_at_step = -1;
  /// Also update at the end of every epoch from this one on (-1: never at epoch ends).
  int64_t update_starting_at_epoch = -1;
  /// Average the buffers (BatchNorm statistics) too, as Lightning's default.
  bool use_buffers = true;
  /// Validate with the averaged weights (Lightning swaps them in for every validation).
  bool validate_with_average = true;

  EmaOptions& with_decay(double value) { decay = value; return *this; }
  EmaOptions& with_update_every_n_steps(int64_t value) { update_every_n_steps = value; return *this; }
  EmaOptions& with_update_starting_at_step(int64_t value) { update_starting_at_step = value; return *this; }
  EmaOptions& with_update_starting_at_epoch(int64_t value) { update_starting_at_epoch = value; return *this; }

  PluginSpec spec() const {
    std::ostringstream text;
    text.precision(17);
    text << decay;
    return {"ema",
            {{"decay", text.str()},
             {"update_every_n_steps", std::to_string(update_every_n_steps)},
             {"update_starting_at_step", std::to_string(update_starting_at_step)},
             {"update_starting_at_epoch", std::to_string(update_starting_at_epoch)},
             {"use_buffers", use_buffers ? "true" : "false"},
             {"validate_with_average", validate_with_average ? "true" : "false"}}};
  }
};

}  // namespace fulgur::plugins
