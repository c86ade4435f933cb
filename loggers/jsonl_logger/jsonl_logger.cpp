// The jsonl_logger plugin (see include/fulgur/loggers/jsonl_logger.h).
#include "fulgur/loggers/jsonl_logger.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "fulgur/atomic_write.h"
#include "fulgur/error.h"
#include "fulgur/folder_logger.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::loggers {
namespace {

// A hyper-parameter as JSON, types kept; a non-finite double becomes null as in the rows.
nlohmann::json to_json(const HParamValue& value) {
  switch (value.kind()) {
    case HParamValue::Kind::Null:
      return nullptr;
    case HParamValue::Kind::Bool:
      return value.as<bool>();
    case HParamValue::Kind::Int:
      return value.as<int64_t>();
    case HParamValue::Kind::Double: {
      const double number = value.as<double>();
      return std::isfinite(number) ? nlohmann::json(number) : nlohmann::json(nullptr);
    }
    case HParamValue::Kind::String:
      return value.as<std::string>();
    case HParamValue::Kind::List: {
      auto list = nlohmann::json::array();
      for (const auto& element : value.list()) list.push_back(to_json(element));
      return list;
    }
    case HParamValue::Kind::Map: {
      auto map = nlohmann::json::object();
      for (const auto& [key, element] : value.map()) map[key] = to_json(element);
      return map;
    }
  }
  return nullptr;
}

class JsonlLogger : public FolderLoggerPlugin {
 public:
  explicit JsonlLogger(const JsonlLoggerOptions& options) : FolderLoggerPlugin(options.save_dir(), options.name()) {}

  std::string name() const override { return "jsonl_logger"; }

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
    if (!started() || hparams_.empty() || hparams_saved_) return;
    write_file_atomically(folder() + "/hparams.json", to_json(HParamValue(hparams_)).dump(2) + "\n", "log file",
                          Durability::InPlace);
    hparams_saved_ = true;
  }

  void finalize(const std::string&) override {
    if (file_.is_open()) file_.close();
  }

 private:
  void open() {
    if (file_.is_open()) return;
    path_ = folder() + "/metrics.jsonl";
    file_.open(path_, std::ios::app);
    if (!file_) throw Error("cannot write log file '" + path_ + "': " + std::strerror(errno));
  }

  std::ofstream file_;
  std::string path_;
  Hyperparameters hparams_;
  bool hparams_saved_ = false;
};

std::unique_ptr<Plugin> make_jsonl_logger(const PluginOptions& options) {
  return std::make_unique<JsonlLogger>(JsonlLoggerOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::loggers

FULGUR_EXPORT_PLUGIN(fulgur::loggers::make_jsonl_logger)
