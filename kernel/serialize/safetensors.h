// The safetensors format (Hugging Face's): an 8-byte little-endian header length, a JSON header
// naming each tensor's dtype, shape and byte range, then the tensors' bytes, little-endian and
// contiguous. Python's safetensors.torch.save_file / load_file read and write the same files.
#pragma once

#include <string>
#include <vector>

#include "fulgur/checkpoint.h"

namespace fulgur::detail {

/// The file's tensors by name; throws fulgur::Error naming the path and what is malformed.
StateDict read_safetensors(const std::vector<char>& bytes, const std::string& path);
/// The file's bytes for `tensors` (each moved to the CPU and made contiguous).
std::string write_safetensors(const StateDict& tensors);

}  // namespace fulgur::detail
