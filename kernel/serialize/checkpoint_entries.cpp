#include "checkpoint_entries.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>

#include "fulgur/error.h"

namespace fulgur::detail {

// Loop counters steer what runs next: a negative one would train epochs -3...2, so each is
// checked against its range before it is used.
int64_t count_entry(const StateDict& dict, const char* key, const std::string& path) {
  if (!dict.contains(key) || !dict.at(key).isInt()) {
    throw Error("checkpoint '" + path + "': entry '" + key + "' is missing or not an integer");
  }
  const int64_t value = dict.at(key).toInt();
  if (value < 0) {
    throw Error("checkpoint '" + path + "': entry '" + key + "' is " + std::to_string(value) +
                ", but a count of epochs, batches or steps cannot be negative; the file was edited or damaged");
  }
  return value;
}

// The CPU generator's state as the checkpoint holds it, checked by a throwaway generator so a
// wrong entry is named here rather than failing deep inside the loop.
at::Tensor generator_state_entry(const Checkpoint& checkpoint, const std::string& path) {
  if (!checkpoint.contains("rng_states")) return {};
  const auto& entry = checkpoint.at("rng_states");
  if (!entry.isGenericDict()) throw Error("checkpoint '" + path + "': entry 'rng_states' is not a dictionary");
  const auto rng = entry.toGenericDict();
  if (!rng.contains("torch")) return {};
  if (!rng.at("torch").isTensor()) {
    throw Error("checkpoint '" + path +
                "': entry 'rng_states.torch' should be the CPU generator's state (a uint8 "
                "tensor) but is a " +
                rng.at("torch").tagKind());
  }
  const auto state = rng.at("torch").toTensor();
  try {
    auto probe = at::make_generator<at::CPUGeneratorImpl>();
    probe.set_state(state);
  } catch (const c10::Error& error) {
    throw Error("checkpoint '" + path + "': entry 'rng_states.torch' is not a CPU generator state (" +
                std::string(state.scalar_type() == at::kByte ? "uint8" : c10::toString(state.scalar_type())) + ", " +
                std::to_string(state.numel()) + " elements): " + error.what_without_backtrace());
  }
  return state;
}

std::string text_entry(const StateDict& dict, const char* key, const std::string& path) {
  if (!dict.contains(key) || !dict.at(key).isString()) {
    throw Error("checkpoint '" + path + "': entry '" + key + "' is missing or not a string");
  }
  return dict.at(key).toStringRef();
}

StateDict dict_entry(const StateDict& dict, const char* key, const std::string& path) {
  if (!dict.contains(key) || !dict.at(key).isGenericDict()) {
    throw Error("checkpoint '" + path + "': entry '" + key + "' is missing or not a dictionary");
  }
  return dict.at(key).toGenericDict();
}

c10::List<c10::IValue> list_entry(const StateDict& dict, const char* key, const std::string& path) {
  if (!dict.contains(key) || !dict.at(key).isList()) {
    throw Error("checkpoint '" + path + "': entry '" + key + "' is missing or not a list");
  }
  return dict.at(key).toList();
}

}  // namespace fulgur::detail
