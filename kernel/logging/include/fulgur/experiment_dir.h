// Lightning's logger folders: <root>/<name>/version_<N>, N the next free number.
//
// A run claims its version folder when it starts, by creating it: creating a folder either
// succeeds for exactly one process or finds it there, so two runs started at the same instant
// in one root never share a version. Loggers of one run share the folder the first of them
// claimed (share()). A resumed run switches to the version its checkpoint names (use_version()),
// and the empty folder it had claimed is given back.
#pragma once

#include <cstdint>
#include <string>

namespace fulgur {

class ExperimentDir {
 public:
  ExperimentDir(std::string root, std::string name) : root_(std::move(root)), name_(std::move(name)) {}

  /// Claims the next free version under <root>/<name> by creating its folder, unless a version
  /// is chosen already. Throws fulgur::Error naming the folder when it cannot be created.
  void claim();
  /// Picks the next free version without creating anything: for processes that never write
  /// (ranks other than 0), which then take rank 0's number with use_version().
  void choose_version();
  /// Takes the version of `log_dir`, a folder another logger of this run claimed, if it lies
  /// under the same <root>/<name>; returns whether it did.
  bool share(const std::string& log_dir);
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
  int64_t next_free_version() const;

  std::string root_;
  std::string name_;
  int64_t version_ = -1;
  bool claimed_ = false;  // this process made the (so far empty) folder of version_
  bool created_ = false;  // create() was called: files may be in it
};

}  // namespace fulgur
