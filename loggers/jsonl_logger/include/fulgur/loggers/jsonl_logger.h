// jsonl_logger: one JSON object per logged row, one row per line, easy to tail and to parse:
//   {"epoch":0,"step":49,"train_loss":0.5123}
// into <save_dir>/<name>/version_<N>/metrics.jsonl, and hparams.json beside it. JSON has no
// NaN or infinity: such values are written as null.
//
//   --plugin jsonl_logger
//   --plugin jsonl_logger:save_dir=logs,name=digits
#pragma once

#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::loggers {

struct JsonlLoggerOptions {
  /// Root folder; empty: the Trainer's default_root_dir.
  std::string save_dir;
  std::string name = "lightning_logs";

  PluginSpec spec() const { return {"jsonl_logger", {{"save_dir", save_dir}, {"name", name}}}; }
};

}  // namespace fulgur::loggers
