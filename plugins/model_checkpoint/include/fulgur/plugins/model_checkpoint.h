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
#include "fulgur/options.h"

namespace fulgur::plugins {

struct ModelCheckpointOptions : DeclaredOptions<ModelCheckpointOptions> {
  FULGUR_OPTIONS_OF("model_checkpoint");
  FULGUR_OPTION(std::string, dirpath, "",
                "Folder of the files; empty: Trainer::default_checkpoint_dir(), <log_dir>/checkpoints of the first "
                "logger that writes a versioned folder, else <default_root_dir>/checkpoints.");
  FULGUR_OPTION(std::string, filename, "{epoch}-{step}",
                "File name without .ckpt: {epoch}, {step} and {metric[:format]} are filled in, each prefixed with "
                "its name as Lightning does ({epoch}-{val_loss:.2f} -> epoch=3-val_loss=0.12).");
  FULGUR_OPTION(std::string, monitor, "", "Metric that ranks checkpoints; empty keeps the most recent.");
  FULGUR_OPTION(std::string, mode, "min", "min or max: which monitored values are better.", one_of({"min", "max"}));
  FULGUR_OPTION(int64_t, save_top_k, 1, "Files kept: k best, -1 all, 0 none (save_last still writes last.ckpt).",
                at_least(-1));
  FULGUR_OPTION(bool, save_last, false, "Also write last.ckpt at every save.");
  FULGUR_OPTION(int64_t, every_n_epochs, 1, "Save every n epochs (0: not by epochs).");
  FULGUR_OPTION(int64_t, every_n_train_steps, 0,
                "Save every n optimizer steps (0: not by steps; setting it turns epoch saves off).");
  FULGUR_OPTION(std::string, save_on_train_epoch_end, "auto",
                "Save at the training epoch's end (true) or after validation (false); auto decides as Lightning "
                "does: at the epoch's end when validation runs once per epoch, else after it.",
                one_of({"auto", "true", "false"}));
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
