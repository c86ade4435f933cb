// Hyper-parameters in a checkpoint: HParams <-> the pickled dictionary under "hyper_parameters",
// with the types Python's torch.load sees (int, float, bool, str, None, list, dict).
#pragma once

#include <string>

#include <ATen/core/ivalue.h>

#include "fulgur/hparams.h"

namespace fulgur::detail {

c10::IValue to_ivalue(const HParamValue& value);
c10::IValue to_ivalue(const HParams& values);

/// Throws fulgur::Error naming `where` for a value no hyper-parameter can hold (a tensor, ...).
HParamValue hparam_from_ivalue(const c10::IValue& value, const std::string& where);
HParams hparams_from_ivalue(const c10::IValue& value, const std::string& where);

}  // namespace fulgur::detail
