#include "safetensors.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fulgur/error.h"

namespace fulgur::detail {
namespace {

const std::map<std::string, torch::ScalarType>& dtypes() {
  static const std::map<std::string, torch::ScalarType> table = {
      {"F64", torch::kDouble}, {"F32", torch::kFloat}, {"F16", torch::kHalf},  {"BF16", torch::kBFloat16},
      {"I64", torch::kLong},   {"I32", torch::kInt},   {"I16", torch::kShort}, {"I8", torch::kChar},
      {"U8", torch::kByte},    {"BOOL", torch::kBool}};
  return table;
}

std::string dtype_name(torch::ScalarType type) {
  for (const auto& [name, scalar] : dtypes()) {
    if (scalar == type) return name;
  }
  throw Error(std::string("safetensors has no dtype for ") + c10::toString(type));
}

}  // namespace

namespace {

// Python's safetensors refuses headers over 100 MB; a real one is a few kilobytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct TensorEntry {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

using Bad = std::function<Error(const std::string&)>;

uint64_t unsigned_integer(const nlohmann::json& value, const Bad& bad, const std::string& what) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) throw bad(what + " is negative: " + value.dump());
  throw bad(what + " is not a whole number: " + value.dump());
}

// The JSON header after the 8-byte length: a tensor named twice, or nesting deeper than a
// safetensors header has, is refused while it parses.
nlohmann::json parse_header(const std::vector<char>& bytes, uint64_t header_size, const Bad& bad) {
  std::set<std::string> names;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_size),
                                   [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
                                     if (depth > 3) throw bad("its header nests deeper than a safetensors header does");
                                     if (event == nlohmann::json::parse_event_t::key && depth == 1 &&
                                         !names.insert(parsed.get<std::string>()).second) {
                                       throw bad("tensor '" + parsed.get<std::string>() + "' is named twice");
                                     }
                                     return true;
                                   });
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {
    throw bad(std::string("its JSON header does not parse: ") + error.what());
  }
  if (!header.is_object()) throw bad("its header is not a JSON object");
  return header;
}

void check_metadata(const nlohmann::json& entry, const Bad& bad) {
  if (!entry.is_object()) throw bad("__metadata__ is not a JSON object");
  for (const auto& [key, value] : entry.items()) {
    if (!value.is_string()) throw bad("__metadata__ entry '" + key + "' is not a string");
  }
}

// One tensor's entry: a known dtype, a shape of whole non-negative numbers whose bytes fit in
// int64, and a byte range inside the data that holds exactly those bytes.
TensorEntry parse_entry(const std::string& name, const nlohmann::json& entry, uint64_t data_size, const Bad& bad) {
  if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets")) {
    throw bad("tensor '" + name + "' is not an object with dtype, shape and data_offsets");
  }
  if (!entry.at("dtype").is_string()) throw bad("tensor '" + name + "' has a dtype that is not a string");
  const std::string dtype = entry.at("dtype").get<std::string>();
  const auto found = dtypes().find(dtype);
  if (found == dtypes().end()) throw bad("tensor '" + name + "' has dtype " + dtype + ", which fulgur does not read");
  TensorEntry parsed{name, found->second};
  const auto& shape = entry.at("shape");
  if (!shape.is_array()) throw bad("tensor '" + name + "' has a shape that is not a list");
  uint64_t numel = 1;
  for (const auto& size : shape) {
    const uint64_t dim = unsigned_integer(size, bad, "tensor '" + name + "' size");
    if (dim > static_cast<uint64_t>(INT64_MAX) || (dim != 0 && numel > static_cast<uint64_t>(INT64_MAX) / dim)) {
      throw bad("tensor '" + name + "' has shape " + shape.dump() + ", more elements than any file holds");
    }
    numel *= dim;
    parsed.shape.push_back(static_cast<int64_t>(dim));
  }
  const auto itemsize = static_cast<uint64_t>(c10::elementSize(parsed.dtype));
  if (numel > static_cast<uint64_t>(INT64_MAX) / itemsize) {
    throw bad("tensor '" + name + "' has shape " + shape.dump() + ", more bytes than any file holds");
  }
  const auto& offsets = entry.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    throw bad("tensor '" + name + "' has data_offsets that are not [begin, end]");
  parsed.begin = unsigned_integer(offsets[0], bad, "tensor '" + name + "' data_offsets");
  parsed.end = unsigned_integer(offsets[1], bad, "tensor '" + name + "' data_offsets");
  if (parsed.begin > parsed.end || parsed.end > data_size) {
    throw bad("tensor '" + name + "' has byte range [" + std::to_string(parsed.begin) + ", " +
              std::to_string(parsed.end) + ") outside the " + std::to_string(data_size) + " bytes of data");
  }
  if (parsed.end - parsed.begin != numel * itemsize) {
    throw bad("tensor '" + name + "' holds " + std::to_string(parsed.end - parsed.begin) + " bytes but " + dtype + " " +
              shape.dump() + " needs " + std::to_string(numel * itemsize));
  }
  return parsed;
}

