#include "fulgur/experiment_dir.h"

#include <filesystem>
#include <system_error>

#include "fulgur/error.h"

namespace fulgur {

namespace fs = std::filesystem;

namespace {

// The N of "version_N", or -1 for any other name.
int64_t version_number(const std::string& file) {
  if (file.rfind("version_", 0) != 0 || file.size() == 8 || file.size() > 8 + 18) return -1;
  if (file.find_first_not_of("0123456789", 8) != std::string::npos) return -1;
  return std::stoll(file.substr(8));
}

}  // namespace

int64_t ExperimentDir::next_free_version() const {
  int64_t next = 0;
  std::error_code error;
  const fs::path base = fs::path(root_) / name_;
  if (fs::is_directory(base, error)) {
    for (const auto& entry : fs::directory_iterator(base, error)) {
      const int64_t number = version_number(entry.path().filename().string());
      if (number >= next) next = number + 1;
    }
  }
  return next;
}

void ExperimentDir::choose_version() {
  if (version_ < 0) version_ = next_free_version();
}

void ExperimentDir::claim() {
  if (version_ >= 0) return;
  const fs::path base = fs::path(root_) / name_;
  std::error_code error;
  fs::create_directories(base, error);
  if (error) throw Error("logger folder " + base.string() + " cannot be created: " + error.message());
  for (int64_t candidate = next_free_version(), tries = 0; tries < 10000; ++candidate, ++tries) {
    const fs::path folder = base / ("version_" + std::to_string(candidate));
    // create_directory reports false when the folder exists: another run took that number first.
    if (fs::create_directory(folder, error)) {
      version_ = candidate;
      claimed_ = true;
      return;
    }
    if (error) {
      throw Error("logger folder " + folder.string() + " cannot be created: " + error.message());
    }
  }
  throw Error("logger folder " + base.string() + ": no free version_N among the next 10000 numbers");
}

bool ExperimentDir::share(const std::string& log_dir) {
  if (version_ >= 0 || log_dir.empty()) return false;
  const fs::path other(log_dir);
  if (other.parent_path() != fs::path(root_) / name_) return false;
  const int64_t number = version_number(other.filename().string());
  if (number < 0) return false;
  version_ = number;
  return true;
}

void ExperimentDir::use_version(int64_t version) {
  if (version < 0)
    throw Error("logger folder: a checkpoint names version_" + std::to_string(version) + ", which cannot be");
  if (version == version_) return;
  if (created_) {
    throw Error("logger folder " + path() + " is already written; cannot switch to version_" + std::to_string(version));
  }
  if (claimed_) {
    // Ours and still empty (fs::remove leaves a folder that is not); give the number back.
    std::error_code ignored;
    fs::remove(path(), ignored);
    claimed_ = false;
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
