// Broken on purpose: its factory throws something that is not a std::exception.
#include "fulgur/plugin_export.h"

namespace {
std::unique_ptr<fulgur::Plugin> make(const fulgur::PluginOptions&) { throw 7; }
}  // namespace

FULGUR_EXPORT_PLUGIN(make)
