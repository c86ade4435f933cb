#include "safetensors.h"

#include <cstring>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fulgur/error.h"

namespace fulgur::detail {
namespace {

const std::map<std::string, torch::ScalarType>& dtypes() {
  static const std::map<std::string, torch::ScalarType> table = {
      {"F64", torch::kDouble}, {"F32", torch::kFloat}, {"F16", torch::kHalf}, {"BF16", torch::kBFloat16},
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

StateDict read_safetensors(const std::vector<char>& bytes, const std::string& path) {
  auto bad = [&path](const std::string& what) { return Error("safetensors file '" + path + "' is malformed: " + what); };
  if (bytes.size() < 8) throw bad("shorter than its 8-byte header length");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (header_size > bytes.size() - 8) throw bad("its header length " + std::to_string(header_size) + " runs past the file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_size));
  } catch (const std::exception& error) {
    throw bad(std::string("its JSON header does not parse: ") + error.what());
  }
  if (!header.is_object()) throw bad("its header is not a JSON object");
  const std::size_t data_start = 8 + header_size;
  const std::size_t data_size = bytes.size() - data_start;
  StateDict tensors = make_state_dict();
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      const std::string dtype = entry.at("dtype").get<std::string>();
      const auto found = dtypes().find(dtype);
      if (found == dtypes().end()) throw bad("tensor '" + name + "' has dtype " + dtype + ", which fulgur does not read");
      const auto shape = entry.at("shape").get<std::vector<int64_t>>();
      const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size) {
        throw bad("tensor '" + name + "' has byte range outside the data");
      }
      auto tensor = torch::empty(shape, torch::TensorOptions(found->second));
      const auto expected = static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
      if (offsets[1] - offsets[0] != expected) {
        throw bad("tensor '" + name + "' holds " + std::to_string(offsets[1] - offsets[0]) + " bytes but " + dtype + " " +
                  c10::str(tensor.sizes()) + " needs " + std::to_string(expected));
      }
      if (expected > 0) std::memcpy(tensor.data_ptr(), bytes.data() + data_start + offsets[0], expected);
      tensors.insert(name, tensor);
    } catch (const nlohmann::json::exception& error) {
      throw bad("tensor '" + name + "': " + error.what());
    }
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
    out.append(static_cast<const char*>(tensor.data_ptr()), static_cast<std::size_t>(tensor.numel()) * tensor.element_size());
  }
  return out;
}

}  // namespace fulgur::detail
