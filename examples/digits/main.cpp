// The main example: a small network learns the UCI handwritten digits with fulgur.
//
//   build/examples/digits/digits                       # trains, then reports test accuracy
//   build/examples/digits/digits --max-epochs 3 --plugin hook_trace:path=trace.txt
//   build/examples/digits/digits --ckpt-path checkpoints/epoch=29-step=1200.ckpt --max-epochs 40
//   build/examples/digits/digits --config examples/digits/config.yaml   # LightningCLI's YAML
//   build/examples/digits/digits test --ckpt_path last.ckpt  # one subcommand: fit, validate, test, predict
//   build/examples/digits/digits --help                # every option, the model's and data's too
//
// The program is fulgur::cli::run over DigitsNet and DigitsDataModule: their declared arguments
// are options (--hidden, --lr, --batch-size, --data PATH, or --model.hidden, ...) and config keys.
#include "digits_data.h"
#include "digits_net.h"
#include "fulgur/cli.h"

int main(int argc, char** argv) {
  fulgur::cli::Settings settings;
  settings.description = "fulgur digits example: an MLP on the UCI handwritten digits";
  settings.trainer_defaults.max_epochs(30).seed(0);  // the example's defaults; --max-epochs, --seed override
  settings.without_subcommand = {"fit", "test"};     // digits alone: fit, then test the weights it ended on
  // An error or Ctrl-C saves a checkpoint to resume from; Lightning's default logger and a CSV one.
  settings.default_plugins = {fulgur::PluginSpec{"on_exception_checkpoint", {}}};
  settings.default_loggers = {fulgur::PluginSpec{"tensorboard_logger", {}}, fulgur::PluginSpec{"csv_logger", {}}};
  settings.kebab_aliases = true;
  settings.aliases = {{"--data", "data.path"}};
  return fulgur::cli::run<digits::DigitsNet, digits::DigitsDataModule>(argc, argv, settings);
}
