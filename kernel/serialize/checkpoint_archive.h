// The container of a .ckpt file: a zip archive of stored (uncompressed) records, one pickle
// (data.pkl) and one record per tensor storage, as LibTorch's pickler and Python's torch.save
// write it. LibTorch's reader neither checks the records' CRC-32 nor (in 1.13) understands every
// opcode Python's pickler writes; these two helpers close those gaps before the file is unpickled.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <ATen/core/ivalue.h>

namespace fulgur::detail {

/// Checks the archive's structure and every stored record's CRC-32. Throws fulgur::Error naming
/// the `what` ("checkpoint") at `path` and the damaged record: a changed byte anywhere in a tensor
/// is an error, not a weight.
void verify_archive(const std::vector<char>& bytes, const std::string& path, const std::string& what);

/// The whole file; a folder, a missing or an empty file is an error naming `what` and `path`.
std::vector<char> read_whole_file(const std::string& path, const std::string& what);

/// Reads, verifies and unpickles a torch.save / LibTorch pickle archive, rewriting (see below)
/// what LibTorch cannot read as Python wrote it.
c10::IValue read_pickle_archive(const std::string& path, const std::string& what);

/// The archive torch::pickle_save writes, without its TorchScript type tags: LibTorch wraps each
/// dict and list in torch.jit._pickle.restore_type_tag, a global that Python's
/// torch.load(weights_only=True) (the default since PyTorch 2.6, and Lightning's) refuses. Plain
/// dicts and lists load in Python and in LibTorch alike.
std::vector<char> write_pickle_archive(const c10::IValue& value);

/// What Python's pickler writes and LibTorch 1.13's unpickler cannot read: a one-item dict or list
/// (SETITEM, APPEND: a checkpoint re-saved by Python's torch.save) and collections.OrderedDict
/// (Python's model.state_dict(), which LibTorch turns into None). Returns the archive with its
/// data.pkl rewritten to equivalents it reads (MARK ... SETITEMS / APPENDS, plain dicts), or
/// nullopt when there is nothing to rewrite (or opcodes this rewriter does not know).
std::optional<std::vector<char>> rewrite_for_libtorch(const std::vector<char>& bytes);

}  // namespace fulgur::detail
