// Options of Module::log, with Lightning's names, set as LibTorch's options are:
//   log("train_loss", loss, fulgur::LogOptions().prog_bar(true).on_epoch(true));
// Unset on_step / on_epoch take the defaults
// of the hook that logs: on_step in training_step, on_epoch in validation and test steps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fulgur/arg.h"

namespace fulgur {

struct LogOptions {
  /// Log the value at this step (unset: the hook's default).
  FULGUR_ARG(LogOptions, std::optional<bool>, on_step, std::nullopt)
  /// Accumulate it and log the epoch's value (unset: the hook's default).
  FULGUR_ARG(LogOptions, std::optional<bool>, on_epoch, std::nullopt)
  /// Show the value on the progress bar.
  FULGUR_ARG(LogOptions, bool, prog_bar, false)
  /// Hand the value to the loggers.
  FULGUR_ARG(LogOptions, bool, logger, true)
  /// How epoch values combine: "mean" (weighted by batch size), "sum", "max" or "min".
  FULGUR_ARG(LogOptions, std::string, reduce_fx, "mean")
  /// Reduce across processes under a distributed strategy.
  FULGUR_ARG(LogOptions, bool, sync_dist, false)
  /// Weight of this value in an epoch mean; defaults to the batch's first dimension.
  FULGUR_ARG(LogOptions, std::optional<int64_t>, batch_size, std::nullopt)
  /// With several loaders in a loop, name the value "<name>/dataloader_idx_<i>" (Lightning's default).
  FULGUR_ARG(LogOptions, bool, add_dataloader_idx, true)

  // The spelling of the last release, kept for one more.
  [[deprecated("write .prog_bar(true)")]] LogOptions& with_prog_bar(bool value = true) { return prog_bar(value); }
  [[deprecated("write .on_step(value)")]] LogOptions& with_on_step(bool value) { return on_step(value); }
  [[deprecated("write .on_epoch(value)")]] LogOptions& with_on_epoch(bool value) { return on_epoch(value); }
  [[deprecated("write .reduce_fx(value)")]] LogOptions& with_reduce_fx(std::string value) {
    return reduce_fx(std::move(value));
  }
  [[deprecated("write .batch_size(value)")]] LogOptions& with_batch_size(int64_t value) { return batch_size(value); }
  [[deprecated("write .sync_dist(true)")]] LogOptions& with_sync_dist(bool value = true) { return sync_dist(value); }
  [[deprecated("write .add_dataloader_idx(value)")]] LogOptions& with_add_dataloader_idx(bool value) {
    return add_dataloader_idx(value);
  }
};

}  // namespace fulgur
