// The Module's hook methods connected to the bus for one run, in slot group Module: after the
// plugins' slots, as Lightning calls the callbacks before the LightningModule. Where Lightning
// forbids log() (setup, on_fit_start, on_save_checkpoint, ...), log() names the hook. The kernel's
// own slots publish the epoch metrics inside the epoch-end hooks (group EpochMetrics).
#include <utility>
#include <vector>

#include <boost/signals2/connection.hpp>

#include "fulgur/trainer.h"
#include "connectors/log_forbidden.h"

namespace fulgur {
namespace {

// Connects slots in group Module into the run's connection list (scoped: they leave with it).
class ModuleSlots {
 public:
  ModuleSlots(std::vector<boost::signals2::scoped_connection>& connections, MetricStore& metrics)
      : connections_(connections), metrics_(&metrics) {}

  template <typename Hook, typename Slot>
  void add(Hook& hook, Slot slot) {
    connections_.emplace_back(hook.connect(SlotGroup::Module, std::move(slot)));
  }
  // A hook where Lightning forbids log(): the Module's method runs with log() naming the hook.
  template <typename Hook, typename Call>
  void add_no_log(Hook& hook, const char* where, Call call) {
    add(hook, [metrics = metrics_, where, call](auto& context) {
      const detail::LogForbidden scope(*metrics, where);
      call(context);
    });
  }

