// The console_logger plugin (see include/fulgur/loggers/console_logger.h).
#include "fulgur/loggers/console_logger.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/plugin_export.h"
#include "fulgur/plugin_options.h"

namespace fulgur::loggers {
namespace {

class ConsoleLogger : public LoggerPlugin {
 public:
  explicit ConsoleLogger(ConsoleLoggerOptions options) : options_(std::move(options)) {
    if (options_.every_n_rows < 1) throw PluginError("plugin 'console_logger': option 'every_n_rows' must be >= 1");
    level_ = spdlog::level::from_str(options_.level);
    if (level_ > spdlog::level::warn || spdlog::level::to_string_view(level_) != options_.level) {
      throw PluginError("plugin 'console_logger': option 'level' expects trace, debug, info or warn, got '" +
                        options_.level + "'");
    }
  }

  std::string name() const override { return "console_logger"; }

  void log_metrics(const Metrics& metrics, int64_t step) override {
    if (rows_++ % options_.every_n_rows != 0) return;
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
  OptionReader reader("console_logger", options);
  ConsoleLoggerOptions config;
  config.every_n_rows = reader.get_int("every_n_rows", config.every_n_rows);
  config.level = reader.get("level", config.level);
  reader.finish();
  return std::make_unique<ConsoleLogger>(std::move(config));
}

}  // namespace
}  // namespace fulgur::loggers

FULGUR_EXPORT_PLUGIN(fulgur::loggers::make_console_logger)
