#include "fulgur/data_module.h"

#include <typeinfo>

#include <boost/core/demangle.hpp>

namespace fulgur {

std::string DataModule::name() const {
  std::string full = boost::core::demangle(typeid(*this).name());
  // Lightning keys the state by the class's own name; drop namespaces (and template arguments' colons stay).
  const auto template_start = full.find('<');
  const auto last_colon = full.rfind("::", template_start);
  return last_colon == std::string::npos ? full : full.substr(last_colon + 2);
}

// DataModule's destructor lets go of its Trainer beside Trainer::attach and forget, in the
// trainer's area (connectors/run_connector.cpp): the data area does not know the Trainer.

}  // namespace fulgur
