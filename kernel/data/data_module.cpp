#include "fulgur/data_module.h"

#include <typeinfo>

#include <boost/core/demangle.hpp>

#include "fulgur/trainer.h"

namespace fulgur {

std::string DataModule::name() const {
  std::string full = boost::core::demangle(typeid(*this).name());
  // Lightning keys the state by the class's own name; drop namespaces (and template arguments' colons stay).
  const auto template_start = full.find('<');
  const auto last_colon = full.rfind("::", template_start);
  return last_colon == std::string::npos ? full : full.substr(last_colon + 2);
}

DataModule::~DataModule() {
  if (trainer_) trainer_->forget(*this);
}

}  // namespace fulgur
