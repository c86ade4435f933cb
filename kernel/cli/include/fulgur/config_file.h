// The Trainer's options from YAML files, LightningCLI's way:
//
//   trainer:
//     max_epochs: 30
//     limit_train_batches: 0.5          # a float is a fraction, an int a count
//     plugins:
//       - class_path: early_stopping    # Lightning's long form
//         init_args: {monitor: val_loss, patience: 3}
//       - model_checkpoint: {save_last: link}   # the short form
//       - progress_bar                  # a name alone
//   seed_everything: 7
//   ckpt_path: last
//
// Files apply in order, a later file's keys winning (lists are replaced, not appended), as
// LightningCLI's --config given twice. `null` leaves an option at its default (or unsets an
// option that may be unset), as in the files Lightning's --print_config writes; Lightning's
// trainer keys that fulgur has no counterpart for are accepted at their Lightning default.
// yaml-cpp stays inside config_file.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "fulgur/trainer_options.h"

namespace fulgur {

/// A LightningCLI section that names a class and its arguments (model:, data:, optimizer:,
/// lr_scheduler:), in any of its forms: `{class_path: DigitsNet, init_args: {hidden: 64}}`, a
/// name alone (`optimizer: Adam`), or the arguments alone (`model: {hidden: 64}`, for a program
/// whose class is fixed). fulgur/cli.h reads the arguments against the class's declaration.
struct ComponentConfig {
  std::optional<std::string> class_path;
  /// Each argument's value as YAML text (`0.001`, `[64, 32]`, `relu`).
  std::map<std::string, std::string> init_args;
  /// Where each argument and the class_path were set ("config 'run.yaml' line 7", "--model.lr"),
  /// for error messages; the class_path's under "class_path".
  std::map<std::string, std::string> origins;

  /// Adds `later` on top: a different class_path replaces this section, the same (or none)
  /// replaces argument by argument, as LightningCLI merges --config files.
  void merge(const ComponentConfig& later);
};

/// What a config file says besides the Trainer's options.
struct ConfigExtras {
  std::optional<std::string> ckpt_path;  // top-level ckpt_path
  /// fulgur's own: after fit, test the weights it ended on (as the digits example always did).
  std::optional<bool> test_after_fit;
  /// trainer.logger: Lightning's true (the program's default loggers) or false (none).
  std::optional<bool> logger;
  /// model:, data:, optimizer:, lr_scheduler:, by section name.
  std::map<std::string, ComponentConfig> components;

  /// Adds a later file's extras on top of these.
  void merge(const ConfigExtras& later);
};

/// Sets the options `path` names (its `trainer:` section, `seed_everything`), leaving those in
/// `given` (names of options given on the command line, which win) as they are. Throws
/// fulgur::Error naming the file and line: an unknown key (with the nearest valid one), a value
/// of the wrong type, a file that is missing or is not YAML.
ConfigExtras apply_config_file(const std::string& path, TrainerOptions& options,
                               const std::set<std::string>& given = {});

/// LightningCLI's seed_everything as text: a number; true, a seed drawn now; false or null, none.
/// Throws std::invalid_argument saying what was expected.
std::optional<uint64_t> seed_everything_value(const std::string& text);

/// The whole resolved configuration as YAML, every option included (unset ones as null): the
/// output of --print_config, itself a valid config file.
std::string config_yaml(const TrainerOptions& options, const ConfigExtras& extras = {});

}  // namespace fulgur
