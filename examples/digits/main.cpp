// The main example: a small network learns the UCI handwritten digits with fulgur.
//
//   build/examples/digits/digits                       # trains, then reports test accuracy
//   build/examples/digits/digits --max-epochs 3 --plugin hook_trace:path=trace.txt
//   build/examples/digits/digits --ckpt-path checkpoints/epoch=29-step=1200.ckpt --max-epochs 40
//   build/examples/digits/digits --config examples/digits/config.yaml   # LightningCLI's YAML
//   build/examples/digits/digits --help                # every Trainer option
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "digits_data.h"
#include "digits_net.h"
#include "fulgur/command_line.h"
#include "fulgur/logger.h"
#include "fulgur/seed.h"
#include "fulgur/trainer.h"

namespace {

using digits::DigitsNet;

int run(int argc, char** argv) {
  CLI::App app{"fulgur digits example: an MLP on the UCI handwritten digits"};
  fulgur::TrainerOptions options;
  options.max_epochs(30);  // the example's default; --max-epochs overrides it
  auto trainer_flags = fulgur::add_trainer_options(app, options);
  std::string data_path = FULGUR_DIGITS_DATA;
  int64_t batch_size = 32, hidden = 128;
  double lr = 3e-3;
  std::string ckpt_path;
  bool logger = true;
  app.add_flag("--logger,!--no-logger", logger,
               "Write CSV and TensorBoard logs to <default-root-dir>/lightning_logs (on by default)");
  app.add_option("--ckpt-path", ckpt_path,
                 "Resume training from this checkpoint; last: the newest of this experiment (or start fresh); "
                 "hpc: the newest preemption checkpoint");
  app.add_option("--data", data_path, "The digits CSV (gzip)");
  app.add_option("--batch-size", batch_size, "Samples per batch")
      ->check(fulgur::integer_in_range())
      ->check(CLI::PositiveNumber);
  app.add_option("--hidden", hidden, "Hidden units")->check(fulgur::integer_in_range())->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Adam learning rate")->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  // --config files (LightningCLI's YAML) and --print_config come with the Trainer's options.
  const fulgur::ConfigExtras config = fulgur::finish_trainer_options(*trainer_flags, options);
  if (ckpt_path.empty() && config.ckpt_path) ckpt_path = *config.ckpt_path;
  // An error or Ctrl-C saves a checkpoint to resume from, unless the command line names the plugin.
  const bool named = std::any_of(options.plugins().begin(), options.plugins().end(),
                                 [](const auto& spec) { return spec.name == "on_exception_checkpoint"; });
  if (!named) options.plugins().push_back(fulgur::PluginSpec{"on_exception_checkpoint", {}});
  // Lightning's default logger, plus the CSV one, unless named on the command line already.
  for (const char* name : {"tensorboard_logger", "csv_logger"}) {
    const bool given = std::any_of(options.plugins().begin(), options.plugins().end(),
                                   [name](const auto& spec) { return spec.name == name; });
    if (logger && !given) options.plugins().push_back(fulgur::PluginSpec{name, {}});
  }

  const uint64_t seed = options.seed().value_or(0);
  fulgur::seed_everything(seed);
  digits::DigitsDataModule data(data_path, batch_size, seed);

  DigitsNet model(hidden, lr);
  fulgur::Trainer trainer(options);
  trainer.fit(model, data, ckpt_path);
  const auto results = trainer.test(model, data);
  std::printf("global_step: %lld\n", static_cast<long long>(trainer.global_step()));
  std::printf("test_loss: %.4f\n", results.at("test_loss"));
  std::printf("test_acc: %.4f\n", results.at("test_acc"));
  std::printf("test_f1: %.4f\n", results.at("test_f1"));
  std::set<std::string> log_dirs;  // loggers started together share their version folder
  for (const auto* logger : trainer.loggers()) {
    if (!logger->log_dir().empty() && log_dirs.insert(logger->log_dir()).second) {
      std::printf("logs: %s\n", logger->log_dir().c_str());
    }
  }
  const bool own_folder = std::any_of(options.plugins().begin(), options.plugins().end(), [](const auto& spec) {
    return spec.name == "model_checkpoint" && spec.options.count("dirpath");
  });
  if (options.enable_checkpointing() && !own_folder) {
    std::printf("checkpoints: %s\n", trainer.default_checkpoint_dir().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
