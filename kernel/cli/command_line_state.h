// What add_trainer_options collected from the command line until finish_trainer_options converts
// it: shared by command_line.cpp and cli.cpp (fulgur::cli::run), private to the library.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace fulgur {

class CommandLineState {
 public:
  CLI::App* app = nullptr;
  std::string limit_train_batches, limit_val_batches, limit_test_batches, limit_predict_batches;
  std::string val_check_interval;
  std::string overfit_batches;
  std::string check_val_every_n_epoch;
  std::vector<std::string> plugins;
  int64_t seed = -1;
  std::vector<std::string> config_files;
  bool print_config = false;
  std::map<std::string, std::string> dotted;  // --trainer.NAME VALUE, by option name
  std::string seed_everything;
  // Set by fulgur::cli::run, which reads the files' model/data/optimizer sections and prints the
  // whole configuration itself.
  bool program_reads_components = false;
  bool program_prints_config = false;
};

}  // namespace fulgur
