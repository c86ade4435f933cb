#include "fulgur/checkpoint_search.h"

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "fulgur/checkpoint.h"

namespace fulgur {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHpcPrefix = "hpc_ckpt_";

// N of hpc_ckpt_<N>.ckpt, or -1 for any other name.
int64_t hpc_number(const std::string& path) {
  const std::string stem = fs::path(path).stem().string();
  const std::string digits = stem.substr(std::string(kHpcPrefix).size());
  if (digits.empty() || digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

int64_t highest_hpc_number(const std::string& folder, std::string* path) {
  int64_t highest = -1;
  for (const auto& file : checkpoint_files(folder, kHpcPrefix)) {
    const int64_t number = hpc_number(file);
    if (number > highest) {
      highest = number;
      if (path) *path = file;
    }
  }
  return highest;
}

}  // namespace

std::vector<std::string> checkpoint_files(const std::string& folder, const std::string& prefix) {
  std::vector<std::string> files;
  std::error_code error;
  fs::directory_iterator entries(folder, error);
  if (error) return files;
  for (const auto& entry : entries) {
    const fs::path& path = entry.path();
    const std::string name = path.filename().string();
    if (path.extension() != ".ckpt" || name.rfind(prefix, 0) != 0) continue;
    // A link (save_last=link's last.ckpt) points at a file of the same folder, read once as itself.
    if (entry.is_symlink(error) || !entry.is_regular_file(error)) continue;
    files.push_back(path.string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::optional<FoundCheckpoint> newest_resumable_checkpoint(const std::vector<std::string>& files) {
  std::optional<FoundCheckpoint> newest;
  fs::file_time_type newest_time{};
  for (const auto& path : files) {
    int64_t step = 0;
    try {
      const Checkpoint checkpoint = read_checkpoint(path);
      if (!checkpoint.contains("optimizer_states")) continue;  // weights only: loads a model, resumes nothing
      const auto& entry = checkpoint.at("global_step");
      if (!entry.isInt() || entry.toInt() < 0) {
        spdlog::warn("looking for a checkpoint to resume from: '{}' records no valid global_step; skipped", path);
        continue;
      }
      step = entry.toInt();
    } catch (const std::exception& error) {
      spdlog::warn("looking for a checkpoint to resume from: skipped '{}': {}", path, error.what());
      continue;
    }
    std::error_code error;
    const auto written = fs::last_write_time(path, error);
    if (!newest || step > newest->global_step || (step == newest->global_step && written > newest_time)) {
      newest = FoundCheckpoint{path, step};
      newest_time = written;
    }
  }
  return newest;
}

std::string newest_hpc_checkpoint(const std::string& folder) {
  std::string path;
  return highest_hpc_number(folder, &path) >= 0 ? path : "";
}

std::string next_hpc_checkpoint(const std::string& folder) {
  const int64_t next = std::max<int64_t>(highest_hpc_number(folder, nullptr), 0) + 1;
  return (fs::path(folder) / (kHpcPrefix + std::to_string(next) + ".ckpt")).string();
}

}  // namespace fulgur
