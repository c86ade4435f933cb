// LightningCLI's --print_config output (print_config.py wrote it) read as a fulgur config: its
// trainer section must set the same options, and every option it leaves at Lightning's default
// must read as fulgur's default. The model and data sections are Lightning's, and are skipped.
// Usage: print_config LIGHTNING.yaml WORK_DIR
#include <cstdio>
#include <exception>

#include "fulgur/config_file.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: print_config LIGHTNING.yaml WORK_DIR\n");
    return 2;
  }
  try {
    fulgur::TrainerOptions read;
    fulgur::apply_config_file(argv[1], read);
    fulgur::TrainerOptions expected;
    expected.seed(3)
        .max_epochs(7)
        .limit_train_batches(0.5)
        .limit_val_batches(0.25)
        .accumulate_grad_batches(2)
        .gradient_clip_val(0.5)
        .gradient_clip_algorithm("value")
        .precision("bf16-mixed")
        .check_val_every_n_epoch(2)
        .deterministic(true)
        .num_sanity_val_steps(0)
        .log_every_n_steps(5)
        .enable_progress_bar(false)
        .default_root_dir("runs/lightning");
    const std::string got = fulgur::config_yaml(read);
    const std::string want = fulgur::config_yaml(expected);
    if (got != want) {
      std::fprintf(stderr, "Lightning's config reads as:\n%s\nbut it says:\n%s\n", got.c_str(), want.c_str());
      return 1;
    }
    std::printf("Lightning's --print_config trainer section reads as the same %zu Trainer options\n",
                read.fields().size());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
