// Under a file-size limit (ulimit -f) the kernel sends SIGXFSZ, whose default action kills the
// process without a word. While one of these guards lives, the signal is ignored and the write
// fails with EFBIG instead, which the writer turns into a clear error. The previous disposition
// comes back when the guard goes. The Trainer holds one for each run (loggers write then), and
// every file writer holds one of its own.
#pragma once

#include <signal.h>

namespace fulgur::detail {

class FileSizeSignalIgnored {
 public:
  FileSizeSignalIgnored() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGXFSZ, &ignore, &previous_);
  }
  ~FileSizeSignalIgnored() { ::sigaction(SIGXFSZ, &previous_, nullptr); }
  FileSizeSignalIgnored(const FileSizeSignalIgnored&) = delete;
  FileSizeSignalIgnored& operator=(const FileSizeSignalIgnored&) = delete;

 private:
  struct sigaction previous_ {};
};

}  // namespace fulgur::detail
