// Trainer::RunScope: a Module attached to the Trainer for one run, detached however the run ends;
// an error escaping the run is announced on on_exception first. Every run (fit, validate, test,
// predict) goes through one.
#pragma once

#include <exception>

#include "fulgur/error.h"
#include "fulgur/trainer.h"
#include "file_size_signal.h"

namespace fulgur {

class Trainer::RunScope {
 public:
  RunScope(Trainer& trainer, Module& module, Stage stage, DataModule* datamodule) : trainer_(trainer) {
    trainer_.begin_run(module, stage, datamodule);
  }
  ~RunScope() { trainer_.end_run(); }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

  template <typename Body>
  auto run(Body&& body) {
    try {
      return body();
    } catch (const std::exception& error) {
      ExceptionHook hook{trainer_, error};
      trainer_.bus_.on_exception(hook);  // every slot runs (EverySlotRuns)
      throw;
    } catch (...) {
      // A Module or plugin threw something that is not a std::exception (an int, a string
      // literal): the run still ends through on_exception, with an error that says so.
      const Error error(
          "the run failed: a step, hook or plugin threw something that is not a std::exception "
          "(throw a std::exception or fulgur::Error to say what went wrong)");
      ExceptionHook hook{trainer_, error};
      trainer_.bus_.on_exception(hook);
      throw error;
    }
  }

 private:
  Trainer& trainer_;
  // Loggers keep files open and write during the run: under `ulimit -f` their writes fail with
  // a reason instead of SIGXFSZ killing the process without a word.
  const detail::FileSizeSignalIgnored no_silent_death_;
};

}  // namespace fulgur
