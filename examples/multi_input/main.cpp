// Two inputs, one prediction: the Keras functional-API guide's model with fulgur.
//
// Each UCI digit (8x8 pixels) is cut into its left and right halves; each half goes through
// Dense(64, relu) of its own, the two are concatenated, and Dense(1, sigmoid) predicts whether
// the digit is 5 or more (binary cross-entropy). The batch is (left, right, y), read in the steps
// as `auto [left, right, y] = batch.unpack<3>();`.
//
//   build/examples/multi_input/multi_input            # trains, then reports test accuracy
//   build/examples/multi_input/multi_input --num-workers 2 --max-epochs 40
//   build/bin/fulgur fit --model TwoInputNet --data DigitHalves --test_after_fit   # the same, by name
#include "fulgur/cli.h"
#include "two_inputs.h"

int main(int argc, char** argv) {
  fulgur::cli::Settings settings;
  settings.description = "fulgur multi_input example: a two-input model on the digits' left and right halves";
  settings.trainer_defaults.max_epochs(30).seed(0);
  settings.without_subcommand = {"fit", "test"};
  settings.kebab_aliases = true;  // --lr, --batch-size, --num-workers
  settings.aliases = {{"--data", "data.path"}};
  return fulgur::cli::run<multi_input::TwoInputNet, multi_input::DigitHalves>(argc, argv, settings);
}
