#include "fulgur/experiment_dir.h"

#include <filesystem>
#include <system_error>

#include "fulgur/error.h"

namespace fulgur {

namespace fs = std::filesystem;

void ExperimentDir::choose_version() {
  if (version_ >= 0) return;
  int64_t next = 0;
  std::error_code error;
  const fs::path base = fs::path(root_) / name_;
  if (fs::is_directory(base, error)) {
    for (const auto& entry : fs::directory_iterator(base, error)) {
      const std::string file = entry.path().filename().string();
      if (file.rfind("version_", 0) != 0) continue;
      try {
        std::size_t used = 0;
        const int64_t number = std::stoll(file.substr(8), &used);
        if (used == file.size() - 8 && number >= next) next = number + 1;
      } catch (const std::exception&) {
      }
    }
  }
  version_ = next;
}

void ExperimentDir::use_version(int64_t version) {
  if (created_ && version != version_) {
    throw Error("logger folder " + path() + " is already written; cannot switch to version_" + std::to_string(version));
  }
  version_ = version;
}

std::string ExperimentDir::path() const {
  if (version_ < 0) return "";
  return (fs::path(root_) / name_ / ("version_" + std::to_string(version_))).string();
}

std::string ExperimentDir::create() {
  choose_version();
  const std::string folder = path();
  if (!created_) {
    std::error_code error;
    fs::create_directories(folder, error);
    if (error || !fs::is_directory(folder)) {
      throw Error("logger folder " + folder + " cannot be created: " + (error ? error.message() : "not a directory"));
    }
    created_ = true;
  }
  return folder;
}

}  // namespace fulgur
