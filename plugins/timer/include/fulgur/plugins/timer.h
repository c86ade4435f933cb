// timer: Lightning's Timer (and the Trainer's max_time). Stops fit at the next step or epoch
// boundary once the training time reaches `duration`, and tells other plugins how long each
// stage has run. The elapsed time travels in checkpoints, so a resumed run gets only what is left.
//
//   --plugin timer:duration=00:12:00:00          (DD:HH:MM:SS)
//   --plugin timer:duration=90,interval=epoch    (seconds)
//   --max-time 00:00:30:00                        (attaches timer with that duration)
#pragma once

#include <boost/config.hpp>
#include <string>

#include "fulgur/options.h"
#include "fulgur/stage.h"

namespace fulgur::plugins {

struct TimerOptions : DeclaredOptions<TimerOptions> {
  FULGUR_OPTIONS_OF("timer");
  TimerOptions() = default;
  explicit TimerOptions(std::string limit) { duration(std::move(limit)); }

  FULGUR_OPTION(std::string, duration, "",
                "DD:HH:MM:SS (shorter forms HH:MM:SS, MM:SS too) or seconds; empty: only measure.");
  FULGUR_OPTION(std::string, interval, "step", "Check after every optimizer step or every epoch.",
                one_of({"step", "epoch"}));
  FULGUR_OPTION(bool, verbose, true, "Log when the time is up.");
};

/// Reading the timer from another plugin or the program:
///   dynamic_cast<fulgur::plugins::TimerInfo*>(trainer.find_plugin("timer"))->time_elapsed(Stage::Fit)
class BOOST_SYMBOL_VISIBLE TimerInfo {
 public:
  virtual ~TimerInfo() = default;
  /// Seconds spent in `stage` (Fit: training, resumed runs included; Validate: validation runs).
  virtual double time_elapsed(Stage stage) const = 0;
  /// Seconds of training left before the duration is reached (infinite without a duration).
  virtual double time_remaining() const = 0;
};

}  // namespace fulgur::plugins
