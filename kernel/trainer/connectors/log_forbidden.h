// While a Module hook where Lightning forbids log() runs (setup, configure_optimizers,
// predict_step, ...), log() names that hook in its error.
#pragma once

#include "fulgur/metric_store.h"

namespace fulgur::detail {

class LogForbidden {
 public:
  LogForbidden(MetricStore& metrics, const char* where) : metrics_(metrics), previous_(metrics.logging_forbidden_in()) {
    metrics_.forbid_logging_in(where);
  }
  ~LogForbidden() { metrics_.forbid_logging_in(previous_); }
  LogForbidden(const LogForbidden&) = delete;
  LogForbidden& operator=(const LogForbidden&) = delete;

 private:
  MetricStore& metrics_;
  const char* previous_;
};

}  // namespace fulgur::detail
