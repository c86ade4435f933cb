#include "checkpoint_archive.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/serialize.h>
#include <caffe2/serialize/inline_container.h>

#include "fulgur/error.h"
#include "pickle_rewriter.h"
#include "zip_archive.h"

namespace fulgur::detail {


std::vector<char> read_whole_file(const std::string& path, const std::string& what) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    throw Error(what + " path '" + path + "' is a folder, not a " + what + " file; name a file inside it");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error("cannot read " + what + " '" + path + "': " + std::strerror(errno));
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw Error(what + " '" + path + "' is empty");
  return bytes;
}

c10::IValue read_pickle_archive(const std::string& path, const std::string& what) {
  const std::vector<char> bytes = read_whole_file(path, what);
  verify_archive(bytes, path, what);
  try {
    return torch::pickle_load(bytes);
  } catch (const c10::Error& error) {
    // What Python's pickler wrote and LibTorch 1.13 cannot read loads once rewritten.
    std::optional<std::vector<char>> rewritten;
    try {
      rewritten = rewrite_for_libtorch(bytes);
    } catch (const std::exception&) {
    }
    if (rewritten) {
      try {
        return torch::pickle_load(*rewritten);
      } catch (const std::exception&) {
      }
    }
    throw Error(what + " '" + path + "' cannot be unpickled (" + std::to_string(bytes.size()) +
                " bytes; its zip records are intact, so it was written by something other than fulgur or "
                "torch.save, or holds objects LibTorch cannot rebuild): " + error.what_without_backtrace());
  }
}

std::vector<char> write_pickle_archive(const c10::IValue& value) {
  std::vector<char> pickle;
  torch::jit::Pickler pickler(
      [&pickle](const char* data, std::size_t size) { pickle.insert(pickle.end(), data, data + size); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
      /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> archive;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&archive](const void* data, std::size_t size) {
      archive.insert(archive.end(), static_cast<const char*>(data), static_cast<const char*>(data) + size);
      return size;
    });
    torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
    writer.writeEndOfFile();
  }
  return archive;
}

}  // namespace fulgur::detail
