// Finding the checkpoint a job resumes from on its own, so that the same command can be started
// again after a crash, a kill or a preemption: ckpt_path "last" (the newest checkpoint of the
// experiment that a fit can resume from) and "hpc" (the newest preemption checkpoint,
// <default_root_dir>/hpc_ckpt_<N>.ckpt as Lightning names them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fulgur {

struct FoundCheckpoint {
  std::string path;
  int64_t global_step = 0;
};

/// The .ckpt files directly inside `folder` whose names start with `prefix`, sorted; none when
/// the folder does not exist. Temporary files of unfinished writes never end in .ckpt.
std::vector<std::string> checkpoint_files(const std::string& folder, const std::string& prefix = "");

/// Of `files`, the one a fit resumes from: readable, a full checkpoint (not weights only), and
/// recording the highest global_step; of equal steps, the one written last. Files that cannot be
/// read are skipped with a warning naming them and the reason. Every file is read whole, one at a
/// time and dropped (the fit then reads the chosen one again: memory for one checkpoint, not two).
std::optional<FoundCheckpoint> newest_resumable_checkpoint(const std::vector<std::string>& files);

/// <folder>/hpc_ckpt_<N>.ckpt with the highest N, or "" when the folder has none.
std::string newest_hpc_checkpoint(const std::string& folder);
/// The name the next preemption checkpoint takes: <folder>/hpc_ckpt_<highest N + 1>.ckpt.
std::string next_hpc_checkpoint(const std::string& folder);

}  // namespace fulgur
