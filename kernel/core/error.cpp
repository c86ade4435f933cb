#include "fulgur/error.h"

namespace fulgur {

Error::~Error() = default;
PluginError::~PluginError() = default;

}  // namespace fulgur
