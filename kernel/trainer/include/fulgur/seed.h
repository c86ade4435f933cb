// Lightning's seed_everything: one call before building the model makes weights, dropout and
// LibTorch samplers repeat from run to run. (TensorDataLoader shuffles from its own seed.)
#pragma once

#include <cstdint>

#include <torch/utils.h>

namespace fulgur {

inline void seed_everything(uint64_t seed) { torch::manual_seed(seed); }

}  // namespace fulgur
