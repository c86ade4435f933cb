// Writing a whole file so that a crash, a kill or a full disk leaves the old file or the new
// one, never half of either: a temporary file beside it is written, flushed to disk and
// renamed over it. Checkpoints and the loggers' rewritten files use it.
#pragma once

#include <string_view>
#include <string>

namespace fulgur {

/// How far a write goes before write_file_atomically returns.
enum class Durability {
  OnDisk,   // the file and its rename are flushed to the disk: checkpoints survive a power loss
  InPlace,  // renamed into place, the disk left to flush it: a killed process still leaves a whole
            // file, a power loss may lose the latest version (logs, as Lightning's loggers)
};

/// Replaces `path` with `bytes`, creating its folder if needed. Throws fulgur::Error that
/// starts "cannot write <what> '<path>'" and names the system's reason (no space, no
/// permission, ...); the previous file at `path` is then left as it was.
void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& what = "file",
                           Durability durability = Durability::OnDisk);

/// Appends `bytes` to `path` (created if missing), whole or not at all: a failed write (a full
/// disk, `ulimit -f`) is cut off again so the file ends where it ended, and the fulgur::Error
/// says "cannot append to <what> '<path>'" and the system's reason.
void append_to_file(const std::string& path, std::string_view bytes, const std::string& what = "file");

}  // namespace fulgur
