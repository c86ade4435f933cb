// Broken on purpose: needs a function that no library defines.
#include "fulgur/plugin_export.h"

extern "C" int fulgur_test_function_nobody_defines();

namespace {
struct Needy : fulgur::Plugin {
  std::string name() const override { return "unresolved_symbol"; }
  void attach(fulgur::HookBus&) override { fulgur_test_function_nobody_defines(); }
};
std::unique_ptr<fulgur::Plugin> make(const fulgur::PluginOptions&) { return std::make_unique<Needy>(); }
}  // namespace

FULGUR_EXPORT_PLUGIN(make)
