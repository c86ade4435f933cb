// hook_trace: writes every hook the kernel emits, in order, one per line with its main
// argument, to a file. For debugging hook order and for tests that pin it.
//
//   on_train_epoch_start epoch=0
//   on_train_batch_start epoch=0 batch=0
//   on_before_optimizer_step optimizer=0
//
// Options: path (default <default_root_dir>/hook_trace.txt).
//   --plugin hook_trace:path=trace.txt
//   trainer.add_plugin(fulgur::plugins::HookTraceOptions{"trace.txt"}.spec());
#pragma once

#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct HookTraceOptions {
  /// The trace file; empty means hook_trace.txt in the Trainer's default_root_dir.
  std::string path;

  PluginSpec spec() const {
    PluginSpec spec{"hook_trace", {}};
    if (!path.empty()) spec.options["path"] = path;
    return spec;
  }
};

}  // namespace fulgur::plugins
