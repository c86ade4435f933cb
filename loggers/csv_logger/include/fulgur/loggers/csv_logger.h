// csv_logger: Lightning's CSVLogger. Writes <save_dir>/<name>/version_<N>/metrics.csv (a row
// per logged step with `epoch`, `step` and a column per metric, columns added as new metrics
// appear) and hparams.yaml. N is the next free version; a run resumed from a checkpoint
// writes on in its own version.
//
//   --plugin csv_logger                     (<default_root_dir>/lightning_logs/version_N)
//   --plugin csv_logger:save_dir=logs,name=digits,flush_logs_every_n_steps=100
#pragma once

#include <cstdint>
#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::loggers {

struct CSVLoggerOptions {
  /// Root folder; empty: the Trainer's default_root_dir.
  std::string save_dir;
  std::string name = "lightning_logs";
  /// Write the rows logged so far to metrics.csv after this many (and at every epoch end).
  int64_t flush_logs_every_n_steps = 100;

  PluginSpec spec() const {
    return {"csv_logger",
            {{"save_dir", save_dir}, {"name", name}, {"flush_logs_every_n_steps", std::to_string(flush_logs_every_n_steps)}}};
  }
};

}  // namespace fulgur::loggers
