// on_exception_checkpoint: Lightning's OnExceptionCheckpoint. When fit ends with an error — an
// exception from a step or a plugin, or SIGINT / SIGTERM (Ctrl-C, a scheduler's kill) — it saves
// a checkpoint and says how to resume from it.
//
//   --plugin on_exception_checkpoint:dirpath=ckpts
//   ... later: --ckpt-path ckpts/on_exception.ckpt
#pragma once

#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct OnExceptionCheckpointOptions : DeclaredOptions<OnExceptionCheckpointOptions> {
  FULGUR_OPTIONS_OF("on_exception_checkpoint");
  FULGUR_OPTION(std::string, dirpath, "",
                "Folder of the file; empty: Trainer::default_checkpoint_dir() (the logger's version folder when a "
                "logger writes one, else <default_root_dir>/checkpoints).");
  FULGUR_OPTION(std::string, filename, "on_exception", "File name without .ckpt.", required());
};

}  // namespace fulgur::plugins
