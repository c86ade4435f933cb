#include "checkpoint_archive.h"

#include <exception>
#include <map>
#include <optional>

#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/serialize.h>
#include <caffe2/serialize/inline_container.h>

#include "fulgur/error.h"
#include "pickle_rewriter.h"
#include "pickle_scanner.h"
#include "regular_file.h"
#include "zip_archive.h"

namespace fulgur::detail {

namespace {

// The archive's records by their name below its root folder ("data/0"), as LibTorch's reader
// finds them: the root is the folder of the first record.
std::map<std::string, const ZipRecord*> by_relative_name(const std::vector<ZipRecord>& records) {
  std::map<std::string, const ZipRecord*> found;
  if (records.empty()) return found;
  const std::string root = records.front().name.substr(0, records.front().name.find('/') + 1);
  for (const auto& record : records) {
    if (record.name.rfind(root, 0) == 0) found.emplace(record.name.substr(root.size()), &record);
  }
  return found;
}

// Every pickle of the archive (data.pkl; constants.pkl and the debug tables of a TorchScript
// archive) scanned against its records; the first problem, or nullopt.
std::optional<std::string> scan_archive(const std::vector<char>& bytes, const std::vector<ZipRecord>& records,
                                        bool torchscript) {
  const auto named = by_relative_name(records);
  std::map<std::string, uint64_t> sizes;
  for (const auto& [name, record] : named) sizes.emplace(name, record->stored_size);
  bool has_data = false;
  for (const auto& [name, record] : named) {
    const bool pickle = name.size() > 4 && name.compare(name.size() - 4, 4, ".pkl") == 0;
    const bool debug = name.size() > 10 && name.compare(name.size() - 10, 10, ".debug_pkl") == 0;
    const bool code = torchscript && name.rfind("code/", 0) == 0 && !pickle && !debug;
    if (!code && !pickle && !debug) continue;  // tensor storages: their sizes are all the scan needs
    const std::string text = record_text(bytes, *record);
    if (code) {
      // torch::serialize writes classes with attributes only; a method would be code the file
      // brings, and a deep bracket nesting would recurse in TorchScript's parser.
      if (text.find("def ") != std::string::npos) return "record '" + name + "' defines TorchScript methods";
      int depth = 0;
      for (const char c : text) {
        depth += (c == '(' || c == '[' || c == '{') ? 1 : (c == ')' || c == ']' || c == '}') ? -1 : 0;
        if (depth > 32) return "record '" + name + "' nests its brackets deeper than 32 levels";
      }
      continue;
    }
    if (name == "data.pkl") has_data = true;
    PickleScanOptions options;
    options.records = &sizes;
    options.storage_prefix = name.substr(0, name.rfind('.')) + "/";
    options.allow_torchscript_objects = torchscript;
    if (auto problem = scan_pickle(text, options)) return "record '" + name + "': " + *problem;
  }
  if (!has_data) return std::string("it has no data.pkl record");
  return std::nullopt;
}

std::string message_of(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) return c10_error->what_without_backtrace();
  return error.what();
}

}  // namespace

void verify_torchscript_archive(const std::vector<char>& bytes, const std::string& path, const std::string& what) {
  ZipPolicy policy;
  policy.compressed_code = true;
  const auto records = verify_archive(bytes, path, what, policy);
  if (auto problem = scan_archive(bytes, records, /*torchscript=*/true)) {
    throw Error(what + " '" + path + "' is refused: " + *problem + "; it is not loaded");
  }
}

c10::IValue unpickle_archive(const std::vector<char>& bytes, const std::string& path, const std::string& what) {
  const auto records = verify_archive(bytes, path, what);
  // What LibTorch reads is scanned first; what Python wrote and LibTorch 1.13 cannot read is
  // rewritten, scanned again and read.
  std::optional<std::string> problem = scan_archive(bytes, records, /*torchscript=*/false);
  std::string failure;
  if (!problem) {
    try {
      return torch::pickle_load(bytes);
    } catch (const std::exception& error) {
      failure = message_of(error);
    }
  }
  std::optional<std::vector<char>> rewritten;
  try {
    rewritten = rewrite_for_libtorch(bytes);
  } catch (const std::exception&) {
  }
  if (rewritten) {
    // What LibTorch would read is the rewritten pickle: its problem is the one to name.
    const auto rewritten_records = verify_archive(*rewritten, path, what);
    const auto rewritten_problem = scan_archive(*rewritten, rewritten_records, /*torchscript=*/false);
    if (!rewritten_problem) {
      try {
        return torch::pickle_load(*rewritten);
      } catch (const std::exception&) {
      }
    } else {
      problem = rewritten_problem;
    }
  }
  if (problem) throw Error(what + " '" + path + "' is refused: " + *problem + "; it is not loaded");
  throw Error(what + " '" + path + "' cannot be unpickled (" + std::to_string(bytes.size()) +
              " bytes; its zip records are intact, so it was written by something other than fulgur or "
              "torch.save, or holds objects LibTorch cannot rebuild): " +
              failure);
}

c10::IValue read_pickle_archive(const std::string& path, const std::string& what) {
  return unpickle_archive(read_regular_file(path, what), path, what);
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
  // Reserved at once: growing by doubling would ask for twice the weights' size.
  std::size_t expected = pickle.size() + 4096;
  for (const auto& tensor : pickler.tensorData()) expected += tensor.storage().nbytes() + 128;
  archive.reserve(expected);
  // LibTorch 1.13's writer finishes the archive in its destructor, which writes again: after an
  // allocation failed (out of memory), a second throw there would end the process during
  // unwinding. So the sink never throws: it keeps the first failure, takes nothing more, and the
  // failure is thrown once the writer is gone.
  std::exception_ptr failure;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&archive, &failure](const void* data, std::size_t size) {
      if (failure) return size;
      try {
        archive.insert(archive.end(), static_cast<const char*>(data), static_cast<const char*>(data) + size);
      } catch (...) {
        failure = std::current_exception();
        std::vector<char>().swap(archive);
      }
      return size;
    });
    torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
    writer.writeEndOfFile();
  }
  if (failure) std::rethrow_exception(failure);
  return archive;
}

}  // namespace fulgur::detail
