// Include in exactly one source file of a plugin library, then export its factory:
//
//   std::unique_ptr<fulgur::Plugin> make_hook_trace(const fulgur::PluginOptions& options) { ... }
//   FULGUR_EXPORT_PLUGIN(make_hook_trace)
//
// The macro exports the factory under the alias the host looks for (Boost.DLL) and an
// extern "C" ABI tag the host compares with its own before calling anything in the plugin.
#pragma once

#include <boost/dll/alias.hpp>
#include <torch/version.h>

#include "fulgur/plugin.h"

#define FULGUR_PLUGIN_STRINGIFY_(x) #x
#define FULGUR_PLUGIN_STRINGIFY(x) FULGUR_PLUGIN_STRINGIFY_(x)

/// The ABI tag of the code being compiled; the host builds the same string for itself.
#define FULGUR_PLUGIN_ABI_TAG                                                                        \
  "fulgur-plugin-1;torch-" FULGUR_PLUGIN_STRINGIFY(TORCH_VERSION_MAJOR) "." FULGUR_PLUGIN_STRINGIFY( \
      TORCH_VERSION_MINOR) ";cxx11abi-" FULGUR_PLUGIN_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)

#define FULGUR_EXPORT_PLUGIN(factory)                                                    \
  extern "C" BOOST_SYMBOL_EXPORT const char fulgur_plugin_abi[] = FULGUR_PLUGIN_ABI_TAG; \
  BOOST_DLL_ALIAS(factory, fulgur_create_plugin)
