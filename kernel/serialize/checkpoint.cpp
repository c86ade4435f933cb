#include "fulgur/checkpoint.h"

#include <new>

#include <torch/serialize.h>

#include "fulgur/atomic_write.h"
#include "fulgur/error.h"
#include "checkpoint_archive.h"

namespace fulgur {

StateDict make_state_dict() { return StateDict(c10::StringType::get(), c10::AnyType::get()); }

StateDict plugin_state(Checkpoint& checkpoint, const std::string& name) {
  if (!checkpoint.contains("callbacks")) checkpoint.insert("callbacks", make_state_dict());
  auto callbacks = checkpoint.at("callbacks").toGenericDict();
  if (!callbacks.contains(name)) callbacks.insert(name, make_state_dict());
  return callbacks.at(name).toGenericDict();
}

bool has_plugin_state(const Checkpoint& checkpoint, const std::string& name) {
  return checkpoint.contains("callbacks") && checkpoint.at("callbacks").isGenericDict() &&
         checkpoint.at("callbacks").toGenericDict().contains(name);
}

void write_checkpoint(const Checkpoint& checkpoint, const std::string& path) {
  std::vector<char> bytes;
  try {
    bytes = detail::write_pickle_archive(c10::IValue(checkpoint));
  } catch (const std::bad_alloc&) {
    throw Error("cannot write checkpoint '" + path +
                "': out of memory while building it (the previous checkpoint "
                "there is kept)");
  }
  write_file_atomically(path, std::string_view(bytes.data(), bytes.size()), "checkpoint");
}

Checkpoint read_model_checkpoint(const std::string& path) {
  const c10::IValue value = detail::read_pickle_archive(path, "checkpoint");
  if (!value.isGenericDict())
    throw Error("checkpoint '" + path + "' holds a " + value.tagKind() + ", not a dictionary");
  auto checkpoint = value.toGenericDict();
  if (!checkpoint.contains("state_dict") || !checkpoint.at("state_dict").isGenericDict()) {
    throw Error("checkpoint '" + path + "' has no 'state_dict' dictionary of weights");
  }
  return checkpoint;
}

Checkpoint read_checkpoint(const std::string& path) {
  auto checkpoint = read_model_checkpoint(path);
  if (!checkpoint.contains("fulgur_version") && checkpoint.contains("pytorch-lightning_version")) {
    throw Error("checkpoint '" + path + "' was written by Lightning " +
                checkpoint.at("pytorch-lightning_version").toStringRef() +
                ": fulgur loads its weights and hyper-parameters (load_from_checkpoint, load_weights) but does not "
                "resume Lightning's optimizer and loop state; start a new fit from the loaded Module");
  }
  for (const char* key : {"fulgur_version", "state_dict", "loops", "epoch", "global_step"}) {
    if (!checkpoint.contains(key)) {
      throw Error("checkpoint '" + path + "' has no '" + key + "' entry; it is not a fulgur checkpoint");
    }
  }
  return checkpoint;
}

}  // namespace fulgur
