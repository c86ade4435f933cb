#include "fulgur/tuner.h"

#include <filesystem>

#include "fulgur/error.h"

namespace fulgur {

Tuner::Tuner(const Trainer& trainer)
    : options_(trainer.options()),
      // The folder default_checkpoint_dir puts checkpoints under: the first logger's version
      // folder, else default_root_dir.
      log_folder_(std::filesystem::path(trainer.default_checkpoint_dir()).parent_path().string()) {}

Tuner::Tuner(TrainerOptions options, std::string log_folder)
    : options_(std::move(options)),
      log_folder_(log_folder.empty() ? options_.default_root_dir() : std::move(log_folder)) {}

TrainerOptions Tuner::search_options() const {
  if (options_.strategy() == "ddp" || options_.devices() > 1 || options_.num_nodes() > 1) {
    throw Error(
        "the tuner searches in one process: run lr_find / scale_batch_size with strategy auto or "
        "single_device and devices=1, then use the result in the distributed fit");
  }
  TrainerOptions options = options_;
  // Lightning swaps the callbacks and loggers out for a search; the step itself (precision,
  // clipping, accumulation, device) stays as the real fit will run it.
  options.plugins().clear();
  options.max_time().clear();
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.enable_checkpointing(false);
  options.num_sanity_val_steps(0);
  options.overfit_batches(0.0);
  options.reload_dataloaders_every_n_epochs(0);
  return options;
}

}  // namespace fulgur
