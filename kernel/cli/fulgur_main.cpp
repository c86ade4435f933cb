// The `fulgur` command: LightningCLI without a main of your own.
//
//   fulgur fit --config examples/digits/config.yaml
//   fulgur fit --model DigitsNet --data DigitsDataModule --trainer.max_epochs 3
//   fulgur test --model MyNet --data MyData --plugin-dir build/plugins --ckpt_path run.ckpt
//   fulgur --help                       # the options, and the Modules and DataModules it can find
//
// Modules and DataModules come from module libraries (FULGUR_EXPORT_MODULES) in the plugin
// folders; fulgur/cli.h has the rest.
#include "fulgur/cli.h"

int main(int argc, char** argv) {
  fulgur::cli::Settings settings;
  settings.description =
      "fulgur: fit, validate, test or predict a registered Module, LightningCLI's way\n"
      "  fulgur fit|validate|test|predict [--config run.yaml] [--model NAME] [--data NAME] [--trainer.NAME V] ...";
  // Lightning's default logger (TensorBoard) and the CSV one beside it.
  settings.default_loggers = {fulgur::PluginSpec{"tensorboard_logger", {}}, fulgur::PluginSpec{"csv_logger", {}}};
  return fulgur::cli::run(argc, argv, settings);
}
