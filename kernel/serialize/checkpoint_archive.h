// Reading and writing torch.save / LibTorch pickle archives (.ckpt, .pt): the file is read,
// its zip container verified (zip_archive.h), and what LibTorch 1.13 cannot read rewritten
// (pickle_rewriter.h) before it is unpickled.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <ATen/core/ivalue.h>

namespace fulgur::detail {

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

}  // namespace fulgur::detail
