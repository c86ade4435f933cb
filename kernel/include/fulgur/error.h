// The one exception type fulgur throws for anything a user can fix: a wrong option, a missing
// plugin, a step that returned no loss. Its message names the problem and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace fulgur {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A plugin that cannot be found, loaded or constructed.
class PluginError : public Error {
 public:
  using Error::Error;
};

}  // namespace fulgur
