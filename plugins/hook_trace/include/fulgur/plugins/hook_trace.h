// hook_trace: writes every hook the kernel emits, in order, one per line with its main
// argument, to a file. For debugging hook order and for tests that pin it.
//
//   on_train_epoch_start epoch=0
//   on_train_batch_start epoch=0 batch=0
//   on_before_optimizer_step optimizer=0
//
// Options: path (default <default_root_dir>/hook_trace.txt).
//   --plugin hook_trace:path=trace.txt
//   trainer.add_plugin(fulgur::plugins::HookTraceOptions("trace.txt"));
#pragma once

#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct HookTraceOptions : DeclaredOptions<HookTraceOptions> {
  FULGUR_OPTIONS_OF("hook_trace");
  HookTraceOptions() = default;
  explicit HookTraceOptions(std::string file) { path(std::move(file)); }

  FULGUR_OPTION(std::string, path, "", "The trace file; empty: hook_trace.txt in the Trainer's default_root_dir.");
};

}  // namespace fulgur::plugins
