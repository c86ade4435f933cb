// The hook bus: one Boost.Signals2 signal per Lightning lifecycle hook.
//
// The kernel emits; plugins connect slots. The kernel knows no plugin, and a plugin knows the
// kernel only through the hook contexts (fulgur/hook_contexts.h) and the Trainer they carry.
// Signals use a dummy mutex: the loop runs on one thread, so emitting takes no lock and
// allocates nothing.
#pragma once

#include <string>
#include <string_view>

#include <boost/signals2/signal.hpp>
#include <boost/signals2/dummy_mutex.hpp>
#include <boost/signals2/signal_type.hpp>

#include "fulgur/every_slot_runs.h"
#include "fulgur/hook_contexts.h"
#include "fulgur/slot_group.h"

namespace fulgur {

/// The signal type of a hook whose context is `Context`.
template <typename Context>
using Hook = typename boost::signals2::signal_type<void(Context&),
                                                   boost::signals2::keywords::mutex_type<boost::signals2::dummy_mutex>,
                                                   boost::signals2::keywords::group_type<SlotGroup>>::type;

/// on_exception's signal: the same, but every slot runs whatever one of them throws.
template <typename Context>
using EverySlotHook = typename boost::signals2::signal_type<
    void(Context&), boost::signals2::keywords::mutex_type<boost::signals2::dummy_mutex>,
    boost::signals2::keywords::group_type<SlotGroup>, boost::signals2::keywords::combiner_type<EverySlotRuns>>::type;

/// Receives the time each plugin slot takes, while one is installed in HookBus::slot_timer
/// (the profiler plugin installs itself). Slots connected through Plugin::connect report to it.
class SlotTimer {
 public:
  virtual ~SlotTimer() = default;
  virtual void record(std::string_view hook, const std::string& plugin, double seconds) = 0;
};

struct HookBus {
  HookBus() = default;
  HookBus(const HookBus&) = delete;
  HookBus& operator=(const HookBus&) = delete;

  Hook<StageHook> setup;
  Hook<StageHook> teardown;

  Hook<RunHook> on_fit_start;
  Hook<RunHook> on_fit_end;
  Hook<RunHook> on_sanity_check_start;
  Hook<RunHook> on_sanity_check_end;

  Hook<BatchTransferHook> on_after_batch_transfer;

  Hook<RunHook> on_train_start;
  Hook<RunHook> on_train_end;
  Hook<EpochHook> on_train_epoch_start;
  Hook<EpochHook> on_train_epoch_end;
  Hook<BatchStartHook> on_train_batch_start;
  Hook<BatchEndHook> on_train_batch_end;
  Hook<BeforeBackwardHook> on_before_backward;
  Hook<AfterBackwardHook> on_after_backward;
  Hook<OptimizerHook> on_before_optimizer_step;
  Hook<OptimizerHook> on_before_zero_grad;

  Hook<RunHook> on_validation_start;
  Hook<RunHook> on_validation_end;
  Hook<EpochHook> on_validation_epoch_start;
  Hook<EpochHook> on_validation_epoch_end;
  Hook<BatchStartHook> on_validation_batch_start;
  Hook<BatchEndHook> on_validation_batch_end;

  Hook<RunHook> on_test_start;
  Hook<RunHook> on_test_end;
  Hook<EpochHook> on_test_epoch_start;
  Hook<EpochHook> on_test_epoch_end;
  Hook<BatchStartHook> on_test_batch_start;
  Hook<BatchEndHook> on_test_batch_end;

  Hook<RunHook> on_predict_start;
  Hook<RunHook> on_predict_end;
  Hook<EpochHook> on_predict_epoch_start;
  Hook<EpochHook> on_predict_epoch_end;
  Hook<BatchStartHook> on_predict_batch_start;
  Hook<BatchEndHook> on_predict_batch_end;

  Hook<CheckpointHook> on_save_checkpoint;
  Hook<CheckpointHook> on_load_checkpoint;
  EverySlotHook<ExceptionHook> on_exception;  // every slot runs, whatever one throws

  /// Null unless a profiler listens: then every plugin slot is timed (one pointer test per slot
  /// call otherwise).
  SlotTimer* slot_timer = nullptr;

  /// The name of `hook`, one of this bus's members ("" for anything else).
  std::string_view name_of(const void* hook) {
    std::string_view found;
    for_each_hook([&](std::string_view name, auto& candidate) {
      if (static_cast<const void*>(&candidate) == hook) found = name;
    });
    return found;
  }

  /// Calls `visit(name, hook)` for every hook, in declaration order. Lets a plugin such as
  /// hook_trace observe every hook without repeating the list.
  template <typename Visitor>
  void for_each_hook(Visitor&& visit) {
    visit(std::string_view("setup"), setup);
    visit(std::string_view("teardown"), teardown);
    visit(std::string_view("on_fit_start"), on_fit_start);
    visit(std::string_view("on_fit_end"), on_fit_end);
    visit(std::string_view("on_sanity_check_start"), on_sanity_check_start);
    visit(std::string_view("on_sanity_check_end"), on_sanity_check_end);
    visit(std::string_view("on_after_batch_transfer"), on_after_batch_transfer);
    visit(std::string_view("on_train_start"), on_train_start);
    visit(std::string_view("on_train_end"), on_train_end);
    visit(std::string_view("on_train_epoch_start"), on_train_epoch_start);
    visit(std::string_view("on_train_epoch_end"), on_train_epoch_end);
    visit(std::string_view("on_train_batch_start"), on_train_batch_start);
    visit(std::string_view("on_train_batch_end"), on_train_batch_end);
    visit(std::string_view("on_before_backward"), on_before_backward);
    visit(std::string_view("on_after_backward"), on_after_backward);
    visit(std::string_view("on_before_optimizer_step"), on_before_optimizer_step);
    visit(std::string_view("on_before_zero_grad"), on_before_zero_grad);
    visit(std::string_view("on_validation_start"), on_validation_start);
    visit(std::string_view("on_validation_end"), on_validation_end);
    visit(std::string_view("on_validation_epoch_start"), on_validation_epoch_start);
    visit(std::string_view("on_validation_epoch_end"), on_validation_epoch_end);
    visit(std::string_view("on_validation_batch_start"), on_validation_batch_start);
    visit(std::string_view("on_validation_batch_end"), on_validation_batch_end);
    visit(std::string_view("on_test_start"), on_test_start);
    visit(std::string_view("on_test_end"), on_test_end);
    visit(std::string_view("on_test_epoch_start"), on_test_epoch_start);
    visit(std::string_view("on_test_epoch_end"), on_test_epoch_end);
    visit(std::string_view("on_test_batch_start"), on_test_batch_start);
    visit(std::string_view("on_test_batch_end"), on_test_batch_end);
    visit(std::string_view("on_predict_start"), on_predict_start);
    visit(std::string_view("on_predict_end"), on_predict_end);
    visit(std::string_view("on_predict_epoch_start"), on_predict_epoch_start);
    visit(std::string_view("on_predict_epoch_end"), on_predict_epoch_end);
    visit(std::string_view("on_predict_batch_start"), on_predict_batch_start);
    visit(std::string_view("on_predict_batch_end"), on_predict_batch_end);
    visit(std::string_view("on_save_checkpoint"), on_save_checkpoint);
    visit(std::string_view("on_load_checkpoint"), on_load_checkpoint);
    visit(std::string_view("on_exception"), on_exception);
  }
};

}  // namespace fulgur
