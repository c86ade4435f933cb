// The two-input classes as a module library (multi_input_modules.so) for the `fulgur` command.
#include "fulgur/component_registry.h"
#include "two_inputs.h"

FULGUR_REGISTER_MODULE(multi_input::TwoInputNet)
FULGUR_REGISTER_DATAMODULE(multi_input::DigitHalves)
FULGUR_EXPORT_MODULES()
