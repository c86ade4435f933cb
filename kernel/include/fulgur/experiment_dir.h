// Lightning's logger folders: <root>/<name>/version_<N>, N the next free number.
//
// File loggers pick their version when a run starts (so two loggers started together share
// one folder), create it at their first write, and keep their version in checkpoints so that
// a resumed run writes on in the same folder.
#pragma once

#include <cstdint>
#include <string>

namespace fulgur {

class ExperimentDir {
 public:
  ExperimentDir(std::string root, std::string name) : root_(std::move(root)), name_(std::move(name)) {}

  /// Picks the next free version under <root>/<name> unless one was chosen already.
  void choose_version();
  /// Uses `version` (a resumed run's); throws fulgur::Error once files were written elsewhere.
  void use_version(int64_t version);
  /// Creates the folder if needed and returns it; throws fulgur::Error naming the folder and
  /// the system's reason when it cannot be created.
  std::string create();

  bool chosen() const { return version_ >= 0; }
  bool created() const { return created_; }
  int64_t version() const { return version_; }
  /// <root>/<name>/version_<N>; empty while no version is chosen.
  std::string path() const;

 private:
  std::string root_;
  std::string name_;
  int64_t version_ = -1;
  bool created_ = false;
};

}  // namespace fulgur
