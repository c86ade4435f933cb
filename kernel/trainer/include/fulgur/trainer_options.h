// The Trainer's options, with Lightning's names and defaults.
//
//   fulgur::TrainerOptions options;
//   options.max_epochs = 10;
//   options.limit_train_batches = 0.25;   // a float is a fraction of the epoch, an int a count
//   options.plugins.push_back(fulgur::PluginSpec::parse("hook_trace:path=trace.txt"));
//
// The Trainer validates them once, in its constructor, and names the option it rejects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fulgur/batch_limit.h"
#include "fulgur/plugin_spec.h"

namespace fulgur {

struct TrainerOptions {
  /// Stop after this many epochs. Unset together with max_steps means 1000, as in Lightning.
  std::optional<int64_t> max_epochs;
  /// Stop after this many optimizer steps; -1 means no limit.
  int64_t max_steps = -1;
  /// Ignore `should_stop` until this many epochs have run.
  int64_t min_epochs = 0;

  BatchLimit limit_train_batches;
  BatchLimit limit_val_batches;
  BatchLimit limit_test_batches;
  BatchLimit limit_predict_batches;

  /// Validation batches run before training to catch bugs early; -1 runs all of them.
  int64_t num_sanity_val_steps = 2;

  /// Lightning's fast_dev_run: n > 0 runs n batches of every loop (one epoch, max_steps n, no
  /// sanity check), writes no checkpoint and hands nothing to loggers; 1 is Lightning's True.
  /// The Trainer's options() then show the limits it set, as Lightning's attributes do.
  int64_t fast_dev_run = 0;
  /// Train on the first batches of the training loader every epoch, shuffling turned off, and
  /// validate on the first batches of the validation loader (a count, or a fraction of each
  /// loader; 0 is off). Replaces limit_train_batches and limit_val_batches, as in Lightning.
  BatchLimit overfit_batches = 0.0;
  /// Evaluation loops (validate, test, predict and validation during fit) run under
  /// c10::InferenceMode; false runs them under NoGradGuard (tensors they make can then be used in
  /// autograd later).
  bool inference_mode = true;
  /// cuDNN's autotuner (torch.backends.cudnn.benchmark). Unset leaves LibTorch's setting, except
  /// that deterministic=true turns it off, as in Lightning.
  std::optional<bool> benchmark;
  /// Ask the train_dataloader() / val_dataloader() hooks (Module's or DataModule's) for new
  /// loaders every n epochs; 0 keeps the first ones for the whole fit. Given loaders are kept.
  int64_t reload_dataloaders_every_n_epochs = 0;
  /// Validate every this many training batches (count) or this fraction of each epoch.
  BatchLimit val_check_interval;
  /// Validate at the end of every n-th epoch; unset validates only on val_check_interval counts.
  std::optional<int64_t> check_val_every_n_epoch = 1;

  /// Sum gradients over this many batches before each optimizer step.
  int64_t accumulate_grad_batches = 1;
  /// How often step-level metrics are handed to loggers.
  int64_t log_every_n_steps = 50;
  /// Where logs and checkpoints go by default.
  std::string default_root_dir = ".";

  /// "cpu", "cuda" or "auto" (cuda when available).
  std::string accelerator = "auto";
  /// Processes per machine (one device each). More than one needs strategy "ddp".
  int64_t devices = 1;
  /// "auto" (one process), "single_device", or "ddp" (attaches the ddp plugin: one process
  /// per device, started by the program itself or by an external launcher).
  std::string strategy = "auto";
  /// Machines taking part under ddp.
  int64_t num_nodes = 1;
  /// Under ddp, give each process its share of every data loader (DistributedSampler).
  bool use_distributed_sampler = true;
  /// Make LibTorch pick deterministic algorithms (and fail on ops that have none).
  bool deterministic = false;
  /// Seeds LibTorch's generators at the start of every run (Lightning's seed_everything).
  std::optional<uint64_t> seed;
  /// Check every training loss for NaN/inf and stop with the epoch and batch named. Costs a
  /// device-to-host copy per step, so it is off by default (as in Lightning).
  bool detect_anomaly = false;

  /// Lightning's precision: "32-true" (default), "64-true", "bf16-mixed", "16-mixed" (autocast),
  /// "bf16-true" or "16-true" (weights and inputs in that dtype), also the old spellings 32, 64,
  /// bf16, 16. Anything but 32-true attaches the amp plugin.
  std::string precision = "32-true";

  /// Clip gradients to this norm (or value) before each optimizer step: attaches grad_clip.
  std::optional<double> gradient_clip_val;
  /// "norm" or "value".
  std::string gradient_clip_algorithm = "norm";

  /// Stop training after this much time ("DD:HH:MM:SS", "HH:MM:SS" or seconds); attaches the
  /// timer plugin with that duration unless `plugins` names timer.
  std::string max_time;

  /// Lightning's default callbacks. Each attaches its plugin with default options unless
  /// `plugins` names that plugin already (then the named one, with its options, is used).
  /// progress_bar: the terminal progress bar.
  bool enable_progress_bar = true;
  /// model_summary: the layer table at fit start.
  bool enable_model_summary = true;
  /// model_checkpoint: the latest checkpoint in <default_root_dir>/checkpoints.
  bool enable_checkpointing = true;

  /// Plugins to load by name from the plugin folders, in order.
  std::vector<PluginSpec> plugins;
  /// Folders searched for plugin .so files before FULGUR_PLUGIN_PATH and the built-in folder.
  std::vector<std::string> plugin_dirs;

  /// True when validation runs exactly once per epoch, at its end: then monitors (checkpointing,
  /// early stopping) act at the training epoch's end, as Lightning decides by default.
  bool validates_once_per_epoch() const {
    return check_val_every_n_epoch == 1 && !val_check_interval.is_count() && val_check_interval.fraction() == 1.0;
  }

  /// True when overfit_batches is on (> 0).
  bool overfitting() const;

  /// Throws fulgur::Error naming the first option with a value Lightning would reject.
  void validate() const;
  /// `precision` in Lightning's current spelling ("16" -> "16-mixed", ...).
  std::string canonical_precision() const;
};

}  // namespace fulgur
