// Broken on purpose: built for another ABI. Its static initialiser would abort the process if
// the host ran any of its code before checking the tag.
#include <cstdlib>

#include "fulgur/plugin_export.h"

namespace {
const int must_not_run = [] {
  std::abort();
  return 0;
}();

std::unique_ptr<fulgur::Plugin> make(const fulgur::PluginOptions&) { return nullptr; }
}  // namespace

extern "C" BOOST_SYMBOL_EXPORT const char fulgur_plugin_abi[] = "fulgur-plugin-0;torch-0.4;cxx11abi-0";
BOOST_DLL_ALIAS(make, fulgur_create_plugin)
