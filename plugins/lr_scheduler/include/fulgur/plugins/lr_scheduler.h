// lr_scheduler: steps learning-rate schedulers with Lightning's scheduler config.
//
// The Trainer attaches it by itself when configure_optimizers returns schedulers
// (fulgur/lr_schedulers.h); it steps each one after every `frequency` optimizer steps
// (interval "step") or epochs (interval "epoch"), hands a plateau scheduler its `monitor`ed
// metric, and saves and restores every scheduler's state with the checkpoint.
//
// Named with a `schedule`, it also builds one for the first optimizer, so a schedule can be
// picked on the command line without touching the Module:
//
//   --plugin lr_scheduler:schedule=cosine,t_max=30,warmup=2
//   --plugin lr_scheduler:schedule=plateau,monitor=val_loss,patience=3,factor=0.5
//   --plugin lr_scheduler:schedule=one_cycle,interval=step,max_lr=0.01,total_steps=1200
#pragma once

#include <string>

#include <boost/config.hpp>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct LRSchedulerOptions : DeclaredOptions<LRSchedulerOptions> {
  FULGUR_OPTIONS_OF("lr_scheduler");
  FULGUR_OPTION(std::string, schedule, "",
                "step, multistep, exponential, cosine, cosine_warm_restarts, one_cycle, polynomial, plateau, or "
                "constant (only a warmup); empty: only drive what configure_optimizers returned.");
  FULGUR_OPTION(std::string, interval, "epoch", "epoch or step: the unit the scheduler steps in.",
                one_of({"epoch", "step"}));
  FULGUR_OPTION(int64_t, frequency, 1, "Step the scheduler every this many intervals.", at_least(1));
  FULGUR_OPTION(std::string, monitor, "val_loss", "The metric a plateau schedule follows.");
  FULGUR_OPTION(int64_t, warmup, 0, "Intervals of linear warmup in front of the schedule; 0: none.", at_least(0));
  /// The schedule's own arguments, by PyTorch's names in lower case: step_size, gamma, milestones
  /// (10/20/30), t_max, eta_min, t_0, t_mult, max_lr, total_steps, pct_start, anneal_strategy,
  /// div_factor, final_div_factor, three_phase, total_iters, power, mode, factor, patience,
  /// threshold, threshold_mode, cooldown, min_lr, warmup_start_factor. They travel in the spec
  /// beside the options above.
  PluginOptions arguments;

  /// The options above and the schedule's arguments, side by side as the command line writes them.
  PluginSpec spec() const {
    PluginSpec spec = DeclaredOptions::spec();
    for (const auto& [key, value] : arguments) spec.options[key] = value;
    return spec;
  }
};

/// What the lr_scheduler plugin lets other plugins steer, through
/// `dynamic_cast<LRSchedulerControl*>(trainer.find_plugin("lr_scheduler"))`.
class BOOST_SYMBOL_VISIBLE LRSchedulerControl {
 public:
  virtual ~LRSchedulerControl() = default;
  /// Stops stepping the schedulers of the first optimizer for the rest of this fit: another
  /// plugin sets its learning rates from now on (swa, as Lightning swaps in SWALR). Their states
  /// still travel in checkpoints.
  virtual void hand_over_first_optimizer() = 0;
};

}  // namespace fulgur::plugins
