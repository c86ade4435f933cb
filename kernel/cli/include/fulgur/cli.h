// fulgur::cli::run: LightningCLI for C++. One call turns a program into
//
//   prog fit|validate|test|predict [--config run.yaml ...] [--trainer.max_epochs 5]
//        [--model.lr 1e-3] [--data.batch_size 64] [--optimizer Adam --optimizer.lr 0.01]
//        [--ckpt_path last] [--print_config]
//
//   int main(int argc, char** argv) { return fulgur::cli::run<Net, Data>(argc, argv); }
//
// Net and Data declare their hyper-parameters (fulgur/hparam_spec.h) and are built from them. The
// configuration is the defaults, then each --config file in order, then the command line; the
// resolved whole is printed by --print_config (itself a valid --config) and saved as config.yaml
// in the run's log folder, so `--config <log dir>/config.yaml` runs the same run again. The
// `fulgur` command is run() with the classes chosen by name (--model DigitsNet, or `model:
// {class_path: DigitsNet}`) among those registered (fulgur/component_registry.h).
//
// Each subcommand prints what it gives: fit the global step, validate and test each metric
// (`test_acc: 0.9749`), predict the batches it made; then the log and checkpoint folders.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <boost/core/demangle.hpp>

#include "fulgur/component_registry.h"
#include "fulgur/trainer_options.h"

namespace fulgur::cli {

struct Settings {
  /// The first line of --help.
  std::string description = "fulgur: train, validate, test or predict with a registered Module";
  /// The Trainer's options before any file or flag (e.g. max_epochs(30) for an example).
  TrainerOptions trainer_defaults;
  /// What runs when no subcommand is given, e.g. {"fit", "test"}; empty: a subcommand is required.
  std::vector<std::string> without_subcommand;
  /// Plugins every run gets unless the configuration names them already.
  std::vector<PluginSpec> default_plugins;
  /// Loggers every run gets unless named, or turned off with --no-logger (trainer.logger: false).
  std::vector<PluginSpec> default_loggers;
  /// With fixed classes: also take each hyper-parameter in kebab case (--batch-size for
  /// --data.batch_size) where no Trainer option has that name.
  bool kebab_aliases = false;
  /// More names for hyper-parameters: {{"--data", "data.path"}}.
  std::map<std::string, std::string> aliases;
};

/// Runs argv with the Module (and DataModule) chosen by name on the command line or in the
/// config. Returns the exit status; errors are printed as "error: ..." with status 1.
int run(int argc, const char* const* argv, const Settings& settings = {});

/// Runs argv with the registered classes `model_class` and `data_class` ("" for a Module that
/// brings its own loaders) fixed.
int run(int argc, const char* const* argv, const Settings& settings, const std::string& model_class,
        const std::string& data_class);

/// Runs argv with Module M and DataModule D (void: none), registering them if needed.
template <typename M, typename D = void>
int run(int argc, const char* const* argv, const Settings& settings = {}) {
  const std::string model_name = boost::core::demangle(typeid(M).name());
  if (!ComponentRegistry::instance().knows_module(model_name)) register_module<M>(model_name);
  std::string data_name;
  if constexpr (!std::is_void_v<D>) {
    data_name = boost::core::demangle(typeid(D).name());
    if (!ComponentRegistry::instance().knows_data_module(data_name)) register_data_module<D>(data_name);
  }
  return run(argc, argv, settings, model_name, data_name);
}

}  // namespace fulgur::cli
