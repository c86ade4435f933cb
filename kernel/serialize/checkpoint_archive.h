// Reading and writing torch.save / LibTorch pickle archives (.ckpt, .pt): the file is read,
// its zip container verified (zip_archive.h), and what LibTorch 1.13 cannot read rewritten
// (pickle_rewriter.h) after every pickle in it is scanned (pickle_scanner.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <ATen/core/ivalue.h>

namespace fulgur::detail {

/// Reads (regular_file.h), verifies and unpickles a torch.save / LibTorch pickle archive.
c10::IValue read_pickle_archive(const std::string& path, const std::string& what);

/// Unpickles an archive in memory: its zip records verified (zip_archive.h), its pickle scanned
/// (pickle_scanner.h: no length, memo index, nesting, storage or tensor view reaches outside the
/// file's own bytes), what LibTorch 1.13 cannot read rewritten (pickle_rewriter.h) and scanned
/// again. Every failure is a fulgur::Error naming `what` and `path`.
c10::IValue unpickle_archive(const std::vector<char>& bytes, const std::string& path, const std::string& what);

/// The same checks for an archive torch::serialize::OutputArchive wrote (a TorchScript module
/// holding an optimizer's state), before torch::serialize::InputArchive loads it: no TorchScript
/// methods, no deep brackets in its code, every pickle scanned.
void verify_torchscript_archive(const std::vector<char>& bytes, const std::string& path, const std::string& what);

/// The archive torch::pickle_save writes, without its TorchScript type tags: LibTorch wraps each
/// dict and list in torch.jit._pickle.restore_type_tag, a global that Python's
/// torch.load(weights_only=True) (the default since PyTorch 2.6, and Lightning's) refuses. Plain
/// dicts and lists load in Python and in LibTorch alike.
std::vector<char> write_pickle_archive(const c10::IValue& value);

}  // namespace fulgur::detail
