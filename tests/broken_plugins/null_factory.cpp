// Broken on purpose: its factory returns no plugin.
#include "fulgur/plugin_export.h"

namespace {
std::unique_ptr<fulgur::Plugin> make(const fulgur::PluginOptions&) { return nullptr; }
}  // namespace

FULGUR_EXPORT_PLUGIN(make)
