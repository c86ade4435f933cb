// The csv_logger plugin (see include/fulgur/loggers/csv_logger.h).
#include "fulgur/loggers/csv_logger.h"

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "fulgur/atomic_write.h"
#include "fulgur/error.h"
#include "fulgur/folder_logger.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::loggers {
namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return fmt::format("{}", value);
}

class CSVLogger : public FolderLoggerPlugin {
 public:
  explicit CSVLogger(CSVLoggerOptions options)
      : FolderLoggerPlugin(options.save_dir(), options.name()), options_(std::move(options)) {}

  std::string name() const override { return "csv_logger"; }

  // A checkpoint records how many rows metrics.csv holds once the rows logged so far are written;
  // a fit resumed from it drops the rows after those (logged by the run that went on past the
  // checkpoint and was then killed), which it logs again: each step appears once.
  void attach(HookBus& bus) override {
    FolderLoggerPlugin::attach(bus);
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) {
      if (!started() || !hook.trainer.is_global_zero()) return;
      save();
      plugin_state(hook.checkpoint, name()).insert_or_assign("rows", rows_in_file_);
    });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) {
      if (!has_plugin_state(hook.checkpoint, name())) return;
      const auto state = plugin_state(hook.checkpoint, name());
      if (state.contains("rows") && state.at("rows").isInt() && state.at("rows").toInt() >= 0) {
        resumed_rows_ = state.at("rows").toInt();
      }
    });
  }
  void log_hyperparams(const Hyperparameters& params) override {
    hparams_ = params;
    hparams_dirty_ = true;
  }

  void log_metrics(const Metrics& metrics, int64_t step) override {
    Row row{{"step", std::to_string(step)}};
    for (const auto& [key, value] : metrics) {
      row[key] = key == "epoch" ? std::to_string(static_cast<int64_t>(value)) : format_value(value);
      add_column(key);
    }
    pending_.push_back(std::move(row));
    if (++rows_since_save_ >= options_.flush_logs_every_n_steps()) save();
  }

  // As Lightning's ExperimentWriter: rows since the last save are appended while the columns
  // stay the same; when a metric brings a new column, the whole file is rewritten (atomically,
  // so a crash never leaves it half-written) with the new header. Appending keeps a save's cost
  // in the rows it adds, not in the rows of the whole run.
  void save() override {
    if (!started()) return;
    const std::string folder = create_folder();
    if (hparams_dirty_) {
      write_file_atomically(folder + "/hparams.yaml", hparams_.to_yaml(), "log file", Durability::InPlace);
      hparams_dirty_ = false;
    }
    rows_since_save_ = 0;
    if (pending_.empty()) return;
    const std::string path = folder + "/metrics.csv";
    if (columns_ == written_columns_) {
      append_to_file(path, rows_text(pending_), "log file");
      rows_in_file_ += static_cast<int64_t>(pending_.size());
    } else {
      std::vector<Row> rows = written_columns_.empty() ? std::vector<Row>{} : read_rows(path);
      rows.insert(rows.end(), pending_.begin(), pending_.end());
      write_file_atomically(path, header_text() + rows_text(rows), "log file", Durability::InPlace);
      written_columns_ = columns_;
      rows_in_file_ = static_cast<int64_t>(rows.size());
    }
    pending_.clear();
  }

 private:
  using Row = std::map<std::string, std::string>;

  std::string header_text() const {
    std::string text;
    for (std::size_t i = 0; i < columns_.size(); ++i) text += (i ? "," : "") + columns_[i];
    return text + "\n";
  }

  std::string rows_text(const std::vector<Row>& rows) const {
    std::string text;
    for (const auto& row : rows) {
      for (std::size_t i = 0; i < columns_.size(); ++i) {
        const auto found = row.find(columns_[i]);
        text += (i ? "," : "") + (found == row.end() ? std::string() : found->second);
      }
      text += "\n";
    }
    return text;
  }

  // The rows of a metrics.csv, by its own header.
  static std::vector<Row> read_rows(const std::string& path) {
    std::ifstream existing(path);
    std::string line;
    std::vector<Row> rows;
    if (!std::getline(existing, line)) return rows;
    const auto header = split_csv_line(line);
    while (std::getline(existing, line)) {
      const auto cells = split_csv_line(line);
      Row row;
      for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) {
        if (!cells[i].empty()) row[header[i]] = cells[i];
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  // At the first write: the folder, and the columns of the file a resumed run's earlier part
  // wrote there. Its rows up to the checkpoint stay in the file; later ones go.
  std::string create_folder() {
    const bool first = !folder_created();
    const std::string folder = this->folder();
    if (first) {
      const std::string path = folder + "/metrics.csv";
      std::ifstream existing(path);
      std::string line;
      if (std::getline(existing, line)) {
        written_columns_ = split_csv_line(line);
        for (const auto& column : written_columns_) add_column(column);
        existing.close();
        std::vector<Row> rows = read_rows(path);
        rows_in_file_ = static_cast<int64_t>(rows.size());
        if (resumed_rows_ && *resumed_rows_ < rows_in_file_) {
          rows.resize(static_cast<std::size_t>(*resumed_rows_));
          const std::vector<std::string> columns = std::exchange(columns_, written_columns_);
          write_file_atomically(path, header_text() + rows_text(rows), "log file", Durability::InPlace);
          columns_ = columns;
          rows_in_file_ = *resumed_rows_;
        }
      }
      resumed_rows_.reset();
    }
    return folder;
  }

  // Lightning's ExperimentWriter keeps its columns sorted ("alpha", "epoch", "lr-SGD", "step", ...).
  void add_column(const std::string& key) {
    for (const std::string& column : {std::string("step"), key}) {
      const auto at = std::lower_bound(columns_.begin(), columns_.end(), column);
      if (at == columns_.end() || *at != column) columns_.insert(at, column);
    }
  }

  CSVLoggerOptions options_;
  std::vector<std::string> columns_;          // every column so far, sorted as Lightning's
  std::vector<std::string> written_columns_;  // the header of the file on disk (empty: no file yet)
  std::vector<Row> pending_;                  // rows logged since the last save
  int64_t rows_since_save_ = 0;
  int64_t rows_in_file_ = 0;             // data rows of metrics.csv on disk
  std::optional<int64_t> resumed_rows_;  // rows the checkpoint a fit resumed from had seen
  Hyperparameters hparams_;
  bool hparams_dirty_ = false;
};

std::unique_ptr<Plugin> make_csv_logger(const PluginOptions& options) {
  return std::make_unique<CSVLogger>(CSVLoggerOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::loggers

FULGUR_EXPORT_PLUGIN(fulgur::loggers::make_csv_logger)