 private:
  std::vector<boost::signals2::scoped_connection>& connections_;
  MetricStore* metrics_;
};

// setup / teardown, the starts and ends of fit, training and prediction, and checkpoints.
void connect_lifecycle_hooks(ModuleSlots& slots, HookBus& bus, Module* m) {
  slots.add_no_log(bus.setup, "setup", [m](StageHook& hook) { m->setup(hook.stage); });
  slots.add_no_log(bus.teardown, "teardown", [m](StageHook& hook) { m->teardown(hook.stage); });
  slots.add_no_log(bus.on_fit_start, "on_fit_start", [m](RunHook&) { m->on_fit_start(); });
  slots.add_no_log(bus.on_fit_end, "on_fit_end", [m](RunHook&) { m->on_fit_end(); });
  slots.add(bus.on_train_start, [m](RunHook&) { m->on_train_start(); });
  slots.add_no_log(bus.on_train_end, "on_train_end", [m](RunHook&) { m->on_train_end(); });
  slots.add_no_log(bus.on_predict_start, "on_predict_start", [m](RunHook&) { m->on_predict_start(); });
  slots.add_no_log(bus.on_predict_end, "on_predict_end", [m](RunHook&) { m->on_predict_end(); });
  slots.add_no_log(bus.on_save_checkpoint, "on_save_checkpoint",
                   [m](CheckpointHook& hook) { m->on_save_checkpoint(hook.checkpoint); });
  slots.add_no_log(bus.on_load_checkpoint, "on_load_checkpoint",
                   [m](CheckpointHook& hook) { m->on_load_checkpoint(hook.checkpoint); });
}

// The validation, test and prediction loops' run, epoch and batch hooks.
void connect_evaluation_hooks(ModuleSlots& slots, HookBus& bus, Module* m) {
  slots.add(bus.on_validation_start, [m](RunHook&) { m->on_validation_start(); });
  slots.add(bus.on_validation_end, [m](RunHook&) { m->on_validation_end(); });
  slots.add(bus.on_validation_epoch_start, [m](EpochHook&) { m->on_validation_epoch_start(); });
  slots.add(bus.on_validation_epoch_end, [m](EpochHook&) { m->on_validation_epoch_end(); });
  slots.add(bus.on_validation_batch_start,
            [m](BatchStartHook& hook) { m->on_validation_batch_start(hook.batch, hook.batch_idx); });
  slots.add(bus.on_validation_batch_end,
            [m](BatchEndHook& hook) { m->on_validation_batch_end(hook.outputs, hook.batch, hook.batch_idx); });
  slots.add(bus.on_test_start, [m](RunHook&) { m->on_test_start(); });
  slots.add(bus.on_test_end, [m](RunHook&) { m->on_test_end(); });
  slots.add(bus.on_test_epoch_start, [m](EpochHook&) { m->on_test_epoch_start(); });
  slots.add(bus.on_test_epoch_end, [m](EpochHook&) { m->on_test_epoch_end(); });
  slots.add(bus.on_test_batch_start, [m](BatchStartHook& hook) { m->on_test_batch_start(hook.batch, hook.batch_idx); });
  slots.add(bus.on_test_batch_end,
            [m](BatchEndHook& hook) { m->on_test_batch_end(hook.outputs, hook.batch, hook.batch_idx); });
  slots.add(bus.on_predict_epoch_start, [m](EpochHook&) { m->on_predict_epoch_start(); });
  slots.add(bus.on_predict_epoch_end, [m](EpochHook&) { m->on_predict_epoch_end(); });
  slots.add(bus.on_predict_batch_start,
            [m](BatchStartHook& hook) { m->on_predict_batch_start(hook.batch, hook.batch_idx); });
  slots.add(bus.on_predict_batch_end,
            [m](BatchEndHook& hook) { m->on_predict_batch_end(hook.outputs, hook.batch, hook.batch_idx); });
}

void connect_optimization_hooks(ModuleSlots& slots, HookBus& bus, Module* m) {
  slots.add(bus.on_before_backward, [m](BeforeBackwardHook& hook) { m->on_before_backward(hook.loss); });
  slots.add(bus.on_after_backward, [m](AfterBackwardHook&) { m->on_after_backward(); });
  slots.add(bus.on_before_optimizer_step, [m](OptimizerHook& hook) { m->on_before_optimizer_step(hook.optimizer); });
  slots.add(bus.on_before_zero_grad, [m](OptimizerHook& hook) { m->on_before_zero_grad(hook.optimizer); });
}

}  // namespace

void Trainer::connect_module_hooks(Module& module) {
  ModuleSlots slots(module_connections_, metrics_);
  Module* m = &module;
  connect_lifecycle_hooks(slots, bus_, m);
  // Training's epoch and batch hooks are connected here: on_train_batch_end hands the Module what
  // its step gave outputs() (the Module's private step output), or just its loss.
  slots.add(bus_.on_train_epoch_start, [m](EpochHook&) { m->on_train_epoch_start(); });
  slots.add(bus_.on_train_epoch_end, [m](EpochHook&) { m->on_train_epoch_end(); });
  slots.add(bus_.on_train_batch_start,
            [m](BatchStartHook& hook) { m->on_train_batch_start(hook.batch, hook.batch_idx); });
  slots.add(bus_.on_train_batch_end, [m](BatchEndHook& hook) {
    if (m->step_output_.values.empty()) m->step_output_.loss = hook.outputs;
    m->on_train_batch_end(m->step_output_, hook.batch, hook.batch_idx);
  });
  connect_evaluation_hooks(slots, bus_, m);
  connect_optimization_hooks(slots, bus_, m);
  // Epoch metrics are published inside the epoch-end hooks, after the callbacks and the Module
  // logged theirs and before the monitors read them (Lightning's order).
  module_connections_.emplace_back(bus_.on_train_epoch_end.connect(
      SlotGroup::EpochMetrics, [this](EpochHook&) { metrics_.end_epoch(LogContext::Training); }));
  module_connections_.emplace_back(bus_.on_validation_epoch_end.connect(
      SlotGroup::EpochMetrics, [this](EpochHook&) { metrics_.end_epoch(LogContext::Validation); }));
  module_connections_.emplace_back(bus_.on_test_epoch_end.connect(
      SlotGroup::EpochMetrics, [this](EpochHook&) { metrics_.end_epoch(LogContext::Test); }));
}

}  // namespace fulgur
