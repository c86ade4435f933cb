// The jsonl_logger plugin (see include/fulgur/loggers/jsonl_logger.h).
#include "fulgur/loggers/jsonl_logger.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "fulgur/atomic_write.h"
#include "fulgur/error.h"
#include "fulgur/experiment_dir.h"
#include "fulgur/logger.h"
#include "fulgur/plugin_export.h"
#include "fulgur/plugin_options.h"
#include "fulgur/trainer.h"

namespace fulgur::loggers {
namespace {

class JsonlLogger : public LoggerPlugin {
 public:
  explicit JsonlLogger(JsonlLoggerOptions options) : options_(std::move(options)) {
    if (options_.name.empty()) throw PluginError("plugin 'jsonl_logger': option 'name' must not be empty");
  }

  std::string name() const override { return "jsonl_logger"; }
  std::string experiment_name() const override { return options_.name; }
  std::string version() const override { return dir_ ? "version_" + std::to_string(dir_->version()) : ""; }
  std::string log_dir() const override { return dir_ ? dir_->path() : ""; }

  void attach(HookBus& bus) override {
    connect(bus.setup, [this](StageHook& hook) {
      if (!dir_) {
        dir_.emplace(options_.save_dir.empty() ? hook.trainer.options().default_root_dir : options_.save_dir,
                     options_.name);
      }
      dir_->choose_version();
    }, SlotGroup::Trace);
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) {
      if (dir_) plugin_state(hook.checkpoint, name()).insert_or_assign("version", dir_->version());
    });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) {
      if (!has_plugin_state(hook.checkpoint, name())) return;
      const auto state = plugin_state(hook.checkpoint, name());
      if (state.contains("version") && state.at("version").isInt()) dir_->use_version(state.at("version").toInt());
    });
  }

  void log_hyperparams(const Hyperparameters& params) override { hparams_ = params; }

  void log_metrics(const Metrics& metrics, int64_t step) override {
    nlohmann::ordered_json row;
    row["step"] = step;
    for (const auto& [key, value] : metrics) {
      if (key == "epoch") {
        row["epoch"] = static_cast<int64_t>(value);
      } else if (std::isfinite(value)) {
        row[key] = value;
      } else {
        row[key] = nullptr;
      }
    }
    open();
    // One line, flushed: a reader tailing the file never sees half a row of a finished line.
    file_ << row.dump() << '\n' << std::flush;
    if (!file_) throw Error("cannot write log file '" + path_ + "': " + std::strerror(errno));
  }

  void save() override {
    if (!dir_ || hparams_.empty() || hparams_saved_) return;
    const std::string folder = dir_->create();
    write_file_atomically(folder + "/hparams.json", nlohmann::json(hparams_).dump(2) + "\n", "log file");
    hparams_saved_ = true;
  }

  void finalize(const std::string&) override {
    if (file_.is_open()) file_.close();
  }

 private:
  void open() {
    if (file_.is_open()) return;
    if (!dir_) throw Error("jsonl_logger: nothing to write into before a run has started");
    path_ = dir_->create() + "/metrics.jsonl";
    file_.open(path_, std::ios::app);
    if (!file_) throw Error("cannot write log file '" + path_ + "': " + std::strerror(errno));
  }

  JsonlLoggerOptions options_;
  std::optional<ExperimentDir> dir_;
  std::ofstream file_;
  std::string path_;
  Hyperparameters hparams_;
  bool hparams_saved_ = false;
};

std::unique_ptr<Plugin> make_jsonl_logger(const PluginOptions& options) {
  OptionReader reader("jsonl_logger", options);
  JsonlLoggerOptions config;
  config.save_dir = reader.get("save_dir", config.save_dir);
  config.name = reader.get("name", config.name);
  reader.finish();
  return std::make_unique<JsonlLogger>(std::move(config));
}

}  // namespace
}  // namespace fulgur::loggers

FULGUR_EXPORT_PLUGIN(fulgur::loggers::make_jsonl_logger)
