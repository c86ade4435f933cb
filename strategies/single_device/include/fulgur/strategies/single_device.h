// single_device: the strategy of one process on one device, as a plugin. A run without any
// strategy behaves the same; naming it (--strategy single_device) makes the choice explicit and
// gives plugins a Strategy to talk to whatever the run is (its collectives do nothing).
#pragma once

#include "fulgur/options.h"

namespace fulgur::strategies {

struct SingleDeviceOptions : DeclaredOptions<SingleDeviceOptions> {
  FULGUR_OPTIONS_OF("single_device");
};

}  // namespace fulgur::strategies
