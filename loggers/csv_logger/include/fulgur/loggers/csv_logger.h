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

#include "fulgur/options.h"

namespace fulgur::loggers {

struct CSVLoggerOptions : DeclaredOptions<CSVLoggerOptions> {
  FULGUR_OPTIONS_OF("csv_logger");
  FULGUR_OPTION(std::string, save_dir, "", "Root folder; empty: the Trainer's default_root_dir.");
  FULGUR_OPTION(std::string, name, "lightning_logs", "The experiment's folder under save_dir.");
  FULGUR_OPTION(int64_t, flush_logs_every_n_steps, 100,
                "Write the rows logged so far to metrics.csv after this many (and at every epoch end).", at_least(1));
};

}  // namespace fulgur::loggers
