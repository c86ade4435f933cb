// The combiner of on_exception: every slot runs, whatever an earlier one throws. A plugin that
// fails while the run is already failing must not stop the slots after it (the checkpoint that
// on_exception_checkpoint saves, the loggers' flush); each such failure is logged instead.
#pragma once

#include <exception>

namespace fulgur {

namespace detail {
/// Logs that a slot of `hook` threw `error` (null: something that is not a std::exception).
void report_slot_failure(const char* hook, const std::exception* error);
}  // namespace detail

struct EverySlotRuns {
  using result_type = void;

  template <typename SlotCall>
  void operator()(SlotCall first, SlotCall last) const {
    for (; first != last; ++first) {
      try {
        *first;  // calls the slot
      } catch (const std::exception& error) {
        detail::report_slot_failure("on_exception", &error);
      } catch (...) {
        detail::report_slot_failure("on_exception", nullptr);
      }
    }
  }
};

}  // namespace fulgur
