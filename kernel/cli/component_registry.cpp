#include "fulgur/component_registry.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <boost/dll/shared_library.hpp>
#include <spdlog/spdlog.h>

#include "elf_symbol_reader.h"
#include "fulgur/error.h"
#include "fulgur/plugin_host.h"
#include "nearest_name.h"

namespace fulgur::cli {
namespace {

namespace fs = std::filesystem;

// "digits::DigitsNet" is also "digits.DigitsNet" (Python's spelling) and "DigitsNet".
std::string dotted(std::string name) {
  for (std::size_t at = name.find("::"); at != std::string::npos; at = name.find("::", at + 1))
    name.replace(at, 2, ".");
  return name;
}

std::string last_part(const std::string& name) {
  const auto dot = dotted(name).find_last_of('.');
  return dot == std::string::npos ? name : dotted(name).substr(dot + 1);
}

// Module libraries stay loaded until the process ends: the registry holds functions of theirs,
// and their static objects may be destroyed only after every such function is gone.
std::vector<boost::dll::shared_library>& loaded_libraries() {
  static auto* libraries = new std::vector<boost::dll::shared_library>();
  return *libraries;
}

template <typename Class>
std::vector<std::string> names_of(const std::deque<Class>& classes) {
  std::vector<std::string> names;
  for (const auto& entry : classes) names.push_back(entry.name);
  return names;
}

}  // namespace

ComponentRegistry& ComponentRegistry::instance() {
  // Never destroyed: registrations run from static initializers of programs and libraries.
  static auto* registry = new ComponentRegistry();
  return *registry;
}

namespace {

// A second class by a name keeps the first, and is reported once libraries are loaded.
template <typename Class>
void add_unique(std::deque<Class>& classes, Class entry, std::vector<std::string>& duplicates) {
  for (const auto& known : classes) {
    if (known.name == entry.name) {
      duplicates.push_back(entry.name);
      return;
    }
  }
  classes.push_back(std::move(entry));
}

}  // namespace

void ComponentRegistry::add(ModuleClass module_class) { add_unique(modules_, std::move(module_class), duplicates_); }

void ComponentRegistry::add(DataModuleClass data_class) {
  add_unique(data_modules_, std::move(data_class), duplicates_);
}

template <typename Class>
const Class* ComponentRegistry::find(const std::deque<Class>& classes, const std::string& name) const {
  for (const auto& entry : classes) {
    if (entry.name == name || dotted(entry.name) == dotted(name)) return &entry;
  }
  const Class* only = nullptr;
  for (const auto& entry : classes) {
    if (last_part(entry.name) != last_part(name)) continue;
    if (only) {
      throw Error("'" + name + "' names both " + only->name + " and " + entry.name + ": give the whole name");
    }
    only = &entry;
  }
  return only;
}

void ComponentRegistry::load_libraries(const std::vector<std::string>& search_path) {
  for (const auto& dir : search_path) {
    std::error_code error;
    if (!fs::is_directory(dir, error)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      if (entry.path().extension() == ".so") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const std::string path = fs::weakly_canonical(file, error).string();
      if (std::find(loaded_files_.begin(), loaded_files_.end(), path) != loaded_files_.end()) continue;
      // Read without loading: only libraries that say they hold Modules are opened, so a plugin
      // folder's plugins are left alone.
      std::optional<std::string> tag;
      try {
        tag = fulgur::detail::read_exported_string(path, "fulgur_modules_abi");
      } catch (const std::exception&) {
        continue;  // not an ELF library this reader understands: not a module library either
      }
      if (!tag) continue;
      loaded_files_.push_back(path);
      if (*tag != PluginHost::abi_tag()) {
        skipped_files_.push_back(path + ": built for ABI '" + *tag + "', this fulgur is '" + PluginHost::abi_tag() +
                                 "'");
        spdlog::warn("module library '{}' skipped: built for ABI '{}', this fulgur is '{}'", path, *tag,
                     PluginHost::abi_tag());
        continue;
      }
      try {
        loaded_libraries().emplace_back(path);
      } catch (const std::exception& failure) {
        skipped_files_.push_back(path + ": " + failure.what());
        spdlog::warn("module library '{}' could not be loaded: {}", path, failure.what());
      }
    }
  }
  for (const auto& name : duplicates_) {
    spdlog::warn("the class '{}' is registered twice (in the program and a module library?): the first one is used",
                 name);
  }
  duplicates_.clear();
}

namespace {

template <typename Class>
[[noreturn]] void not_found(const char* what, const std::string& name, const std::deque<Class>& classes,
                            const std::vector<std::string>& search_path, const std::vector<std::string>& skipped) {
  std::vector<std::string> names = names_of(classes);
  std::string message = std::string("no ") + what + " named '" + name + "'";
  if (!names.empty()) {
    std::vector<std::string> short_names;
    for (const auto& known : names) short_names.push_back(last_part(known));
    message += "; did you mean '" + nearest_name(last_part(name), short_names) + "'? (registered:";
    for (const auto& known : names) message += " " + known;
    message += ")";
  }
  message += ". Module libraries were looked for in:";
  for (const auto& dir : search_path) message += "\n  " + dir;
  for (const auto& reason : skipped) message += "\nskipped " + reason;
  throw Error(message);
}

}  // namespace

const ModuleClass& ComponentRegistry::module(const std::string& name, const std::vector<std::string>& search_path) {
  if (const auto* found = find(modules_, name)) return *found;
  load_libraries(search_path);
  if (const auto* found = find(modules_, name)) return *found;
  not_found("Module", name, modules_, search_path, skipped_files_);
}

const DataModuleClass& ComponentRegistry::data_module(const std::string& name,
                                                      const std::vector<std::string>& search_path) {
  if (const auto* found = find(data_modules_, name)) return *found;
  load_libraries(search_path);
  if (const auto* found = find(data_modules_, name)) return *found;
  not_found("DataModule", name, data_modules_, search_path, skipped_files_);
}

bool ComponentRegistry::knows_module(const std::string& name) const {
  return std::any_of(modules_.begin(), modules_.end(), [&](const auto& entry) { return entry.name == name; });
}

bool ComponentRegistry::knows_data_module(const std::string& name) const {
  return std::any_of(data_modules_.begin(), data_modules_.end(), [&](const auto& entry) { return entry.name == name; });
}

std::vector<std::string> ComponentRegistry::module_names() const { return names_of(modules_); }
std::vector<std::string> ComponentRegistry::data_module_names() const { return names_of(data_modules_); }

}  // namespace fulgur::cli
