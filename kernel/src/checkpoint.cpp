#include "fulgur/checkpoint.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

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
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(checkpoint));
  write_file_atomically(path, std::string_view(bytes.data(), bytes.size()), "checkpoint");
}

namespace {

c10::IValue unpickle(const std::vector<char>& bytes, const std::string& path) {
  try {
    return torch::pickle_load(bytes);
  } catch (const c10::Error& error) {
    // A checkpoint that Python's torch.save re-wrote uses opcodes LibTorch 1.13 cannot read;
    // the same content in the opcodes it can read loads as written.
    std::optional<std::vector<char>> rewritten;
    try {
      rewritten = detail::rewrite_single_item_opcodes(bytes);
    } catch (const std::exception&) {
    }
    if (rewritten) {
      try {
        return torch::pickle_load(*rewritten);
      } catch (const std::exception&) {
      }
    }
    throw Error("checkpoint '" + path + "' cannot be unpickled (" + std::to_string(bytes.size()) +
                " bytes; its zip records are intact, so it was written by something other than fulgur or "
                "torch.save, or holds objects LibTorch cannot rebuild): " + error.what_without_backtrace());
  }
}

}  // namespace

Checkpoint read_checkpoint(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    throw Error("checkpoint path '" + path + "' is a folder, not a checkpoint file; name a .ckpt file inside it");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error("cannot read checkpoint '" + path + "': " + std::strerror(errno));
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw Error("checkpoint '" + path + "' is empty");
  detail::verify_checkpoint_archive(bytes, path);
  const c10::IValue value = unpickle(bytes, path);
  if (!value.isGenericDict()) throw Error("checkpoint '" + path + "' is not a dictionary, so not a fulgur checkpoint");
  auto checkpoint = value.toGenericDict();
  for (const char* key : {"fulgur_version", "state_dict", "loops", "epoch", "global_step"}) {
    if (!checkpoint.contains(key)) {
      throw Error("checkpoint '" + path + "' has no '" + key + "' entry; it is not a fulgur checkpoint");
    }
  }
  return checkpoint;
}

}  // namespace fulgur
