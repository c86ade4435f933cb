// How the ranks of a ddp run come to be: the variables a launcher (torchrun, SLURM's srun) sets
// for each process, or, without a launcher, this program started again once per extra rank
// (a self-launch), whose children are waited for, or stopped, when the strategy goes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fulgur::strategies {

/// The environment variable `name`, if set.
std::optional<std::string> env(const char* name);
/// A TCP port from MASTER_PORT's text: 1 to 65535, never silently truncated to 16 bits.
int port_from(const std::string& text);

/// Where this process stands: from a launcher's variables, or decided here for a self-launch.
struct RankEnvironment {
  int64_t rank = 0;
  int64_t local_rank = 0;
  int64_t node_rank = 0;
  int64_t world_size = 1;
  std::string master_addr = "127.0.0.1";
  int port = 29500;
  bool from_launcher = false;
};

/// torchrun's variables (WORLD_SIZE, RANK, LOCAL_RANK, NODE_RANK) or SLURM's (SLURM_NTASKS,
/// SLURM_PROCID, ...), checked; nothing when no launcher started this process.
std::optional<RankEnvironment> launcher_environment();

/// A port nobody listens on now, for a rendezvous on this machine.
int free_port();

/// The other ranks of a self-launched run: this program again, with the rank variables set.
/// Waited for when the strategy goes; killed if they outlive the timeout or the run failed.
class ChildProcesses {
 public:
  ChildProcesses() = default;
  ChildProcesses(const ChildProcesses&) = delete;
  ChildProcesses& operator=(const ChildProcesses&) = delete;
  ~ChildProcesses();

  /// Starts ranks 1 .. world_size-1 with this process's command line and environment.
  void start(const RankEnvironment& parent, double timeout);
  /// After a failure the others may be stopping too (an agreed stop, a failure every rank saw):
  /// they get a few seconds to say why before they are stopped.
  void mark_failed() { failed_ = true; }

 private:
  struct Child {
    pid_t pid;
    int64_t rank;
  };

  void finish(double grace_seconds);

  static constexpr double kFailureGraceSeconds = 5.0;
  std::vector<Child> children_;
  double timeout_ = 60.0;
  bool failed_ = false;
};

}  // namespace fulgur::strategies
