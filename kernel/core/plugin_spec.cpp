#include "fulgur/plugin_spec.h"

#include "fulgur/error.h"

namespace fulgur {
namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

bool is_valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

PluginSpec PluginSpec::parse(const std::string& text) {
  PluginSpec spec;
  const auto colon = text.find(':');
  spec.name = trim(text.substr(0, colon));
  if (!is_valid_name(spec.name)) {
    throw Error("plugin spec '" + text +
                "': expected NAME or NAME:key=value,... where NAME uses letters, digits, '_' or '-'");
  }
  if (colon == std::string::npos) return spec;
  const std::string rest = text.substr(colon + 1);
  std::size_t start = 0;
  while (start <= rest.size()) {
    const auto comma = rest.find(',', start);
    const std::string item = trim(rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!item.empty()) {
      const auto equals = item.find('=');
      if (equals == std::string::npos || trim(item.substr(0, equals)).empty()) {
        throw Error("plugin '" + spec.name + "': option '" + item + "' is not of the form key=value");
      }
      const std::string key = trim(item.substr(0, equals));
      if (spec.options.count(key)) {
        throw Error("plugin '" + spec.name + "': option '" + key + "' is given twice");
      }
      spec.options[key] = trim(item.substr(equals + 1));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return spec;
}

std::string PluginSpec::to_string() const {
  std::string text = name;
  char separator = ':';
  for (const auto& [key, value] : options) {
    text += separator + key + "=" + value;
    separator = ',';
  }
  return text;
}

}  // namespace fulgur
