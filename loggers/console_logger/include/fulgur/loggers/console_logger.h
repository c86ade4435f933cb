// console_logger: logged metrics as spdlog lines, every `every_n_rows`-th row the Trainer
// hands the loggers (rows come every log_every_n_steps steps and at each epoch's end):
//   [info] step 49 | epoch 0 | train_loss 0.5123
//
//   --plugin console_logger:every_n_rows=4
#pragma once

#include <cstdint>
#include <string>

#include "fulgur/options.h"

namespace fulgur::loggers {

struct ConsoleLoggerOptions : DeclaredOptions<ConsoleLoggerOptions> {
  FULGUR_OPTIONS_OF("console_logger");
  FULGUR_OPTION(int64_t, every_n_rows, 1, "Print every n-th row.", at_least(1));
  FULGUR_OPTION(std::string, level, "info", "spdlog level of the lines: trace, debug, info, warn.",
                one_of({"trace", "debug", "info", "warn"}));
};

}  // namespace fulgur::loggers
