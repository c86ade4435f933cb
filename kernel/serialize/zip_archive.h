// The zip container of a .pt / .ckpt file, as LibTorch's PyTorchStreamWriter and Python's
// torch.save write it: stored (uncompressed) records, one pickle (data.pkl) and one record per
// tensor storage. LibTorch's reader does not check the records' CRC-32; verify_archive does.
#pragma once

#include <string>
#include <vector>

namespace fulgur::detail {

/// Checks the archive's structure and every stored record's CRC-32. Throws fulgur::Error naming
/// the `what` ("checkpoint") at `path` and the damaged record: a changed byte anywhere in a tensor
/// is an error, not a weight.
void verify_archive(const std::vector<char>& bytes, const std::string& path, const std::string& what);

}  // namespace fulgur::detail
