// One training batch (Lightning's automatic and manual optimization): the batch moved to the
// device, on_train_batch_start, then training_step — with zero_grad, backward and the optimizer
// step over the accumulation window under automatic optimization, through a step runner plugin
// when one is attached (cuda_graph), or by the Module itself under manual optimization — then
// on_train_batch_end. backward, optimizer_step and optimizer_zero_grad emit their hooks.
#include <cmath>

#include <c10/util/StringUtil.h>
#include <torch/torch.h>

#include "fulgur/compat.h"
#include "fulgur/error.h"
#include "fulgur/step_runner.h"
#include "fulgur/trainer.h"

namespace fulgur {
namespace {

// Where a batch falls in its accumulation window: the first micro-batch zeroes the gradients,
// the last (or the epoch's last batch) steps the optimizer.
struct WindowPosition {
  bool zeroes_gradients;
  bool steps_optimizer;
};
WindowPosition window_position(int64_t batch_idx, int64_t accumulate, bool is_last_batch) {
  return {batch_idx % accumulate == 0, (batch_idx + 1) % accumulate == 0 || is_last_batch};
}

}  // namespace

void Trainer::training_batch(Batch& raw_batch, int64_t batch_idx, bool is_last_batch) {
  Batch batch = transfer(std::move(raw_batch), 0);
  set_current_batch(batch);
  metrics_.set_context(LogContext::Training);

  BatchStartHook start{*this, batch, batch_idx};
  bus_.on_train_batch_start(start);

  torch::Tensor loss;
  if (!module_->automatic_optimization()) {
    try {
      module_->step_output_ = StepOutput{};
      loss = module_->training_step(batch, batch_idx);
    } catch (...) {
      rethrow_with_context("training_step", batch_idx);
    }
  } else if (step_runner_) {
    const auto window = window_position(batch_idx, fit_.accumulate_grad_batches, is_last_batch);
    const TrainingStep step(
        *this, batch, batch_idx, is_last_batch, window.zeroes_gradients, window.steps_optimizer,
        [&](const EagerStepOptions& eager) {
          if (!eager.inputs) return eager_step(batch, batch_idx, is_last_batch, eager.zero_grad_in_place);
          // log() reads the batch size from the current batch: the inputs the step runs on.
          set_current_batch(*eager.inputs);
          torch::Tensor result = eager_step(*eager.inputs, batch_idx, is_last_batch, eager.zero_grad_in_place);
          set_current_batch(batch);
          return result;
        },
        [this](int64_t steps) {
          if (steps < 0) throw Error("a step runner counted " + std::to_string(steps) + " optimizer steps");
          fit_.global_step += steps;
        });
    loss = step_runner_->run_step(step);
  } else {
    loss = eager_step(batch, batch_idx, is_last_batch);
  }
  fit_.next_batch = batch_idx + 1;

  BatchEndHook end{*this, loss, batch, batch_idx};
  bus_.on_train_batch_end(end);
  current_batch_ = nullptr;
}

torch::Tensor Trainer::eager_step(const Batch& batch, int64_t batch_idx, bool is_last_batch, bool zero_grad_in_place) {
  torch::Tensor loss;
  try {
    module_->step_output_ = StepOutput{};
    loss = module_->training_step(batch, batch_idx);
  } catch (...) {
    rethrow_with_context("training_step", batch_idx);
  }
  check_training_loss(loss, batch_idx);

  const int64_t accumulate = fit_.accumulate_grad_batches;
  const auto window = window_position(batch_idx, accumulate, is_last_batch);
  if (window.zeroes_gradients) optimizer_zero_grad(0, zero_grad_in_place);
  // Averaging over the window makes the summed gradient that of one big batch.
  backward(accumulate > 1 ? loss / static_cast<double>(accumulate) : loss);
  if (window.steps_optimizer) optimizer_step(0);
  return loss;
}

// The automatic step needs a scalar loss with a graph to go back through.
void Trainer::check_training_loss(const torch::Tensor& loss, int64_t batch_idx) const {
  if (!loss.defined()) {
    throw Error("training_step returned no loss (an undefined tensor) at epoch " + std::to_string(fit_.current_epoch) +
                ", batch " + std::to_string(batch_idx) +
                "; return the loss tensor, or turn automatic optimization off");
  }
  if (loss.numel() != 1) {
    throw Error("training_step must return a scalar loss, got a tensor of shape " + c10::str(loss.sizes()) +
                " at epoch " + std::to_string(fit_.current_epoch) + ", batch " + std::to_string(batch_idx));
  }
  if (!loss.requires_grad()) {
    throw Error(
        "training_step returned a loss that does not require grad (was it detached, or computed "
        "under NoGradGuard?) at epoch " +
        std::to_string(fit_.current_epoch) + ", batch " + std::to_string(batch_idx));
  }
  if (options_.detect_anomaly()) {
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      throw Error("detect_anomaly: the training loss is " + std::to_string(value) + " at epoch " +
                  std::to_string(fit_.current_epoch) + ", batch " + std::to_string(batch_idx) + " (global step " +
                  std::to_string(fit_.global_step) + ")");
    }
  }
}

void Trainer::backward(torch::Tensor loss) {
  BeforeBackwardHook before{*this, loss};
  bus_.on_before_backward(before);
  before.loss.backward();
  AfterBackwardHook after{*this};
  bus_.on_after_backward(after);
}

void Trainer::optimizer_step(std::size_t optimizer_idx) {
  auto& optimizer = *optimizers_.at(optimizer_idx);
  OptimizerHook hook{*this, optimizer, optimizer_idx};
  bus_.on_before_optimizer_step(hook);
  if (!hook.skip_step) optimizer.step();
  ++fit_.global_step;
}

void Trainer::optimizer_zero_grad(std::size_t optimizer_idx, bool in_place) {
  auto& optimizer = *optimizers_.at(optimizer_idx);
  OptimizerHook hook{*this, optimizer, optimizer_idx};
  bus_.on_before_zero_grad(hook);
  if (!in_place) {
    compat::zero_grad(optimizer);
    return;
  }
  for (auto& group : optimizer.param_groups()) {
    for (auto& parameter : group.params()) {
      if (parameter.grad().defined()) parameter.mutable_grad().zero_();
    }
  }
}

}  // namespace fulgur
