// What each hook passes to its slots.
//
// A slot changes what the kernel does next only through the non-const members of its context:
// BatchTransferHook::batch (a precision plugin converts it), BeforeBackwardHook::loss (AMP
// scales it), OptimizerHook::skip_step (AMP skips a step on inf/nan), and
// Trainer::should_stop (early stopping). Everything else is read-only.
// Contexts live on the kernel's stack and hold references: emitting allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>

#include "fulgur/batch.h"
#include "fulgur/checkpoint.h"
#include "fulgur/stage.h"

namespace torch::optim {
class Optimizer;
}

namespace fulgur {

class Trainer;

/// setup, teardown.
struct StageHook {
  Trainer& trainer;
  Stage stage;
};

/// Hooks that mark the start or end of a run or loop: on_fit_start, on_train_end, ...
struct RunHook {
  Trainer& trainer;
};

/// on_*_epoch_start, on_*_epoch_end.
struct EpochHook {
  Trainer& trainer;
  int64_t epoch;
};

/// on_after_batch_transfer: the batch is on the module's device, before any step sees it; a
/// slot may replace or convert it (the 64-true precision makes its floating tensors double).
struct BatchTransferHook {
  Trainer& trainer;
  Batch& batch;
};

/// on_*_batch_start. `dataloader_idx`: which of the loop's loaders the batch comes from.
struct BatchStartHook {
  Trainer& trainer;
  const Batch& batch;
  int64_t batch_idx;
  int64_t dataloader_idx = 0;
};

/// on_*_batch_end. `outputs` is what the step returned; may be undefined. In training it is the
/// loss as training_step returned it (backward has run and freed its graph): read it, e.g. for
/// logging, but do not differentiate it again.
struct BatchEndHook {
  Trainer& trainer;
  const torch::Tensor& outputs;
  const Batch& batch;
  int64_t batch_idx;
  int64_t dataloader_idx = 0;
};

/// on_before_backward: a slot may replace `loss` (e.g. scale it); backward runs on the result.
struct BeforeBackwardHook {
  Trainer& trainer;
  torch::Tensor& loss;
};

/// on_after_backward: gradients are populated.
struct AfterBackwardHook {
  Trainer& trainer;
};

/// on_before_optimizer_step, on_before_zero_grad. Setting `skip_step` in
/// on_before_optimizer_step makes the kernel skip this optimizer step (it still zeroes grads).
struct OptimizerHook {
  Trainer& trainer;
  torch::optim::Optimizer& optimizer;
  std::size_t optimizer_idx;
  bool skip_step = false;
};

/// on_save_checkpoint: add state to `checkpoint` before it is written, under
/// plugin_state(checkpoint, name()). on_load_checkpoint: read it back; fires in a resumed fit
/// once the weights, the optimizers and the loop position are restored.
struct CheckpointHook {
  Trainer& trainer;
  Checkpoint& checkpoint;
};

/// on_exception: the run is ending with `error`; the kernel rethrows it after the slots ran.
struct ExceptionHook {
  Trainer& trainer;
  const std::exception& error;
};

}  // namespace fulgur
