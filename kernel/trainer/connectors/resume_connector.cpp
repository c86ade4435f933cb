// The Trainer's half of jobs that are stopped and started again: ckpt_path "last" and "hpc"
// (fulgur/checkpoint_search.h finds the files), and the checkpoint a SIGUSR1 asks for before a
// scheduler preempts the job, with SLURM's requeue.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "fulgur/checkpoint_folder.h"
#include "fulgur/checkpoint_search.h"
#include "fulgur/error.h"
#include "fulgur/strategy.h"
#include "fulgur/trainer.h"
#include "interrupt_guard.h"

namespace fulgur {
namespace {

namespace fs = std::filesystem;

void add_unique(std::vector<std::string>& files, const std::vector<std::string>& more) {
  for (const auto& file : more) {
    if (std::find(files.begin(), files.end(), file) == files.end()) files.push_back(file);
  }
}

// SLURM's id of this job, as Lightning's SLURMEnvironment requeues it; "" outside SLURM.
std::string slurm_job_id() {
  const char* array_job = std::getenv("SLURM_ARRAY_JOB_ID");
  const char* array_task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (array_job && array_task && *array_job && *array_task) return std::string(array_job) + "_" + array_task;
  const char* job = std::getenv("SLURM_JOB_ID");
  return job ? job : "";
}

}  // namespace

// Every checkpoint of this experiment a fit may resume from: the checkpoints folder of each
// version of each versioned logger's experiment (a run that resumes writes on in the version it
// resumes), <default_root_dir>/checkpoints (runs without a logger), the folders plugins were
// given, and the preemption checkpoints in <default_root_dir>.
std::vector<std::string> Trainer::resume_candidates() const {
  std::vector<std::string> files;
  for (const Logger* logger : loggers_) {
    if (logger->log_dir().empty()) continue;
    const fs::path experiment = fs::path(logger->log_dir()).parent_path();
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(experiment, error)) {
      if (entry.path().filename().string().rfind("version_", 0) == 0) {
        add_unique(files, checkpoint_files((entry.path() / "checkpoints").string()));
      }
    }
  }
  add_unique(files, checkpoint_files((fs::path(options_.default_root_dir()) / "checkpoints").string()));
  for (const auto& loaded : plugins_) {
    const auto* folder = dynamic_cast<const CheckpointFolder*>(&loaded.plugin());
    if (folder && !folder->given_checkpoint_dir().empty())
      add_unique(files, checkpoint_files(folder->given_checkpoint_dir()));
  }
  add_unique(files, checkpoint_files(options_.default_root_dir(), "hpc_ckpt_"));
  return files;
}

// "last": the newest resumable checkpoint of the experiment, or a fresh start said in one line
// (as Lightning), so that one command can be started again and again. "hpc": the newest
// preemption checkpoint, which must exist. Anything else is a file (or "best").
std::string Trainer::resolve_fit_checkpoint(const std::string& ckpt_path) {
  if (ckpt_path == "last") {
    const auto found = newest_resumable_checkpoint(resume_candidates());
    if (!found) {
      spdlog::warn("ckpt_path=\"last\": this experiment has no checkpoint to resume from yet: training starts fresh");
      return "";
    }
    spdlog::info("ckpt_path=\"last\": resuming from '{}' (global step {})", found->path, found->global_step);
    return found->path;
  }
  if (ckpt_path == "hpc") {
    const std::string path = newest_hpc_checkpoint(options_.default_root_dir());
    if (path.empty()) {
      throw Error("ckpt_path=\"hpc\": no preemption checkpoint (hpc_ckpt_<N>.ckpt) in '" + options_.default_root_dir() +
                  "'; give a file, or \"last\" to start fresh when there is none");
    }
    return path;
  }
  return resolve_checkpoint_path(ckpt_path);
}

// A SIGUSR1 (on any rank) since the last boundary: every rank learns it after the same batch.
bool Trainer::save_request_due() {
  const int64_t agreed =
      world_size() <= 1 || !strategy_ ? detail::InterruptGuard::save_requests() : strategy_->agreed_save_requests();
  if (agreed <= fit_.save_requests_handled) return false;
  fit_.save_requests_handled = agreed;
  return true;
}

// Lightning's SLURM signal handler, at a batch boundary: the checkpoint holds a consistent loop
// position. Training goes on; the scheduler stops the job when it preempts it.
void Trainer::save_for_preemption() {
  const std::string path = next_hpc_checkpoint(options_.default_root_dir());
  save_checkpoint(path);  // write_checkpoint creates the folder
  if (is_global_zero()) {
    spdlog::info("SIGUSR1: saved '{}' at global step {}; resume with ckpt_path \"hpc\" or \"last\"", path,
                 fit_.global_step);
    requeue_job();
  }
}

void Trainer::requeue_job() const {
  const std::string job = slurm_job_id();
  if (!options_.auto_requeue() || job.empty()) return;
  std::string command = options_.requeue_command();
  // The id travels as an argument, never as shell text.
  for (auto at = command.find("{job_id}"); at != std::string::npos; at = command.find("{job_id}", at + 4)) {
    command.replace(at, 8, "\"$1\"");
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), "sh", job.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = -1;
  if (child > 0) {
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    spdlog::info("Requeued SLURM job: {}", job);
  } else {
    spdlog::warn("Requeuing SLURM job {} failed ({}: {})", job, options_.requeue_command(),
                 child < 0 ? "cannot start a process"
                           : "exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  }
}

}  // namespace fulgur
