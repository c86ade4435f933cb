// model_checkpoint: Lightning's ModelCheckpoint. Saves checkpoints during fit and keeps the best
// `save_top_k` of them by a monitored metric (or the latest, without one).
//
//   --plugin model_checkpoint:monitor=val_loss,mode=min,save_top_k=2,filename={epoch}-{val_loss:.3f}
//
// Attached by default (Trainer option enable_checkpointing, Lightning's default) with these
// defaults: after every epoch, the latest only, in Trainer::default_checkpoint_dir(). It deletes
// only .ckpt files it wrote into that folder, never the file a fit resumed from.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <boost/config.hpp>

#include "fulgur/checkpoint_keeper.h"
#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct ModelCheckpointOptions {
  /// Folder of the files; empty means Trainer::default_checkpoint_dir(): <log_dir>/checkpoints of
  /// the first logger that writes a versioned folder, else <default_root_dir>/checkpoints.
  std::string dirpath;
  /// File name without ".ckpt": {epoch}, {step} and {metric[:format]} are filled in, each
  /// prefixed with its name as Lightning does ("{epoch}-{val_loss:.2f}" -> "epoch=3-val_loss=0.12").
  std::string filename = "{epoch}-{step}";
  /// Metric that ranks checkpoints; empty keeps the most recent.
  std::string monitor;
  /// "min" or "max": which monitored values are better.
  std::string mode = "min";
  /// Files kept: k best, -1 all, 0 none (with save_last still writing last.ckpt).
  int64_t save_top_k = 1;
  /// Also write last.ckpt at every save.
  bool save_last = false;
  /// Save every n epochs (0: not by epochs).
  int64_t every_n_epochs = 1;
  /// Save every n optimizer steps (0: not by steps; setting it turns epoch saves off).
  int64_t every_n_train_steps = 0;
  /// Save at the training epoch's end ("true") or after validation ("false"); "auto" decides as
  /// Lightning does: at the epoch's end when validation runs once per epoch, else after it.
  std::string save_on_train_epoch_end = "auto";

  PluginSpec spec() const {
    return {"model_checkpoint",
            {{"dirpath", dirpath},
             {"filename", filename},
             {"monitor", monitor},
             {"mode", mode},
             {"save_top_k", std::to_string(save_top_k)},
             {"save_last", save_last ? "true" : "false"},
             {"every_n_epochs", std::to_string(every_n_epochs)},
             {"every_n_train_steps", std::to_string(every_n_train_steps)},
             {"save_on_train_epoch_end", save_on_train_epoch_end}}};
  }
};

/// What the plugin tells about its files:
///   auto* info = dynamic_cast<fulgur::plugins::ModelCheckpointInfo*>(trainer.find_plugin("model_checkpoint"));
class BOOST_SYMBOL_VISIBLE ModelCheckpointInfo : public CheckpointKeeper {
 public:
  /// The monitored value of the best file (NaN without a monitor).
  virtual double best_model_score() const = 0;
  /// Every file kept, with its monitored value.
  virtual std::map<std::string, double> best_k_models() const = 0;
};

}  // namespace fulgur::plugins
