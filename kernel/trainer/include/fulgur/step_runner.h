// fulgur::StepRunner: a plugin that runs the automatic training step itself.
//
// The kernel's step for one batch is training_step, zero_grad (first micro-batch of a window),
// backward and the optimizer step (last micro-batch), each with its hooks. A plugin that is also
// a StepRunner is handed that step as `TrainingStep::eager()` and decides how it happens: call it
// as it is, call it inside a capture (a CUDA-graph plugin records it once), or do the same work
// another way (replay the capture) — then it says how many optimizer steps that work took with
// count_optimizer_steps(), so global_step, schedulers and checkpoints stay right. Whatever it
// does, it returns the loss, which the batch-end hooks receive. A run has at most one.
//
// A graph reads and writes fixed addresses, so eager() can run on inputs the runner owns (its
// static buffers, not the loader's batch) and zero the gradients in place instead of releasing
// them (every parameter then keeps one gradient tensor for the whole run).
#pragma once

#include <cstdint>
#include <functional>

#include <ATen/core/Tensor.h>
#include <boost/config.hpp>

#include "fulgur/batch.h"

namespace fulgur {

class Trainer;

/// How TrainingStep::eager() runs the kernel's step; the defaults are the kernel's own.
struct EagerStepOptions {
  /// Runs the step on these inputs instead of the loader's batch (the same structure; a graph's
  /// static buffers). Must outlive the call.
  const Batch* inputs = nullptr;
  /// Zeroes gradients in place rather than releasing them, so that none is reallocated.
  bool zero_grad_in_place = false;
};

/// One training batch's step, as the kernel would run it.
class TrainingStep {
 public:
  TrainingStep(Trainer& trainer, const Batch& batch, int64_t batch_idx, bool is_last_batch, bool zeroes_gradients,
               bool steps_optimizer, std::function<at::Tensor(const EagerStepOptions&)> eager,
               std::function<void(int64_t)> count)
      : trainer(trainer),
        batch(batch),
        batch_idx(batch_idx),
        is_last_batch(is_last_batch),
        zeroes_gradients(zeroes_gradients),
        steps_optimizer(steps_optimizer),
        eager_(std::move(eager)),
        count_(std::move(count)) {}

  Trainer& trainer;
  const Batch& batch;
  const int64_t batch_idx;
  const bool is_last_batch;
  /// Whether the eager step zeroes the gradients first (the first micro-batch of an accumulation
  /// window) and steps the optimizer last (the window's last micro-batch, or the epoch's last).
  const bool zeroes_gradients;
  const bool steps_optimizer;

  /// The kernel's own step with all its hooks; returns training_step's loss.
  at::Tensor eager(const EagerStepOptions& options = {}) const { return eager_(options); }
  /// For work done without eager(): the optimizer steps it took (advances global_step).
  void count_optimizer_steps(int64_t steps) const { count_(steps); }

 private:
  std::function<at::Tensor(const EagerStepOptions&)> eager_;
  std::function<void(int64_t)> count_;
};

class BOOST_SYMBOL_VISIBLE StepRunner {
 public:
  virtual ~StepRunner() = default;
  /// Runs `step` (see above) and returns its loss.
  virtual at::Tensor run_step(const TrainingStep& step) = 0;
};

}  // namespace fulgur
