#include "fulgur/trainer_options.h"

#include "fulgur/error.h"

namespace fulgur {
namespace {

void require(bool condition, const std::string& option, const std::string& expected, const std::string& got) {
  if (!condition) {
    throw Error("Trainer option " + option + ": expected " + expected + ", got " + got);
  }
}

}  // namespace

bool TrainerOptions::overfitting() const {
  return overfit_batches().is_count() ? overfit_batches().count() > 0 : overfit_batches().fraction() > 0.0;
}

std::string TrainerOptions::canonical_precision() const {
  if (precision() == "32" || precision() == "32-true") return "32-true";
  if (precision() == "64" || precision() == "64-true") return "64-true";
  if (precision() == "bf16" || precision() == "bf16-mixed") return "bf16-mixed";
  if (precision() == "16" || precision() == "16-mixed") return "16-mixed";
  if (precision() == "bf16-true" || precision() == "16-true") return precision();
  return "";
}

void TrainerOptions::validate() const {
  if (max_epochs()) {
    require(*max_epochs() >= -1, "max_epochs", "-1 (no limit) or a number of epochs >= 0",
            std::to_string(*max_epochs()));
  }
  require(max_steps() >= -1, "max_steps", "-1 (no limit) or a number of steps >= 0", std::to_string(max_steps()));
  require(min_epochs() >= 0, "min_epochs", "a number >= 0", std::to_string(min_epochs()));
  require(num_sanity_val_steps() >= -1, "num_sanity_val_steps", "-1 (all batches) or a number >= 0",
          std::to_string(num_sanity_val_steps()));
  require(!val_check_interval().is_count() || val_check_interval().count() >= 1, "val_check_interval",
          "a batch count >= 1 or a fraction in (0.0, 1.0]", val_check_interval().to_string());
  require(val_check_interval().is_count() || val_check_interval().fraction() > 0.0, "val_check_interval",
          "a batch count >= 1 or a fraction in (0.0, 1.0]", val_check_interval().to_string());
  if (check_val_every_n_epoch()) {
    require(*check_val_every_n_epoch() >= 1, "check_val_every_n_epoch", "a number >= 1 (or unset)",
            std::to_string(*check_val_every_n_epoch()));
  } else {
    require(val_check_interval().is_count(), "val_check_interval",
            "a batch count when check_val_every_n_epoch is unset", val_check_interval().to_string());
  }
  require(fast_dev_run() >= 0, "fast_dev_run", "0 (off) or a number of batches >= 1", std::to_string(fast_dev_run()));
  require(reload_dataloaders_every_n_epochs() >= 0, "reload_dataloaders_every_n_epochs", "0 (never) or a number >= 1",
          std::to_string(reload_dataloaders_every_n_epochs()));
  require(accumulate_grad_batches() >= 1, "accumulate_grad_batches", "a number >= 1",
          std::to_string(accumulate_grad_batches()));
  require(log_every_n_steps() >= 1, "log_every_n_steps", "a number >= 1", std::to_string(log_every_n_steps()));
  require(!default_root_dir().empty(), "default_root_dir", "a folder", "an empty string");
  require(accelerator() == "cpu" || accelerator() == "cuda" || accelerator() == "gpu" || accelerator() == "auto",
          "accelerator", "one of cpu, cuda, gpu, auto", "'" + accelerator() + "'");
  require(!canonical_precision().empty(), "precision",
          "one of 32-true, 64-true, bf16-mixed, 16-mixed, bf16-true, 16-true", "'" + precision() + "'");
  require(gradient_clip_algorithm() == "norm" || gradient_clip_algorithm() == "value", "gradient_clip_algorithm",
          "norm or value", "'" + gradient_clip_algorithm() + "'");
  if (gradient_clip_val()) {
    require(*gradient_clip_val() > 0, "gradient_clip_val", "a positive number", std::to_string(*gradient_clip_val()));
  }
  require(devices() >= 1, "devices", "a number >= 1", std::to_string(devices()));
  require(strategy() == "auto" || strategy() == "single_device" || strategy() == "ddp", "strategy",
          "one of auto, single_device, ddp", "'" + strategy() + "'");
  require(num_nodes() >= 1, "num_nodes", "a number >= 1", std::to_string(num_nodes()));
  require(devices() == 1 || strategy() == "ddp", "devices",
          "1 unless strategy is ddp (several devices need --strategy ddp)", std::to_string(devices()));
  require(num_nodes() == 1 || strategy() == "ddp", "num_nodes", "1 unless strategy is ddp",
          std::to_string(num_nodes()));
}

}  // namespace fulgur
