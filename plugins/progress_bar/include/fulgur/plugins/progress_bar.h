// progress_bar: a terminal progress bar like Lightning's TQDM bar.
//
//   Epoch 3: 28/40 [██████████████░░░░░░]  70% 412.5it/s 0:00:00<0:00:00 train_loss=0.081 val_acc=0.983
//
// On a terminal it redraws one line in place (at most every refresh_seconds) and shows the
// validation bar on the line below while validation runs; in a pipe or a CI log it prints plain
// lines, at most every line_seconds and at every epoch's end. Metrics logged with
// prog_bar=true are shown (read from the device only when a line is drawn). Only the process of
// rank 0 (RANK unset or 0) prints. Attached by default (Trainer option enable_progress_bar).
#pragma once

#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct ProgressBarOptions : DeclaredOptions<ProgressBarOptions> {
  FULGUR_OPTIONS_OF("progress_bar");
  FULGUR_OPTION(std::string, tty, "auto", "auto (a terminal when stdout is one), true or false.",
                one_of({"auto", "true", "false"}));
  FULGUR_OPTION(double, refresh_seconds, 0.1, "Minimum seconds between redraws on a terminal.");
  FULGUR_OPTION(double, line_seconds, 10.0,
                "Minimum seconds between plain lines when not on a terminal (epoch ends always print).");
};

}  // namespace fulgur::plugins
