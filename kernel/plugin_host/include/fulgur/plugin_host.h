// Finds plugin libraries by name and loads them with Boost.DLL.
//
// Search order: the folders given in code or with --plugin-dir, then each folder of the
// FULGUR_PLUGIN_PATH environment variable (':'-separated), then <libdir>/fulgur/plugins beside
// the installed libfulgur.so, then the build tree's plugins folder. A plugin NAME lives in NAME.so.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fulgur/plugin.h"
#include "fulgur/plugin_spec.h"

namespace fulgur {

/// A plugin together with the library its code lives in. The library is released only after
/// the plugin (and so every slot it connected) is gone. Signals the plugin connected to may
/// still hold bookkeeping objects made by the plugin's code: their owner (the Trainer, for its
/// HookBus) keeps a reference to library() until those signals are destroyed.
class LoadedPlugin {
 public:
  LoadedPlugin(std::shared_ptr<void> library, std::unique_ptr<Plugin> plugin);
  ~LoadedPlugin();
  LoadedPlugin(LoadedPlugin&&) noexcept = default;
  LoadedPlugin& operator=(LoadedPlugin&&) noexcept;

  Plugin& plugin() const { return *plugin_; }
  /// The library, for owners that must keep its code mapped beyond the plugin's lifetime.
  const std::shared_ptr<void>& library() const { return library_; }
  Plugin* operator->() const { return plugin_.get(); }

 private:
  std::shared_ptr<void> library_;  // type-erased boost::dll::shared_library
  std::unique_ptr<Plugin> plugin_;
};

class PluginHost {
 public:
  /// `extra_dirs` are searched first, in order.
  explicit PluginHost(std::vector<std::string> extra_dirs = {});

  /// The folders searched, in order.
  const std::vector<std::string>& search_path() const { return search_path_; }
  /// The file that provides plugin `name`; throws PluginError listing the folders searched.
  std::string find(const std::string& name) const;
  /// Loads the library of `spec.name` and builds the plugin with `spec.options`.
  LoadedPlugin load(const PluginSpec& spec) const;
  /// Loads a plugin from an explicit file.
  static LoadedPlugin load_file(const std::string& path, const PluginOptions& options,
                                const std::string& expected_name = "");

  /// The ABI tag this host accepts.
  static const char* abi_tag();

 private:
  std::vector<std::string> search_path_;
};

}  // namespace fulgur
