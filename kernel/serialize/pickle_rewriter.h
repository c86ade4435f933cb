// What Python's pickler writes and LibTorch 1.13's unpickler cannot read, rewritten into what
// it reads with the same meaning.
#pragma once

#include <optional>
#include <vector>

namespace fulgur::detail {

/// What Python's pickler writes and LibTorch 1.13's unpickler cannot read: a one-item dict or list
/// (SETITEM, APPEND: a checkpoint re-saved by Python's torch.save) and collections.OrderedDict
/// (Python's model.state_dict(), which LibTorch turns into None). Returns the archive with its
/// data.pkl rewritten to equivalents it reads (MARK ... SETITEMS / APPENDS, plain dicts), or
/// nullopt when there is nothing to rewrite (or opcodes this rewriter does not know).
std::optional<std::vector<char>> rewrite_for_libtorch(const std::vector<char>& bytes);

}  // namespace fulgur::detail
