// The fit loop (Lightning's FitLoop): a fit's set-up in Lightning's order — prepare_data, setup,
// the checkpoint's weights and DataModule state, loaders, configure_optimizers, the rest of the
// checkpoint — then on_fit_start, the sanity check and the epochs until max_epochs, max_steps or
// should_stop (after min_epochs) ends them. Every rank agrees on stopping.
#include <algorithm>
#include <mutex>
#include <optional>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <spdlog/spdlog.h>

#include "fulgur/strategy.h"
#include "fulgur/trainer.h"
#include "connectors/run_scope.h"
#include "interrupt_guard.h"

namespace fulgur {

void Trainer::run_fit(Module& module, StepOverrides overrides, RunData data, const std::string& ckpt_path) {
  RunScope scope(*this, module, Stage::Fit, data.datamodule);
  module_overrides_ = overrides;
  const detail::InterruptGuard interrupts;
  ckpt_path_.clear();  // the file resolved from ckpt_path, once setup has run
  scope.run([&] {
    fit_ = FitPosition::start(options_.max_epochs().value_or(options_.max_steps() == -1 ? 1000 : -1),
                              options_.accumulate_grad_batches());
    module.train();
    prepare_data(module);
    emit_setup(Stage::Fit);
    std::optional<Checkpoint> checkpoint = restore_before_loaders(ckpt_path);
    // Asked for after setup, as Lightning does, so that setup may build the datasets.
    resolve_loaders(Stage::Fit, data);
    // Sharded before configure_optimizers, which may ask estimated_stepping_batches.
    prepare_fit_loaders(data);
    configure_optimizers(module);
    if (checkpoint) restore_after_optimizers(*checkpoint);
    run_fit_loops(data, overrides);
  });
}

// As Lightning: the weights and the DataModule's state come back before any loader is asked for;
// optimizers, loops and plugin states once configure_optimizers has run (restore_after_optimizers).
// "last" and "hpc" are looked for once the loggers know their experiment's folders.
std::optional<Checkpoint> Trainer::restore_before_loaders(const std::string& ckpt_path) {
  ckpt_path_ = resolve_fit_checkpoint(ckpt_path);
  if (ckpt_path_.empty()) return std::nullopt;
  Checkpoint checkpoint = read_checkpoint(ckpt_path_);
  restore_module(checkpoint, ckpt_path_);
  restore_datamodule(checkpoint, ckpt_path_);
  return checkpoint;
}

void Trainer::restore_after_optimizers(Checkpoint& checkpoint) {
  restore_training_state(checkpoint, ckpt_path_);
  if (fit_.max_epochs >= 0 && fit_.next_epoch >= fit_.max_epochs) {
    spdlog::warn(
        "checkpoint '{}' resumes at epoch {}, which max_epochs={} has reached: this fit trains nothing "
        "(raise max_epochs to train on)",
        ckpt_path_, fit_.next_epoch, fit_.max_epochs);
  }
}

void Trainer::run_fit_loops(RunData& data, const StepOverrides& overrides) {
  RunHook run{*this};
  bus_.on_fit_start(run);
  const bool validation_enabled = !data.eval.empty() && overrides.validation;
  if (!data.eval.empty() && !overrides.validation) {
    spdlog::info("validation loader given but the Module has no validation_step: validation is skipped");
  }
  // Lightning skips the sanity check when a fit resumes in the middle of an epoch (one resumed
  // from an epoch's end runs it); tests/parity compares this with Lightning itself.
  if (validation_enabled && fit_.resume_batches == 0) sanity_check(data.eval);

  fit_loop(data, validation_enabled);

  bus_.on_fit_end(run);
  emit_teardown(Stage::Fit);
}

void Trainer::fit_loop(RunData& data, bool validation_enabled) {
  RunHook run{*this};
  progress_.last_logged_step = fit_.global_step;
  bus_.on_train_start(run);
  if (fit_.resume_rng_state.defined()) {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(fit_.resume_rng_state);
    fit_.resume_rng_state = torch::Tensor();
  }
  const auto max_steps_reached = [this] {
    return options_.max_steps() >= 0 && fit_.global_step >= options_.max_steps();
  };
  while (!(fit_.max_epochs >= 0 && fit_.current_epoch >= fit_.max_epochs) && !max_steps_reached()) {
    if (should_stop && can_stop_early()) break;
    reload_loaders_if_due(data);
    training_epoch(*data.train, data.eval, validation_enabled);
    agree_on_should_stop();
    ++fit_.current_epoch;
  }
  bus_.on_train_end(run);
}

void Trainer::sanity_check(const std::vector<DataLoader*>& val_loaders) {
  // num_sanity_val_steps batches of every loader (Lightning's rule), within limit_val_batches.
  std::vector<int64_t> batches = eval_limits(Stage::Validate, val_loaders);
  const int64_t wanted = options_.num_sanity_val_steps();
  bool any = false;
  for (auto& count : batches) {
    count = wanted < 0 ? count : count < 0 ? wanted : std::min(wanted, count);
    any = any || count != 0;
  }
  if (!any) return;
  RunHook run{*this};
  progress_.sanity_checking = true;
  bus_.on_sanity_check_start(run);
  evaluation_loop(Stage::Validate, val_loaders, batches);
  bus_.on_sanity_check_end(run);
  progress_.sanity_checking = false;
  // Sanity-check values must not reach monitors or loggers, as in Lightning; metric objects
  // forget the sanity batches too.
  metrics_.reset_metric_objects();
  metrics_.clear();
}

// As Lightning: min_epochs counts completed epochs, so stopping is allowed from epoch min_epochs.
bool Trainer::can_stop_early() const { return fit_.current_epoch >= options_.min_epochs(); }

// Every rank must leave the loop at the same batch, or the others would wait in a collective
// forever: a stop wanted by any rank is a stop for all.
void Trainer::agree_on_should_stop() {
  if (world_size() <= 1) return;
  const bool interrupted_here = detail::InterruptGuard::pending() != 0;
  auto flags = torch::tensor({should_stop ? 1.0f : 0.0f, interrupted_here ? 1.0f : 0.0f});
  strategy_->all_reduce(flags, ReduceOp::Max);
  should_stop = flags[0].item<float>() > 0;
  progress_.interrupt_agreed = progress_.interrupt_agreed || flags[1].item<float>() > 0;
}

// A signal stops a single process at its next batch boundary; under several processes, at the
// boundary where all ranks have learnt of it (see Strategy::agreed_interrupt).
bool Trainer::interrupt_due() {
  if (world_size() <= 1 || !strategy_) return detail::InterruptGuard::pending() != 0;
  return strategy_->agreed_interrupt() || progress_.interrupt_agreed;
}

}  // namespace fulgur
