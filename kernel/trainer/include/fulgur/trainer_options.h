// The Trainer's options, with Lightning's names and defaults, declared once (fulgur/options.h):
//
//   fulgur::Trainer trainer(fulgur::TrainerOptions()
//       .max_epochs(10)
//       .limit_train_batches(0.25)     // a float is a fraction of the epoch, an int a count
//       .plugins({fulgur::PluginSpec::parse("hook_trace:path=trace.txt")}));
//   int64_t epochs = *trainer.options().max_epochs();
//
// The Trainer validates them once, in its constructor, and names the option it rejects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fulgur/batch_limit.h"
#include "fulgur/options.h"
#include "fulgur/plugin_spec.h"

namespace fulgur {

/// "2" is a count of batches, "0.5" or "1.0" a fraction (Lightning's int or float).
template <>
struct OptionText<BatchLimit> {
  static constexpr const char* type = "int or float";
  static BatchLimit parse(const std::string& text) { return BatchLimit::parse_text(text); }
  static std::string print(const BatchLimit& limit) { return limit.to_string(); }
};

struct TrainerOptions : DeclaredOptions<TrainerOptions> {
  static const char* options_name() { return "trainer"; }
  static std::string options_owner() { return "Trainer"; }

  FULGUR_OPTION(std::optional<int64_t>, max_epochs, std::nullopt,
                "Stop after this many epochs. Unset together with max_steps means 1000, as in Lightning.");
  FULGUR_OPTION(int64_t, max_steps, -1, "Stop after this many optimizer steps; -1 means no limit.");
  FULGUR_OPTION(int64_t, min_epochs, 0, "Ignore should_stop until this many epochs have run.");
  FULGUR_OPTION(BatchLimit, limit_train_batches, {}, "Training batches per epoch: a count or a fraction.");
  FULGUR_OPTION(BatchLimit, limit_val_batches, {}, "Validation batches per run: a count or a fraction.");
  FULGUR_OPTION(BatchLimit, limit_test_batches, {}, "Test batches per run: a count or a fraction.");
  FULGUR_OPTION(BatchLimit, limit_predict_batches, {}, "Prediction batches per run: a count or a fraction.");
  FULGUR_OPTION(int64_t, num_sanity_val_steps, 2,
                "Validation batches run before training to catch bugs early; -1 runs all of them.");
  FULGUR_OPTION(int64_t, fast_dev_run, 0,
                "Lightning's fast_dev_run: n > 0 runs n batches of every loop (one epoch, max_steps n, no sanity "
                "check), writes no checkpoint and hands nothing to loggers; 1 is Lightning's True. The Trainer's "
                "options() then show the limits it set, as Lightning's attributes do.");
  FULGUR_OPTION(BatchLimit, overfit_batches, 0.0,
                "Train on the first batches of the training loader every epoch, shuffling turned off, and validate "
                "on the first batches of the validation loader (a count, or a fraction of each loader; 0 is off). "
                "Replaces limit_train_batches and limit_val_batches, as in Lightning.");
  FULGUR_OPTION(bool, inference_mode, true,
                "Evaluation loops run under c10::InferenceMode; false runs them under NoGradGuard (tensors they "
                "make can then be used in autograd later).");
  FULGUR_OPTION(std::optional<bool>, benchmark, std::nullopt,
                "cuDNN's autotuner (torch.backends.cudnn.benchmark). Unset leaves LibTorch's setting, except that "
                "deterministic=true turns it off, as in Lightning.");
  FULGUR_OPTION(int64_t, reload_dataloaders_every_n_epochs, 0,
                "Ask the train_dataloader() / val_dataloader() hooks for new loaders every n epochs; 0 keeps the "
                "first ones for the whole fit. Given loaders are kept.");
  FULGUR_OPTION(BatchLimit, val_check_interval, {},
                "Validate every this many training batches (count) or this fraction of each epoch.");
  FULGUR_OPTION(std::optional<int64_t>, check_val_every_n_epoch, 1,
                "Validate at the end of every n-th epoch; unset validates only on val_check_interval counts.");
  FULGUR_OPTION(int64_t, accumulate_grad_batches, 1,
                "Sum gradients over this many batches before each optimizer step.");
  FULGUR_OPTION(int64_t, log_every_n_steps, 50, "How often step-level metrics are handed to loggers.");
  FULGUR_OPTION(std::string, default_root_dir, ".", "Where logs and checkpoints go by default.");
  FULGUR_OPTION(std::string, accelerator, "auto", "cpu, cuda or auto (cuda when available).");
  FULGUR_OPTION(int64_t, devices, 1, "Processes per machine (one device each). More than one needs strategy ddp.");
  FULGUR_OPTION(std::string, strategy, "auto",
                "auto (one process), single_device, or ddp (attaches the ddp plugin: one process per device, "
                "started by the program itself or by an external launcher).");
  FULGUR_OPTION(int64_t, num_nodes, 1, "Machines taking part under ddp.");
  FULGUR_OPTION(bool, use_distributed_sampler, true,
                "Under ddp, give each process its share of every data loader (DistributedSampler).");
  FULGUR_OPTION(bool, deterministic, false,
                "Make LibTorch pick deterministic algorithms (and fail on ops that have none).");
  FULGUR_OPTION(std::optional<uint64_t>, seed, std::nullopt,
                "Seeds LibTorch's generators at the start of every run (Lightning's seed_everything).");
  FULGUR_OPTION(bool, detect_anomaly, false,
                "Check every training loss for NaN/inf and stop with the epoch and batch named. Costs a "
                "device-to-host copy per step, so it is off by default (as in Lightning).");
  FULGUR_OPTION(std::string, precision, "32-true",
                "Lightning's precision: 32-true (default), 64-true, bf16-mixed, 16-mixed (autocast), bf16-true or "
                "16-true (weights and inputs in that dtype), also the old spellings 32, 64, bf16, 16. Anything but "
                "32-true attaches the amp plugin.");
  FULGUR_OPTION(std::optional<double>, gradient_clip_val, std::nullopt,
                "Clip gradients to this norm (or value) before each optimizer step: attaches grad_clip.");
  FULGUR_OPTION(std::string, gradient_clip_algorithm, "norm", "norm or value.");
  FULGUR_OPTION(std::string, max_time, "",
                "Stop training after this much time (DD:HH:MM:SS, HH:MM:SS or seconds); attaches the timer plugin "
                "with that duration unless plugins names timer.");
  // Preemption (Lightning's SLURMEnvironment): SIGUSR1 saves <default_root_dir>/hpc_ckpt_<N>.ckpt
  // at the next batch boundary; ckpt_path "hpc" (and "last") resumes from it.
  FULGUR_OPTION(bool, auto_requeue, true,
                "After a SIGUSR1 checkpoint under SLURM (SLURM_JOB_ID set), requeue the job with requeue_command.");
  FULGUR_OPTION(std::string, requeue_command, "scontrol requeue {job_id}",
                "The command that requeues the job; {job_id} becomes SLURM's job id (SLURM_ARRAY_JOB_ID_"
                "SLURM_ARRAY_TASK_ID for an array task). Run by rank 0 only, through /bin/sh.",
                required());
  // Lightning's default callbacks. Each attaches its plugin with default options unless `plugins`
  // names that plugin already (then the named one, with its options, is used).
  FULGUR_OPTION(bool, enable_progress_bar, true, "Attach progress_bar, the terminal progress bar.");
  FULGUR_OPTION(bool, enable_model_summary, true, "Attach model_summary, the layer table at fit start.");
  FULGUR_OPTION(bool, enable_checkpointing, true,
                "Attach model_checkpoint: the latest checkpoint in <default_root_dir>/checkpoints.");
  FULGUR_OPTION(std::vector<PluginSpec>, plugins, {}, "Plugins to load by name from the plugin folders, in order.");
  FULGUR_OPTION(std::vector<std::string>, plugin_dirs, {},
                "Folders searched for plugin .so files before FULGUR_PLUGIN_PATH and the built-in folder.");

  /// True when validation runs exactly once per epoch, at its end: then monitors (checkpointing,
  /// early stopping) act at the training epoch's end, as Lightning decides by default.
  bool validates_once_per_epoch() const {
    return check_val_every_n_epoch() == 1 && !val_check_interval().is_count() && val_check_interval().fraction() == 1.0;
  }

  /// True when overfit_batches is on (> 0).
  bool overfitting() const;

  /// Throws fulgur::Error naming the first option with a value Lightning would reject.
  void validate() const;
  /// `precision` in Lightning's current spelling ("16" -> "16-mixed", ...).
  std::string canonical_precision() const;
};

}  // namespace fulgur
