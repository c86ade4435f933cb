// fulgur::Logger: where logged metrics and hyper-parameters end up (Lightning's Logger).
//
// A logger is a plugin that is also a Logger: derive from LoggerPlugin, give it a name and
// write log_metrics. The Trainer finds every logger among its plugins and hands them, as
// numbers on the host:
//   - the step metrics every `log_every_n_steps` optimizer steps (step = global_step - 1, as
//     Lightning's files show: 49, 99, ...), with "epoch" added;
//   - the epoch metrics of each training, validation and test epoch (not the sanity check);
//   - the Module's hyper-parameters at the start of each run;
// and calls save() after each epoch and finalize("success" | "failed") when the run ends.
//
//   class PrintLogger : public fulgur::LoggerPlugin {
//    public:
//     std::string name() const override { return "print_logger"; }
//     void log_metrics(const Metrics& metrics, int64_t step) override {
//       for (const auto& [key, value] : metrics) std::cout << step << ' ' << key << ' ' << value << '\n';
//     }
//   };
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <boost/config.hpp>

#include "fulgur/hparams.h"
#include "fulgur/plugin.h"

namespace fulgur {

class BOOST_SYMBOL_VISIBLE Logger {
 public:
  using Metrics = std::map<std::string, double>;
  using Hyperparameters = HParams;

  virtual ~Logger() = default;

  /// One row of metrics at `step` (values may be NaN or infinite: each logger says how it
  /// stores them).
  virtual void log_metrics(const Metrics& metrics, int64_t step) = 0;
  virtual void log_hyperparams(const Hyperparameters& /*params*/) {}
  /// Flush what is buffered to disk.
  virtual void save() {}
  /// The run ended: "success" or "failed".
  virtual void finalize(const std::string& /*status*/) {}

  /// Lightning's name / version / log_dir; empty for loggers that write no folder.
  virtual std::string experiment_name() const { return ""; }
  virtual std::string version() const { return ""; }
  virtual std::string log_dir() const { return ""; }
};

/// A logger as a plugin: it needs no hooks of its own, the Trainer calls it.
class LoggerPlugin : public Plugin, public Logger {
 public:
  void attach(HookBus& /*bus*/) override {}
};

}  // namespace fulgur
