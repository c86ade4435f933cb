// The digits classes as a module library (digits_modules.so, in the plugin folder), so that the
// `fulgur` command runs them without a main of its own:
//
//   build/bin/fulgur fit --model DigitsNet --data DigitsDataModule --trainer.max_epochs 3
//   build/bin/fulgur fit --config examples/digits/config.yaml
#include "digits_data.h"
#include "digits_net.h"
#include "fulgur/component_registry.h"

FULGUR_REGISTER_MODULE(digits::DigitsNet)
FULGUR_REGISTER_DATAMODULE(digits::DigitsDataModule)
FULGUR_EXPORT_MODULES()
