// Reading one entry of a checkpoint dictionary, checked: a missing entry, one of another type or
// a negative count is an error naming the file and the key, never a crash deep in the loop.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/List.h>
#include <ATen/core/Tensor.h>

#include "fulgur/checkpoint.h"

namespace fulgur::detail {

/// A count of epochs, batches or steps: an integer >= 0.
int64_t count_entry(const StateDict& dict, const char* key, const std::string& path);
std::string text_entry(const StateDict& dict, const char* key, const std::string& path);
StateDict dict_entry(const StateDict& dict, const char* key, const std::string& path);
c10::List<c10::IValue> list_entry(const StateDict& dict, const char* key, const std::string& path);
/// `rng_states.torch`, the CPU generator's state, checked by loading it into a throwaway
/// generator; undefined when the checkpoint holds none.
at::Tensor generator_state_entry(const Checkpoint& checkpoint, const std::string& path);

}  // namespace fulgur::detail