// The byte ranges tile the data exactly, as Python's safetensors requires: no overlap, no gap,
// nothing left over.
void check_tiling(const std::vector<TensorEntry>& entries, uint64_t data_size, const Bad& bad) {
  std::vector<const TensorEntry*> by_offset;
  for (const auto& entry : entries) by_offset.push_back(&entry);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  for (const TensorEntry* entry : by_offset) {
    if (entry->begin < covered) throw bad("tensor '" + entry->name + "' overlaps the bytes of another tensor");
    if (entry->begin > covered) {
      throw bad("bytes " + std::to_string(covered) + " to " + std::to_string(entry->begin) + " belong to no tensor");
    }
    covered = entry->end;
  }
  if (covered != data_size) {
    throw bad("its last " + std::to_string(data_size - covered) + " bytes of data belong to no tensor");
  }
}

}  // namespace

StateDict read_safetensors(const std::vector<char>& bytes, const std::string& path) {
  const Bad bad = [&path](const std::string& what) {
    return Error("safetensors file '" + path + "' is malformed: " + what);
  };
  if (bytes.size() < 8) throw bad("shorter than its 8-byte header length");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (header_size > bytes.size() - 8)
    throw bad("its header length " + std::to_string(header_size) + " runs past the file");
  if (header_size > kMaxHeaderBytes)
    throw bad("its header of " + std::to_string(header_size) + " bytes is over 100 MB");

  // The header is checked whole before any tensor is made.
  const nlohmann::json header = parse_header(bytes, header_size, bad);
  const std::size_t data_start = 8 + header_size;
  const uint64_t data_size = bytes.size() - data_start;
  std::vector<TensorEntry> entries;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      check_metadata(entry, bad);
    } else {
      entries.push_back(parse_entry(name, entry, data_size, bad));
    }
  }
  check_tiling(entries, data_size, bad);

  StateDict tensors = make_state_dict();
  for (const auto& entry : entries) {
    torch::Tensor tensor;
    try {
      tensor = torch::empty(entry.shape, torch::TensorOptions(entry.dtype));
    } catch (const std::exception& error) {
      throw Error("safetensors file '" + path + "': tensor '" + entry.name + "' cannot be made: " + error.what());
    }
    if (entry.end > entry.begin)
      std::memcpy(tensor.data_ptr(), bytes.data() + data_start + entry.begin, entry.end - entry.begin);
    tensors.insert(entry.name, tensor);
  }
  return tensors;
}

std::string write_safetensors(const StateDict& tensors) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<torch::Tensor> order;
  uint64_t offset = 0;
  for (const auto& entry : tensors) {
    const auto tensor = entry.value().toTensor().detach().to(torch::kCPU).contiguous();
    const auto bytes = static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
    header[entry.key().toStringRef()] = {{"dtype", dtype_name(tensor.scalar_type())},
                                         {"shape", tensor.sizes().vec()},
                                         {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    order.push_back(tensor);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);
  out += text;
  out.reserve(out.size() + offset);
  for (const auto& tensor : order) {
    out.append(static_cast<const char*>(tensor.data_ptr()),
               static_cast<std::size_t>(tensor.numel()) * tensor.element_size());
  }
  return out;
}

}  // namespace fulgur::detail
