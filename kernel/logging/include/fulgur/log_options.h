// Options of Module::log, with Lightning's names. Unset on_step / on_epoch take the defaults
// of the hook that logs: on_step in training_step, on_epoch in validation and test steps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace fulgur {

struct LogOptions {
  std::optional<bool> on_step;
  std::optional<bool> on_epoch;
  /// Show the value on the progress bar.
  bool prog_bar = false;
  /// Hand the value to the loggers.
  bool logger = true;
  /// How epoch values combine: "mean" (weighted by batch size), "sum", "max" or "min".
  std::string reduce_fx = "mean";
  /// Reduce across processes under a distributed strategy.
  bool sync_dist = false;
  /// Weight of this value in an epoch mean; defaults to the batch's first dimension.
  std::optional<int64_t> batch_size;
  /// With several loaders in a loop, name the value "<name>/dataloader_idx_<i>" (Lightning's default).
  bool add_dataloader_idx = true;

  LogOptions& with_prog_bar(bool value = true) { prog_bar = value; return *this; }
  LogOptions& with_on_step(bool value) { on_step = value; return *this; }
  LogOptions& with_on_epoch(bool value) { on_epoch = value; return *this; }
  LogOptions& with_reduce_fx(std::string value) { reduce_fx = std::move(value); return *this; }
  LogOptions& with_batch_size(int64_t value) { batch_size = value; return *this; }
  LogOptions& with_sync_dist(bool value = true) { sync_dist = value; return *this; }
  LogOptions& with_add_dataloader_idx(bool value) { add_dataloader_idx = value; return *this; }
};

}  // namespace fulgur
