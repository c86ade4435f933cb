// The LR finder's options and result (Lightning's lr_find and _LRFinder).
//
// The sweep trains for up to num_training optimizer steps, raising the learning rate from
// min_lr to max_lr (exponentially or linearly) after each step and recording the loss smoothed
// as Lightning does (beta 0.98); it stops early once the smoothed loss exceeds
// early_stop_threshold times the best one. The suggestion is Lightning's: the learning rate at
// the steepest descent (the minimum of d loss / d lr) of the recorded curve, skipping its first
// 10 and last point.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fulgur/arg.h"

namespace fulgur {

struct LRFindOptions {
  FULGUR_ARG(LRFindOptions, double, min_lr, 1e-8)
  FULGUR_ARG(LRFindOptions, double, max_lr, 1.0)
  /// Learning rates tried: one per optimizer step.
  FULGUR_ARG(LRFindOptions, int64_t, num_training, 100)
  /// "exponential" or "linear".
  FULGUR_ARG(LRFindOptions, std::string, mode, "exponential")
  /// Stop once the smoothed loss exceeds this many times the best one; unset: never.
  FULGUR_ARG(LRFindOptions, std::optional<double>, early_stop_threshold, 4.0)
  /// Where the loss-vs-learning-rate picture goes; empty: lr_find.svg in the log folder (the
  /// first logger's version folder, else default_root_dir). "none" draws nothing.
  FULGUR_ARG(LRFindOptions, std::string, plot_path, "")
  /// Apply the suggestion to the Module, as Lightning's update_attr: the hyper-parameter
  /// `attr_name`, or when that is empty the first of "lr" and "learning_rate" that the Module's
  /// hparams() hold (none: the suggestion is only returned). configure_optimizers then reads it.
  FULGUR_ARG(LRFindOptions, bool, update_attr, true)
  FULGUR_ARG(LRFindOptions, std::string, attr_name, "")
};

/// What a sweep found: the learning rates tried and the smoothed losses they gave.
class LRFinder {
 public:
  LRFinder() = default;
  LRFinder(std::string mode, std::vector<double> lrs, std::vector<double> losses)
      : mode_(std::move(mode)), lrs_(std::move(lrs)), losses_(std::move(losses)) {}

  const std::vector<double>& lrs() const { return lrs_; }
  const std::vector<double>& losses() const { return losses_; }
  /// Lightning's suggestion; nothing when fewer than two finite points remain after skipping.
  std::optional<double> suggestion(int64_t skip_begin = 10, int64_t skip_end = 1) const;
  /// The index into lrs() / losses() of the suggestion.
  std::optional<int64_t> suggestion_index(int64_t skip_begin = 10, int64_t skip_end = 1) const;
  /// Writes the curve (log-scaled learning rates for the exponential sweep) with the suggestion
  /// marked in red, as an SVG file a browser opens.
  void plot(const std::string& path) const;
  /// Where lr_find drew the curve ("" when it drew none).
  const std::string& plot_path() const { return plot_path_; }
  void set_plot_path(std::string path) { plot_path_ = std::move(path); }

 private:
  std::string mode_ = "exponential";
  std::vector<double> lrs_;
  std::vector<double> losses_;
  std::string plot_path_;
};

}  // namespace fulgur
