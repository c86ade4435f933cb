// Reading a file fulgur was asked to load (a checkpoint, weights, a sample), as a whole and only
// as what it is: a regular file of the size it has. A link to /dev/zero, a FIFO or a device
// would otherwise be read until memory runs out, or block for ever.
#pragma once

#include <string>
#include <vector>

namespace fulgur::detail {

/// The bytes of the regular file at `path` (links followed). A folder, a missing or unreadable
/// file, anything that is not a regular file, one that shrinks while it is read, or (unless
/// `allow_empty`) an empty one is a fulgur::Error naming `what` ("checkpoint") and `path`.
std::vector<char> read_regular_file(const std::string& path, const std::string& what, bool allow_empty = false);

}  // namespace fulgur::detail
