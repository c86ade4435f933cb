#include "fulgur/atomic_write.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fulgur/error.h"

namespace fulgur {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail_write(const std::string& kind, const std::string& path, const std::string& what, int error) {
  throw Error("cannot write " + kind + " '" + path + "': " + what + ": " + std::strerror(error) +
              (fs::exists(path) ? " (the previous " + kind + " there is kept)" : ""));
}

// Closes the descriptor and removes the temporary file unless the write completed.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  int fd() const { return fd_; }
  int close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }
  void commit() { committed_ = true; }

 private:
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& kind) {
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code folder_error;
  fs::create_directories(folder, folder_error);
  if (folder_error) fail_write(kind, path, "cannot create folder '" + folder.string() + "'", folder_error.value());

  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  TemporaryFile file(temporary);
  if (file.fd() < 0) fail_write(kind, path, "cannot create '" + temporary + "'", errno);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t result = ::write(file.fd(), bytes.data() + written, bytes.size() - written);
    if (result < 0 && errno == EINTR) continue;
    if (result <= 0) fail_write(kind, path, "writing " + std::to_string(bytes.size()) + " bytes failed", result < 0 ? errno : ENOSPC);
    written += static_cast<std::size_t>(result);
  }
  if (::fsync(file.fd()) != 0) fail_write(kind, path, "flushing to disk failed", errno);
  if (file.close() != 0) fail_write(kind, path, "closing failed", errno);
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail_write(kind, path, "renaming the new file into place failed", errno);
  file.commit();
  // The rename itself must reach the disk too.
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
}

}  // namespace fulgur
