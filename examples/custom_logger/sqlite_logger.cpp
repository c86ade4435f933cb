// A fulgur logger in one file: every row the Trainer hands the loggers goes into a SQLite
// table metrics(step, name, value). Built out of tree against the installed SDK.
#include <sqlite3.h>

#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/plugin_export.h"
#include "fulgur/options.h"

class SqliteLogger : public fulgur::LoggerPlugin {
 public:
  explicit SqliteLogger(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) fail("cannot open " + path);
    exec("CREATE TABLE IF NOT EXISTS metrics(step INTEGER, name TEXT, value REAL)");
    if (sqlite3_prepare_v2(db_, "INSERT INTO metrics VALUES(?, ?, ?)", -1, &insert_, nullptr) != SQLITE_OK)
      fail("prepare");
  }
  ~SqliteLogger() override {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  std::string name() const override { return "sqlite_logger"; }

  void log_metrics(const Metrics& metrics, int64_t step) override {
    exec("BEGIN");  // one transaction per row: one disk sync, not one per value
    for (const auto& [key, value] : metrics) {
      sqlite3_bind_int64(insert_, 1, step);
      sqlite3_bind_text(insert_, 2, key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_double(insert_, 3, value);  // SQLite stores NaN as NULL
      if (sqlite3_step(insert_) != SQLITE_DONE) fail("insert");
      sqlite3_reset(insert_);
    }
    exec("COMMIT");
  }

 private:
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }
  [[noreturn]] void fail(const std::string& what) {
    throw fulgur::Error("sqlite_logger: " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

struct SqliteLoggerOptions : fulgur::DeclaredOptions<SqliteLoggerOptions> {
  FULGUR_OPTIONS_OF("sqlite_logger");
  FULGUR_OPTION(std::string, path, "metrics.db", "The database file.", fulgur::required());
};

std::unique_ptr<fulgur::Plugin> make_sqlite_logger(const fulgur::PluginOptions& options) {
  return std::make_unique<SqliteLogger>(SqliteLoggerOptions::parse(options).path());
}

FULGUR_EXPORT_PLUGIN(make_sqlite_logger)
