// Broken on purpose: carries the ABI tag but exports no factory.
#include "fulgur/plugin_export.h"

extern "C" BOOST_SYMBOL_EXPORT const char fulgur_plugin_abi[] = FULGUR_PLUGIN_ABI_TAG;
