#include "fulgur/plugin_host.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "elf_symbol_reader.h"

#ifndef FULGUR_DEFAULT_PLUGIN_DIR
#define FULGUR_DEFAULT_PLUGIN_DIR ""
#endif
#ifndef FULGUR_BUILD_LIBRARY_DIR
#define FULGUR_BUILD_LIBRARY_DIR ""
#endif

namespace fulgur {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split_path_list(const char* list) {
  std::vector<std::string> parts;
  if (!list) return parts;
  std::stringstream stream(list);
  std::string part;
  while (std::getline(stream, part, ':')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

}  // namespace

LoadedPlugin::LoadedPlugin(std::shared_ptr<void> library, std::unique_ptr<Plugin> plugin)
    : library_(std::move(library)), plugin_(std::move(plugin)) {}

LoadedPlugin::~LoadedPlugin() {
  plugin_.reset();  // disconnect and destroy while the code is still mapped
  library_.reset();
}

LoadedPlugin& LoadedPlugin::operator=(LoadedPlugin&& other) noexcept {
  if (this != &other) {
    plugin_.reset();
    library_ = std::move(other.library_);
    plugin_ = std::move(other.plugin_);
  }
  return *this;
}

const char* PluginHost::abi_tag() { return FULGUR_PLUGIN_ABI_TAG; }

PluginHost::PluginHost(std::vector<std::string> extra_dirs) {
  auto add = [this](const std::string& dir) {
    if (dir.empty()) return;
    for (const auto& known : search_path_) {
      if (known == dir) return;
    }
    search_path_.push_back(dir);
  };
  for (const auto& dir : extra_dirs) add(dir);
  for (const auto& dir : split_path_list(std::getenv("FULGUR_PLUGIN_PATH"))) add(dir);
  // Installed: <prefix>/lib/libfulgur.so finds <prefix>/lib/fulgur/plugins beside it.
  std::error_code ignored;
  const auto library_dir = boost::dll::this_line_location().parent_path();
  const auto installed = library_dir / "fulgur" / "plugins";
  if (fs::is_directory(installed, ignored)) add(installed.string());
  // Built: the build tree's plugins folder, only for the library that is still in the build tree
  // (an installed copy must not pick up whatever a later build leaves there).
  if (fs::equivalent(library_dir.string(), FULGUR_BUILD_LIBRARY_DIR, ignored)) add(FULGUR_DEFAULT_PLUGIN_DIR);
}

std::string PluginHost::find(const std::string& name) const {
  for (const auto& dir : search_path_) {
    const fs::path candidate = fs::path(dir) / (name + ".so");
    std::error_code ignored;
    if (fs::is_regular_file(candidate, ignored)) return candidate.string();
  }
  std::string searched;
  for (const auto& dir : search_path_) searched += "\n  " + dir;
  if (searched.empty()) searched = " (none)";
  throw PluginError("plugin '" + name + "' not found: no " + name + ".so in the plugin folders:" + searched +
                    "\nAdd a folder with --plugin-dir or FULGUR_PLUGIN_PATH.");
}

LoadedPlugin PluginHost::load(const PluginSpec& spec) const {
  return load_file(find(spec.name), spec.options, spec.name);
}

LoadedPlugin PluginHost::load_file(const std::string& path, const PluginOptions& options,
                                   const std::string& expected_name) {
  std::error_code exists_error;
  if (!fs::is_regular_file(path, exists_error)) {
    throw PluginError("cannot load plugin '" + path + "': no such file");
  }
  // The tag is read from the file itself: a plugin built for another ABI never runs any code here.
  const auto tag = detail::read_exported_string(path, "fulgur_plugin_abi");
  if (!tag) {
    throw PluginError("'" + path + "' is not a fulgur plugin: it exports no fulgur_plugin_abi tag " +
                      "(build it with FULGUR_EXPORT_PLUGIN)");
  }
  if (*tag != abi_tag()) {
    throw PluginError("plugin '" + path + "' was built for ABI '" + *tag + "' but this fulgur is '" + abi_tag() +
                      "'; rebuild the plugin against this installation");
  }

  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    // rtld_now: an unresolved symbol fails here, with its name, instead of crashing later.
    library->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& error) {
    throw PluginError("cannot load plugin '" + path + "': " + error.what());
  }
  if (!library->has("fulgur_create_plugin")) {
    throw PluginError("plugin '" + path + "' exports no factory (fulgur_create_plugin); " +
                      "export one with FULGUR_EXPORT_PLUGIN");
  }
  auto& factory = library->get_alias<PluginFactory>("fulgur_create_plugin");
  std::unique_ptr<Plugin> plugin;
  const std::string label = expected_name.empty() ? path : expected_name;
  try {
    plugin = factory(options);
  } catch (const std::exception& error) {
    // Option errors already start with the plugin's name ("plugin 'ema': option ..."); others get it.
    const std::string what = error.what();
    const std::string prefix = "plugin '" + label + "': ";
    throw PluginError(what.rfind(prefix, 0) == 0 ? what : prefix + what);
  } catch (...) {
    throw PluginError("plugin '" + label + "': its factory threw something that is not a std::exception");
  }
  if (!plugin) throw PluginError("plugin '" + label + "': its factory returned no plugin");
  if (!expected_name.empty() && plugin->name() != expected_name) {
    throw PluginError("'" + path + "' provides plugin '" + plugin->name() + "', not '" + expected_name + "'");
  }
  return LoadedPlugin(std::move(library), std::move(plugin));
}

}  // namespace fulgur
