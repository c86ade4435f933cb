// Broken on purpose: its factory throws.
#include <stdexcept>

#include "fulgur/plugin_export.h"

namespace {
std::unique_ptr<fulgur::Plugin> make(const fulgur::PluginOptions&) {
  throw std::runtime_error("cannot start: the weather is bad");
}
}  // namespace

FULGUR_EXPORT_PLUGIN(make)
