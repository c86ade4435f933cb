// on_exception_checkpoint: Lightning's OnExceptionCheckpoint. When fit ends with an error — an
// exception from a step or a plugin, or SIGINT / SIGTERM (Ctrl-C, a scheduler's kill) — it saves
// a checkpoint and says how to resume from it.
//
//   --plugin on_exception_checkpoint:dirpath=ckpts
//   ... later: --ckpt-path ckpts/on_exception.ckpt
#pragma once

#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct OnExceptionCheckpointOptions {
  /// Folder of the file; empty means Trainer::default_checkpoint_dir() (the logger's version
  /// folder when a logger writes one, else <default_root_dir>/checkpoints).
  std::string dirpath;
  /// File name without ".ckpt".
  std::string filename = "on_exception";

  PluginSpec spec() const { return {"on_exception_checkpoint", {{"dirpath", dirpath}, {"filename", filename}}}; }
};

}  // namespace fulgur::plugins
