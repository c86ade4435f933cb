// console_logger: logged metrics as spdlog lines, every `every_n_rows`-th row the Trainer
// hands the loggers (rows come every log_every_n_steps steps and at each epoch's end):
//   [info] step 49 | epoch 0 | train_loss 0.5123
//
//   --plugin console_logger:every_n_rows=4
#pragma once

#include <cstdint>
#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::loggers {

struct ConsoleLoggerOptions {
  int64_t every_n_rows = 1;
  /// spdlog level of the lines: trace, debug, info, warn.
  std::string level = "info";

  PluginSpec spec() const {
    return {"console_logger", {{"every_n_rows", std::to_string(every_n_rows)}, {"level", level}}};
  }
};

}  // namespace fulgur::loggers
