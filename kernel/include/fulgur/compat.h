// The few places where LibTorch 1.13 (Debian) and LibTorch 2.x differ, in one header.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/version.h>
#include <ATen/Context.h>

namespace fulgur::compat {

/// Drops every gradient (set_to_none), which is what Lightning does and saves a memset per
/// parameter. LibTorch 1.13's Optimizer::zero_grad() only zeroes in place.
inline void zero_grad(torch::optim::Optimizer& optimizer) {
#if TORCH_VERSION_MAJOR >= 2
  optimizer.zero_grad(/*set_to_none=*/true);
#else
  for (auto& group : optimizer.param_groups()) {
    for (auto& parameter : group.params()) {
      parameter.mutable_grad().reset();
    }
  }
#endif
}

/// torch.use_deterministic_algorithms(enabled).
inline void use_deterministic_algorithms(bool enabled) {
  at::globalContext().setDeterministicAlgorithms(enabled, /*warn_only=*/false);
}

}  // namespace fulgur::compat
