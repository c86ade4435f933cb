// Reads a plugin's text options into typed values, and rejects what the plugin does not know.
//
//   OptionReader reader("hook_trace", options);
//   config.path = reader.get("path", config.path);
//   config.flush = reader.get_bool("flush", config.flush);
//   reader.finish();   // throws on keys the plugin never asked for, listing the accepted ones
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur {

class OptionReader {
 public:
  OptionReader(std::string plugin, const PluginOptions& options);

  std::string get(const std::string& key, const std::string& fallback);
  bool get_bool(const std::string& key, bool fallback);
  int64_t get_int(const std::string& key, int64_t fallback);
  double get_double(const std::string& key, double fallback);
  /// Throws PluginError naming any key that no get*() call asked for.
  void finish() const;

 private:
  [[noreturn]] void reject(const std::string& key, const std::string& expected) const;

  std::string plugin_;
  const PluginOptions& options_;
  std::set<std::string> known_;
};

}  // namespace fulgur
