#include "fulgur/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <torch/serialize.h>

#include "fulgur/error.h"

namespace fulgur {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail_write(const std::string& path, const std::string& what, int error) {
  throw Error("cannot write checkpoint '" + path + "': " + what + ": " + std::strerror(error) +
              (fs::exists(path) ? " (the previous checkpoint there is kept)" : ""));
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

StateDict make_state_dict() { return StateDict(c10::StringType::get(), c10::AnyType::get()); }

StateDict plugin_state(Checkpoint& checkpoint, const std::string& name) {
  if (!checkpoint.contains("callbacks")) checkpoint.insert("callbacks", make_state_dict());
  auto callbacks = checkpoint.at("callbacks").toGenericDict();
  if (!callbacks.contains(name)) callbacks.insert(name, make_state_dict());
  return callbacks.at(name).toGenericDict();
}

bool has_plugin_state(const Checkpoint& checkpoint, const std::string& name) {
  return checkpoint.contains("callbacks") && checkpoint.at("callbacks").isGenericDict() &&
         checkpoint.at("callbacks").toGenericDict().contains(name);
}

void write_checkpoint(const Checkpoint& checkpoint, const std::string& path) {
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(checkpoint));
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code folder_error;
  fs::create_directories(folder, folder_error);
  if (folder_error) fail_write(path, "cannot create folder '" + folder.string() + "'", folder_error.value());

  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  TemporaryFile file(temporary);
  if (file.fd() < 0) fail_write(path, "cannot create '" + temporary + "'", errno);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t result = ::write(file.fd(), bytes.data() + written, bytes.size() - written);
    if (result < 0 && errno == EINTR) continue;
    if (result <= 0) fail_write(path, "writing " + std::to_string(bytes.size()) + " bytes failed", result < 0 ? errno : ENOSPC);
    written += static_cast<std::size_t>(result);
  }
  if (::fsync(file.fd()) != 0) fail_write(path, "flushing to disk failed", errno);
  if (file.close() != 0) fail_write(path, "closing failed", errno);
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail_write(path, "renaming the new file into place failed", errno);
  file.commit();
  // The rename itself must reach the disk too.
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
}

Checkpoint read_checkpoint(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error("cannot read checkpoint '" + path + "': " + std::strerror(errno));
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw Error("checkpoint '" + path + "' is empty");
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& error) {
    throw Error("checkpoint '" + path + "' is corrupt or truncated (" + std::to_string(bytes.size()) +
                " bytes): " + error.what_without_backtrace());
  } catch (const std::exception& error) {
    throw Error("checkpoint '" + path + "' is corrupt or truncated: " + error.what());
  }
  if (!value.isGenericDict()) throw Error("checkpoint '" + path + "' is not a dictionary, so not a fulgur checkpoint");
  auto checkpoint = value.toGenericDict();
  for (const char* key : {"fulgur_version", "state_dict", "loops", "epoch", "global_step"}) {
    if (!checkpoint.contains(key)) {
      throw Error("checkpoint '" + path + "' has no '" + key + "' entry; it is not a fulgur checkpoint");
    }
  }
  return checkpoint;
}

}  // namespace fulgur
