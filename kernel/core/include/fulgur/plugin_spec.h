// A plugin named with its options, as a user writes it: "hook_trace:path=trace.txt,flush=true".
#pragma once

#include <map>
#include <string>

namespace fulgur {

/// Options a plugin receives as text; each plugin validates and converts its own keys.
using PluginOptions = std::map<std::string, std::string>;

struct PluginSpec {
  std::string name;
  PluginOptions options;

  /// Parses "NAME" or "NAME:key=value,key=value". Throws fulgur::Error on a malformed spec.
  static PluginSpec parse(const std::string& text);
  std::string to_string() const;
};

}  // namespace fulgur
