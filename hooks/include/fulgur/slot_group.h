// Fixed order between plugins connected to one hook.
//
// Boost.Signals2 calls lower groups first. Each built-in plugin documents its group
// (docs/hooks.md), so that e.g. the AMP scaler unscales gradients before clipping reads them,
// whatever order the user listed the plugins in.
#pragma once

namespace fulgur {

enum class SlotGroup : int {
  Trace = 0,          // observers that must see the hook before anything acts on it
  Strategy = 10,      // device placement, gradient synchronisation
  Precision = 20,     // loss scaling, gradient unscaling
  Gradients = 30,     // clipping, gradient inspection
  Callback = 50,      // the default for user plugins
  Module = 60,        // the Module's own hook methods run after the callbacks, as in Lightning
  EpochMetrics = 65,  // the kernel publishes epoch metrics in on_*_epoch_end, so that...
  LoggerRows = 67,    // ...the loggers get this hook's rows before a checkpoint is saved, and...
  Monitor = 70,       // ...early stopping and checkpointing see this epoch's values
  Logger = 90,        // loggers and progress output see the final state
  Last = 1000,        // observers that must run after everything else (the profiler's end marks)
};

}  // namespace fulgur
