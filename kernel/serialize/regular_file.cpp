#include "regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fulgur/error.h"

namespace fulgur::detail {
namespace {

// Closes the descriptor however the read ends.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string kind_of(mode_t mode) {
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

std::vector<char> read_regular_file(const std::string& path, const std::string& what, bool allow_empty) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
  Descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (file.get() < 0) throw Error("cannot read " + what + " '" + path + "': " + std::strerror(errno));
  struct stat status {};
  if (::fstat(file.get(), &status) != 0)
    throw Error("cannot read " + what + " '" + path + "': " + std::strerror(errno));
  if (S_ISDIR(status.st_mode)) {
    throw Error(what + " path '" + path + "' is a folder, not a " + what + " file; name a file inside it");
  }
  if (!S_ISREG(status.st_mode)) {
    throw Error(what + " '" + path + "' is " + kind_of(status.st_mode) + ", not a regular file; it is not read");
  }
  if (status.st_size == 0 && !allow_empty) throw Error(what + " '" + path + "' is empty");
  std::vector<char> bytes(static_cast<std::size_t>(status.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(file.get(), bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error("cannot read " + what + " '" + path + "': " + std::strerror(errno));
    if (got == 0) {
      throw Error(what + " '" + path + "' shrank from " + std::to_string(bytes.size()) + " to " + std::to_string(done) +
                  " bytes while it was read (another process is writing it)");
    }
    done += static_cast<std::size_t>(got);
  }
  return bytes;
}

}  // namespace fulgur::detail
