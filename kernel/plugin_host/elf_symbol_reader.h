// Reads a plugin file's ABI tag straight from its ELF symbol table, without loading it: no code of
// a plugin built for another ABI (not even its static initialisers) runs before the host refuses it.
#pragma once

#include <optional>
#include <string>

namespace fulgur::detail {

/// The NUL-terminated string the symbol `symbol` of the shared object at `path` points to, or
/// nothing if the file exports no such symbol. Throws PluginError for a file that is not a
/// 64-bit ELF shared object, or is truncated.
std::optional<std::string> read_exported_string(const std::string& path, const std::string& symbol);

}  // namespace fulgur::detail
