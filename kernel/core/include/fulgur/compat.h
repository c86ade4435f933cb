// The few places where LibTorch 1.13 (Debian) and LibTorch 2.x differ, in one header (the
// distributed one is the ddp strategy's: strategies/ddp/process_group_backend.h).
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/version.h>
#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>

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

/// Whether autocast is on for `device`.
inline bool autocast_enabled(c10::DeviceType device) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

/// Turns autocast on or off for `device` with `dtype` as its low precision, entering or leaving
/// one autocast region (the weight-cast cache is cleared when the last region ends, as
/// torch.autocast does). LibTorch 2.4 replaced the per-device setters with device-type ones.
inline void set_autocast(c10::DeviceType device, bool enabled, at::ScalarType dtype) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_dtype(device, dtype);
  at::autocast::set_autocast_enabled(device, enabled);
#else
  if (device == c10::DeviceType::CUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
  if (enabled) {
    at::autocast::increment_nesting();
  } else if (at::autocast::decrement_nesting() == 0) {
    at::autocast::clear_cache();
  }
}

/// Multiplies every tensor in place by a one-element tensor, without reading it on the host:
/// one _foreach_ launch on LibTorch 2.x (which takes the factor as a tensor), a loop on 1.13.
inline void foreach_mul_(at::TensorList tensors, const at::Tensor& factor) {
#if TORCH_VERSION_MAJOR >= 2
  at::_foreach_mul_(tensors, factor);
#else
  for (const auto& tensor : tensors) tensor.mul_(factor);  // mul_ is a const member of Tensor
#endif
}

/// The p-norm of each tensor, in one _foreach_ launch (both LibTorch versions have it).
inline std::vector<at::Tensor> foreach_norm(at::TensorList tensors, double p) { return at::_foreach_norm(tensors, p); }

}  // namespace fulgur::compat
