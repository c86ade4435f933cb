#include "fulgur/plugin_options.h"

#include "fulgur/error.h"

namespace fulgur {

OptionReader::OptionReader(std::string plugin, const PluginOptions& options)
    : plugin_(std::move(plugin)), options_(options) {}

std::string OptionReader::get(const std::string& key, const std::string& fallback) {
  known_.insert(key);
  const auto found = options_.find(key);
  return found == options_.end() ? fallback : found->second;
}

bool OptionReader::get_bool(const std::string& key, bool fallback) {
  const std::string text = get(key, fallback ? "true" : "false");
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  reject(key, "true or false, got '" + text + "'");
}

int64_t OptionReader::get_int(const std::string& key, int64_t fallback) {
  const std::string text = get(key, std::to_string(fallback));
  try {
    std::size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used == text.size()) return value;
  } catch (const std::out_of_range&) {
    reject(key, "an integer from -9223372036854775808 to 9223372036854775807, got '" + text + "' (out of range)");
  } catch (const std::exception&) {
  }
  reject(key, "an integer, got '" + text + "'");
}

double OptionReader::get_double(const std::string& key, double fallback) {
  const auto found = options_.find(key);
  known_.insert(key);
  if (found == options_.end()) return fallback;
  try {
    std::size_t used = 0;
    const double value = std::stod(found->second, &used);
    if (used == found->second.size()) return value;
  } catch (const std::exception&) {
  }
  reject(key, "a number, got '" + found->second + "'");
}

void OptionReader::finish() const {
  for (const auto& [key, value] : options_) {
    if (known_.count(key)) continue;
    std::string accepted;
    for (const auto& name : known_) accepted += (accepted.empty() ? "" : ", ") + name;
    throw PluginError("plugin '" + plugin_ + "': unknown option '" + key +
                      "'; accepted options: " + (accepted.empty() ? "none" : accepted));
  }
}

void OptionReader::reject(const std::string& key, const std::string& expected) const {
  throw PluginError("plugin '" + plugin_ + "': option '" + key + "' expects " + expected);
}

}  // namespace fulgur
