// Where the Trainer's loops stand: the fit's position (what a checkpoint stores and a resumed fit
// continues from) and the running loop's progress (what plugins read while it runs).
//
// Each is one value, reset as a whole: a fit starts from FitPosition::start(...), every run from
// a fresh LoopProgress; a checkpoint writes FitPosition::fit_loop_entry() and a resumed fit reads
// FitPosition::resumed_from(...). No field is reset one by one.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "fulgur/checkpoint.h"

namespace fulgur {

/// The fit's position. Lightning keeps these in its fit loop's progress trackers.
struct FitPosition {
  /// The epochs this fit runs (-1: no limit); a plugin may change it during fit (SWA).
  int64_t max_epochs = 1000;
  /// Gradient accumulation in force; a plugin may change it at an epoch start.
  int64_t accumulate_grad_batches = 1;
  int64_t current_epoch = 0;
  /// Optimizer steps taken.
  int64_t global_step = 0;
  /// Training batches run in this fit, across epochs (val_check_interval counts them).
  int64_t train_batches_seen = 0;
  /// Where training would go on: batch `next_batch` of epoch `next_epoch`. Checkpoints store it,
  /// so that a resumed fit runs exactly the batches the interrupted one had not.
  int64_t next_epoch = 0;
  int64_t next_batch = 0;
  /// Batches of the first epoch a resumed fit skips (0: it starts at an epoch's start).
  int64_t resume_batches = 0;
  /// The CPU generator's state a resumed fit applies just before training goes on.
  at::Tensor resume_rng_state;
  /// The epoch the loaders were last asked for (reload_dataloaders_every_n_epochs).
  int64_t last_reload_epoch = 0;
  /// SIGUSR1 checkpoints saved in this fit.
  int64_t save_requests_handled = 0;
  /// The "should_stop waits for min_epochs" message was printed.
  bool stop_deferred_logged = false;

  /// A new fit's position: epoch 0, step 0.
  static FitPosition start(int64_t max_epochs, int64_t accumulate_grad_batches);
  /// The checkpoint's `loops.fit_loop` entry (the epoch aggregates are the metric store's to add).
  StateDict fit_loop_entry() const;
  /// The position a checkpoint resumes at: its `global_step`, `loops.fit_loop` and
  /// `rng_states.torch`, each range- and type-checked; `current` gives what the checkpoint does
  /// not hold (max_epochs, accumulation). Errors name `path`.
  static FitPosition resumed_from(const Checkpoint& checkpoint, const FitPosition& current, const std::string& path);
  /// Whether the epoch running now ran all its batches (a resumed fit finishes one that did not).
  bool epoch_complete() const { return next_batch == 0 && next_epoch == current_epoch + 1; }
};

/// What the running loop is doing; reset at each run's start.
struct LoopProgress {
  bool sanity_checking = false;
  /// Batches the current training epoch runs (-1 while the loader's length is unknown).
  int64_t num_training_batches = 0;
  /// Batches the running evaluation or predict loop runs on its current loader (-1: unknown).
  int64_t num_eval_batches = 0;
  /// The loader the running evaluation or predict loop reads (0 in training).
  int64_t dataloader_idx = 0;
  /// The global step of the last training row handed to the loggers.
  int64_t last_logged_step = 0;
  /// Validation and test batches run so far in this run: the step of their "*_step" logger rows.
  int64_t validation_steps_logged = 0;
  int64_t test_steps_logged = 0;
  /// A rank reported a signal at the last should_stop agreement.
  bool interrupt_agreed = false;
};

}  // namespace fulgur
