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
#include <stdexcept>
#include <string>

#include <boost/config.hpp>

#include "fulgur/checkpoint_keeper.h"
#include "fulgur/options.h"

namespace fulgur::plugins {

/// save_last: false; true (last.ckpt written at every save, replaced atomically); or "link"
/// (last.ckpt a symbolic link to the file just saved, where one was: no second copy on disk).
class SaveLast {
 public:
  enum class Kind { Off, File, Link };
  SaveLast(bool on = false) : kind_(on ? Kind::File : Kind::Off) {}  // NOLINT: .save_last(true)
  SaveLast(const char* text);                                        // NOLINT: .save_last("link")
  SaveLast(const std::string& text) : SaveLast(text.c_str()) {}      // NOLINT
  Kind kind() const { return kind_; }
  explicit operator bool() const { return kind_ != Kind::Off; }
  bool operator==(const SaveLast& other) const { return kind_ == other.kind_; }
  std::string text() const { return kind_ == Kind::Link ? "link" : kind_ == Kind::File ? "true" : "false"; }

 private:
  Kind kind_;
};

inline SaveLast::SaveLast(const char* text) : kind_(Kind::Off) {
  const std::string value = text ? text : "";
  if (value == "link") {
    kind_ = Kind::Link;
    return;
  }
  try {
    kind_ = detail::parse_bool(value) ? Kind::File : Kind::Off;
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("true, false or link, got '" + value + "'");
  }
}

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
  FULGUR_OPTION(SaveLast, save_last, false,
                "Also write last.ckpt at every save (true), or make it a symbolic link to the file just saved "
                "(link).");
  FULGUR_OPTION(bool, save_weights_only, false,
                "Save the weights only (Trainer::save_checkpoint(path, true)): smaller files that load a model but "
                "cannot resume a fit.");
  FULGUR_OPTION(int64_t, every_n_epochs, 1, "Save every n epochs (0: not by epochs).");
  FULGUR_OPTION(int64_t, every_n_train_steps, 0,
                "Save every n optimizer steps (0: not by steps; setting it turns epoch saves off).");
  FULGUR_OPTION(std::string, train_time_interval, "",
                "Save every this much training time, checked after each batch: DD:HH:MM:SS or seconds (empty: not "
                "by time; setting it turns epoch saves off).");
  FULGUR_OPTION(bool, verbose, false, "Log a line at each save (and each monitored value that is not in the top k).");
  FULGUR_OPTION(bool, auto_insert_metric_name, true,
                "Write each filename field as name=value ({epoch} -> epoch=3); false writes the value alone.");
  FULGUR_OPTION(bool, enable_version_counter, true,
                "Give a file whose name another run's file already has a -v1, -v2, ... suffix; false overwrites it.");
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

namespace fulgur {
template <>
struct OptionText<plugins::SaveLast> {
  static constexpr const char* type = "bool or link";
  static plugins::SaveLast parse(const std::string& text) { return plugins::SaveLast(text); }
  static std::string print(const plugins::SaveLast& value) { return value.text(); }
};
}  // namespace fulgur
