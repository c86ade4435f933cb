// jsonl_logger: one JSON object per logged row, one row per line, easy to tail and to parse:
//   {"epoch":0,"step":49,"train_loss":0.5123}
// into <save_dir>/<name>/version_<N>/metrics.jsonl, and hparams.json beside it. JSON has no
// NaN or infinity: such values are written as null.
//
//   --plugin jsonl_logger
//   --plugin jsonl_logger:save_dir=logs,name=digits
#pragma once

#include <string>

#include "fulgur/options.h"

namespace fulgur::loggers {

struct JsonlLoggerOptions : DeclaredOptions<JsonlLoggerOptions> {
  FULGUR_OPTIONS_OF("jsonl_logger");
  FULGUR_OPTION(std::string, save_dir, "", "Root folder; empty: the Trainer's default_root_dir.");
  FULGUR_OPTION(std::string, name, "lightning_logs", "The experiment's folder under save_dir.");
};

}  // namespace fulgur::loggers
