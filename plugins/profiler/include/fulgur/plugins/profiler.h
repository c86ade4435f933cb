// profiler: where the time of a run goes — the kernel's own phases (data fetch, training_step,
// zero_grad, backward, optimizer step, validation) and every hook, split per plugin slot. It
// answers what Lightning users often ask: which callback makes my step slow.
//
// At the end of each run it prints a table and writes it to <dirpath>/<stage>-profile.txt.
//   --plugin profiler
//   --plugin profiler:dirpath=profiles
#pragma once

#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct ProfilerOptions : DeclaredOptions<ProfilerOptions> {
  FULGUR_OPTIONS_OF("profiler");
  FULGUR_OPTION(std::string, dirpath, "", "Folder of the report files; empty: the Trainer's default_root_dir.");
  FULGUR_OPTION(bool, print, true, "Also print the table to stdout.");
};

}  // namespace fulgur::plugins
