// Test helper: builds a checkpoint of 512 MB of weights under an address-space limit that cannot
// hold it (`ulimit -v`), and reports what write_checkpoint did: exit 0 with the message of a
// fulgur::Error, 3 for any other exception, 2 if the file was written after all.
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <torch/torch.h>

#include "fulgur/checkpoint.h"
#include "fulgur/error.h"

namespace {

// This process's address space now, in bytes (VmSize in /proc/self/status).
rlim_t address_space() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmSize:", 0) == 0) return static_cast<rlim_t>(std::stoull(line.substr(7))) * 1024;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: oom_checkpoint PATH\n");
    return 2;
  }
  fulgur::Checkpoint checkpoint = fulgur::make_state_dict();
  fulgur::StateDict weights = fulgur::make_state_dict();
  weights.insert("w", torch::ones({int64_t{128} << 20}));  // 512 MB
  checkpoint.insert("fulgur_version", std::string("test"));
  checkpoint.insert("state_dict", weights);
  const rlimit limit{address_space() + (rlim_t{256} << 20), RLIM_INFINITY};
  if (limit.rlim_cur <= (rlim_t{256} << 20) || ::setrlimit(RLIMIT_AS, &limit) != 0) {
    std::fprintf(stderr, "cannot set the address-space limit\n");
    return 4;
  }
  try {
    fulgur::write_checkpoint(checkpoint, argv[1]);
  } catch (const fulgur::Error& error) {
    std::printf("error: %s\n", error.what());
    return 0;
  } catch (const std::exception& error) {
    std::printf("another exception: %s\n", error.what());
    return 3;
  }
  std::printf("written after all\n");
  return 2;
}
