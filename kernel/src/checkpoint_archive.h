// The container of a .ckpt file: a zip archive of stored (uncompressed) records, one pickle
// (data.pkl) and one record per tensor storage, as LibTorch's pickler and Python's torch.save
// write it. LibTorch's reader neither checks the records' CRC-32 nor (in 1.13) understands every
// opcode Python's pickler writes; these two helpers close those gaps before the file is unpickled.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace fulgur::detail {

/// Checks the archive's structure and every stored record's CRC-32. Throws fulgur::Error naming
/// `path` and the damaged record: a changed byte anywhere in a tensor is an error, not a weight.
void verify_checkpoint_archive(const std::vector<char>& bytes, const std::string& path);

/// Python's pickler writes a one-item dict as SETITEM and a one-item list as APPEND, opcodes that
/// LibTorch 1.13's unpickler lacks (so a checkpoint re-saved by Python's torch.save fails there).
/// Returns the archive with its data.pkl rewritten to the equivalent MARK ... SETITEMS / APPENDS,
/// or nullopt when the pickle has neither opcode (or holds opcodes this rewriter does not know).
std::optional<std::vector<char>> rewrite_single_item_opcodes(const std::vector<char>& bytes);

}  // namespace fulgur::detail
