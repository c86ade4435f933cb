#include "launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "fulgur/error.h"

extern char** environ;

namespace fulgur::strategies {
namespace {

int64_t env_int(const char* name, const std::string& value) {
  try {
    std::size_t used = 0;
    const int64_t number = std::stoll(value, &used);
    if (used == value.size()) return number;
  } catch (const std::exception&) {
  }
  throw Error(std::string("ddp: environment variable ") + name + "='" + value + "' is not an integer");
}

std::vector<std::string> own_command_line() {
  std::ifstream file("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> arguments;
  for (std::string argument; std::getline(file, argument, '\0');) arguments.push_back(argument);
  if (arguments.empty()) throw Error("ddp: cannot read this program's command line from /proc/self/cmdline");
  return arguments;
}

}  // namespace

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::optional<std::string>(value) : std::nullopt;
}

int port_from(const std::string& text) {
  const int64_t port = env_int("MASTER_PORT", text);
  if (port < 1 || port > 65535) throw Error("ddp: MASTER_PORT=" + text + " is not a TCP port (1 to 65535)");
  return static_cast<int>(port);
}

std::optional<RankEnvironment> launcher_environment() {
  RankEnvironment found;
  if (auto world = env("WORLD_SIZE")) {  // torchrun's contract (and ranks this program started)
    found.world_size = env_int("WORLD_SIZE", *world);
    found.rank = env_int("RANK", env("RANK").value_or("0"));
    found.local_rank = env_int("LOCAL_RANK", env("LOCAL_RANK").value_or(std::to_string(found.rank)));
    found.node_rank = env_int("NODE_RANK", env("NODE_RANK").value_or(env("GROUP_RANK").value_or("0")));
  } else if (auto tasks = env("SLURM_NTASKS")) {
    found.world_size = env_int("SLURM_NTASKS", *tasks);
    found.rank = env_int("SLURM_PROCID", env("SLURM_PROCID").value_or("0"));
    found.local_rank = env_int("SLURM_LOCALID", env("SLURM_LOCALID").value_or("0"));
    found.node_rank = env_int("SLURM_NODEID", env("SLURM_NODEID").value_or("0"));
  } else {
    return std::nullopt;
  }
  found.master_addr = env("MASTER_ADDR").value_or("127.0.0.1");
  found.port = port_from(env("MASTER_PORT").value_or("29500"));
  found.from_launcher = true;
  if (found.world_size < 1) throw Error("ddp: WORLD_SIZE=" + std::to_string(found.world_size) + " must be >= 1");
  if (found.rank < 0 || found.rank >= found.world_size) {
    throw Error("ddp: RANK=" + std::to_string(found.rank) +
                " is outside WORLD_SIZE=" + std::to_string(found.world_size));
  }
  if (found.local_rank < 0 || found.node_rank < 0) {
    throw Error("ddp: LOCAL_RANK=" + std::to_string(found.local_rank) +
                " and NODE_RANK=" + std::to_string(found.node_rank) + " must be >= 0");
  }
  return found;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("ddp: cannot open a socket to find a free port");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) throw Error("ddp: cannot find a free port on 127.0.0.1");
  return ntohs(address.sin_port);
}

ChildProcesses::~ChildProcesses() { finish(failed_ ? std::min(kFailureGraceSeconds, timeout_) : timeout_); }

void ChildProcesses::start(const RankEnvironment& parent, double timeout) {
  timeout_ = timeout;
  const auto arguments = own_command_line();
  std::vector<char*> argv;
  for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  for (int64_t rank = 1; rank < parent.world_size; ++rank) {
    std::vector<std::string> variables;
    for (char** entry = environ; *entry; ++entry) variables.emplace_back(*entry);
    variables.push_back("RANK=" + std::to_string(rank));
    variables.push_back("LOCAL_RANK=" + std::to_string(rank));
    std::vector<char*> envp;
    for (auto& variable : variables) envp.push_back(variable.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int error = ::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data());
    if (error != 0) throw Error("ddp: cannot start rank " + std::to_string(rank) + ": " + std::strerror(error));
    children_.push_back({pid, rank});
  }
}

void ChildProcesses::finish(double grace_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_seconds);
  for (const auto& child : children_) {
    int status = 0;
    while (::waitpid(child.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(child.pid, SIGTERM);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (::waitpid(child.pid, &status, WNOHANG) == 0) {
          ::kill(child.pid, SIGKILL);
          ::waitpid(child.pid, &status, 0);
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!failed_ && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      spdlog::error("ddp: rank {} ended with {} {}", child.rank, WIFEXITED(status) ? "exit code" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
  }
  children_.clear();
}

}  // namespace fulgur::strategies
