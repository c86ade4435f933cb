// The one exception type fulgur throws for anything a user can fix: a wrong option, a missing
// plugin, a step that returned no loss. Its message names the problem and what was expected.
#pragma once

#include <stdexcept>
#include <string>

#include <boost/config.hpp>

namespace fulgur {

// The destructors are defined in libfulgur (their "key function"), so the classes' vtables live
// there and not in each plugin: an Error thrown by a plugin must stay readable after the
// Trainer, and with it the plugin's library, is gone.
class BOOST_SYMBOL_VISIBLE Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  ~Error() override;
};

/// A plugin that cannot be found, loaded or constructed.
class BOOST_SYMBOL_VISIBLE PluginError : public Error {
 public:
  using Error::Error;
  ~PluginError() override;
};

}  // namespace fulgur
