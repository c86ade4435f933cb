// The console_logger plugin (see include/fulgur/loggers/console_logger.h).
#include "fulgur/loggers/console_logger.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/plugin_export.h"

namespace fulgur::loggers {
namespace {

class ConsoleLogger : public LoggerPlugin {
 public:
  explicit ConsoleLogger(ConsoleLoggerOptions options) : options_(std::move(options)) {
    level_ = spdlog::level::from_str(options_.level());
  }

  std::string name() const override { return "console_logger"; }

  void log_metrics(const Metrics& metrics, int64_t step) override {
    if (rows_++ % options_.every_n_rows() != 0) return;
    std::string line = fmt::format("step {}", step);
    const auto epoch = metrics.find("epoch");
    if (epoch != metrics.end()) line += fmt::format(" | epoch {}", static_cast<int64_t>(epoch->second));
    for (const auto& [key, value] : metrics) {
      if (key != "epoch") line += fmt::format(" | {} {:.6g}", key, value);
    }
    spdlog::log(level_, "{}", line);
  }

 private:
  ConsoleLoggerOptions options_;
  spdlog::level::level_enum level_;
  int64_t rows_ = 0;
};

std::unique_ptr<Plugin> make_console_logger(const PluginOptions& options) {
  return std::make_unique<ConsoleLogger>(ConsoleLoggerOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::loggers

FULGUR_EXPORT_PLUGIN(fulgur::loggers::make_console_logger)
