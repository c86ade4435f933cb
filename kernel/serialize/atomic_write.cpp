#include "fulgur/atomic_write.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "fulgur/error.h"
#include "file_size_signal.h"

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

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "host";
  std::string text(name);
  for (auto& c : text) {
    if (c == '/' || c == '-') c = '_';
  }
  return text;
}

constexpr const char* kTemporaryMark = ".fulgur-tmp-";

// "<file>.fulgur-tmp-<host>-<pid>": the writer's host and process are in the name, so a
// temporary file whose writer was killed can be told from one being written right now.
std::string temporary_name(const std::string& path, const std::string& host) {
  return path + kTemporaryMark + host + "-" + std::to_string(::getpid());
}

// Removes the temporary files that killed writers of this host left in `folder`: those whose
// process no longer exists. Nothing else is touched: not another host's, not a live writer's.
void remove_stale_temporaries(const fs::path& folder, const std::string& host) {
  const std::string mine = kTemporaryMark + host + "-";
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    const auto at = name.rfind(mine);
    if (at == std::string::npos || at == 0) continue;
    const std::string digits = name.substr(at + mine.size());
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    if (entry.is_regular_file(ignored)) fs::remove(entry.path(), ignored);
  }
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& kind,
                           Durability durability) {
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code folder_error;
  fs::create_directories(folder, folder_error);
  if (folder_error) fail_write(kind, path, "cannot create folder '" + folder.string() + "'", folder_error.value());

  const std::string host = host_name();
  remove_stale_temporaries(folder, host);
  const detail::FileSizeSignalIgnored no_silent_death;
  const std::string temporary = temporary_name(path, host);
  TemporaryFile file(temporary);
  if (file.fd() < 0) fail_write(kind, path, "cannot create '" + temporary + "'", errno);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t result = ::write(file.fd(), bytes.data() + written, bytes.size() - written);
    if (result < 0 && errno == EINTR) continue;
    if (result <= 0)
      fail_write(kind, path, "writing " + std::to_string(bytes.size()) + " bytes failed", result < 0 ? errno : ENOSPC);
    written += static_cast<std::size_t>(result);
  }
  const bool on_disk = durability == Durability::OnDisk;
  if (on_disk && ::fsync(file.fd()) != 0) fail_write(kind, path, "flushing to disk failed", errno);
  if (file.close() != 0) fail_write(kind, path, "closing failed", errno);
  if (::rename(temporary.c_str(), path.c_str()) != 0)
    fail_write(kind, path, "renaming the new file into place failed", errno);
  file.commit();
  if (!on_disk) return;
  // The rename itself must reach the disk too.
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
}

void append_to_file(const std::string& path, std::string_view bytes, const std::string& kind) {
  const detail::FileSizeSignalIgnored no_silent_death;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot append to " + kind + " '" + path + "': " + std::strerror(errno));
  const off_t before = ::lseek(fd, 0, SEEK_END);
  std::size_t written = 0;
  int error = 0;
  while (written < bytes.size()) {
    const ssize_t result = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (result < 0 && errno == EINTR) continue;
    if (result <= 0) {
      error = result < 0 ? errno : ENOSPC;
      break;
    }
    written += static_cast<std::size_t>(result);
  }
  // What a failed append wrote is cut off again: the file ends with its last whole row.
  if (error != 0 && before >= 0 && ::ftruncate(fd, before) != 0) error = error ? error : errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    throw Error("cannot append to " + kind + " '" + path + "': writing " + std::to_string(bytes.size()) +
                " bytes failed: " + std::strerror(error) + " (the file keeps its earlier rows, whole)");
  }
}

}  // namespace fulgur
