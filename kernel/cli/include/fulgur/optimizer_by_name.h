// Optimizers and learning-rate schedulers named in a config, as LightningCLI's optimizer: and
// lr_scheduler: sections give them to a Module that does not write configure_optimizers:
//
//   optimizer:
//     class_path: torch.optim.AdamW          # or AdamW, or adamw
//     init_args: {lr: 0.001, weight_decay: 0.05}
//   lr_scheduler:
//     class_path: torch.optim.lr_scheduler.StepLR
//     init_args: {step_size: 10, gamma: 0.5}
//
// Optimizers: Adam, AdamW, SGD, RMSprop, Adagrad (LibTorch's, PyTorch's argument names and
// defaults). Schedulers: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, PolynomialLR and
// ReduceLROnPlateau (with LightningCLI's `monitor`), stepped once per epoch as Lightning does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fulgur/hparam_spec.h"
#include "fulgur/optimizer_config.h"

namespace fulgur {
class Module;
}

namespace fulgur::cli {

/// A class chosen by name with its resolved arguments.
struct NamedClass {
  std::string name;  // the canonical name: "Adam", "StepLR"
  HParams args;
};

/// The canonical name `name` means ("torch.optim.adam" -> "Adam"); throws fulgur::Error listing
/// the names there are and the nearest.
std::string optimizer_name(const std::string& name);
std::string lr_scheduler_name(const std::string& name);
/// The arguments the class `name` (any spelling optimizer_name takes) takes, with PyTorch's defaults.
const HParamSpecs& optimizer_hparams(const std::string& name);
const HParamSpecs& lr_scheduler_hparams(const std::string& name);

/// What configure_optimizers returns for `module`: the optimizer over its parameters and, when
/// given, the scheduler driving it (both named canonically, as optimizer_name gives them).
OptimizerConfig build_optimizers(Module& module, const NamedClass& optimizer,
                                 const std::optional<NamedClass>& lr_scheduler);

}  // namespace fulgur::cli
