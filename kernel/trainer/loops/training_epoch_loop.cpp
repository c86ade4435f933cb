// The training epoch loop (Lightning's _TrainingEpochLoop): one epoch of training batches, with
// one batch of look-ahead to know the last; validation where val_check_interval and
// check_val_every_n_epoch put it; after each batch the stops: a signal, a SIGUSR1 checkpoint,
// max_steps, should_stop. A fit resumed mid-epoch starts with the batch that would have come next.
#include <algorithm>
#include <csignal>
#include <optional>

#include <spdlog/spdlog.h>

#include "fulgur/error.h"
#include "fulgur/trainer.h"
#include "interrupt_guard.h"

namespace fulgur {

// When an epoch validates: every `check_batches` training batches (-1: at the epoch's end), on
// `batches[i]` batches of validation loader i.
struct Trainer::ValidationSchedule {
  bool enabled = false;
  int64_t check_batches = -1;
  std::vector<int64_t> batches;
};

void Trainer::training_epoch(DataLoader& train_loader, const std::vector<DataLoader*>& val_loaders,
                             bool validation_enabled) {
  train_loader.start_epoch(fit_.current_epoch);
  progress_.num_training_batches = options_.limit_train_batches().resolve(train_loader.size(), "limit_train_batches");
  const ValidationSchedule validation = validation_schedule(val_loaders, validation_enabled);

  EpochHook epoch_hook{*this, fit_.current_epoch};
  // An epoch a fit resumes in the middle of has started already: as in Lightning, no second
  // on_train_epoch_start (plugins that set per-epoch state also do so at on_train_start).
  if (fit_.resume_batches == 0) bus_.on_train_epoch_start(epoch_hook);
  const int64_t first_batch = first_training_batch(train_loader);

  // One batch of look-ahead tells which batch is the last even for loaders of unknown length.
  const int64_t batches = progress_.num_training_batches;
  const bool any_left = batches < 0 || first_batch < batches;
  std::optional<Batch> next = any_left ? train_loader.next() : std::nullopt;
  for (int64_t batch_idx = first_batch; next; ++batch_idx) {
    Batch batch = std::move(*next);
    const bool limit_reached = batches >= 0 && batch_idx + 1 >= batches;
    next = limit_reached ? std::nullopt : train_loader.next();
    const bool is_last_batch = !next;

    training_batch(batch, batch_idx, is_last_batch);
    ++fit_.train_batches_seen;
    if (epoch_ends_after(batch_idx, is_last_batch, val_loaders, validation)) break;
  }

  // Only an epoch whose batches ran out is over; one stopped early resumes where it stopped.
  if (!next) {
    fit_.next_epoch = fit_.current_epoch + 1;
    fit_.next_batch = 0;
  }
  bus_.on_train_epoch_end(epoch_hook);
}

Trainer::ValidationSchedule Trainer::validation_schedule(const std::vector<DataLoader*>& val_loaders,
                                                         bool validation_enabled) const {
  ValidationSchedule schedule;
  if (!validation_enabled) return schedule;
  schedule.batches = eval_limits(Stage::Validate, val_loaders);
  for (const int64_t count : schedule.batches) schedule.enabled = schedule.enabled || count != 0;
  const int64_t training_batches = progress_.num_training_batches;
  const auto& interval = options_.val_check_interval();
  if (interval.is_count()) {
    schedule.check_batches = interval.count();
    if (options_.check_val_every_n_epoch() && training_batches >= 0 && schedule.check_batches > training_batches) {
      throw Error("Trainer option val_check_interval=" + interval.to_string() + " exceeds the " +
                  std::to_string(training_batches) + " training batches of an epoch");
    }
  } else if (interval.fraction() < 1.0) {
    if (training_batches < 0) {
      throw Error("Trainer option val_check_interval=" + interval.to_string() +
                  " needs a training loader that knows its length; give a batch count");
    }
    schedule.check_batches = std::max<int64_t>(1, static_cast<int64_t>(training_batches * interval.fraction()));
  }
  return schedule;
}

// The epoch's first batch: 0, or for a fit resumed mid-epoch the batch after those its
// checkpoint had run (the loader skips them).
int64_t Trainer::first_training_batch(DataLoader& train_loader) {
  const int64_t training_batches = progress_.num_training_batches;
  if (fit_.resume_batches > 0 && training_batches >= 0 && fit_.resume_batches > training_batches) {
    throw Error("checkpoint '" + ckpt_path_ + "' resumes epoch " + std::to_string(fit_.current_epoch) +
                " after batch " + std::to_string(fit_.resume_batches) + ", but an epoch here has " +
                std::to_string(training_batches) +
                " training batches (another loader, batch size or limit_train_batches than the run that wrote it, "
                "or an edited file)");
  }
  const int64_t first_batch = fit_.resume_batches > 0 ? train_loader.skip(fit_.resume_batches) : 0;
  fit_.resume_batches = 0;
  fit_.next_epoch = fit_.current_epoch;
  fit_.next_batch = first_batch;
  return first_batch;
}

bool Trainer::epoch_ends_after(int64_t batch_idx, bool is_last_batch, const std::vector<DataLoader*>& val_loaders,
                               const ValidationSchedule& validation) {
  const bool steps_done = options_.max_steps() >= 0 && fit_.global_step >= options_.max_steps();
  // As Lightning: a validation batch validates even when it is the last step max_steps allows
  // (fast_dev_run validates after its n batches).
  if (validation.enabled && should_validate(batch_idx, is_last_batch, validation.check_batches)) {
    evaluation_loop(Stage::Validate, val_loaders, validation.batches);
    module_->train();
    metrics_.set_context(LogContext::Training);
    agree_on_should_stop();
  }
  if (interrupt_due()) {
    const int signal = detail::InterruptGuard::pending();
    const std::string where =
        " at epoch " + std::to_string(fit_.current_epoch) + " after batch " + std::to_string(batch_idx);
    if (signal != 0)
      throw Error(std::string("fit interrupted by ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") + where);
    throw Error("fit interrupted" + where + ": another rank received SIGINT or SIGTERM, and all ranks stop together");
  }
  if (save_request_due()) save_for_preemption();
  if (steps_done) return true;
  if (!should_stop) return false;
  if (can_stop_early()) return true;
  if (!fit_.stop_deferred_logged) {
    spdlog::info("should_stop was set, but min_epochs={} have not completed: training goes on until they have",
                 options_.min_epochs());
    fit_.stop_deferred_logged = true;
  }
  return false;
}

bool Trainer::should_validate(int64_t batch_idx, bool is_last_batch, int64_t val_check_batches) const {
  const auto& every_n_epochs = options_.check_val_every_n_epoch();
  if (!every_n_epochs) {
    // Without an epoch cadence Lightning counts val_check_interval across epoch boundaries.
    return fit_.train_batches_seen % val_check_batches == 0;
  }
  if ((fit_.current_epoch + 1) % *every_n_epochs != 0) return false;
  if (val_check_batches < 0) return is_last_batch;
  return (batch_idx + 1) % val_check_batches == 0;
}

}  // namespace fulgur
